"""Tests written to kill the mutants of rmtfit.phases._exceedances that the other tests let live.

The fits are built here by hand from the shifted exponential ``rate exp(-rate (x - xmin))`` (the
registered ``exponential`` likelihood, xmin in ``constant_data``), so every number has a closed
form: the survival ``S(t) = exp(-rate (t - xmin))``, the conditional density above ``t`` (an
exponential starting at ``t``, ``scipy.stats.expon``), and the PSIS-LOO estimate written out
here from ArviZ's ``psislw``. The stacking weights of two models are checked against brentq on
the derivative of the stacking score.
"""

from __future__ import annotations

import dataclasses
import statistics

import arviz as az
import numpy as np
import pytest
from scipy import optimize, special, stats

from rmtfit.common import enable_x64
from rmtfit.inference.arviz_adapter import to_inference_data
from rmtfit.likelihoods import get_likelihood
from rmtfit.phases._exceedances import exceedance_weights

enable_x64()

EXPONENTIAL = get_likelihood("exponential")
XMIN = 1.0
CHAINS, DRAWS = 2, 200


def _loglik(x, rates):
    """``(draws, n)`` log-densities of the shifted exponential, by scipy."""
    return stats.expon.logpdf(np.asarray(x)[None, :], loc=XMIN, scale=1.0 / rates[:, None])


def _fit(x, rates, *, obs_shape=None, loglik_name="obs", obs_name="obs", rate_name="rate"):
    """An InferenceData of ``exponential`` with the given per-draw rates (CHAINS * DRAWS)."""
    rates = np.asarray(rates, dtype=np.float64)
    loglik = _loglik(x, rates).reshape(CHAINS, -1, len(x))
    obs = np.asarray(x)
    if obs_shape is not None:
        obs = obs.reshape(obs_shape)
        loglik = loglik.reshape(CHAINS, -1, *obs_shape)
    return to_inference_data(
        posterior={rate_name: rates.reshape(CHAINS, -1)},
        log_likelihood={loglik_name: loglik},
        observed_data={obs_name: obs},
        constant_data={"xmin": np.float64(XMIN)},
    )


def _rates(centre, spread, seed):
    return centre * np.exp(spread * np.random.default_rng(seed).normal(size=CHAINS * DRAWS))


def _sample(n, seed):
    return np.sort(XMIN + np.random.default_rng(seed).exponential(1.0, size=n))


def _weights(fits, mp, full_weights, edges, likelihoods=None):
    return exceedance_weights(
        fits,
        {n: ("mp" if n in mp else "tail") for n in fits},
        full_weights,
        edges,
        likelihoods or {n: EXPONENTIAL for n in fits},
        "layer",
    )


def _reference_elpd(x, rates, t):
    """PSIS-LOO of ``log p(x_i | x_i > t)`` over the exceedances, from ArviZ's psislw, the
    closed-form survival and scipy's logsumexp."""
    loglik = _loglik(x[x > t], rates)
    log_w, _ = az.psislw(-loglik.T.copy(), reff=1.0)  # ArviZ: draws on the last axis
    log_sf = -rates * (t - XMIN)
    return special.logsumexp(log_w.T + loglik - log_sf[:, None], axis=0)


def _stacking_reference(e1, e2):
    """The stacking weight of model 1 of two: brentq on the derivative of the concave score."""
    shift = np.maximum(e1, e2)
    d1, d2 = np.exp(e1 - shift), np.exp(e2 - shift)

    def derivative(w):
        return np.sum((d1 - d2) / (w * d1 + (1.0 - w) * d2))

    return optimize.brentq(derivative, 1e-9, 1.0 - 1e-9, xtol=1e-14)


def test_conditional_elpd_and_weights_match_psis_and_stacking_written_out_here():
    edge_draws = 2.0 + 0.3 * np.random.default_rng(3).gamma(2.0, size=400)  # skewed
    t = statistics.median(edge_draws.tolist())
    # a slow-decaying spectrum with a steep cluster just above the edge: both models matter
    rng = np.random.default_rng(0)
    x = np.sort(
        XMIN
        + np.concatenate([rng.exponential(1 / 0.8, 150), t - XMIN + rng.exponential(1 / 4, 30)])
    )
    # a spread-out posterior so the importance weights vary and Pareto smoothing matters
    fits_rates = {"slow": _rates(0.8, 0.35, 1), "fast": _rates(4.0, 0.35, 2)}
    fits = {n: _fit(x, r) for n, r in fits_rates.items()}
    found = _weights(fits, {"fast"}, {"slow": 0.6, "fast": 0.4}, {"fast": edge_draws})
    assert found.threshold == pytest.approx(t, rel=1e-14)
    assert found.num_exceedances == int(np.sum(x > t)) > 10
    pointwise = {n: _reference_elpd(x, r, t) for n, r in fits_rates.items()}
    for name in fits:
        assert found.elpd[name] == pytest.approx(float(np.sum(pointwise[name])), rel=1e-9)
    w_slow = _stacking_reference(pointwise["slow"], pointwise["fast"])
    assert 0.02 < w_slow < 0.98  # both models matter at the optimum
    assert found.weights["slow"] == pytest.approx(w_slow, abs=1e-5)
    assert found.weights["fast"] == pytest.approx(1.0 - w_slow, abs=1e-5)
    # the smoothing matters here: plain importance sampling gives another answer
    loglik = _loglik(x[x > t], fits_rates["slow"])
    raw = special.logsumexp(
        -special.logsumexp(-loglik, axis=0) + fits_rates["slow"][:, None] * (t - XMIN), axis=0
    )
    assert abs(raw.sum() - np.sum(pointwise["slow"])) > 1e-6


def test_an_exceedance_far_out_does_not_underflow_the_others():
    """log-densities 800 nats apart: each exceedance is summed on its own scale."""
    x = np.array([1.1, 1.5, 1.9, 2.5, 2.5 + 800.0])
    rates = np.full(CHAINS * DRAWS, 1.0)
    fits = {"a": _fit(x, rates), "b": _fit(x, 1.5 * rates)}
    found = _weights(fits, {"a"}, {"a": 0.5, "b": 0.5}, {"a": np.full(10, 2.0)})
    expected = stats.expon.logpdf(x[x > 2.0], loc=2.0, scale=1.0).sum()
    assert found.num_exceedances == 2
    assert found.elpd["a"] == pytest.approx(expected, rel=1e-12)


def test_one_exceedance_is_compared_and_an_eigenvalue_at_the_edge_is_not_one():
    x = _sample(50, 4)
    t = float(x[-2])  # exactly one eigenvalue strictly above, one exactly at the edge
    rates = np.full(CHAINS * DRAWS, 1.2)
    fits = {"a": _fit(x, rates), "b": _fit(x, 0.5 * rates)}
    found = _weights(fits, {"a"}, {"a": 0.9, "b": 0.1}, {"a": np.full(7, t)})
    assert found.threshold == t
    assert found.num_exceedances == 1
    assert found.elpd["a"] == pytest.approx(
        stats.expon.logpdf(x[-1], loc=t, scale=1 / 1.2), rel=1e-12
    )
    assert found.elpd["b"] == pytest.approx(
        stats.expon.logpdf(x[-1], loc=t, scale=1 / 0.6), rel=1e-12
    )
    assert "stacking on the 1 eigenvalues" in found.note


def test_an_eigenvalue_above_the_edge_by_less_than_float32_resolution_counts():
    """Observations stored as float32 are compared with the edge in float64."""
    x = np.array([1.25, 1.5, 2.0, 3.0], dtype=np.float32)  # exact in float32
    t = 3.0 - 1e-9  # float32(t) == 3.0
    rates = np.full(CHAINS * DRAWS, 1.0)
    fits = {"a": _fit(x, rates), "b": _fit(x, 2.0 * rates)}
    found = _weights(fits, {"a"}, {"a": 0.5, "b": 0.5}, {"a": np.full(5, t)})
    assert found.num_exceedances == 1
    assert found.elpd["a"] == pytest.approx(-1e-9, abs=1e-12)  # log(1) - 1 * (3 - t)


def test_observations_stored_as_one_row_are_read_as_a_vector():
    x = _sample(40, 5)
    rates = _rates(1.0, 0.1, 6)
    fits = {"a": _fit(x, rates, obs_shape=(1, 40)), "b": _fit(x, 2 * rates, obs_shape=(1, 40))}
    found = _weights(fits, {"a"}, {"a": 0.5, "b": 0.5}, {"a": np.full(5, 2.0)})
    assert found.num_exceedances == int(np.sum(x > 2.0)) > 0
    assert found.elpd["a"] == pytest.approx(np.sum(_reference_elpd(x, rates, 2.0)), rel=1e-9)


def test_the_edge_is_the_posterior_median_of_the_mp_fit_with_the_largest_full_weight():
    x = _sample(30, 7)
    rates = np.full(CHAINS * DRAWS, 1.0)
    fits = {n: _fit(x, rates) for n in ("a", "b", "tail")}
    rng = np.random.default_rng(8)
    draws = {n: 50.0 + rng.gamma(1.5, 5.0, size=401) for n in ("a", "b")}  # mean != median
    found = _weights(fits, {"a", "b"}, {"a": 0.3, "b": 0.5, "tail": 0.2}, draws)
    assert found.threshold == pytest.approx(statistics.median(draws["b"].tolist()), rel=1e-14)
    assert found.num_exceedances == 0
    # nothing above it: the MP-kind fits in proportion of their full-data weights
    assert found.weights == pytest.approx({"a": 0.3 / 0.8, "b": 0.5 / 0.8, "tail": 0.0})
    assert found.elpd == {}
    # an MP fit with no full-data weight counts as weight 0: it neither sets the edge nor
    # takes a share
    found = _weights(fits, {"a", "b"}, {"b": 0.5, "tail": 0.5}, draws)
    assert found.threshold == pytest.approx(statistics.median(draws["b"].tolist()), rel=1e-14)
    assert found.weights == {"a": 0.0, "b": 1.0, "tail": 0.0}
    # MP fits that all have full-data weight 0 share the weight equally
    found = _weights(fits, {"a", "b"}, {"a": 0.0, "b": 0.0, "tail": 1.0}, draws)
    assert found.weights == {"a": 0.5, "b": 0.5, "tail": 0.0}


def test_no_mp_kind_fit_is_a_clear_error():
    x = _sample(30, 9)
    fits = {"a": _fit(x, np.ones(CHAINS * DRAWS)), "b": _fit(x, np.ones(CHAINS * DRAWS))}
    with pytest.raises(ValueError, match="layer 'layer': no MP-kind fit gives the shared edge"):
        _weights(fits, set(), {"a": 0.5, "b": 0.5}, {})


@pytest.mark.parametrize(
    "other",
    [
        lambda x: x[:-1],  # one eigenvalue fewer
        lambda x: x * (1.0 + 1e-9),  # the same length, values apart by 1e-9 relative
        lambda x: 1e-10 * x[::-1],  # eigenvalues of order 1e-10 (a layer of tiny weights)
    ],
    ids=["shorter", "1e-9-apart", "tiny-scale"],
)
def test_fits_of_different_eigenvalues_are_refused(other):
    x = _sample(30, 10)
    rates = np.ones(CHAINS * DRAWS)
    fits = {"a": _fit(x, rates), "b": _fit(other(x), rates)}
    if other(x).max() < 1e-8:  # both spectra tiny: compare them at their own scale
        fits["a"] = _fit(1e-10 * x, rates)
    with pytest.raises(ValueError, match="'a' and 'b' explain different eigenvalues"):
        _weights(fits, {"a"}, {"a": 0.5, "b": 0.5}, {"a": np.full(3, 2.0)})


def test_what_a_fit_lacks_is_named():
    x = _sample(30, 11)
    rates = np.ones(CHAINS * DRAWS)
    good = _fit(x, rates)
    edges = {"a": np.full(3, 2.0)}
    cases = [
        (_fit(x, rates, obs_name="y"), None, r"the fit of 'b' has no observed_data\['obs'\]"),
        (_fit(x, rates, loglik_name="y"), None, "the fit of 'b' has no pointwise log-likelihood"),
        (_fit(x, rates, rate_name="lam"), None, "the fit of 'b' has no draws of 'rate'"),
        (good, "none", "likelihood 'b' declares no cdf"),
        (good, "no cdf", "likelihood 'b' declares no cdf"),
    ]
    for fit, lik, message in cases:
        likelihoods = {"a": EXPONENTIAL, "b": EXPONENTIAL}
        if lik == "none":
            likelihoods["b"] = None
        elif lik == "no cdf":
            likelihoods["b"] = dataclasses.replace(EXPONENTIAL, cdf=None)
        with pytest.raises(ValueError, match=message):
            _weights({"a": good, "b": fit}, {"a"}, {"a": 0.5, "b": 0.5}, edges, likelihoods)


def test_a_survival_that_rounds_to_zero_gives_finite_weights_without_a_warning():
    """A draw whose cdf at the edge rounds to 1 (S(t) < 1e-16): the log survival is floored,
    so the layer still gets weights (their value there is not accurate, see the report)."""
    x = np.array([1.1, 1.2, 1.5, 2.5, 3.0])
    rates = np.full(CHAINS * DRAWS, 1.0)
    steep = rates.copy()
    steep[0] = 60.0  # S(2) = exp(-60) < 1e-16: cdf(2) == 1.0 in float64
    assert float(-np.expm1(-60.0)) == 1.0
    fits = {"a": _fit(x, rates), "b": _fit(x, steep)}
    found = _weights(fits, {"a"}, {"a": 0.5, "b": 0.5}, {"a": np.full(3, 2.0)})
    assert np.isfinite(found.elpd["b"])
    assert all(np.isfinite(w) for w in found.weights.values())
    assert sum(found.weights.values()) == pytest.approx(1.0)


def test_constants_stored_with_a_length_one_axis_are_read_and_longer_ones_refused():
    """ArviZ's from_dict gives a scalar constant a length-1 axis (rmtfit's writer keeps it 0-d)."""
    x = _sample(40, 12)
    rates = _rates(1.0, 0.1, 13)
    fit = _fit(x, rates)

    def with_xmin(xmin):
        return az.from_dict(
            posterior={"rate": fit.posterior["rate"].values},
            log_likelihood={"obs": fit.log_likelihood["obs"].values},
            observed_data={"obs": x},
            constant_data={"xmin": xmin},
        )

    fits = {"a": with_xmin(np.float64(XMIN)), "b": fit}
    assert fits["a"].constant_data["xmin"].shape == (1,)
    found = _weights(fits, {"a"}, {"a": 0.5, "b": 0.5}, {"a": np.full(5, 2.0)})
    assert found.elpd["a"] == pytest.approx(np.sum(_reference_elpd(x, rates, 2.0)), rel=1e-9)
    fits["a"] = with_xmin(np.array([XMIN, 2.0]))
    with pytest.raises(ValueError, match=r"'a' has constant_data\['xmin'\] of shape \(2,\)"):
        _weights(fits, {"a"}, {"a": 0.5, "b": 0.5}, {"a": np.full(5, 2.0)})
