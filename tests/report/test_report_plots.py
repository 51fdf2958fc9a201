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


# --------------------------------------------------------------------------- figures for papers


@pytest.fixture
def axes():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3.5))
    return fig.subplots()


def test_plot_esd_draws_into_the_given_ax_and_returns_it(analysis, axes):
    import rmtfit

    layer = next(r for r in analysis.layers if r.ok)
    ax = rmtfit.plot_esd(analysis, layer=layer.name, ax=axes)
    assert ax is axes
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert layer.name in ax.get_title()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("MP fit") for t in labels)
    assert any(t.startswith("power law") for t in labels)
    assert any("predictive band" in t for t in labels) == (analysis.mode == "full")
    spans = [p for p in ax.patches if type(p).__name__ == "Rectangle" and p.get_alpha() == 0.12]
    assert bool(spans) == (analysis.mode == "full")  # the lambda+ credible interval


def test_plot_esd_by_layer_id_on_linear_axes(analysis, axes):
    import rmtfit

    ax = rmtfit.plot_esd(analysis, layer=1, ax=axes, log=False, band=False, legend=False)
    assert ax.get_xscale() == "linear" and ax.get_legend() is None
    assert analysis.layers[1].name in ax.get_title()


def test_plot_esd_names_the_layers_it_knows(analysis):
    import rmtfit

    with pytest.raises(ValueError, match="no analysed layer 'nope'.*encoder.0.weight"):
        rmtfit.plot_esd(analysis, layer="nope")
    with pytest.raises(ValueError, match="no analysed layer 'broken.weight'"):
        rmtfit.plot_esd(analysis, layer="broken.weight")
    with pytest.raises(TypeError, match="pass the rmtfit.Analysis"):
        rmtfit.plot_esd(analysis.layers[0])


def test_plot_alpha_and_plot_phases_return_their_ax(analysis, axes):
    import rmtfit

    ax = rmtfit.plot_alpha(analysis, ax=axes)
    assert ax is axes and ax.get_ylabel().startswith("power-law exponent")
    points = ax.containers[0].lines[0].get_ydata()
    ok = [r for r in analysis.analysed if r.ok]
    expected = [
        r.posterior["alpha"].mean if analysis.mode == "full" else r.classical.alpha for r in ok
    ]
    np.testing.assert_allclose(points, expected)
    if analysis.mode == "fast":
        with pytest.raises(ValueError, match="no phase probabilities.*full analysis"):
            rmtfit.plot_phases(analysis, ax=axes)
        return
    axes.clear()
    ax = rmtfit.plot_phases(analysis, ax=axes)
    heights = np.zeros(len(ok))
    for container in ax.containers:
        heights += [bar.get_height() for bar in container]
    np.testing.assert_allclose(heights, 1.0, atol=1e-9)  # the phases of a layer sum to one


def test_plot_esd_without_an_ax_makes_a_pyplot_figure(fast_analysis):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import rmtfit

    ax = rmtfit.plot_esd(fast_analysis)
    try:
        assert ax.figure in [plt.figure(n) for n in plt.get_fignums()]
    finally:
        plt.close("all")
