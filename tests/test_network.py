"""Tests of rmtfit.network: WeightWatcher's metric definitions, posterior draws, network comparison."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest
from scipy import stats

from rmtfit.network import (
    METRICS,
    NETWORK,
    compare_networks,
    match_layers,
    network_metrics,
    probability_below,
)
from rmtfit.posterior import LayerPosteriors
from rmtfit.spectra import Spectrum


def _layer(name, n, m, alpha, sd=0.05, seed=0, likelihood="spliced_pl"):
    rng = np.random.default_rng(seed)
    ev = np.sort(rng.gamma(2.0, 1.0, size=m) * n)
    spectrum = Spectrum(name, "linear", n, m, ev)
    draws = rng.normal(alpha, sd, size=(2, 300)) if sd > 0 else np.full((2, 300), alpha)
    idata = az.from_dict(posterior={"alpha": draws})
    return LayerPosteriors(spectrum, {likelihood: idata})


def test_point_mass_alpha_gives_weightwatchers_formulas():
    layer = _layer("fc1", 200, 100, 2.5, sd=0.0)
    ev = layer.spectrum.eigenvalues
    metrics = network_metrics([layer], num_draws=50)
    d = metrics.draws["fc1"]
    # WeightWatcher apply_norm_metrics: log_norm = log10(sum ev), log_spectral_norm = log10(max ev),
    # alpha_weighted = alpha * log_spectral_norm, log_alpha_norm = log10(sum ev ** alpha)
    assert np.all(d["alpha"] == 2.5)
    assert d["log_norm"] == pytest.approx(np.full(50, np.log10(np.sum(ev))))
    assert d["log_spectral_norm"] == pytest.approx(np.full(50, np.log10(np.max(ev))))
    assert d["alpha_weighted"] == pytest.approx(np.full(50, 2.5 * np.log10(np.max(ev))))
    assert d["log_alpha_norm"] == pytest.approx(np.full(50, np.log10(np.sum(ev**2.5))), rel=1e-12)
    assert metrics.alpha_source == {"fc1": "spliced_pl"}


def test_log_alpha_norm_is_stable_for_huge_eigenvalues():
    ev = np.array([1e200, 1e250, 1e300])
    layer = LayerPosteriors(
        Spectrum("big", "matrix", 3, 3, ev),
        {"power_law": az.from_dict(posterior={"alpha": np.full((1, 4), 3.0)})},
    )
    value = network_metrics([layer], num_draws=4).draws["big"]["log_alpha_norm"]
    assert np.all(np.isfinite(value)) and value[0] == pytest.approx(900.0, abs=1e-9)


def test_network_value_is_the_draw_by_draw_mean_over_layers():
    layers = [_layer("a", 200, 100, 2.0, seed=1), _layer("b", 300, 100, 4.0, seed=2)]
    metrics = network_metrics(layers, num_draws=400, seed=3)
    for m in METRICS:
        expected = (metrics.draws["a"][m] + metrics.draws["b"][m]) / 2
        assert metrics.network[m] == pytest.approx(expected)
    assert np.mean(metrics.network["alpha"]) == pytest.approx(3.0, abs=0.01)
    # same seed, same draws
    again = network_metrics(layers, num_draws=400, seed=3)
    assert np.array_equal(again.network["alpha"], metrics.network["alpha"])
    summary = metrics.summary(0.9)[NETWORK]["alpha"]
    draws = metrics.network["alpha"]
    assert (summary["low"], summary["high"]) == tuple(np.quantile(draws, [0.05, 0.95]))
    assert summary["mean"] == np.mean(draws) and summary["sd"] == np.std(draws, ddof=1)


def test_layers_without_alpha_are_listed_and_kept_in_the_norms():
    layers = [_layer("a", 200, 100, 2.0), _layer("b", 200, 100, 3.0, likelihood="mp_spikes")]
    metrics = network_metrics(layers, num_draws=100)
    assert "b" in metrics.excluded and "alpha" not in metrics.draws["b"]
    assert metrics.network["alpha"] == pytest.approx(metrics.draws["a"]["alpha"])
    norms = (metrics.draws["a"]["log_norm"] + metrics.draws["b"]["log_norm"]) / 2
    assert metrics.network["log_norm"] == pytest.approx(norms)
    with pytest.raises(ValueError, match="num_draws=0"):
        network_metrics(layers, num_draws=0)


def _all_pairs_below(x, y):
    """P(X < Y) over every pair of draws, ties one half, by brute force."""
    x, y = np.ravel(x)[:, None], np.ravel(y)[None, :]
    return float(np.mean((x < y) + 0.5 * (x == y)))


def _assert_interval_within_quantile_error(low, high, x, y, ci_prob=0.9):
    """(low, high) of ``n`` random pairings y - x lies where the equal-tailed quantiles of the
    all-pairs difference put it, within 4 binomial standard errors of each tail probability."""
    n = min(x.size, y.size)
    every = (np.ravel(y)[None, :] - np.ravel(x)[:, None]).ravel()
    for value, p in ((low, (1 - ci_prob) / 2), (high, (1 + ci_prob) / 2)):
        se = np.sqrt(p * (1 - p) / n)
        lo, hi = np.quantile(every, [max(p - 4 * se, 0.0), min(p + 4 * se, 1.0)])
        assert lo <= value <= hi, (value, p, lo, hi)


def test_probability_below_is_exact_over_all_pairs():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 5, size=40).astype(float), rng.integers(0, 5, size=30).astype(float)
    assert probability_below(x, y) == pytest.approx(_all_pairs_below(x, y), abs=1e-15)
    assert probability_below(np.full(5, 1.0), np.full(7, 1.0)) == 0.5
    assert probability_below(np.full(5, 1.0), np.full(7, 2.0)) == 1.0


def test_compare_networks_probability_and_intervals():
    a = [_layer("fc1", 200, 100, 2.0, seed=1), _layer("fc2", 300, 100, 3.0, seed=2)]
    b = [_layer("fc1", 200, 100, 3.0, seed=3), _layer("fc2", 300, 100, 3.0, seed=4)]
    result = compare_networks(a, b, num_draws=500, seed=0)
    # the metrics compare_networks draws (seed for A, seed + 1 for B), recomputed to check each row
    ma, mb = network_metrics(a, num_draws=500, seed=0), network_metrics(b, num_draws=500, seed=1)
    again = compare_networks(ma, mb, seed=0)
    assert [dict(r) for r in again.rows] == [dict(r) for r in result.rows]
    rows = {(r["metric"], r["layer_a"]): r for r in result.rows}
    assert len(rows) == 3 * len(METRICS)
    for (metric, layer), row in rows.items():
        x = ma.network[metric] if layer == NETWORK else ma.draws[layer][metric]
        y = mb.network[metric] if layer == NETWORK else mb.draws[layer][metric]
        assert row["p_a_below_b"] == pytest.approx(_all_pairs_below(x, y), abs=1e-12), row
        for side, draws in (("a", x), ("b", y)):
            low, high = np.quantile(draws, [0.05, 0.95])
            assert (row[f"{side}_low"], row[f"{side}_high"]) == (low, high), row
            assert row[f"{side}_mean"] == pytest.approx(np.mean(draws), rel=1e-12)
        assert row["diff_mean"] == pytest.approx(np.mean(y) - np.mean(x), abs=1e-12)
        _assert_interval_within_quantile_error(row["diff_low"], row["diff_high"], x, y)
    # alpha of fc2: two N(3, 0.05) posteriors, P(A < B) = 1/2 up to the draws' noise
    fc2 = rows[("alpha", "fc2")]["p_a_below_b"]
    assert abs(fc2 - 0.5) < 4 * np.sqrt(1 / 12 * (1 / 500 + 1 / 500)), fc2  # Mann-Whitney sd
    # network alpha, the mean of the layers': A ~ N(2.5, 0.05 / sqrt 2), B ~ N(3, 0.05 / sqrt 2),
    # so B - A ~ N(0.5, 0.05) and P(A < B) = Phi(10), 1 to 1e-23
    assert rows[("alpha", NETWORK)]["p_a_below_b"] == pytest.approx(stats.norm.cdf(10.0), abs=1e-6)
    # point masses: log_norm = log10(sum of eigenvalues) is one number per layer, so P(A < B)
    # is exactly 1, 0 or 1/2 by which layer's sum is smaller
    for layer_a, layer_b in zip(a, b, strict=True):
        sum_a, sum_b = (float(np.sum(x.spectrum.eigenvalues)) for x in (layer_a, layer_b))
        expected = 1.0 if sum_a < sum_b else 0.0 if sum_a > sum_b else 0.5
        assert rows[("log_norm", layer_a.spectrum.name)]["p_a_below_b"] == expected
    same = compare_networks([a[1]], [a[1]], num_draws=50)
    ties = {r["metric"]: r["p_a_below_b"] for r in same.rows if r["layer_a"] == "fc2"}
    assert ties["log_norm"] == ties["log_spectral_norm"] == 0.5
    table = result.to_table()
    assert {"metric", "layer_a", "layer_b", "p_a_below_b", "diff_mean"} <= set(table.columns)
    assert result.to_dict()["matches"] == [["fc1", "fc1", "name"], ["fc2", "fc2", "name"]]


def test_layers_match_by_name_then_by_shape_in_order():
    a = network_metrics(
        [
            _layer("x.fc1", 200, 100, 2.0),
            _layer("x.fc2", 300, 100, 2.0),
            _layer("shared", 50, 50, 2.0),
            _layer("x.odd", 70, 10, 2.0),
        ],
        num_draws=10,
    )
    b = network_metrics(
        [
            _layer("y.fc1", 200, 100, 2.0),
            _layer("shared", 60, 50, 2.0),
            _layer("y.fc2", 300, 100, 2.0),
            _layer("y.extra", 80, 80, 2.0),
        ],
        num_draws=10,
    )
    matches, left_a, left_b = match_layers(a, b)
    assert matches == [
        ("shared", "shared", "name"),
        ("x.fc1", "y.fc1", "shape"),
        ("x.fc2", "y.fc2", "shape"),
    ]
    assert left_a == ["x.odd"] and left_b == ["y.extra"]
    result = compare_networks(a, b)
    assert result.unmatched_a == ("x.odd",) and result.unmatched_b == ("y.extra",)
    with pytest.raises(ValueError, match="ci_prob=1.5"):
        compare_networks(a, b, ci_prob=1.5)
