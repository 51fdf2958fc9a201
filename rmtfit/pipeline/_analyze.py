"""The main job: :func:`analyze` runs every stage on a network and returns one :class:`Analysis`.

``analyze(path)`` reads the weights (:mod:`rmtfit.spectra`), computes the scalar metrics and the
classical point estimates of every layer (:mod:`rmtfit.classical`) and, unless ``fast=True``,
fits the Bayesian likelihoods (:mod:`rmtfit.inference`), compares them (:mod:`rmtfit.comparison`),
assigns phase probabilities (:mod:`rmtfit.phases`) and summarises the network
(:mod:`rmtfit.network`). The result is one immutable :class:`Analysis`;
:func:`rmtfit.report.write_outputs` (or ``rmtfit.analyze(..., out=dir)``) writes the report files
(see :mod:`rmtfit.report` and ``docs/report.md``).

Every call into another stage goes through one of the ``collect_*`` functions of
:mod:`rmtfit.pipeline._stages` or through :func:`rmtfit.pipeline._full.collect_full` (the full
mode), so the coupling to the other stages' interfaces lives in this package only. With
``client=`` (or ``staging=``) the same functions run as Dask tasks on groups of layers
(:mod:`rmtfit.pipeline._parallel`). A layer that fails at any stage is kept, marked
``failed`` with the reason, and the run goes on.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from rmtfit.common import CI_PROB, ProgressBar, check_ci_prob
from rmtfit.pipeline._parts import FullResults, LayerBase
from rmtfit.pipeline._results import Analysis, LayerResult
from rmtfit.pipeline._stages import collect_classical, collect_likelihoods, collect_spectra

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
    client: Any = None,
    staging: str | Path | None = None,
    resume: bool = False,
    layers_per_task: int | None = None,
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
        ``"auto"``, ``"cpu"`` or ``"cuda"``: where eigenvalues are computed (``"auto"`` and
        ``"cpu"``: numpy on the CPU; ``"cuda"``: the torch solver, or JAX's without torch, on the GPU).
    draws, chains
        MCMC draws per chain and number of chains (defaults of :func:`rmtfit.fit`).
    quiet, progress
        ``quiet`` silences every terminal output; ``progress=False`` hides the progress bars only.
    ci_prob
        Probability of the equal-tailed credible intervals, in (0, 1).
    client
        A ``dask.distributed.Client``, or a scheduler string (``"local:N"``: N worker processes
        started for this call; ``"tcp://HOST:PORT"``): groups of layers run as Dask tasks on its workers (the
        spectra too, when ``source`` is a path every worker can read). The result equals the
        serial run's with the same seed, except the random draws behind the ESD plots' predictive
        bands (``docs/scaling.md``). Default ``None``: everything in this process, no Dask.
    staging
        A folder where each layer's result is written as soon as its task finishes
        (:class:`rmtfit.distributed.PartStore`); ``rmtfit analyze --scheduler`` uses
        ``<out>/parts``. Also works without ``client`` (groups run one after the other here).
    resume
        Keep the layers already in ``staging`` (from a run with the same settings that stopped)
        and compute only the others.
    layers_per_task
        Layers per task (default: about four tasks per worker).

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
    chosen = () if fast else collect_likelihoods(likelihoods)
    timings: dict[str, float] = {}
    if client is not None or staging is not None or resume:
        spectra, per_layer, full = _collect_distributed(
            source,
            client=client,
            staging=staging,
            resume=resume,
            layers_per_task=layers_per_task,
            chosen=chosen,
            options={
                "layers": layers,
                "device": device,
                "fast": bool(fast),
                "likelihoods": likelihoods,
                "seed": int(seed),
                "draws": draws,
                "chains": chains,
                "ci_prob": float(ci_prob),
            },
            progress=progress and not quiet,
            timings=timings,
        )
    else:
        spectra, per_layer, full = _collect_serial(
            source,
            layers,
            device,
            fast,
            chosen,
            int(seed),
            draws,
            chains,
            float(ci_prob),
            progress and not quiet,
            timings,
        )
    results = _layer_results(spectra, per_layer, full)
    return Analysis(
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


def _collect_serial(
    source: Any,
    layers: str | None,
    device: str,
    fast: bool,
    chosen: Sequence[tuple[str, Any]],
    seed: int,
    draws: int | None,
    chains: int | None,
    ci_prob: float,
    progress: bool,
    timings: dict[str, float],
) -> tuple[Any, dict[str, LayerBase], FullResults]:
    """Spectra, classical and full results of every layer, in this process (the default)."""
    with ProgressBar(enabled=progress) as bar:
        start = time.perf_counter()
        spectra = collect_spectra(source, layers=layers, device=device, progress=progress)
        timings["spectra"] = time.perf_counter() - start

        start = time.perf_counter()
        per_layer = collect_classical(spectra, bar)
        timings["classical"] = time.perf_counter() - start

        full = FullResults()
        if not fast:
            from rmtfit.pipeline._full import collect_full  # JAX and NumPyro: not in fast mode

            full = collect_full(
                spectra,
                per_layer,
                chosen,
                seed=seed,
                draws=draws,
                chains=chains,
                ci_prob=ci_prob,
                bar=bar,
                timings=timings,
            )
    return spectra, per_layer, full


def _collect_distributed(
    source: Any,
    *,
    client: Any,
    staging: str | Path | None,
    resume: bool,
    layers_per_task: int | None,
    chosen: Sequence[tuple[str, Any]],
    options: Mapping[str, Any],
    progress: bool,
    timings: dict[str, float],
) -> tuple[Any, dict[str, LayerBase], FullResults]:
    """Spectra, classical and full results of every layer, computed as tasks (``client``)."""
    from rmtfit.pipeline._parallel import merge_parts, run_distributed

    if resume and staging is None:
        raise ValueError("resume=True needs staging=<folder> (where the finished layers are).")
    if layers_per_task is not None and (isinstance(layers_per_task, bool) or layers_per_task < 1):
        raise ValueError(f"layers_per_task={layers_per_task!r}: must be a positive integer.")
    fingerprint = {
        "source": str(source) if isinstance(source, str | Path) else _describe(source),
        **{k: v for k, v in options.items() if k != "likelihoods"},
        "likelihoods": [name for name, _ in chosen],
    }
    run = partial(
        run_distributed,
        source,
        staging=staging,
        resume=resume,
        layers_per_task=layers_per_task,
        options=options,
        fingerprint=fingerprint,
        progress=progress,
    )
    start = time.perf_counter()
    if isinstance(client, str):  # a scheduler spec: the cluster lives as long as this call
        from rmtfit.distributed import connect

        with connect(client) as connected:
            work, parts = run(client=connected)
    else:
        work, parts = run(client=client)
    timings["tasks"] = time.perf_counter() - start
    return merge_parts(work, parts, chosen, options)


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
