"""What an ESD figure shows, as numbers: histograms, fitted curves' parameters, predictive bands.

numpy only (no matplotlib, no JAX): the HTML page embeds :func:`esd_record` per layer and draws it
in the browser, and :mod:`rmtfit.report._plots` draws the same :class:`LayerCurves` with matplotlib.
Eigenvalues, edges and xmin are in raw units (squared singular values of W). Densities are per
unit eigenvalue and normalised by the layer's number of eigenvalues, so the histogram, the fitted
densities and the predictive band share one scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from rmtfit.common import CI_PROB

__all__ = [
    "MAX_BINS",
    "PHASE_COLOURS",
    "LayerCurves",
    "layer_curves",
    "mp_density",
    "power_law_density",
    "histogram_bins",
    "histogram_density",
    "predictive_band",
    "esd_record",
    "rounded",
]

MAX_BINS = 80
PHASE_COLOURS = {  # the report's colour per phase, in the order of PHASES
    "random_like": "#9e9e9e",
    "bleeding_out": "#80cbc4",
    "bulk_spikes": "#42a5f5",
    "bulk_decay": "#ffb74d",
    "heavy_tailed": "#e53935",
    "rank_collapse": "#6a1b9a",
}
_DIGITS = 4  # significant digits of the numbers embedded in the page


@dataclass(frozen=True)
class LayerCurves:
    """What the ESD figure of one layer draws, gathered from its results.

    ``*_interval`` are the ``ci_prob`` credible intervals (full mode) or ``None``.
    """

    name: str
    eigenvalues: np.ndarray
    N: int
    Q: float
    sigma2: float
    lambda_plus: float
    alpha: float
    xmin: float
    tail_mass: float
    source: str  # "posterior mean" or "classical"
    predictive: tuple[Any, ...] = ()
    ci_prob: float = CI_PROB
    alpha_interval: tuple[float, float] | None = None
    xmin_interval: tuple[float, float] | None = None
    lambda_plus_interval: tuple[float, float] | None = None


def layer_curves(analysis: Any, layer: Any) -> LayerCurves | None:
    """Collect the curves of one analysed layer (``None`` when it has no spectrum)."""
    if layer.name not in analysis.spectra.names:
        return None
    spectrum = analysis.spectra[layer.name]
    evals = np.asarray(spectrum.eigenvalues, dtype=np.float64)
    fit = layer.classical
    alpha, xmin = _get(fit, "alpha"), _get(fit, "xmin")
    sigma2, lambda_plus = _get(fit, "sigma2"), _get(fit, "lambda_plus")
    source = "classical"
    post = layer.posterior or {}
    intervals: dict[str, tuple[float, float] | None] = {}
    if post:
        source = "posterior mean"
        alpha = _mean_or(post.get("alpha"), alpha)
        xmin = _mean_or(post.get("xmin"), xmin)
        sigma_mp = _mean_or(
            post.get("sigma_mp"), math.sqrt(sigma2) if sigma2 == sigma2 else math.nan
        )
        sigma2 = sigma_mp**2
        lambda_plus = _mean_or(post.get("lambda_plus"), lambda_plus)
        intervals = {q: _interval(post.get(q)) for q in ("alpha", "xmin", "lambda_plus")}
    finite = evals[np.isfinite(evals)]
    tail_mass = float(np.mean(finite >= xmin)) if finite.size and math.isfinite(xmin) else math.nan
    return LayerCurves(
        name=layer.name,
        eigenvalues=finite,
        N=int(spectrum.N),
        Q=float(spectrum.Q),
        sigma2=sigma2,
        lambda_plus=lambda_plus,
        alpha=alpha,
        xmin=xmin,
        tail_mass=tail_mass,
        source=source,
        predictive=tuple(analysis.predictive.get(layer.name, ())),
        ci_prob=float(analysis.ci_prob),
        alpha_interval=intervals.get("alpha"),
        xmin_interval=intervals.get("xmin"),
        lambda_plus_interval=intervals.get("lambda_plus"),
    )


def _get(obj: Any, name: str) -> float:
    value = getattr(obj, name, None) if obj is not None else None
    return float(value) if value is not None else math.nan


def _mean_or(est: Any, default: float) -> float:
    if est is None or not math.isfinite(est.mean):
        return default
    return float(est.mean)


def _interval(est: Any) -> tuple[float, float] | None:
    if est is None or not (math.isfinite(est.ci_low) and math.isfinite(est.ci_high)):
        return None
    return (float(est.ci_low), float(est.ci_high))


# ----------------------------------------------------------------------------- densities


def mp_density(x: np.ndarray, sigma2: float, N: int, Q: float) -> np.ndarray:
    """Marchenko-Pastur density in raw eigenvalue units (lambda = N * eigenvalue of W^T W / N)."""
    edge_lo = N * sigma2 * (1 - Q**-0.5) ** 2
    edge_hi = N * sigma2 * (1 + Q**-0.5) ** 2
    inside = (x > edge_lo) & (x < edge_hi)
    out = np.zeros_like(x)
    xi = x[inside]
    out[inside] = Q * np.sqrt((edge_hi - xi) * (xi - edge_lo)) / (2 * np.pi * sigma2 * N * xi)
    return out


def power_law_density(x: np.ndarray, alpha: float, xmin: float, mass: float) -> np.ndarray:
    """``mass * (alpha - 1) / xmin * (x / xmin) ** -alpha`` on ``x >= xmin`` (NaN below)."""
    out = np.full_like(x, np.nan)
    above = x >= xmin
    out[above] = mass * (alpha - 1) / xmin * (x[above] / xmin) ** -alpha
    return out


def histogram_bins(evals: np.ndarray, log: bool) -> np.ndarray:
    """Bin edges: ``min(MAX_BINS, max(10, 2 sqrt(n)))`` bins, geometric (positive values) or linear."""
    n_bins = int(min(MAX_BINS, max(10, 2 * math.sqrt(evals.size))))
    if log:
        positive = evals[evals > 0]
        lo, hi = positive.min(), positive.max()
        if hi <= lo:
            hi = lo * 1.01
        return np.geomspace(lo, hi * 1.0001, n_bins + 1)
    lo, hi = float(evals.min()), float(evals.max())
    return np.linspace(lo, hi if hi > lo else lo + 1.0, n_bins + 1)


def _counts(values: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """Histogram counts of each row of ``values`` (2-D), vectorised over rows."""
    n_bins = bins.size - 1
    index = np.searchsorted(bins, values, side="right") - 1
    index[values == bins[-1]] = n_bins - 1  # the last edge belongs to the last bin (np.histogram)
    inside = (index >= 0) & (index < n_bins)
    rows = np.broadcast_to(np.arange(values.shape[0])[:, None], values.shape)
    flat = rows[inside] * n_bins + index[inside]
    return np.bincount(flat, minlength=values.shape[0] * n_bins).reshape(-1, n_bins)


def histogram_density(values: np.ndarray, bins: np.ndarray, total: float) -> np.ndarray:
    """Counts per bin over ``total * bin width`` (``total`` the number the density is relative to)."""
    counts = _counts(np.asarray(values, dtype=np.float64)[None, :], bins)[0]
    return counts / (total * np.diff(bins))


def predictive_band(
    predictive: Any, bins: np.ndarray, num_evals: int, ci_prob: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise ``ci_prob`` band of the ESD density over posterior predictive draws.

    A draw of ``n_obs`` values of a likelihood that explains the fraction ``mass`` of the layer's
    eigenvalues is put on the layer's density scale by dividing by ``n_obs / mass``.
    """
    draws = np.asarray(predictive.draws, dtype=np.float64)
    total = draws.shape[1] / max(predictive.mass, 1e-300)
    dens = _counts(draws, bins) / (total * np.diff(bins))
    tail = (1 - ci_prob) / 2
    low, high = np.quantile(dens, [tail, 1 - tail], axis=0)
    return low, high


# ----------------------------------------------------------------------------- page data


def _round(value: Any, digits: int = _DIGITS) -> float | None:
    """A float with ``digits`` significant digits for the page, or ``None`` (NaN, missing)."""
    if value is None:
        return None
    value = float(value)
    if not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}")


def rounded(values: Any) -> list[float | None]:
    """Each value with four significant digits, ``None`` where missing or not finite."""
    return [_round(v) for v in values]


def _triple(mean: float, interval: tuple[float, float] | None) -> list[float | None] | None:
    if not math.isfinite(mean):
        return None
    low, high = interval if interval is not None else (None, None)
    return [_round(mean), _round(low), _round(high)]


def esd_record(curves: LayerCurves, layer_id: int) -> dict[str, Any]:
    """The compact data the page draws one layer's ESD from (keys are short: 500 layers a page).

    ``log`` and ``lin`` are histograms (``lo``, ``hi``, counts ``c``; geometric and linear bins);
    ``n`` the number of eigenvalues the densities are relative to, ``z`` how many are not positive
    (not on log axes); ``mp`` the MP parameters ``[sigma2, N, Q]``; ``lp``, ``xm`` and ``a`` the
    bulk edge, xmin and alpha as ``[value, ci_low, ci_high]``; ``mass`` the tail's share of the
    eigenvalues; ``band`` per likelihood with predictive draws its pointwise band on both bins.
    """
    evals = curves.eigenvalues
    record: dict[str, Any] = {"id": layer_id, "n": int(evals.size), "src": curves.source}
    if not evals.size:
        return record
    positive = evals > 0
    record["z"] = int(evals.size - np.count_nonzero(positive))
    bins = {"lin": histogram_bins(evals, log=False)}
    if positive.any():
        bins["log"] = histogram_bins(evals, log=True)
    for scale, edges in bins.items():
        counts = _counts(evals[None, :], edges)[0]
        record[scale] = {
            "lo": _round(edges[0], 7),
            "hi": _round(edges[-1], 7),
            "c": counts.tolist(),
        }
    if math.isfinite(curves.sigma2) and curves.sigma2 > 0:
        record["mp"] = [_round(curves.sigma2), curves.N, _round(curves.Q)]
    record["lp"] = _triple(curves.lambda_plus, curves.lambda_plus_interval)
    record["xm"] = _triple(curves.xmin, curves.xmin_interval)
    record["a"] = _triple(curves.alpha, curves.alpha_interval)
    record["mass"] = _round(curves.tail_mass)
    bands = []
    for pred in curves.predictive:
        band: dict[str, Any] = {"lik": str(pred.likelihood)}
        for scale, edges in bins.items():
            low, high = predictive_band(pred, edges, evals.size, curves.ci_prob)
            band[scale] = [rounded(low), rounded(high)]
        bands.append(band)
    if bands:
        record["band"] = bands
    return record
