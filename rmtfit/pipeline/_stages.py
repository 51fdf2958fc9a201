"""The stage adapters of the pipeline: every call of :func:`rmtfit.pipeline.analyze` into the
spectra, the classical fits and the likelihood registry (the full mode's are in
:mod:`rmtfit.pipeline._full`). Shared by the serial path (:mod:`rmtfit.pipeline._analyze`) and the
tasks of the distributed one (:mod:`rmtfit.pipeline._parallel`), so both run the same code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rmtfit.classical import fit_classical
from rmtfit.pipeline._parts import LayerBase
from rmtfit.spectra import load_spectra, spectral_metrics

__all__ = [
    "METRIC_FIELDS",
    "collect_spectra",
    "collect_classical",
    "collect_likelihoods",
    "no_layers_message",
]


def no_layers_message(spectra: Any, layers: str | None) -> str:
    where = spectra.source or "the input"
    if layers is not None and spectra.skipped:
        return (
            f"{where}: no weight matrix matches layers={layers!r}; "
            f"tensor names look like {[s.name for s in spectra.skipped[:3]]}."
        )
    if spectra.skipped:
        reasons = sorted({s.reason for s in spectra.skipped})[:3]
        return f"{where}: no weight matrix to analyse ({len(spectra.skipped)} tensors, none a matrix: {reasons})."
    return f"{where}: no tensors found; is this an empty checkpoint?"


METRIC_FIELDS = (
    "lambda_max",
    "log_spectral_norm",
    "log_norm",
    "stable_rank",
    "entropy",
    "numerical_rank",
    "rank_loss",
)


def collect_spectra(source: Any, *, layers: str | None, device: str, progress: bool) -> Any:
    """Read the spectra (a :class:`rmtfit.Spectra` is filtered as given) with the layer filter."""
    if isinstance(source, str | Path) and not Path(source).exists():
        raise FileNotFoundError(f"{source}: no such file or folder; check the path.")
    spectra = load_spectra(source, include=layers, progress=progress, **_solver_options(device))
    if not len(spectra) and not spectra.failed:
        raise ValueError(no_layers_message(spectra, layers))
    return spectra


def _solver_options(device: str) -> dict[str, str]:
    """The eigensolver of ``device``: numpy (float64 LAPACK) on the CPU, and for ``"cuda"`` the
    torch backend, or JAX's when torch is not installed (their solvers move whole batches of
    matrices to the GPU). ``"auto"`` stays on the CPU: detecting a GPU would import torch or JAX
    on the fast path, whose point is seconds; ask for ``device="cuda"`` to use one."""
    if device != "cuda":
        return {"backend": "numpy", "device": "cpu"}
    import importlib.util

    backend = "torch" if importlib.util.find_spec("torch") is not None else "jax"
    return {"backend": backend, "device": "cuda"}


def collect_classical(spectra: Any, bar: Any) -> dict[str, LayerBase]:
    """Scalar metrics and the classical fit of every layer; a layer that raises is failed."""
    out: dict[str, LayerBase] = {}
    with bar.task("classical fits", total=len(spectra)) as advance:
        for spectrum in spectra:
            out[spectrum.name] = _classical_one(spectrum, fit_classical, spectral_metrics)
            advance()
    return out


def _classical_one(spectrum: Any, fit_classical: Any, spectral_metrics: Any) -> LayerBase:
    bad = int(np.count_nonzero(~np.isfinite(spectrum.eigenvalues)))
    if bad:
        return LayerBase("failed", f"{bad} non-finite eigenvalues (NaN or Inf in the weights)")
    try:
        metrics = _metrics_dict(spectral_metrics(spectrum))
    except Exception as exc:  # one bad layer never kills the run
        return LayerBase("failed", f"spectral metrics failed: {type(exc).__name__}: {exc}")
    try:
        classical = fit_classical(spectrum)
    except Exception as exc:
        return LayerBase("failed", f"classical fit failed: {type(exc).__name__}: {exc}", metrics)
    reason = "" if classical.ok else f"classical fit not done: {classical.reason}"
    return LayerBase("ok", reason, metrics, classical)


def _metrics_dict(metrics: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in METRIC_FIELDS:
        value = getattr(metrics, name, None)
        if value is None and isinstance(metrics, Mapping):
            value = metrics.get(name)
        out[name] = float("nan") if value is None else float(value)
    return out


def collect_likelihoods(likelihoods: Sequence[Any] | str | None) -> tuple[tuple[str, Any], ...]:
    """``(name, Likelihood)`` pairs to fit: the default set, or the user's names/objects."""
    from rmtfit.likelihoods import DEFAULT_LIKELIHOODS, get_likelihood  # imports JAX

    if likelihoods is None:
        likelihoods = DEFAULT_LIKELIHOODS
    elif isinstance(likelihoods, str):
        likelihoods = [n.strip() for n in likelihoods.split(",") if n.strip()]
    chosen = []
    for item in likelihoods:
        try:
            lik = get_likelihood(item)
        except KeyError as exc:
            raise ValueError(str(exc.args[0]) if exc.args else str(exc)) from None
        chosen.append((lik.name, lik))
    if not chosen:
        raise ValueError(
            "likelihoods: the list is empty; name at least one likelihood, or pass None for the defaults."
        )
    return tuple(chosen)
