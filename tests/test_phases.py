"""Tests of rmtfit.phases on constructed posteriors (the end-to-end checks with real fits are in
test_phases_synthetic below, once the inference engine and the zoo are available)."""

from __future__ import annotations

import re
from pathlib import Path

import arviz as az
import numpy as np
import pytest
import scipy.stats as st

from rmtfit.likelihoods import Roles
from rmtfit.phases import (
    PHASES,
    THRESHOLDS,
    network_phases,
    phase_probabilities,
    rank_collapse_probability,
    summarize_phases,
)
from rmtfit.phases._phases import _tw_quantile
from rmtfit.posterior import LayerPosteriors
from rmtfit.spectra import Spectrum

DOCS = Path(__file__).resolve().parents[1] / "docs" / "phases.md"


def _spectrum(W, name="layer"):
    W = np.asarray(W, dtype=np.float64)
    if W.shape[0] < W.shape[1]:
        W = W.T
    ev = np.linalg.svd(W, compute_uv=False) ** 2
    return Spectrum(name=name, kind="matrix", N=W.shape[0], M=W.shape[1], eigenvalues=ev)


def _idata(x, posterior, loglik=None, family="full", attrs=None):
    """InferenceData with the given posterior draws (chain, draw) and a pointwise log-likelihood."""
    shape = next(iter(posterior.values())).shape[:2]
    if loglik is None:
        loglik = np.broadcast_to(st.norm.logpdf(np.log(x)), (*shape, x.size)).copy()
    return az.from_dict(
        posterior=posterior,
        log_likelihood={"obs": loglik},
        observed_data={"obs": x},
        attrs={"family": family, **(attrs or {})},
    )


def _mp_fit(spectrum, sigma2=1.0, sd=0.002, seed=0, variable="sigma2"):
    rng = np.random.default_rng(seed)
    draws = rng.normal(sigma2, sd, size=(2, 500))
    if variable == "user_scale":  # a user's MP likelihood with its own name for sigma^2
        roles = Roles(kind="mp", bulk_scale="s2")
        return _idata(spectrum.eigenvalues, {"s2": draws}, attrs=roles.to_attrs())
    if variable == "lambda_plus":
        edge = spectrum.N * draws * (1 + spectrum.Q**-0.5) ** 2
        return _idata(spectrum.eigenvalues, {"lambda_plus": edge})
    return _idata(spectrum.eigenvalues, {"sigma2": draws, "K": np.zeros((2, 500))})


def _tail_fit(spectrum, alpha, sd=0.1, seed=1):
    rng = np.random.default_rng(seed)
    return _idata(spectrum.eigenvalues, {"alpha": rng.normal(alpha, sd, size=(2, 500))})


@pytest.fixture(scope="module")
def gaussian():
    rng = np.random.default_rng(11)
    return _spectrum(rng.normal(size=(400, 200)), "gaussian")


def test_probabilities_sum_to_one_and_map_is_the_largest(gaussian):
    fits = {"mp_spikes": _mp_fit(gaussian), "spliced_pl": _tail_fit(gaussian, 3.0)}
    result = phase_probabilities(fits, gaussian, weights={"mp_spikes": 0.3, "spliced_pl": 0.7})
    assert tuple(result.probabilities) == PHASES
    assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-12)
    assert result.map_phase == max(PHASES, key=result.probabilities.get)
    # the two models' conditions mix with their weights
    assert result["random_like"] == pytest.approx(
        0.3 * result.model_probabilities["mp_spikes"]["random_like"]
    )
    assert result["heavy_tailed"] == pytest.approx(0.7, abs=1e-3)
    assert result.map_phase == "heavy_tailed"


def test_gaussian_matrix_with_a_tight_mp_posterior_is_random_like(gaussian):
    result = phase_probabilities({"mp_spikes": _mp_fit(gaussian)}, gaussian)
    assert result["random_like"] >= 0.9
    assert result.map_phase == "random_like"
    assert result.num_spikes_map == 0
    assert result.p_rank_collapse < 1e-6
    assert any("no tail-kind" in note for note in result.notes)


def test_planted_spikes_above_bbp_give_bulk_spikes_with_the_right_count():
    rng = np.random.default_rng(5)
    n, m = 400, 200
    strengths = [6.0, 10.0, 16.0]  # BBP threshold 1 + sqrt(M/N) = 1.71
    basis = np.linalg.qr(rng.normal(size=(m, 3)))[0]
    cov_root = np.eye(m) + basis @ np.diag(np.sqrt(strengths) - 1) @ basis.T
    spectrum = _spectrum(rng.normal(size=(n, m)) @ cov_root, "spiked")
    result = phase_probabilities({"mp_spikes": _mp_fit(spectrum)}, spectrum)
    assert result["bulk_spikes"] >= 0.95
    assert result.num_spikes_map == 3
    assert result.num_spikes_mean == pytest.approx(3.0, abs=0.05)


@pytest.mark.parametrize("k", [1, 10, 11, 40])
def test_a_few_separated_outliers_are_spikes_and_many_are_bulk_decay(gaussian, k):
    """Bulk+Spikes is a few spikes: with n = 200 eigenvalues, at most max(1, 0.05 n) = 10 beyond
    the TW band; more outliers beyond the band are a continuum leaving the bulk (Bulk-decay)."""
    lp = gaussian.N * (1 + gaussian.Q**-0.5) ** 2
    outliers = lp * np.geomspace(1.3, 4.0, k)
    ev = np.concatenate([gaussian.eigenvalues[: gaussian.M - k], outliers])
    spectrum = Spectrum("outliers", "matrix", gaussian.N, gaussian.M, ev)
    result = phase_probabilities({"mp_spikes": _mp_fit(spectrum)}, spectrum)
    few = max(1, int(THRESHOLDS["spike_fraction_max"].value * gaussian.M))
    assert few == 10
    expected = "bulk_spikes" if k <= few else "bulk_decay"
    assert result[expected] >= 0.99, result
    assert result.num_spikes_map == k


def test_no_phase_below_the_minimum_number_of_eigenvalues():
    rng = np.random.default_rng(3)
    minimum = int(THRESHOLDS["min_phase_evals"].value)
    small = _spectrum(rng.normal(size=(64, minimum - 1)), "small")
    with pytest.raises(ValueError, match=rf"{minimum - 1} eigenvalues, fewer than the {minimum}"):
        phase_probabilities({"mp_spikes": _mp_fit(small)}, small)
    enough = _spectrum(rng.normal(size=(64, minimum)), "enough")
    assert phase_probabilities({"mp_spikes": _mp_fit(enough, sd=1e-4)}, enough).map_phase


def test_mass_just_above_the_edge_is_bleeding_out(gaussian):
    lp = gaussian.N * (1 + gaussian.Q**-0.5) ** 2
    tw = gaussian.N ** (1 / 3) * (1 + gaussian.Q**-0.5) * (1 + gaussian.Q**0.5) ** (1 / 3)
    leaked = np.concatenate([gaussian.eigenvalues[:-4], lp + tw * np.array([0.4, 0.9, 1.5, 2.2])])
    spectrum = Spectrum("bleeding", "matrix", gaussian.N, gaussian.M, leaked)
    result = phase_probabilities({"mp_spikes": _mp_fit(spectrum)}, spectrum)
    assert result["bleeding_out"] >= 0.9
    # moving the same eigenvalues far beyond the TW band turns them into spikes
    far = np.concatenate([gaussian.eigenvalues[:-4], lp * np.array([1.3, 1.5, 1.8, 2.5])])
    spiked = Spectrum("spiked", "matrix", gaussian.N, gaussian.M, far)
    result = phase_probabilities({"mp_spikes": _mp_fit(spiked)}, spiked)
    assert result["bulk_spikes"] >= 0.9 and result.num_spikes_map == 4


def test_pooled_slices_widen_the_tw_band(gaussian):
    one = phase_probabilities({"mp_spikes": _mp_fit(gaussian)}, gaussian)
    pooled = Spectrum(
        "pooled", "conv2d", gaussian.N, gaussian.M, gaussian.eigenvalues, num_slices=9
    )
    nine = phase_probabilities({"mp_spikes": _mp_fit(pooled)}, pooled)
    assert nine["random_like"] >= one["random_like"] - 1e-12
    assert _tw_quantile(0.999 ** (1 / 9)) > _tw_quantile(0.999)


@pytest.mark.parametrize(
    ("alpha", "phase"),
    [(1.7, "heavy_tailed"), (3.0, "heavy_tailed"), (5.0, "bulk_decay"), (10.0, "random_like")],
)
def test_tail_exponent_sets_the_tail_phases(gaussian, alpha, phase):
    result = phase_probabilities({"spliced_pl": _tail_fit(gaussian, alpha)}, gaussian)
    assert result[phase] >= 0.99
    assert result.p_very_heavy == pytest.approx(float(alpha < 2), abs=0.01)


def test_mp_edge_from_the_declared_bulk_scale_or_bulk_edge_agree():
    """The MP rule reads the draws of the roles a likelihood declares (sigma^2 as bulk_scale or
    lambda_+ as bulk_edge), whatever they are called: the built-in mp_spikes with only sigma2,
    with only lambda_plus, and an unregistered likelihood whose stored roles call sigma^2 `s2`."""
    rng = np.random.default_rng(2)
    spectrum = _spectrum(rng.normal(size=(300, 150)))
    # a loose posterior so that the draws straddle the thresholds
    results = [
        phase_probabilities({name: _mp_fit(spectrum, sd=0.03, variable=v)}, spectrum)
        for name, v in (
            ("mp_spikes", "sigma2"),
            ("mp_spikes", "lambda_plus"),
            ("user_mp", "user_scale"),
        )
    ]
    assert results[2].model_kinds == {"user_mp": "mp"}
    for other in results[1:]:
        for p in PHASES:
            assert other[p] == pytest.approx(results[0][p], abs=1e-9)
    assert 0.0 < results[0]["random_like"] < 1.0  # the loose posterior spreads over phases


def test_rank_collapse_from_zero_eigenvalues():
    rng = np.random.default_rng(4)
    low_rank = (rng.normal(size=(300, 8)) @ rng.normal(size=(8, 150))).astype(np.float32)
    spectrum = _spectrum(low_rank, "collapsed")
    fraction, p = rank_collapse_probability(spectrum)
    assert fraction == pytest.approx(142 / 150)
    assert p > 0.999
    result = phase_probabilities({"mp_spikes": _mp_fit(spectrum)}, spectrum)
    assert result.map_phase == "rank_collapse"
    assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-12)
    # neither a Gaussian nor a Pareto mu = 1 matrix has a mass at zero
    gauss = _spectrum(rng.normal(size=(300, 300)))
    pareto = _spectrum(rng.pareto(1.0, size=(500, 250)) * rng.choice([-1, 1], size=(500, 250)))
    for s in (gauss, pareto):
        assert rank_collapse_probability(s)[1] < 1e-6


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_full_rank_heavy_tailed_matrix_is_not_rank_collapse(seed):
    """The issue's false positive: float64 1000 x 500 Pareto mu = 1 entries, full rank by
    numpy.linalg.matrix_rank, had P_RC = 1 under a tolerance relative to lambda_max."""
    rng = np.random.default_rng(seed)
    heavy = (rng.pareto(1.0, size=(1000, 500)) + 1.0) * rng.choice([-1.0, 1.0], size=(1000, 500))
    assert np.linalg.matrix_rank(heavy) == 500
    spectrum = _spectrum(heavy, "heavy")
    fraction, p = rank_collapse_probability(spectrum)
    assert fraction == 0.0 and p < 1e-6
    result = phase_probabilities({"spliced_pl": _tail_fit(spectrum, 2.0)}, spectrum)
    assert result.map_phase == "heavy_tailed" and result["rank_collapse"] < 1e-6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_low_rank_products_are_rank_collapse_in_either_precision(dtype):
    rng = np.random.default_rng(7)
    low_rank = (rng.normal(size=(400, 10)) @ rng.normal(size=(10, 200))).astype(dtype)
    fraction, p = rank_collapse_probability(_spectrum(low_rank, "collapsed"))
    assert fraction == pytest.approx(190 / 200) and p > 0.999


def test_thresholds_can_be_overridden_and_unknown_names_are_errors(gaussian):
    fit = {"spliced_pl": _tail_fit(gaussian, 5.0)}
    assert phase_probabilities(fit, gaussian)["bulk_decay"] > 0.99
    moved = phase_probabilities(fit, gaussian, thresholds={"alpha_heavy": 6.0})
    assert moved["heavy_tailed"] > 0.99
    with pytest.raises(ValueError, match="unknown phase threshold 'alpha_hevy'"):
        phase_probabilities(fit, gaussian, thresholds={"alpha_hevy": 6.0})


def test_weights_come_from_the_full_family_comparison(gaussian):
    x = gaussian.eigenvalues
    rng = np.random.default_rng(8)
    mu = rng.normal(np.mean(np.log(x)), 0.01, size=(2, 500))
    good = st.norm.logpdf(np.log(x), mu[..., None], np.std(np.log(x)))
    bad = st.norm.logpdf(np.log(x), mu[..., None] + 1.0, np.std(np.log(x)))
    fits = {
        "mp_spikes": _idata(x, {"sigma2": rng.normal(1.0, 0.002, size=(2, 500))}, good),
        "spliced_pl": _idata(x, {"alpha": rng.normal(3.0, 0.1, size=(2, 500))}, bad),
        "power_law": _idata(x[-50:], {"alpha": np.full((2, 500), 2.0)}, family="tail"),
    }
    result = phase_probabilities(fits, gaussian)
    assert set(result.model_weights) == {"mp_spikes", "spliced_pl"}  # tail family left out
    assert result.model_weights["mp_spikes"] > 0.99
    assert result.map_phase == "random_like"


def test_clear_errors_name_the_layer_and_the_likelihood(gaussian):
    x = gaussian.eigenvalues
    no_edge = {"mp_spikes": _idata(x, {"K": np.zeros((2, 50))})}
    with pytest.raises(ValueError, match=r"layer 'gaussian'.*'mp_spikes' has none of"):
        phase_probabilities(no_edge, gaussian)
    no_alpha = {"spliced_pl": _idata(x, {"phi": np.zeros((2, 50))})}
    with pytest.raises(ValueError, match=r"'spliced_pl' has no posterior variable"):
        phase_probabilities(no_alpha, gaussian)
    tail_only = {"power_law": _idata(x[-20:], {"alpha": np.ones((2, 50))}, family="tail")}
    with pytest.raises(ValueError, match="at least one full-spectrum likelihood"):
        phase_probabilities(tail_only, gaussian)
    with pytest.raises(ValueError, match=r"weights name likelihoods \['nope'\]"):
        phase_probabilities({"mp_spikes": _mp_fit(gaussian)}, gaussian, weights={"nope": 1.0})


def test_network_summary_counts_layers_and_keeps_failures(gaussian):
    rng = np.random.default_rng(9)
    other = _spectrum(rng.normal(size=(300, 100)), "second")
    broken = Spectrum("broken", "matrix", gaussian.N, gaussian.M, gaussian.eigenvalues)
    layers = [
        LayerPosteriors(gaussian, {"mp_spikes": _mp_fit(gaussian)}),
        LayerPosteriors(other, {"spliced_pl": _tail_fit(other, 2.5)}),
        LayerPosteriors(
            broken, {"mp_spikes": _idata(broken.eigenvalues, {"K": np.zeros((2, 50))})}
        ),
    ]
    summary = network_phases(layers)
    assert [r.layer for r in summary.layers] == ["gaussian", "second"]
    assert "broken" in summary.failed and "has none of" in summary.failed["broken"]
    counts = summary.expected_counts
    assert sum(counts.values()) == pytest.approx(2.0)
    assert counts["heavy_tailed"] == pytest.approx(summary.layers[1]["heavy_tailed"])
    assert summary.map_counts["random_like"] == 1 and summary.map_counts["heavy_tailed"] == 1
    assert summary.mean_probabilities["heavy_tailed"] == pytest.approx(counts["heavy_tailed"] / 2)
    assert summarize_phases(summary.layers).expected_counts == counts
    assert list(summary.to_table().columns) == [*PHASES, "map_phase"]
    assert summary.to_dict()["failed"] == dict(summary.failed)


def test_tw1_approximation_matches_published_quantiles():
    # Tracy-Widom (beta = 1) quantiles: 0.95 -> 0.9793, 0.99 -> 2.0234 (Bejan 2005 tables)
    assert _tw_quantile(0.95) == pytest.approx(0.9793, abs=0.02)
    assert _tw_quantile(0.99) == pytest.approx(2.0234, abs=0.02)


def test_every_threshold_has_a_source_and_is_in_the_docs():
    text = DOCS.read_text()
    for name, threshold in THRESHOLDS.items():
        assert threshold.source and threshold.rule
        row = re.search(rf"^\|\s*`{name}`\s*\|\s*([^|]+)\|", text, flags=re.MULTILINE)
        assert row, f"docs/phases.md has no table row for `{name}`"
        assert float(row.group(1)) == pytest.approx(threshold.value, rel=1e-3)
