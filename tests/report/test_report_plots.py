"""The figures: curves on the right scale, labelled axes and legends, a PNG per analysed layer."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy import integrate

from rmtfit.pipeline import Predictive
from rmtfit.report._plots import (
    all_figures,
    alpha_figure,
    esd_figure,
    layer_curves,
    mp_density,
    network_figure,
    phase_figure,
    plot_filename,
    power_law_density,
    predictive_band,
)

_PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("N", "Q", "sigma2"), [(100, 1.0, 1.0), (400, 4.0, 0.01), (3072, 4.0, 2e-4)]
)
def test_mp_density_in_raw_units_integrates_to_one(N, Q, sigma2):
    lo = N * sigma2 * (1 - Q**-0.5) ** 2
    hi = N * sigma2 * (1 + Q**-0.5) ** 2
    total, _ = integrate.quad(
        lambda x: mp_density(np.array([x]), sigma2, N, Q)[0], lo, hi, limit=200
    )
    assert total == pytest.approx(1.0, abs=1e-6)


def test_mp_density_matches_a_large_wishart_spectrum():
    rng = np.random.default_rng(3)
    n, m = 1200, 300
    evals = np.linalg.svd(rng.standard_normal((n, m)), compute_uv=False) ** 2  # sigma2 = 1
    bins = np.linspace(evals.min(), evals.max(), 21)
    hist, _ = np.histogram(evals, bins=bins, density=True)
    centres = 0.5 * (bins[1:] + bins[:-1])
    expected = mp_density(centres, 1.0, n, n / m)
    np.testing.assert_allclose(hist[2:-2], expected[2:-2], rtol=0.15)


def test_power_law_density_integrates_to_its_mass():
    total, _ = integrate.quad(
        lambda x: power_law_density(np.array([x]), 3.2, 2.0, 0.25)[0], 2.0, np.inf
    )
    assert total == pytest.approx(0.25, rel=1e-8)
    assert np.isnan(power_law_density(np.array([1.0]), 3.2, 2.0, 0.25)[0])


def test_predictive_band_covers_draws_identical_to_the_data():
    rng = np.random.default_rng(0)
    x = np.sort(rng.gamma(2.0, size=300))
    bins = np.linspace(x.min(), x.max(), 16)
    observed, _ = np.histogram(x, bins=bins)
    density = observed / (x.size * np.diff(bins))
    low, high = predictive_band(
        Predictive("same", "full", np.stack([x] * 5), 1.0), bins, x.size, 0.9
    )
    np.testing.assert_allclose(low, density)
    np.testing.assert_allclose(high, density)
    # a tail likelihood explains a quarter of the spectrum: its density is scaled by that mass
    tail = x[x >= np.quantile(x, 0.75)]
    low, _ = predictive_band(
        Predictive("tail", "tail", np.stack([tail] * 3), 0.25), bins, x.size, 0.9
    )
    counts, _ = np.histogram(tail, bins=bins)
    np.testing.assert_allclose(low, counts / (x.size * np.diff(bins)), rtol=0.02)


def _labelled(fig) -> None:
    for ax in fig.axes:
        assert ax.get_xlabel(), ax.get_title()
        assert ax.get_ylabel() or ax.get_yticklabels(), ax.get_title()
    assert any(ax.get_legend() is not None for ax in fig.axes)


def test_esd_figure_draws_the_fitted_curves_with_labels(analysis):
    layer = next(r for r in analysis.layers if r.ok)
    curves = layer_curves(analysis, layer)
    fig = esd_figure(curves)
    _labelled(fig)
    loglog, linear = fig.axes
    assert loglog.get_xscale() == "log" and loglog.get_yscale() == "log"
    assert linear.get_xscale() == "linear"
    labels = [line.get_label() for line in linear.get_lines()]
    assert any(label.startswith("MP fit") for label in labels)
    assert any(label.startswith("power law") for label in labels)
    legend = [t.get_text() for t in linear.get_legend().get_texts()]
    assert any("predictive band" in t for t in legend) == (analysis.mode == "full")
    assert curves.source == ("posterior mean" if analysis.mode == "full" else "classical")


def test_network_figures_are_labelled(analysis):
    for fig in (alpha_figure(analysis), network_figure(analysis)):
        _labelled(fig)
    phases = phase_figure(analysis)
    assert (phases is None) == (analysis.mode == "fast")
    if phases is not None:
        _labelled(phases)


def test_all_figures_gives_a_png_per_analysed_layer(analysis):
    figures = dict(all_figures(analysis))
    for layer in analysis.layers:
        if layer.ok:
            assert figures[plot_filename(layer)].startswith(_PNG)
    assert figures["network.png"].startswith(_PNG)
    assert figures["alpha.png"].startswith(_PNG)


def test_plot_filenames_are_safe_and_unique(analysis_factory):
    analysis = analysis_factory("fast", names=("a/b\\c:d.weight", "a/b\\c:d.weight2", "../../etc"))
    names = [plot_filename(r) for r in analysis.analysed]
    assert len(set(names)) == len(names)
    for name in names:
        assert re.fullmatch(r"layers/\d{4}-[A-Za-z0-9._-]+\.png", name), name
        assert ".." not in name
