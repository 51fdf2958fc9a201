"""The report's figures (matplotlib, Agg backend, imported lazily).

Per layer: the ESD on log-log and linear axes with the fitted Marchenko-Pastur and power-law
densities (posterior means in full mode, classical estimates in fast mode) and, in full mode, the
posterior predictive band. Per network: alpha per layer with credible intervals, phase
probabilities as stacked bars, and a summary panel. Every figure has labelled axes (eigenvalues in
raw units: squared singular values of W) and a legend.

The public figures for papers, ArviZ style, are :func:`plot_esd`, :func:`plot_alpha` and
:func:`plot_phases` (``rmtfit.plot_esd`` ...): each draws into the ``ax`` it is given (or a new
one) and returns it. The report's PNG files (``--plots``) are built from the same drawing code,
without pyplot state, at ``DPI`` dots per inch; the HTML page does not need them (it draws the
same data in the browser, :mod:`rmtfit.report._esd_data`).
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from rmtfit.report._esd_data import (
    PHASE_COLOURS,
    LayerCurves,
    histogram_bins,
    histogram_density,
    layer_curves,
    mp_density,
    power_law_density,
    predictive_band,
)
from rmtfit.report._json import PHASES

__all__ = [
    "DPI",
    "LayerCurves",
    "layer_curves",
    "mp_density",
    "power_law_density",
    "predictive_band",
    "plot_esd",
    "plot_alpha",
    "plot_phases",
    "esd_figure",
    "alpha_figure",
    "phase_figure",
    "network_figure",
    "render_png",
    "all_figures",
    "plot_filename",
]

DPI = 100


# ----------------------------------------------------------------------------- figures


def _new_figure(width: float, height: float, ncols: int = 1, nrows: int = 1) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _fit_layout(fig: Any, *, top: float = 0.88, right: float = 0.98, wspace: float = 0.28) -> None:
    """Fixed margins: a layout engine would redraw the figure several times (slow)."""
    width, height = fig.get_size_inches()
    fig.subplots_adjust(
        left=0.85 / width, right=right, bottom=0.55 / height, top=top, wspace=wspace
    )


def _plain_log_axes(ax: Any) -> None:
    """Log-log axes with plain-text major tick labels and no minor ticks (mathtext is slow)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=7))
        axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axis.set_minor_locator(NullLocator())


def _axes(ax: Any, figsize: tuple[float, float]) -> Any:
    """``ax``, or the axes of a new pyplot figure (ArviZ style: the caller owns the figure)."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def _resolve_curves(analysis_or_layer: Any, layer: Any) -> LayerCurves:
    if isinstance(analysis_or_layer, LayerCurves):
        return analysis_or_layer
    if not hasattr(analysis_or_layer, "spectra") or not hasattr(analysis_or_layer, "analysed"):
        raise TypeError(
            f"plot_esd: got a {type(analysis_or_layer).__name__}; pass the rmtfit.Analysis "
            "(with layer=<name or id>) or the LayerCurves of rmtfit.report.layer_curves."
        )
    analysed = [r for r in analysis_or_layer.analysed if r.ok]
    if layer is None:
        if not analysed:
            raise ValueError(f"plot_esd: {analysis_or_layer.source} has no analysed layer.")
        chosen = analysed[0]
    else:
        matches = [r for r in analysed if layer in (r.name, r.layer_id)]
        if not matches:
            names = [r.name for r in analysed[:5]]
            raise ValueError(
                f"plot_esd: no analysed layer {layer!r} in {analysis_or_layer.source}; "
                f"pass a layer name or id, such as {names}."
            )
        chosen = matches[0]
    curves = layer_curves(analysis_or_layer, chosen)
    if curves is None:
        raise ValueError(f"plot_esd: layer {chosen.name!r} has no spectrum in this analysis.")
    return curves


def plot_esd(
    analysis_or_layer: Any,
    layer: str | int | None = None,
    ax: Any = None,
    *,
    log: bool = True,
    band: bool = True,
    legend: bool = True,
) -> Any:
    """Draw one layer's ESD with its fitted densities, bulk edge, xmin and predictive band.

    Parameters
    ----------
    analysis_or_layer
        An :class:`rmtfit.Analysis` (choose the layer with ``layer``), or a
        :class:`~rmtfit.report._esd_data.LayerCurves`.
    layer
        Layer name or ``layer_id``; default the first analysed layer.
    ax
        Matplotlib axes to draw into; default a new figure's.
    log
        Log-log axes (default) or linear axes.
    band
        Draw the posterior predictive band (full mode).
    legend
        Draw a legend.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``. The histogram is normalised by the layer's number of eigenvalues (per unit
        eigenvalue, raw units); posterior means in full mode, classical estimates in fast mode;
        shaded spans are the credible intervals of lambda+ and xmin.
    """
    curves = _resolve_curves(analysis_or_layer, layer)
    ax = _axes(ax, (5.0, 3.6))
    evals = curves.eigenvalues
    if not evals.size or (log and not np.any(evals > 0)):
        ax.text(
            0.5, 0.5, "no positive eigenvalues", ha="center", va="center", transform=ax.transAxes
        )
        return ax
    bins = histogram_bins(evals, log)
    dens = histogram_density(evals, bins, evals.size)
    ax.stairs(dens, bins, fill=True, color="#eceff1", zorder=1)
    ax.stairs(dens, bins, color="#263238", lw=1.1, zorder=3, label="ESD (histogram)")
    if band:
        _draw_band(ax, curves, bins)
    grid = np.geomspace(bins[0], bins[-1], 400) if log else np.linspace(bins[0], bins[-1], 400)
    _draw_fitted(ax, curves, grid)
    if log:
        _plain_log_axes(ax)
        positive = dens[dens > 0]
        if positive.size:
            ax.set_ylim(positive.min() / 3, positive.max() * 3)
    ax.set_xlabel("eigenvalue λ (squared singular value of W)")
    ax.set_ylabel("density (per unit λ)")
    ax.set_title(f"{curves.name} ({'log-log' if log else 'linear'})", fontsize=9)
    if legend:
        ax.legend(fontsize=7, loc="upper right")
    return ax


def esd_figure(curves: LayerCurves) -> Any:
    """Two panels: the ESD on log-log axes (left) and on linear axes (right), with fitted curves."""
    fig, axes = _new_figure(9.0, 3.3, ncols=2)
    fig.suptitle(
        f"{curves.name}   (N={curves.N}, Q={curves.Q:.3g}, curves: {curves.source})", fontsize=9
    )
    for ax, log in ((axes[0, 0], True), (axes[0, 1], False)):
        plot_esd(curves, ax=ax, log=log, legend=False)
        ax.set_title("log-log" if log else "linear", fontsize=9)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        axes[0, 1].legend(handles, labels, fontsize=7, loc="upper right")
    _fit_layout(fig, top=0.86, wspace=0.3)
    return fig


def _draw_band(ax: Any, curves: LayerCurves, bins: np.ndarray) -> None:
    colours = ("#1e88e5", "#e53935", "#43a047")
    pct = int(round(curves.ci_prob * 100))
    for colour, pred in zip(colours, curves.predictive, strict=False):
        low, high = predictive_band(pred, bins, curves.eigenvalues.size, curves.ci_prob)
        ax.stairs(
            high,
            bins,
            baseline=low,
            fill=True,
            alpha=0.35,
            color=colour,
            zorder=2,
            label=f"{pct}% predictive band: {pred.likelihood}",
        )


def _draw_fitted(ax: Any, curves: LayerCurves, grid: np.ndarray) -> None:
    if math.isfinite(curves.sigma2) and curves.sigma2 > 0:
        ax.plot(
            grid,
            mp_density(grid, curves.sigma2, curves.N, curves.Q),
            color="#1565c0",
            lw=1.3,
            label=f"MP fit (σ={math.sqrt(curves.sigma2):.3g})",
        )
    if math.isfinite(curves.lambda_plus):
        ax.axvline(
            curves.lambda_plus,
            color="#1565c0",
            ls="--",
            lw=0.9,
            label=f"λ+ = {curves.lambda_plus:.3g}",
        )
        if curves.lambda_plus_interval is not None:
            ax.axvspan(*curves.lambda_plus_interval, color="#1565c0", alpha=0.12, lw=0)
    if math.isfinite(curves.alpha) and math.isfinite(curves.xmin) and curves.alpha > 1:
        ax.plot(
            grid,
            power_law_density(grid, curves.alpha, curves.xmin, curves.tail_mass),
            color="#c62828",
            lw=1.3,
            label=f"power law (α={curves.alpha:.3g})",
        )
        ax.axvline(curves.xmin, color="#c62828", ls=":", lw=0.9, label=f"xmin = {curves.xmin:.3g}")
        if curves.xmin_interval is not None:
            ax.axvspan(*curves.xmin_interval, color="#c62828", alpha=0.12, lw=0)


def _integer_locator() -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def _classical_alpha(r: Any) -> float:
    value = getattr(r.classical, "alpha", None) if r.classical is not None else None
    return float(value) if value is not None else math.nan


def plot_alpha(analysis: Any, ax: Any = None) -> Any:
    """Alpha per layer: posterior mean and credible interval (full) or classical alpha +- 1 se.

    Returns ``ax`` (a new figure's axes when ``None``). The green span is HT-SR's 2 <= alpha <= 6.
    """
    layers = [r for r in analysis.analysed if r.ok]
    ax = _axes(ax, (max(6.0, min(14.0, 0.25 * len(layers) + 4)), 3.6))
    idx = np.array([r.layer_id for r in layers], dtype=float)
    pct = int(round(analysis.ci_prob * 100))
    if analysis.fast:
        y = np.array([_classical_alpha(r) for r in layers])
        se = np.array(
            [
                getattr(r.classical, "alpha_se", math.nan) if r.classical else math.nan
                for r in layers
            ],
            dtype=float,
        )
        ax.errorbar(
            idx,
            y,
            yerr=se,
            fmt="o",
            ms=4,
            capsize=2,
            color="#c62828",
            label="classical α ± 1 standard error",
        )
    else:
        ests = [(r.posterior or {}).get("alpha") for r in layers]
        y = np.array([e.mean if e else math.nan for e in ests])
        lo = np.array([e.mean - e.ci_low if e else math.nan for e in ests])
        hi = np.array([e.ci_high - e.mean if e else math.nan for e in ests])
        ax.errorbar(
            idx,
            y,
            yerr=_bar_lengths(lo, hi),
            fmt="o",
            ms=4,
            capsize=2,
            color="#c62828",
            label=f"posterior mean α, {pct}% credible interval",
        )
        classical = np.array([_classical_alpha(r) for r in layers])
        ax.plot(idx, classical, "x", color="#424242", ms=5, label="classical α (Clauset MLE)")
    ax.axhspan(2, 6, color="#e8f5e9", zorder=0, label="2 ≤ α ≤ 6 (well-trained range, HT-SR)")
    ax.xaxis.set_major_locator(_integer_locator())
    ax.set_xlabel("layer id (see the layer table)")
    ax.set_ylabel("power-law exponent α (dimensionless)")
    ax.set_title("Power-law exponent α per layer", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    return ax


def plot_phases(analysis: Any, ax: Any = None) -> Any:
    """Phase probabilities as stacked bars, one bar per layer; returns ``ax``.

    Raises ``ValueError`` in fast mode (phases need the full analysis).
    """
    layers = [r for r in analysis.analysed if r.phase]
    if not layers:
        raise ValueError(
            f"plot_phases: {analysis.source} has no phase probabilities "
            f"({analysis.mode} mode); run the full analysis (without fast=True)."
        )
    ax = _axes(ax, (max(6.0, min(14.0, 0.25 * len(layers) + 4)), 3.6))
    idx = np.array([r.layer_id for r in layers], dtype=float)
    bottom = np.zeros(len(layers))
    for phase in PHASES:
        p = np.array([float((r.phase["probabilities"] or {}).get(phase) or 0.0) for r in layers])
        ax.bar(
            idx,
            p,
            bottom=bottom,
            color=PHASE_COLOURS[phase],
            width=0.85,
            label=phase.replace("_", "-"),
        )
        bottom += p
    ax.set_ylim(0, 1)
    ax.xaxis.set_major_locator(_integer_locator())
    ax.set_xlabel("layer id (see the layer table)")
    ax.set_ylabel("posterior probability")
    ax.set_title("Phase probabilities per layer", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax


def alpha_figure(analysis: Any) -> Any:
    """The report's ``alpha.png``: :func:`plot_alpha` in a figure of its own."""
    n = len([r for r in analysis.analysed if r.ok])
    fig, axes = _new_figure(max(6.0, min(14.0, 0.25 * n + 4)), 3.6)
    plot_alpha(analysis, axes[0, 0])
    _fit_layout(fig, top=0.91)
    return fig


def phase_figure(analysis: Any) -> Any | None:
    """The report's ``phases.png`` (``None`` in fast mode)."""
    n = len([r for r in analysis.analysed if r.phase])
    if not n:
        return None
    fig, axes = _new_figure(max(6.0, min(14.0, 0.25 * n + 4)), 3.6)
    plot_phases(analysis, axes[0, 0])
    _fit_layout(fig, top=0.91, right=1 - 1.5 / fig.get_size_inches()[0])
    return fig


def network_figure(analysis: Any) -> Any:
    """Network summary: spectral norms and stable ranks per layer, and the network metrics."""
    layers = [r for r in analysis.analysed if r.ok and r.metrics]
    fig, axes = _new_figure(11.0, 3.4, ncols=3)
    idx = np.array([r.layer_id for r in layers], dtype=float)
    ax = axes[0, 0]
    ax.plot(idx, [r.metrics["log_spectral_norm"] for r in layers], "o-", ms=3, label="log10 λ_max")
    ax.plot(idx, [r.metrics["log_norm"] for r in layers], "s-", ms=3, label="log10 ||W||_F²")
    ax.xaxis.set_major_locator(_integer_locator())
    ax.set_xlabel("layer id")
    ax.set_ylabel("log10 (raw eigenvalue units)")
    ax.set_title("Norms per layer", fontsize=10)
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    ax.plot(
        idx,
        [r.metrics["stable_rank"] for r in layers],
        "o-",
        ms=3,
        color="#6d4c41",
        label="stable rank",
    )
    ax.xaxis.set_major_locator(_integer_locator())
    ax.set_xlabel("layer id")
    ax.set_ylabel("stable rank ||W||_F² / λ_max")
    ax.set_title("Stable rank per layer", fontsize=10)
    ax.legend(fontsize=7)
    _network_metrics_panel(axes[0, 2], analysis)
    _fit_layout(fig, top=0.9, wspace=0.42, right=1 - 1.2 / fig.get_size_inches()[0])
    return fig


def _bar_lengths(below: Any, above: Any) -> np.ndarray:
    """Error-bar lengths from the mean to the interval ends; the mean of a skewed posterior (or of a
    point mass, by rounding) can sit just outside its equal-tailed interval: that side gets length 0."""
    return np.maximum(np.vstack([below, above]), 0.0)


def _network_metrics_panel(ax: Any, analysis: Any) -> None:
    pct = int(round(analysis.ci_prob * 100))
    summary = analysis.network_summary or {}
    items = [(k, e) for k, e in summary.items() if e is not None and math.isfinite(e.mean)]
    if items:
        y = np.arange(len(items))
        means = np.array([e.mean for _, e in items])
        err = np.vstack(
            [[e.mean - e.ci_low for _, e in items], [e.ci_high - e.mean for _, e in items]]
        )
        ax.errorbar(
            means,
            y,
            xerr=_bar_lengths(err[0], err[1]),
            fmt="o",
            capsize=3,
            color="#c62828",
            label=f"posterior mean, {pct}% CI",
        )
        ax.set_yticks(y, [k for k, _ in items], fontsize=7)
        ax.yaxis.tick_right()
        ax.set_ylim(-0.5, len(items) - 0.5)
        ax.set_xlabel("value (metric's own units)")
        ax.set_title("Network metrics (posterior)", fontsize=10)
        ax.legend(fontsize=7)
        return
    fitted = [r for r in analysis.analysed if r.ok and r.classical is not None and r.classical.ok]
    alphas = np.array([_classical_alpha(r) for r in fitted], dtype=float)
    alphas = alphas[np.isfinite(alphas)]
    if alphas.size:
        ax.hist(alphas, bins=min(20, max(5, alphas.size)), color="#ef9a9a", label="classical α")
        ax.axvline(
            float(np.mean(alphas)),
            color="#c62828",
            ls="--",
            label=f"mean α = {np.mean(alphas):.3g}",
        )
        ax.legend(fontsize=7)
    ax.set_xlabel("power-law exponent α")
    ax.set_ylabel("number of layers")
    ax.set_title("Distribution of α (classical)", fontsize=10)


def render_png(fig: Any) -> bytes:
    """The figure as PNG bytes (``DPI`` dots per inch)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def plot_filename(layer: Any) -> str:
    """``layers/<id>-<safe name>.png``: a unique, filesystem-safe name for a layer's figure."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", layer.name).strip("._")[:80] or "layer"
    return f"layers/{layer.layer_id:04d}-{safe}.png"


def all_figures(analysis: Any, layers: Sequence[Any] | None = None) -> Iterator[tuple[str, bytes]]:
    """Yield ``(relative path, PNG bytes)`` for every figure of the report."""
    yield "network.png", render_png(network_figure(analysis))
    yield "alpha.png", render_png(alpha_figure(analysis))
    phase = phase_figure(analysis)
    if phase is not None:
        yield "phases.png", render_png(phase)
    for layer in layers if layers is not None else analysis.analysed:
        curves = layer_curves(analysis, layer)
        if curves is not None and curves.eigenvalues.size:
            yield plot_filename(layer), render_png(esd_figure(curves))
