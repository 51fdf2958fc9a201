"""``report.json``: the machine-readable report, schema ``rmtfit.report/1``.

The schema ships as ``rmtfit/report/report.schema.json`` (JSON Schema 2020-12) and is documented
field by field in ``docs/report.md``. Numbers that could not be computed are ``null`` (JSON has
no NaN); every eigenvalue-valued field is in raw eigenvalue units.
"""

from __future__ import annotations

import json
import math
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from rmtfit.common import __version__, dumps_json, jsonable

__all__ = ["SCHEMA", "build_report", "report_json", "load_schema", "validate_report", "PHASES"]

SCHEMA = "rmtfit.report/1"
PHASES = (
    "random_like",
    "bleeding_out",
    "bulk_spikes",
    "bulk_decay",
    "heavy_tailed",
    "rank_collapse",
)
"""The 5+1 phases, in the order of the report (DESIGN.md, "The 5+1 phases"). The same tuple as
:data:`rmtfit.phases.PHASES` (a test checks it), written out here because importing the phases
stage imports JAX, which the report of a fast analysis must not pay for."""

POSTERIOR_QUANTITIES = ("alpha", "xmin", "sigma_mp", "lambda_plus", "num_spikes")
CLASSICAL_FIELDS = (
    "alpha",
    "alpha_se",
    "xmin",
    "D",
    "n_tail",
    "hill_alpha",
    "sigma_mp",
    "lambda_plus",
    "tw_threshold",
    "gd_threshold",
    "num_spikes",
    "num_spikes_gd",
    "rank_collapse",
    "alpha_unbiased",
    "p_value",
    "sigma2_gd",
    "num_dropped",
)
_COUNTS = {
    "n_tail",
    "num_spikes",
    "num_spikes_gd",
    "numerical_rank",
    "rank_loss",
    "divergences",
    "num_dropped",
}
MODEL_FIELDS = (
    "family",
    "status",
    "reason",
    "weight",
    "elpd_loo",
    "se",
    "max_pareto_k",
    "r_hat_max",
    "ess_bulk_min",
    "divergences",
)


def number(value: Any) -> float | None:
    """A JSON-safe float: ``None`` for missing, NaN or infinite values."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def count(value: Any) -> int | None:
    """A JSON-safe non-negative integer, or ``None``."""
    if value is None:
        return None
    value = float(value)
    return int(round(value)) if math.isfinite(value) and value >= 0 else None


def _field(name: str, value: Any) -> Any:
    return count(value) if name in _COUNTS else number(value)


def _estimate(est: Any) -> dict[str, Any] | None:
    if est is None:
        return None
    return {
        "mean": number(est.mean),
        "sd": number(est.sd),
        "ci_low": number(est.ci_low),
        "ci_high": number(est.ci_high),
        "likelihood": est.likelihood,
    }


def _classical(fit: Any) -> dict[str, Any] | None:
    if fit is None:
        return None
    out: dict[str, Any] = {"status": fit.status, "reason": fit.reason or ""}
    for name in CLASSICAL_FIELDS:
        out[name] = _field(name, getattr(fit, name, None))
    out["notes"] = [str(n) for n in fit.notes]
    return out


def _models(models: Any) -> dict[str, Any] | None:
    if models is None:
        return None
    out: dict[str, Any] = {}
    for name, model in models.items():
        entry: dict[str, Any] = {}
        for key in MODEL_FIELDS:
            value = model.get(key)
            if key in ("family", "status", "reason"):
                entry[key] = "" if value is None else str(value)
            else:
                entry[key] = _field(key, value)
        out[str(name)] = entry
    return out


def _phase(phase: Any) -> dict[str, Any] | None:
    if phase is None:
        return None
    probs = phase.get("probabilities") or {}
    best = phase.get("map")
    return {
        "probabilities": {p: number(probs.get(p)) for p in PHASES},
        "map": best if best in PHASES else None,
    }


def layer_record(layer: Any) -> dict[str, Any]:
    """One entry of ``layers`` in the report."""
    metrics = layer.metrics
    return {
        "layer_id": layer.layer_id,
        "name": layer.name,
        "kind": layer.kind,
        "shape": [int(d) for d in layer.shape],
        "N": count(layer.N),
        "M": count(layer.M),
        "Q": number(layer.Q),
        "num_evals": count(layer.num_evals),
        "status": layer.status,
        "reason": layer.reason,
        "metrics": None if metrics is None else {k: _field(k, v) for k, v in metrics.items()},
        "classical": _classical(layer.classical),
        "posterior": None
        if layer.posterior is None
        else {q: _estimate(layer.posterior.get(q)) for q in POSTERIOR_QUANTITIES},
        "models": _models(layer.models),
        "phase": _phase(layer.phase),
    }


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def classical_summary(analysis: Any) -> dict[str, Any]:
    """Network averages of the classical estimates over the layers that were analysed.

    ``alpha_weighted`` is the mean of alpha * log10(lambda_max) and ``log_alpha_norm_mean`` the
    mean of log10(sum_i lambda_i^alpha), as in WeightWatcher's summary.
    """
    ok = [r for r in analysis.analysed if r.ok and r.metrics is not None]
    fitted = [r for r in ok if r.classical is not None and r.classical.ok]
    weighted = [
        float(r.classical.alpha) * math.log10(r.metrics["lambda_max"])
        for r in fitted
        if r.metrics["lambda_max"] > 0
    ]
    alpha_norms = [
        log_alpha_norm(analysis.spectra[r.name].eigenvalues, float(r.classical.alpha))
        for r in fitted
    ]
    return {
        "alpha_mean": number(_mean([float(r.classical.alpha) for r in fitted])),
        "alpha_weighted": number(_mean(weighted)),
        "log_alpha_norm_mean": number(_mean(alpha_norms)),
        "log_norm_mean": number(_mean([r.metrics["log_norm"] for r in ok])),
        "log_spectral_norm_mean": number(_mean([r.metrics["log_spectral_norm"] for r in ok])),
        "stable_rank_mean": number(_mean([r.metrics["stable_rank"] for r in ok])),
        "num_spikes_total": sum(int(r.classical.num_spikes) for r in fitted),
    }


def log_alpha_norm(eigenvalues: Any, alpha: float) -> float:
    """log10 of the alpha-norm sum_i lambda_i^alpha, computed in logs (no overflow)."""
    evals = np.asarray(eigenvalues, dtype=np.float64)
    evals = evals[evals > 0]
    if not evals.size or not math.isfinite(alpha):
        return float("nan")
    logs = alpha * np.log(evals)
    top = logs.max()
    return float((top + np.log(np.exp(logs - top).sum())) / np.log(10.0))


def build_report(analysis: Any) -> dict[str, Any]:
    """The report as a JSON-ready dict (see ``docs/report.md`` for every field)."""
    layers = [layer_record(r) for r in analysis.layers]
    analysed = analysis.analysed
    full = not analysis.fast
    counts = expected = None
    if full:
        counts = {p: 0 for p in PHASES}
        expected = {p: 0.0 for p in PHASES}
        for r in analysed:
            if r.phase and r.phase.get("map") in counts:
                counts[r.phase["map"]] += 1
                for p in PHASES:
                    expected[p] += float((r.phase.get("probabilities") or {}).get(p) or 0.0)
    network = None
    if full and analysis.network_summary is not None:
        network = {k: _estimate(v) for k, v in analysis.network_summary.items()}
    return {
        "schema": SCHEMA,
        "rmtfit_version": __version__,
        "mode": analysis.mode,
        "source": analysis.source,
        "seed": int(analysis.seed),
        "ci_prob": float(analysis.ci_prob),
        "likelihoods": list(analysis.likelihoods),
        "settings": jsonable(dict(analysis.settings)),
        "layers": layers,
        "summary": {
            "num_layers": len(analysed),
            "num_ok": sum(r.ok for r in analysed),
            "num_failed": len(analysis.failed),
            "num_skipped": len(analysis.skipped),
            "classical": classical_summary(analysis),
            "network": network,
            "phase_counts": counts,
            "phase_expected": None
            if expected is None
            else {p: round(v, 6) for p, v in expected.items()},
        },
    }


def report_json(report: dict[str, Any]) -> str:
    """Serialise a report dict (strict JSON: no NaN, UTF-8 names kept)."""
    return dumps_json(report)


@cache
def load_schema() -> dict[str, Any]:
    """The JSON Schema of ``rmtfit.report/1`` shipped with the package."""
    text = resources.files("rmtfit.report").joinpath("report.schema.json").read_text("utf-8")
    return json.loads(text)


def validate_report(report: dict[str, Any]) -> None:
    """Validate a report dict against the shipped schema (needs ``jsonschema``, a dev extra).

    Raises ``jsonschema.ValidationError`` naming the offending field.
    """
    import jsonschema

    jsonschema.Draft202012Validator(load_schema()).validate(report)
