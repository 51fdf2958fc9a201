"""The main job: :func:`analyze` runs every stage on a network and returns one :class:`Analysis`.

``analyze(path)`` reads the weights (:mod:`rmtfit.spectra`), computes the scalar metrics and the
classical point estimates of every layer (:mod:`rmtfit.classical`) and, unless ``fast=True``,
fits the Bayesian likelihoods (:mod:`rmtfit.inference`), compares them (:mod:`rmtfit.comparison`),
assigns phase probabilities (:mod:`rmtfit.phases`) and summarises the network
(:mod:`rmtfit.network`). The result is one immutable :class:`Analysis`;
:func:`rmtfit.report.write_outputs` (or ``rmtfit.analyze(..., out=dir)``) writes the report files
(see :mod:`rmtfit.report` and ``docs/report.md``).

Every call into another stage goes through one of the ``_collect_*`` functions below or through
:func:`rmtfit.pipeline._full.collect_full` (the full mode), so the coupling to the other stages'
interfaces lives in this package only. A layer that fails at any stage is kept, marked
``failed`` with the reason, and the run goes on.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rmtfit.classical import fit_classical
from rmtfit.common import CI_PROB, ProgressBar, check_ci_prob
from rmtfit.pipeline._parts import FullResults, LayerBase
from rmtfit.pipeline._results import Analysis, LayerResult
from rmtfit.spectra import load_spectra, spectral_metrics

__all__ = ["analyze"]


def analyze(
    source: Any,
    *,
    fast: bool = False,
    layers: str | None = None,
    likelihoods: Sequence[Any] | str | None = None,
    seed: int = 0,
    device: str = "auto",
    draws: int | None = None,
    chains: int | None = None,
    quiet: bool = False,
    progress: bool = True,
    ci_prob: float = CI_PROB,
) -> Analysis:
    """Analyse every weight matrix of a network.

    Parameters
    ----------
    source
        A checkpoint path (safetensors file or sharded folder, torch state_dict, ``.npz``/``.npy``),
        a ``torch.nn.Module``, a mapping of names to arrays, or an :class:`rmtfit.Spectra`.
    fast
        Classical estimators only (seconds, no posteriors, models or phases).
    layers
        Regular expression; only layers whose name matches (``re.search``) are analysed.
    likelihoods
        Likelihood names (or :class:`rmtfit.Likelihood` objects, or a comma-separated string)
        to fit; default ``rmtfit.likelihoods.DEFAULT_LIKELIHOODS``. Ignored with ``fast=True``.
    seed
        Seed of every random choice (MCMC, posterior predictive draws).
    device
        ``"auto"``, ``"cpu"`` or ``"cuda"``: where eigenvalues are computed.
    draws, chains
        MCMC draws per chain and number of chains (defaults of :func:`rmtfit.fit`).
    quiet, progress
        ``quiet`` silences every terminal output; ``progress=False`` hides the progress bars only.
    ci_prob
        Probability of the equal-tailed credible intervals, in (0, 1).

    Returns
    -------
    Analysis
        Layers that failed are kept with ``status="failed"`` and the reason; check
        ``Analysis.exit_code``.

    Raises
    ------
    FileNotFoundError, ValueError
        The input cannot be read, no layer is left to analyse, or an argument is out of range.
    """
    settings = _check_arguments(layers, seed, draws, chains, ci_prob, device)
    chosen = () if fast else _collect_likelihoods(likelihoods)
    timings: dict[str, float] = {}
    with ProgressBar(enabled=progress and not quiet) as bar:
        start = time.perf_counter()
        spectra = _collect_spectra(
            source, layers=layers, device=device, progress=progress and not quiet
        )
        timings["spectra"] = time.perf_counter() - start

        start = time.perf_counter()
        per_layer = _collect_classical(spectra, bar)
        timings["classical"] = time.perf_counter() - start

        full = FullResults()
        if not fast:
            from rmtfit.pipeline._full import collect_full  # JAX and NumPyro: not in fast mode

            full = collect_full(
                spectra,
                per_layer,
                chosen,
                seed=int(seed),
                draws=draws,
                chains=chains,
                ci_prob=float(ci_prob),
                bar=bar,
                timings=timings,
            )
    results = _layer_results(spectra, per_layer, full)
    analysis = Analysis(
        source=str(spectra.source or _describe(source)),
        mode="fast" if fast else "full",
        seed=int(seed),
        ci_prob=float(ci_prob),
        layers=results,
        spectra=spectra,
        likelihoods=tuple(name for name, _ in chosen),
        classical={
            name: lr.classical for name, lr in per_layer.items() if lr.classical is not None
        },
        fits=full.fits,
        comparison=full.comparison,
        phases=full.phases,
        network=full.network,
        network_summary=full.network_summary,
        predictive=full.predictive,
        settings={**settings, "fast": bool(fast), "draws": draws, "chains": chains},
        timings=timings,
    )
    return analysis


def _check_arguments(
    layers: str | None,
    seed: int,
    draws: int | None,
    chains: int | None,
    ci_prob: float,
    device: str,
) -> dict[str, Any]:
    if layers is not None:
        try:
            re.compile(layers)
        except re.error as exc:
            raise ValueError(
                f"layers={layers!r} is not a valid regular expression ({exc}); "
                "pass a Python regex such as 'attention|dense'."
            ) from None
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed={seed!r}: the seed must be an integer >= 0.")
    for label, value in (("draws", draws), ("chains", chains)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ValueError(
                f"{label}={value!r}: must be a positive integer (or None for the default)."
            )
    check_ci_prob(ci_prob)
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device={device!r}: use 'auto', 'cpu' or 'cuda'.")
    return {"layers": layers, "device": device}


def _no_layers_message(spectra: Any, layers: str | None) -> str:
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


def _describe(source: Any) -> str:
    if isinstance(source, str | Path):
        return str(source)
    if isinstance(source, Mapping):
        return "<mapping>"
    return f"<{type(source).__name__}>"


def _layer_results(
    spectra: Any, per_layer: Mapping[str, Any], full: Any
) -> tuple[LayerResult, ...]:
    """Assemble the per-layer records: analysed matrices in order, then failed, then skipped."""
    out: list[LayerResult] = []
    for index, spectrum in enumerate(spectra):
        base = per_layer[spectrum.name]
        fitted = full.layers.get(spectrum.name)
        status, reason = base.status, base.reason
        if fitted is not None and fitted.failed_reason and status == "ok":
            status, reason = "failed", fitted.failed_reason
        elif fitted is not None and fitted.note:
            reason = "; ".join(r for r in (reason, fitted.note) if r)
        out.append(
            LayerResult(
                name=spectrum.name,
                status=status,
                reason=reason,
                kind=spectrum.kind,
                N=int(spectrum.N),
                M=int(spectrum.M),
                num_evals=int(spectrum.num_evals),
                shape=(int(spectrum.N), int(spectrum.M)),
                layer_id=index,
                metrics=base.metrics,
                classical=base.classical,
                posterior=fitted.posterior if fitted is not None else None,
                models=fitted.models if fitted is not None else None,
                phase=fitted.phase if fitted is not None else None,
            )
        )
    next_id = len(out)
    for skipped in sorted(spectra.skipped, key=lambda s: not s.failed):
        shape = tuple(int(d) for d in skipped.shape)
        matrix = len(shape) >= 2
        n, m = (
            (max(shape[0], math.prod(shape[1:])), min(shape[0], math.prod(shape[1:])))
            if matrix
            else (None, None)
        )
        out.append(
            LayerResult(
                name=skipped.name,
                status="failed" if skipped.failed else "skipped",
                reason=skipped.reason or ("failed" if skipped.failed else "not analysed"),
                N=n if skipped.failed else None,
                M=m if skipped.failed else None,
                shape=shape,
                layer_id=next_id if skipped.failed else None,
            )
        )
        next_id += bool(skipped.failed)
    return tuple(out)


# --------------------------------------------------------------------------- stage adapters
# Everything below calls another stage; with rmtfit.pipeline._full, nothing else in rmtfit does.

METRIC_FIELDS = (
    "lambda_max",
    "log_spectral_norm",
    "log_norm",
    "stable_rank",
    "entropy",
    "numerical_rank",
    "rank_loss",
)


def _collect_spectra(source: Any, *, layers: str | None, device: str, progress: bool) -> Any:
    """Read the spectra (a :class:`rmtfit.Spectra` is filtered as given) with the layer filter."""
    if isinstance(source, str | Path) and not Path(source).exists():
        raise FileNotFoundError(f"{source}: no such file or folder; check the path.")
    spectra = load_spectra(source, include=layers, device=device, progress=progress)
    if not len(spectra) and not spectra.failed:
        raise ValueError(_no_layers_message(spectra, layers))
    return spectra


def _collect_classical(spectra: Any, bar: Any) -> dict[str, LayerBase]:
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


def _collect_likelihoods(likelihoods: Sequence[Any] | str | None) -> tuple[tuple[str, Any], ...]:
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
