"""Tests of rmtfit.comparison: PSIS-LOO agrees with arviz.compare, families never mix, high k."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pytest
import scipy.stats as st

from rmtfit.comparison import (
    BOOTSTRAP_SAMPLES,
    Comparison,
    HighParetoKWarning,
    compare,
    stacking_weights,
)
from rmtfit.posterior import LayerPosteriors

SIGMA = 0.5


def _normal_idata(y, mu_draws, sd, family="full"):
    """A normal-mean model's InferenceData with exact posterior draws of mu."""
    ll = st.norm.logpdf(y[None, None, :], mu_draws[..., None], sd)
    return az.from_dict(
        posterior={"mu": mu_draws},
        log_likelihood={"obs": ll},
        observed_data={"obs": y},
        attrs={"family": family},
    )


def _three_models(seed=0, n=150):
    rng = np.random.default_rng(seed)
    y = rng.normal(1.0, 1.0, size=n)
    post = lambda centre: rng.normal(centre, 1 / np.sqrt(n), size=(4, 500))  # noqa: E731
    return y, {
        "good": _normal_idata(y, post(y.mean()), 1.0),
        "wide": _normal_idata(y, post(y.mean()), 1.15),
        "shifted": _normal_idata(y, post(y.mean() + 0.2), 0.95),
    }


def _independent_loo(idata):
    """Pointwise elpd_loo straight from ``arviz.loo`` (not through rmtfit's adapter)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Estimated shape parameter")
        return np.asarray(az.loo(idata, pointwise=True).loo_i.values, dtype=np.float64)


def _bootstrap_replicates(elpd_i, *, seed, replicates=20_000):
    """Pseudo-BMA+ weights of each Bayesian-bootstrap replicate, written here with an RNG of its
    own (Yao et al. 2018, eq. 9): Dirichlet(1, ..., 1) observation weights as normalised
    exponential draws, z = n sum_i u_i elpd_i, the replicate's weights softmax(z)."""
    n = elpd_i.shape[0]
    e = np.random.default_rng(seed).exponential(size=(replicates, n))
    z = n * (e / e.sum(axis=1, keepdims=True)) @ elpd_i
    w = np.exp(z - z.max(axis=1, keepdims=True))
    return w / w.sum(axis=1, keepdims=True)


def _assert_within_bootstrap_error(weights, reference, replicates, reference_replicates):
    """``weights`` (from ``replicates`` bootstrap draws) equal ``reference`` (from
    ``reference_replicates``) within 4 Monte-Carlo standard errors of the difference, the
    per-replicate sd taken from an independent bootstrap of the same elpd."""
    sd = np.std(replicates, axis=0)
    tol = 4.0 * sd * np.sqrt(1.0 / BOOTSTRAP_SAMPLES + 1.0 / reference_replicates)
    assert np.all(np.abs(np.asarray(weights) - reference) <= tol), (weights, reference, tol)


def _arviz_compare(idatas, **kwargs):
    with warnings.catch_warnings():
        # arviz 0.23 calls DataFrame.sort_values(inplace=True), deprecated in pandas 3
        warnings.filterwarnings("ignore", message="The inplace keyword")
        return az.compare(idatas, ic="loo", **kwargs)


def test_loo_agrees_with_arviz_compare():
    _, idatas = _three_models()
    mine = compare(idatas, layer="fc1")
    ref = _arviz_compare(idatas, method="stacking")
    assert list(mine.names) == list(ref.index)
    for score in mine.models:
        row = ref.loc[score.name]
        assert score.elpd_loo == pytest.approx(row["elpd_loo"], abs=1e-8)
        assert score.se == pytest.approx(row["se"], abs=1e-8)
        assert score.p_loo == pytest.approx(row["p_loo"], abs=1e-8)
        assert score.elpd_diff == pytest.approx(row["elpd_diff"], abs=1e-8)
        assert score.dse == pytest.approx(row["dse"], abs=1e-8)
        assert score.rank == row["rank"]
    # stacking: same weights up to the optimiser's tolerance, and a score at least as good
    assert mine.weight_method == "stacking" and mine.reliable
    for score in mine.models:
        assert score.weight == pytest.approx(ref.loc[score.name, "weight"], abs=2e-3)
    matrix = np.column_stack([s.elpd_i for s in mine.models])
    ours = np.array([s.weight for s in mine.models])
    theirs = ref.loc[list(mine.names), "weight"].to_numpy(dtype=float)
    score = lambda w: np.sum(np.log(np.exp(matrix) @ w))  # noqa: E731
    assert score(ours) >= score(theirs) - 1e-9


def test_stacking_weights_survive_very_negative_log_densities():
    rng = np.random.default_rng(1)
    matrix = rng.normal(-2000.0, 1.0, size=(100, 2))  # exp() underflows without the row shift
    matrix[:, 1] -= 0.5
    w = stacking_weights(matrix)
    # stacking depends on the densities only up to a constant per observation: the same weights
    # as for the log densities shifted back to about 0 (no underflow there)
    shifted = stacking_weights(matrix + 2000.0)
    assert 0.5 < shifted[0] < 1.0  # an interior optimum, so the comparison means something
    np.testing.assert_allclose(w, shifted, atol=1e-6)


def test_a_single_model_gets_weight_one():
    _, idatas = _three_models()
    single = compare({"good": idatas["good"]})
    assert single.weights == {"good": 1.0}
    assert single.models[0].elpd_diff == 0.0


def test_a_parameter_free_model_has_exact_loo_and_no_high_k():
    y, idatas = _three_models()
    fixed = st.norm.logpdf(y, 1.0, 1.0)
    constant = az.from_dict(
        posterior={"mu": np.ones((4, 500))},
        log_likelihood={"obs": np.broadcast_to(fixed, (4, 500, y.size)).copy()},
        observed_data={"obs": y},
        attrs={"family": "full"},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = compare({"fixed": constant, "good": idatas["good"]})
    assert result.reliable and result["fixed"].num_high_k == 0
    assert result["fixed"].elpd_i == pytest.approx(fixed, abs=1e-12)


def test_mixing_families_raises_naming_both_likelihoods():
    y, idatas = _three_models()
    tail = _normal_idata(y, idatas["good"].posterior["mu"].values, 1.0, family="tail")
    with pytest.raises(
        ValueError, match=r"'good' \(family 'full'\).*'tail_model' \(family 'tail'\)"
    ):
        compare({"good": idatas["good"], "tail_model": tail}, layer="fc1")
    picked = compare({"good": idatas["good"], "tail_model": tail}, family="tail")
    assert picked.names == ("tail_model",) and picked.family == "tail"


def test_different_observations_in_one_family_raise_naming_both():
    y, idatas = _three_models()
    other = _normal_idata(y[:-1], idatas["good"].posterior["mu"].values, 1.0)
    with pytest.raises(ValueError, match=r"'good' with 'other'.*150 vs 149"):
        compare({"good": idatas["good"], "other": other}, layer="fc1")
    shifted = _normal_idata(y + 1e-9, idatas["good"].posterior["mu"].values, 1.0)
    with pytest.raises(ValueError, match="different observations"):
        compare({"good": idatas["good"], "shifted": shifted})


def test_unknown_family_and_method_are_clear_errors():
    y, idatas = _three_models()
    bare = az.from_dict(
        posterior={"mu": np.zeros((2, 10))},
        log_likelihood={"obs": np.zeros((2, 10, y.size))},
        observed_data={"obs": y},
    )
    with pytest.raises(ValueError, match="cannot tell the family of likelihood 'my_model'"):
        compare({"my_model": bare})
    with pytest.raises(ValueError, match="method='bma'"):
        compare(idatas, method="bma")


def _outlier_models(seed=3, n=20):
    """Normal mean, known sd, flat prior; the last observation is an outlier (high Pareto k)."""
    rng = np.random.default_rng(seed)
    y = np.append(rng.normal(0.0, SIGMA, size=n - 1), 6.0)
    mu = rng.normal(y.mean(), SIGMA / np.sqrt(n), size=(4, 1000))
    robust = st.t.logpdf(y[None, None, :], 3, mu[..., None], 1.5 * SIGMA)
    idatas = {
        "normal": _normal_idata(y, mu, SIGMA),
        "robust": az.from_dict(
            posterior={"mu": mu},
            log_likelihood={"obs": robust},
            observed_data={"obs": y},
            attrs={"family": "full"},
        ),
    }
    return y, idatas


def _exact_loo_normal(y, index):
    """Exact log p(y_i | y_-i) for the normal-mean model with known sd and a flat prior."""
    rest = np.delete(y, index)
    scale = SIGMA * np.sqrt(1.0 + 1.0 / rest.size)
    return st.norm.logpdf(y[index], rest.mean(), scale)


def test_high_pareto_k_warns_and_falls_back_to_pseudo_bma_plus():
    y, idatas = _outlier_models()
    with pytest.warns(HighParetoKWarning, match=r"layer 'fc2'.*'normal': 1 of 20 observations"):
        result = compare(idatas, layer="fc2", seed=5)
    assert not result.reliable and result.weight_method == "pseudo-BMA+"
    assert result["normal"].num_high_k == 1 and result["normal"].pareto_k_max > 0.7
    assert "pseudo-BMA+" in result.notes[0]
    # the fallback weights are the Bayesian-bootstrap pseudo-BMA+ of the pointwise elpd: against
    # a bootstrap written here and against ArviZ's BB-pseudo-BMA, each within its MC error
    names = [m.name for m in result.models]
    weights = [m.weight for m in result.models]
    elpd_i = np.column_stack([_independent_loo(idatas[n]) for n in names])
    replicates = _bootstrap_replicates(elpd_i, seed=2024)
    _assert_within_bootstrap_error(weights, replicates.mean(axis=0), replicates, len(replicates))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Estimated shape parameter")
        ref = _arviz_compare(idatas, method="BB-pseudo-BMA", b_samples=20_000, seed=1)
    reference = ref.loc[names, "weight"].to_numpy(dtype=float)
    _assert_within_bootstrap_error(weights, reference, replicates, 20_000)


def test_refit_replaces_high_k_terms_by_exact_loo():
    y, idatas = _outlier_models()
    calls = []

    def refit(name, indices):
        calls.append((name, indices.tolist()))
        return np.array([_exact_loo_normal(y, i) for i in indices])

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no HighParetoKWarning once every bad term is refitted
        result = compare(idatas, layer="fc2", refit=refit)
    assert calls == [("normal", [19])]
    assert result.reliable and result.weight_method == "stacking"
    normal = result["normal"]
    assert normal.num_refit == 1
    assert normal.elpd_i[19] == pytest.approx(_exact_loo_normal(y, 19), abs=1e-12)
    # PSIS terms with low k already agree with the exact LOO (a check of the whole pipeline)
    exact = np.array([_exact_loo_normal(y, i) for i in range(18)])
    assert np.max(np.abs(normal.elpd_i[:18] - exact)) < 0.02
    bad = lambda name, idx: np.full(idx.size + 1, -1.0)  # noqa: E731
    with pytest.raises(ValueError, match="must return 1 finite"):
        compare(idatas, layer="fc2", refit=bad)


class _FakeFits:
    """The duck-typed surface of rmtfit.Fits that compare() reads."""

    def __init__(self, per_layer):
        self._per_layer = per_layer
        self.layers = list(per_layer)
        self.likelihoods = sorted({n for d in per_layer.values() for n in d})

    def has(self, layer, name):
        return name in self._per_layer[layer]

    def idata(self, layer, name):
        return self._per_layer[layer][name]


def test_fits_and_layerfits_inputs():
    _, idatas = _three_models()
    fits = _FakeFits({"a": idatas, "b": {"good": idatas["good"]}})
    with pytest.raises(ValueError, match="pass layer=<name>"):
        compare(fits)
    from_fits = compare(fits, layer="a")
    assert isinstance(from_fits, Comparison) and from_fits.layer == "a"
    assert compare(fits, layer="b").names == ("good",)

    class _Spectrum:
        name = "a"

    from_layer = compare(LayerPosteriors(_Spectrum(), idatas))
    assert from_layer.weights == pytest.approx(from_fits.weights)
    table = from_fits.to_table()
    assert list(table.index) == list(from_fits.names)
    assert from_fits.to_dict()["models"][0]["name"] == from_fits.best


@pytest.mark.parametrize(
    "first", ["import rmtfit.phases", "import rmtfit.comparison", "import rmtfit.pipeline"]
)
def test_rmtfit_compare_stays_the_function_after_its_submodule_is_imported(first):
    """`rmtfit.compare` is the function whatever was imported before (no module of that name
    exists since the comparison stage became the package `rmtfit.comparison`)."""
    import subprocess
    import sys

    code = f"{first}\nimport rmtfit\nassert callable(rmtfit.compare), type(rmtfit.compare)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]


@pytest.mark.parametrize("method", ["stacking", "pseudo-BMA+", "pseudo-BMA"])
def test_rmtfit_compare_weights_by_each_method(method):
    """``rmtfit.compare(..., method=...)``: each weighting checked against a computation made here
    from ArviZ's pointwise elpd_loo: softmax of the totals (pseudo-BMA), the Bayesian bootstrap
    of Yao et al. (2018, eq. 9; pseudo-BMA+; an independent bootstrap, within the Monte-Carlo
    error) and the stacking optimum (its KKT conditions)."""
    import rmtfit

    _, idatas = _three_models()
    result = rmtfit.compare(idatas, layer="fc1", method=method, seed=11)
    assert result.weight_method == method and result.reliable
    names = list(idatas)
    elpd_i = np.column_stack([_independent_loo(idatas[n]) for n in names])
    ours = np.array([result[n].weight for n in names])
    assert ours.sum() == pytest.approx(1.0, abs=1e-12) and np.all(ours >= 0)
    if method == "pseudo-BMA":
        totals = elpd_i.sum(axis=0)
        expected = np.exp(totals - totals.max()) / np.exp(totals - totals.max()).sum()
        np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-14)
    elif method == "pseudo-BMA+":  # seed 11 there, an RNG of its own here
        replicates = _bootstrap_replicates(elpd_i, seed=2024)
        _assert_within_bootstrap_error(ours, replicates.mean(axis=0), replicates, len(replicates))
        assert not np.allclose(
            ours, [r.weight for r in compare(idatas, method="pseudo-BMA").models]
        )
    else:
        dens = np.exp(elpd_i - elpd_i.max(axis=1, keepdims=True))
        gradient = np.sum(dens / (dens @ ours)[:, None], axis=0)  # d score / d w_k
        # KKT on the simplex: every model with weight > 0 has the largest gradient (= n)
        assert gradient[ours > 1e-6] == pytest.approx(elpd_i.shape[0], rel=1e-4)
        assert np.all(gradient[ours <= 1e-6] <= elpd_i.shape[0] * (1 + 1e-4))
        ref = _arviz_compare(idatas, method="stacking")
        assert ours == pytest.approx(ref.loc[names, "weight"].to_numpy(dtype=float), abs=2e-3)


def test_rmtfit_compare_with_an_unknown_method_names_the_allowed_ones():
    import rmtfit

    _, idatas = _three_models()
    with pytest.raises(ValueError) as info:
        rmtfit.compare(idatas, method="BB-pseudo-BMA")
    message = str(info.value)
    assert "method='BB-pseudo-BMA' is not supported" in message
    for allowed in ("stacking", "pseudo-BMA+", "pseudo-BMA"):
        assert repr(allowed) in message
