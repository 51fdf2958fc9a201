"""The vectorised PSIS-LOO (rmtfit.comparison.psis_loo) computes what arviz.loo computes.

The oracle is ArviZ 0.23 itself, observation by observation. ArviZ runs with numba switched off:
with numba, ArviZ's ESS takes the between-chain variance as ``E[x^2] - E[x]^2``, which loses every
digit for a near-constant series (a per-eigenvalue membership probability stuck at 1), so its
``r_eff`` then depends on whether numba is installed; rmtfit computes the variance stably, as
ArviZ does without numba.
"""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pytest
import scipy.stats as st

from rmtfit.comparison import (
    PsisLoo,
    compare,
    good_k_threshold,
    psis_log_weights,
    psis_loo,
    relative_efficiency,
    tail_length,
)
from rmtfit.inference.arviz_adapter import loo_pointwise

RTOL_ELPD = 1e-8
ATOL_K = 1e-6


@pytest.fixture(autouse=True)
def _arviz_without_numba():
    was = az.Numba.numba_flag
    az.Numba.disable_numba()
    yield
    if was:
        az.Numba.enable_numba()


def _ar1(rng, shape, phi):
    """Autocorrelated standard-normal draws along the draw axis (axis 1): r_eff below 1."""
    noise = rng.normal(size=shape)
    out = np.empty(shape)
    out[:, 0] = noise[:, 0]
    for t in range(1, shape[1]):
        out[:, t] = phi * out[:, t - 1] + np.sqrt(1 - phi**2) * noise[:, t]
    return out


def _normal_fit(rng, *, chains, draws, n=40, sd=1.0, outlier=None, phi=0.5):
    """A normal-mean model: posterior draws of mu (AR(1) chains), pointwise log-likelihood."""
    y = rng.normal(0.0, sd, size=n)
    if outlier is not None:
        y[-1] = outlier
    mu = y.mean() + sd / np.sqrt(n) * _ar1(rng, (chains, draws), phi)
    log_lik = st.norm.logpdf(y[None, None, :], mu[..., None], sd)
    # a per-observation derived variable in the posterior, as rmtfit's fits hold (spike_prob)
    derived = st.norm.cdf(y[None, None, :], mu[..., None], sd)
    posterior = {"mu": mu, "cdf": derived}
    idata = az.from_dict(posterior=posterior, log_likelihood={"obs": log_lik})
    return idata, log_lik, posterior


def _arviz_loo(idata):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        return az.loo(idata, pointwise=True, var_name="obs")


def _check_against_arviz(idata, log_lik, posterior):
    reference = _arviz_loo(idata)
    pointwise = loo_pointwise(idata, "obs")
    result = psis_loo(log_lik, r_eff=relative_efficiency(posterior.values()))
    np.testing.assert_allclose(result.elpd_i, reference.loo_i.values, rtol=RTOL_ELPD)
    np.testing.assert_allclose(result.pareto_k, pointwise.pareto_k, rtol=0, atol=ATOL_K)
    np.testing.assert_allclose(result.lppd_i, pointwise.lppd_i, rtol=RTOL_ELPD)
    np.testing.assert_allclose(result.elpd_loo, reference.elpd_loo, rtol=RTOL_ELPD)
    np.testing.assert_allclose(result.se, reference.se, rtol=RTOL_ELPD)
    np.testing.assert_allclose(result.p_loo, reference.p_loo, rtol=1e-6)
    assert result.good_k == reference.good_k
    assert result.warning == reference.warning
    assert result.num_draws == log_lik.shape[0] * log_lik.shape[1]
    return result


@pytest.mark.parametrize("chains, draws", [(4, 500), (1, 1000), (2, 201)])
def test_well_behaved_fit_matches_arviz(chains, draws):
    rng = np.random.default_rng(chains * 1000 + draws)
    result = _check_against_arviz(*_normal_fit(rng, chains=chains, draws=draws))
    assert np.all(result.pareto_k < 0.7)
    assert (result.r_eff == 1.0) == (chains == 1)


@pytest.mark.parametrize("chains", [1, 4])
def test_heavy_tailed_weights_match_arviz(chains):
    # an outlier 12 sd out under a narrow likelihood: its importance ratios have a very heavy tail
    rng = np.random.default_rng(7 + chains)
    fit = _normal_fit(rng, chains=chains, draws=1000 // chains, sd=0.3, outlier=4.0)
    result = _check_against_arviz(*fit)
    assert result.pareto_k[-1] > 0.7
    assert result.warning


@pytest.mark.parametrize("chains, draws", [(1, 20), (2, 20), (4, 12), (1, 3)])
def test_small_number_of_draws_matches_arviz(chains, draws):
    # 20 draws: a tail of ceil(20/5) = 4 ratios is too short to fit, so k = inf (ArviZ's rule);
    # 48 draws: a 10-ratio tail is fitted
    rng = np.random.default_rng(draws)
    result = _check_against_arviz(*_normal_fit(rng, chains=chains, draws=draws, n=15))
    if tail_length(chains * draws, result.r_eff) < 5:
        assert np.all(np.isinf(result.pareto_k))
    else:
        assert np.all(np.isfinite(result.pareto_k))


def test_log_weights_match_arviz_psislw_with_ties_and_edge_columns():
    rng = np.random.default_rng(3)
    draws = 2000
    columns = [
        rng.normal(size=draws),  # plain
        np.round(rng.normal(size=draws), 1),  # ties: the tail is shorter than M for some columns
        np.round(rng.normal(size=draws), 2),
        np.r_[np.zeros(30), np.full(draws - 30, -1000.0)],  # cut below log(tiny)
        np.r_[rng.normal(size=12), np.full(draws - 12, -800.0)],  # 12 ratios above log(tiny)
        st.t.rvs(1.5, size=draws, random_state=rng),  # heavy-tailed ratios
        np.full(draws, 2.5),  # constant: no tail
        np.r_[np.inf, rng.normal(size=draws - 1)],  # an infinite ratio: NaN, as in ArviZ
    ]
    log_ratios = np.column_stack(columns)
    for r_eff in (1.0, 0.3, float("nan")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ref_weights, ref_k = az.psislw(log_ratios.T.copy(), reff=r_eff)
        weights, k = psis_log_weights(log_ratios, r_eff=r_eff)
        assert weights.shape == log_ratios.shape
        # draws whose ratios tie share the smoothed values in either order (ArviZ's argsort is
        # not stable): compare each column's values as a set, and the LOO term they give
        np.testing.assert_allclose(
            np.sort(weights, axis=0), np.sort(ref_weights.T, axis=0), rtol=1e-10, atol=1e-12
        )
        with np.errstate(invalid="ignore"):
            loo_terms = [
                np.log(np.sum(np.exp(w - log_ratios), axis=0)) for w in (weights, ref_weights.T)
            ]
        np.testing.assert_allclose(*loo_terms, rtol=RTOL_ELPD)
        np.testing.assert_allclose(weights[:, 0], ref_weights[0], rtol=1e-12)  # no ties: same draws
        np.testing.assert_allclose(k, ref_k, rtol=0, atol=ATOL_K)
    assert np.isnan(k[-1]) or np.isinf(k[-1])
    assert np.all(np.isnan(weights[:, -1]))


def test_constant_log_likelihood_has_k_zero_and_exact_elpd():
    rng = np.random.default_rng(5)
    log_lik = rng.normal(size=(2, 300, 4))
    log_lik[..., 2] = -1.25
    result = psis_loo(log_lik)
    assert result.pareto_k[2] == 0.0
    assert result.elpd_i[2] == pytest.approx(-1.25, rel=1e-12)
    assert result.lppd_i[2] == pytest.approx(-1.25, rel=1e-12)
    assert np.all(np.isfinite(result.pareto_k))


def _arviz_reff(posterior, num_draws):
    ess = az.ess(az.from_dict(posterior=posterior).posterior, method="mean")
    return np.hstack([ess[v].values.ravel() for v in ess.data_vars]).mean() / num_draws


def test_relative_efficiency_is_arviz_reff():
    rng = np.random.default_rng(11)
    posterior = {
        "mu": _ar1(rng, (4, 400), 0.8),
        "theta": _ar1(rng, (4, 400, 3), 0.3),
        "count": rng.poisson(3.0, size=(4, 400)),
        "fixed": np.full((4, 400), 2.0),  # constant: the ESS of all its split draws
    }
    reff = relative_efficiency(posterior.values())
    assert reff == pytest.approx(_arviz_reff(posterior, 1600), rel=1e-9)
    assert relative_efficiency([posterior["mu"][:1]]) == 1.0


def test_relative_efficiency_of_a_near_constant_series():
    # a probability stuck at 1 within 1e-12: x - mean keeps only ~4 digits, so two correct FFT
    # implementations agree on its ESS to ~1e-6 only; the tail length, all r_eff sets, agrees
    rng = np.random.default_rng(12)
    posterior = {
        "mu": _ar1(rng, (4, 400), 0.8),
        "stuck": 1.0 - 1e-12 * np.abs(rng.normal(size=(4, 400, 3))),
    }
    reff, expected = relative_efficiency(posterior.values()), _arviz_reff(posterior, 1600)
    assert reff == pytest.approx(expected, rel=1e-4)
    assert tail_length(1600, reff) == tail_length(1600, expected)


def test_a_network_sized_array_works():
    # 4 chains x 1000 draws x 384 eigenvalues, as a MiniLM layer: checked column by column
    rng = np.random.default_rng(2)
    scale = np.exp(rng.normal(size=384))
    log_lik = -0.5 * (rng.normal(size=(4, 1000, 384)) * scale) ** 2 - rng.gamma(1.0, size=384)
    result = psis_loo(log_lik, r_eff=0.7)
    assert isinstance(result, PsisLoo)
    assert result.elpd_i.shape == result.pareto_k.shape == result.lppd_i.shape == (384,)
    assert np.all(np.isfinite(result.elpd_i)) and np.all(np.isfinite(result.pareto_k))
    assert np.all(result.elpd_i <= result.lppd_i + 1e-12)
    picked = [0, 17, 200, 383]
    flat = log_lik.reshape(4000, 384)[:, picked]
    ref_weights, ref_k = az.psislw(-flat.T.copy(), reff=0.7)
    ref_elpd = np.log(np.sum(np.exp(ref_weights + flat.T), axis=1))
    np.testing.assert_allclose(result.elpd_i[picked], ref_elpd, rtol=RTOL_ELPD)
    np.testing.assert_allclose(result.pareto_k[picked], ref_k, rtol=0, atol=ATOL_K)


def test_compare_uses_the_vectorised_loo():
    rng = np.random.default_rng(13)
    fits = {}
    for name, sd in (("narrow", 0.8), ("wide", 1.5)):
        y = np.random.default_rng(0).normal(size=60)
        mu = y.mean() + 0.1 * _ar1(rng, (4, 300), 0.6)
        fits[name] = az.from_dict(
            posterior={"mu": mu},
            log_likelihood={"obs": st.norm.logpdf(y, mu[..., None], sd)},
            observed_data={"obs": y},
            attrs={"family": "full"},
        )
    comparison = compare(fits)
    for name, idata in fits.items():
        reference = _arviz_loo(idata)
        score = comparison[name]
        np.testing.assert_allclose(score.elpd_i, reference.loo_i.values, rtol=RTOL_ELPD)
        np.testing.assert_allclose(score.elpd_loo, reference.elpd_loo, rtol=RTOL_ELPD)
        np.testing.assert_allclose(score.p_loo, reference.p_loo, rtol=1e-6)
    assert comparison.good_k == good_k_threshold(1200)


def test_bad_shapes_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="chain, draw, observations"):
        psis_loo(np.zeros((100, 5)))
    with pytest.raises(ValueError, match="at least 2 draws"):
        psis_loo(np.zeros((1, 1, 5)))
    with pytest.raises(ValueError, match="shape"):
        relative_efficiency([np.zeros(10)])
    with pytest.raises(ValueError, match="at least one posterior variable"):
        relative_efficiency([])


def test_compare_names_the_fit_without_posterior_draws():
    y = np.arange(5.0)
    idata = az.from_dict(
        log_likelihood={"obs": np.zeros((2, 50, 5))},
        observed_data={"obs": y},
        attrs={"family": "full"},
    )
    with pytest.raises(ValueError, match="'lonely'.*no posterior draws"):
        compare({"lonely": idata}, layer="L0")
