"""Tests written to kill the mutants of rmtfit.comparison that the other tests let live (docs/mutation.md).

References are independent of the code under test: scipy's softmax and optimisers, a Bayesian
bootstrap drawn here from Gamma variables, and ArviZ's ``psislw``.
"""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
from scipy import optimize, special, stats

from rmtfit.comparison import (
    HighParetoKWarning,
    compare,
    pseudo_bma_plus_weights,
    pseudo_bma_weights,
    psis_log_weights,
    stacking_weights,
)


def _elpd_matrix(seed=0, n=40, offset=-3000.0):
    """Pointwise elpd of three models; row offsets spread over 1,000 nats (one eigenvalue's
    log density can be far below another's), totals far from 0."""
    rng = np.random.default_rng(seed)
    rows = offset / n + rng.uniform(-500.0, 500.0, size=(n, 1))
    return rows + rng.normal(0.0, 1.0, size=(n, 3)) + np.array([0.0, -0.3, -0.8])


def test_pseudo_bma_is_the_softmax_of_large_negative_totals():
    m = _elpd_matrix()
    np.testing.assert_allclose(pseudo_bma_weights(m), special.softmax(m.sum(axis=0)), rtol=1e-12)


def test_pseudo_bma_plus_matches_a_bayesian_bootstrap_drawn_here():
    """Yao et al. (2018, eq. 9) with Dirichlet(1,...,1) weights drawn as normalised Gamma(1)."""
    m = _elpd_matrix(seed=1)
    n = m.shape[0]
    g = np.random.default_rng(123).gamma(1.0, size=(20000, n))
    u = g / g.sum(axis=1, keepdims=True)
    reference = special.softmax(n * (u @ m), axis=1).mean(axis=0)
    ours = pseudo_bma_plus_weights(m, seed=4, num_samples=20000)
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours, reference, atol=0.01)
    # seeded: the same seed gives the same weights
    np.testing.assert_array_equal(
        pseudo_bma_plus_weights(m, seed=4), pseudo_bma_plus_weights(m, seed=4)
    )


def test_stacking_weights_are_the_optimum_found_by_an_independent_optimiser():
    """Two models: the stacking score is concave in w, its maximum on [0, 1] by brentq on the
    derivative (rows shifted by logsumexp of each row, independently of the code)."""
    rng = np.random.default_rng(5)
    n = 60
    m = rng.uniform(-800.0, 0.0, size=(n, 1)) + np.column_stack(
        [rng.normal(0, 1, n), rng.normal(0.1, 1.3, n)]
    )  # fmt: skip
    dens = np.exp(m - special.logsumexp(m, axis=1, keepdims=True))

    def derivative(w):
        return np.sum((dens[:, 0] - dens[:, 1]) / (w * dens[:, 0] + (1 - w) * dens[:, 1]))

    w_ref = optimize.brentq(derivative, 1e-9, 1 - 1e-9, xtol=1e-14)
    assert 0.05 < w_ref < 0.95  # an interior optimum: both models matter
    np.testing.assert_allclose(stacking_weights(m), [w_ref, 1 - w_ref], atol=1e-6)


def _idata(y, loglik, mu, attrs):
    return az.from_dict(
        posterior={"mu": mu}, log_likelihood={"obs": loglik}, observed_data={"obs": y}, attrs=attrs
    )


def _two_models(layer_attr=None, outlier=False):
    rng = np.random.default_rng(3)
    y = rng.normal(0.0, 0.5, size=30)
    if outlier:
        y[-1] = 6.0
    mu = rng.normal(y.mean(), 0.5 / np.sqrt(y.size), size=(4, 500))
    attrs = {"family": "full", **({"layer": layer_attr} if layer_attr else {})}
    normal = stats.norm.logpdf(y[None, None, :], mu[..., None], 0.5)
    robust = stats.t.logpdf(y[None, None, :], 3, mu[..., None], 0.75)
    return {"normal": _idata(y, normal, mu, attrs), "robust": _idata(y, robust, mu, attrs)}


def test_the_layer_name_comes_from_the_fits_attrs():
    assert compare(_two_models(layer_attr="encoder.3")).layer == "encoder.3"
    assert compare(_two_models()).layer == "<layer>"
    assert compare(_two_models(layer_attr="encoder.3"), layer="given").layer == "given"


def test_high_k_warning_points_at_the_callers_line_and_says_how_to_fix():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = compare(_two_models(outlier=True), layer="fc")
    high = [w for w in caught if issubclass(w.category, HighParetoKWarning)]
    assert len(high) == 1 and high[0].filename == __file__
    assert "Pass refit=... to compute exact leave-one-out terms" in str(high[0].message)
    bad = {s.name: s.num_high_k for s in result.models if s.num_high_k}
    assert bad and result.notes[0].startswith("Pareto k > ")
    for name, count in bad.items():
        assert f"{name} ({count})" in result.notes[0]
    text = repr(result)
    assert "UNRELIABLE (high Pareto k)" in text and "pseudo-BMA+" in text
    for s in result.models:
        assert f"{s.name}: elpd={s.elpd_loo:.1f} w={s.weight:.2f}" in text
    assert "UNRELIABLE" not in repr(compare(_two_models()))


def test_psis_log_weights_default_r_eff_is_one_as_in_arviz():
    rng = np.random.default_rng(9)
    log_ratios = rng.standard_t(4, size=(2000, 3))
    ours, k = psis_log_weights(log_ratios)
    ref, k_ref = az.psislw(log_ratios.T.copy(), reff=1.0)  # ArviZ: draws on the last axis
    np.testing.assert_allclose(ours, np.asarray(ref).T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(k, np.asarray(k_ref), rtol=1e-9)
