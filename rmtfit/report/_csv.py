"""``layers.csv``: one row per analysed layer, WeightWatcher-style columns first.

The columns are the same in both modes (posterior and phase columns are empty in fast mode), so a
script reading the file does not depend on the mode. Tensors that were not analysed (biases, norms)
are not rows; they are listed in ``report.json``.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from rmtfit.report._json import PHASES, POSTERIOR_QUANTITIES

__all__ = ["CSV_COLUMNS", "layers_csv", "layer_row"]

_BASE = ("layer_id", "name", "kind", "status", "N", "M", "Q", "num_evals")
_CLASSICAL = (
    "alpha",
    "alpha_se",
    "xmin",
    "D",
    "n_tail",
    "hill_alpha",
    "sigma_mp",
    "lambda_plus",
    "num_spikes",
    "num_spikes_gd",
)
_METRICS = (
    "lambda_max",
    "log_norm",
    "log_spectral_norm",
    "stable_rank",
    "entropy",
    "numerical_rank",
    "rank_loss",
)
_POSTERIOR = tuple(
    f"{q}_{stat}" for q in POSTERIOR_QUANTITIES for stat in ("mean", "sd", "ci_low", "ci_high")
)
_PHASE = tuple(f"p_{p}" for p in PHASES) + ("phase_map",)

CSV_COLUMNS: tuple[str, ...] = _BASE + _CLASSICAL + _METRICS + _POSTERIOR + _PHASE + ("reason",)
"""Columns of ``layers.csv``, in order (see ``docs/report.md``)."""


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return value


def layer_row(layer: Any) -> dict[str, Any]:
    """The CSV row of one :class:`rmtfit.pipeline.LayerResult`."""
    row: dict[str, Any] = {
        "layer_id": layer.layer_id,
        "name": layer.name,
        "kind": layer.kind,
        "status": layer.status,
        "N": layer.N,
        "M": layer.M,
        "Q": None if layer.Q is None else float(layer.Q),
        "num_evals": layer.num_evals,
        "reason": layer.reason,
    }
    fit = layer.classical
    for name in _CLASSICAL:
        value = getattr(fit, name, None) if fit is not None else None
        row[name] = (
            None if value is None else (int(value) if isinstance(value, int) else float(value))
        )
    metrics = layer.metrics or {}
    for name in _METRICS:
        value = metrics.get(name)
        row[name] = None if value is None else float(value)
        if name in ("numerical_rank", "rank_loss") and value is not None and math.isfinite(value):
            row[name] = int(value)
    posterior = layer.posterior or {}
    for q in POSTERIOR_QUANTITIES:
        est = posterior.get(q)
        for stat in ("mean", "sd", "ci_low", "ci_high"):
            row[f"{q}_{stat}"] = None if est is None else float(getattr(est, stat))
    phase = layer.phase or {}
    probs = phase.get("probabilities") or {}
    for p in PHASES:
        value = probs.get(p)
        row[f"p_{p}"] = None if value is None else float(value)
    row["phase_map"] = phase.get("map")
    return row


def layers_csv(analysis: Any) -> str:
    """The whole ``layers.csv`` as text."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for layer in analysis.analysed:
        writer.writerow({k: _cell(v) for k, v in layer_row(layer).items()})
    return buffer.getvalue()
