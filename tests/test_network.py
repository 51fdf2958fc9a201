"""Tests of rmtfit.network: WeightWatcher's metric definitions, posterior draws, network comparison."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest

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
    assert summary["low"] < summary["mean"] < summary["high"]


def test_layers_without_alpha_are_listed_and_kept_in_the_norms():
    layers = [_layer("a", 200, 100, 2.0), _layer("b", 200, 100, 3.0, likelihood="mp_spikes")]
    metrics = network_metrics(layers, num_draws=100)
    assert "b" in metrics.excluded and "alpha" not in metrics.draws["b"]
    assert metrics.network["alpha"] == pytest.approx(metrics.draws["a"]["alpha"])
    norms = (metrics.draws["a"]["log_norm"] + metrics.draws["b"]["log_norm"]) / 2
    assert metrics.network["log_norm"] == pytest.approx(norms)
    with pytest.raises(ValueError, match="num_draws=0"):
        network_metrics(layers, num_draws=0)


def test_probability_below_is_exact_over_all_pairs():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 5, size=40).astype(float), rng.integers(0, 5, size=30).astype(float)
    brute = np.mean((x[:, None] < y[None, :]) + 0.5 * (x[:, None] == y[None, :]))
    assert probability_below(x, y) == pytest.approx(brute, abs=1e-15)
    assert probability_below(np.full(5, 1.0), np.full(7, 1.0)) == 0.5
    assert probability_below(np.full(5, 1.0), np.full(7, 2.0)) == 1.0


def test_compare_networks_probability_and_intervals():
    a = [_layer("fc1", 200, 100, 2.0, seed=1), _layer("fc2", 300, 100, 3.0, seed=2)]
    b = [_layer("fc1", 200, 100, 3.0, seed=3), _layer("fc2", 300, 100, 3.0, seed=4)]
    result = compare_networks(a, b, num_draws=500, seed=0)
    rows = {(r["metric"], r["layer_a"]): r for r in result.rows}
    assert rows[("alpha", "fc1")]["p_a_below_b"] > 0.999
    assert 0.3 < rows[("alpha", "fc2")]["p_a_below_b"] < 0.7
    assert rows[("alpha", NETWORK)]["p_a_below_b"] > 0.999
    net = rows[("alpha", NETWORK)]
    assert net["diff_low"] < 0.5 < net["diff_high"]  # B - A = (3 + 3)/2 - (2 + 3)/2 = 0.5
    assert net["a_low"] < net["a_mean"] < net["a_high"]
    # the same spectra: point-mass norms tie
    assert rows[("log_norm", "fc2")]["p_a_below_b"] in (0.0, 0.5, 1.0)
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
