"""Tests written to kill the mutants of rmtfit.comparison that the other tests let live (docs/mutation.md).

References are independent of the code under test: scipy's softmax and optimisers, a Bayesian
bootstrap drawn here from Gamma variables, and ArviZ's ``psislw``.
"""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pytest
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


def _high_k_comparison(**kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = compare(_two_models(outlier=True), layer="fc", **kwargs)
    return result, [str(w.message) for w in caught if issubclass(w.category, HighParetoKWarning)]


def test_high_k_warning_text_note_and_repr():
    """The text parts of the high-k fallback (the location test above is deselected in the
    mutation run: mutmut's trampolines add stack frames)."""
    result, messages = _high_k_comparison()
    assert len(messages) == 1
    assert "layer 'fc': PSIS-LOO is unreliable" in messages[0]
    assert "The weights use pseudo-BMA+ instead" in messages[0]
    assert messages[0].endswith(
        "treat the elpd differences with caution. Pass refit=... to compute exact leave-one-out "
        "terms for them."
    )
    bad = {s.name: s.num_high_k for s in result.models if s.num_high_k}
    names = ", ".join(f"{n} ({c})" for n, c in bad.items())
    assert result.notes == (f"Pareto k > {result.good_k:.2f} for {names}; weights by pseudo-BMA+",)
    parts = ", ".join(f"{s.name}: elpd={s.elpd_loo:.1f} w={s.weight:.2f}" for s in result.models)
    assert repr(result) == (
        f"Comparison(layer='fc', family='full', {parts}, pseudo-BMA+, UNRELIABLE (high Pareto k))"
    )
    clean = compare(_two_models(), layer="fc")
    parts = ", ".join(f"{s.name}: elpd={s.elpd_loo:.1f} w={s.weight:.2f}" for s in clean.models)
    assert repr(clean) == f"Comparison(layer='fc', family='full', {parts}, stacking)"


def test_the_high_k_fallback_keeps_a_method_other_than_stacking():
    """Only stacking falls back to pseudo-BMA+; pseudo-BMA stays pseudo-BMA (the softmax of the
    elpd totals, computed here)."""
    result, messages = _high_k_comparison(method="pseudo-BMA")
    assert (
        result.weight_method == "pseudo-BMA" and "The weights use pseudo-BMA instead" in messages[0]
    )
    totals = np.array([s.elpd_loo for s in result.models])
    np.testing.assert_allclose(
        [s.weight for s in result.models], special.softmax(totals), rtol=1e-10
    )


def test_the_bootstrap_seed_reaches_the_pseudo_bma_plus_weights():
    """Same seed, same weights; another seed, other weights (Bayesian-bootstrap noise)."""
    first = compare(_two_models(), method="pseudo-BMA+", seed=3).weights
    assert compare(_two_models(), method="pseudo-BMA+", seed=3).weights == first
    other = compare(_two_models(), method="pseudo-BMA+", seed=4).weights
    assert other != first and other == pytest.approx(first, abs=0.05)
    fallback = [_high_k_comparison(seed=s)[0].weights for s in (3, 3, 4)]
    assert fallback[0] == fallback[1] and fallback[0] != fallback[2]


def _ranked_models():
    """'a_worse' (a wrong mean) before 'b_better' in name order; the scores order them by elpd."""
    rng = np.random.default_rng(11)
    y = rng.normal(0.0, 1.0, size=25)
    mu = rng.normal(y.mean(), 0.2, size=(2, 400))
    worse = stats.norm.logpdf(y[None, None, :], mu[..., None] + 1.5, 1.0)
    better = stats.norm.logpdf(y[None, None, :], mu[..., None], 1.0)
    return {"a_worse": _idata(y, worse, mu, {"family": "full"}),
            "b_better": _idata(y, better, mu, {"family": "full"})}  # fmt: skip


def test_scores_are_ranked_by_elpd_with_arviz_pareto_k_and_counts():
    idatas = _ranked_models()
    result = compare(idatas, layer="fc")
    assert result.names == ("b_better", "a_worse") and result.best == "b_better"
    assert [s.rank for s in result.models] == [0, 1]
    assert result.models[1].elpd_diff > 0 and result.models[0].elpd_diff == 0.0
    assert result.num_observations == 25
    for score in result.models:
        loo = az.loo(idatas[score.name], pointwise=True)
        assert score.elpd_loo == pytest.approx(float(loo.elpd_loo), rel=1e-9)
        np.testing.assert_allclose(score.pareto_k, np.asarray(loo.pareto_k), rtol=1e-9)
        assert score.pareto_k_max == pytest.approx(float(np.max(loo.pareto_k)), rel=1e-9)
        assert (score.num_high_k, score.num_refit) == (0, 0)
    assert result["a_worse"] is result.models[1]
    with pytest.raises(KeyError, match=r"layer 'fc': no likelihood 'nope' compared; have \("):
        result["nope"]


def test_bad_fits_are_errors_naming_the_layer_and_the_fit():
    idatas = _ranked_models()
    y = np.asarray(idatas["a_worse"].observed_data["obs"].values)
    mu = np.asarray(idatas["a_worse"].posterior["mu"].values)
    renamed = az.from_dict(posterior={"mu": mu}, log_likelihood={"other": np.zeros((2, 400, 25))},
                           observed_data={"obs": y}, attrs={"family": "full"})  # fmt: skip
    with pytest.raises(
        ValueError, match=r"layer 'fc': the fit of 'x' has no log_likelihood\['obs'\]"
    ):
        compare({"x": renamed, "b_better": idatas["b_better"]}, layer="fc")
    lean = az.from_dict(posterior={"mu": mu}, observed_data={"obs": y}, attrs={"family": "full"})
    with pytest.raises(ValueError, match="layer 'fc': the fit of 'x' has no pointwise log-lik"):
        compare({"x": lean, "b_better": idatas["b_better"]}, layer="fc")
    with pytest.raises(ValueError, match="cannot tell the family of likelihood 'x'"):
        compare({"x": object()})  # not an InferenceData: no attrs to read a layer name from


def test_a_refit_of_the_wrong_size_is_an_error_naming_the_layer():
    with pytest.raises(ValueError, match=r"layer 'fc': refit\('\w+', indices\) must return"):
        compare(
            _two_models(outlier=True), layer="fc", refit=lambda name, idx: np.zeros(idx.size + 1)
        )


def test_psis_loo_repr_reports_the_largest_pareto_k():
    from rmtfit.comparison import psis_loo

    rng = np.random.default_rng(2)
    loglik = stats.norm.logpdf(rng.normal(size=12)[None, None, :], rng.normal(0, 0.3, (2, 300, 1)))
    loo = psis_loo(loglik)
    k_ref = np.asarray(
        az.loo(az.from_dict(log_likelihood={"obs": loglik}), pointwise=True, reff=1.0).pareto_k
    )
    assert repr(loo) == (
        f"PsisLoo(elpd_loo={loo.elpd_loo:.2f}, se={loo.se:.2f}, p_loo={loo.p_loo:.2f}, n=12, "
        f"S=600, max k={np.max(k_ref):.2f})"
    )


def _empty_models():
    """Two fits of zero observations (an empty log-likelihood), as an empty layer would give."""
    rng = np.random.default_rng(4)
    mu = rng.normal(size=(2, 100))
    loglik, attrs = np.zeros((2, 100, 0)), {"family": "full"}
    return {
        "a": _idata(np.zeros(0), loglik, mu, attrs),
        "b": _idata(np.zeros(0), loglik, mu, attrs),
    }


def test_psis_loo_of_zero_observations_is_the_empty_sum():
    """No observation: elpd 0 (the empty sum) with standard error 0, and no Pareto k (the
    largest of none printed as -inf), without a warning."""
    from rmtfit.comparison import psis_loo

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loo = psis_loo(np.zeros((2, 100, 0)))
        text = repr(loo)
    assert (loo.elpd_loo, loo.se, loo.p_loo, loo.pareto_k.size) == (0.0, 0.0, 0.0, 0)
    assert text == "PsisLoo(elpd_loo=0.00, se=0.00, p_loo=0.00, n=0, S=200, max k=-inf)"


def test_compare_refuses_fits_of_zero_observations_naming_the_layer():
    with pytest.raises(ValueError, match="layer 'fc': the fit of 'a' has no observations"):
        compare(_empty_models(), layer="fc")
