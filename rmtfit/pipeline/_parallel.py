"""The analysis of one network as Dask tasks: groups of layers, each a small serial analysis.

:func:`rmtfit.pipeline.analyze` with ``client=`` (or ``staging=``) comes here. The layers are cut
into groups (:func:`plan_work`); each group is a task (:func:`analyze_group`) that runs exactly
the serial stages on its layers: the spectra (read on the worker from the checkpoint's path, or
sent with the task for an in-memory source), the classical fits and
:func:`rmtfit.pipeline._full.collect_full`. A task returns one :class:`LayerPart` per layer;
:func:`rmtfit.distributed.run_tasks` hands each finished group back at once, and the parts are
written to a :class:`rmtfit.distributed.PartStore` before the next one is awaited, so nothing
finished is lost and ``resume`` skips it. :func:`merge_parts` puts the parts back in checkpoint
order and computes what needs every layer (the network metrics) with the serial path's function.

Why the result equals the serial run's: every random key of the sampler is derived from (seed,
likelihood, layer name, chain, attempt), never from a layer's position or its batch companions;
the comparison and the phases are per layer; the network metrics are computed once, over all
layers in checkpoint order, as in the serial run. The one exception is the posterior predictive
draws behind the ESD plots' bands: drawn per group, their random draws differ from a serial run's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rmtfit.common import ProgressBar
from rmtfit.distributed import PartStore, TaskFailed, num_workers, run_tasks
from rmtfit.pipeline._parts import Fitted, FullResults, LayerBase
from rmtfit.pipeline._stages import (
    collect_classical,
    collect_likelihoods,
    collect_spectra,
    no_layers_message,
)
from rmtfit.spectra import Skipped, Spectra, load_spectra, plan_layers

__all__ = ["LayerPart", "Work", "plan_work", "analyze_group", "run_distributed", "merge_parts"]

TASKS_PER_WORKER = 4
"""Default grouping: about this many tasks per worker (small enough to balance uneven layers and
to lose little when a worker dies; large enough that each task batches several layers)."""


@dataclass(frozen=True)
class LayerPart:
    """Everything one layer contributes to an :class:`rmtfit.Analysis` (picklable)."""

    name: str
    spectrum: Any = None
    skipped: Skipped | None = None
    base: LayerBase | None = None
    fitted: Fitted | None = None
    comparison: Mapping[str, Any] | None = None
    phase: Any = None
    predictive: tuple[Any, ...] | None = None
    pairs: Mapping[str, Any] = field(default_factory=dict)
    status: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    summary: Any = None
    fitted_spectrum: Any = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class Work:
    """The layers to analyse: names in a checkpoint on disk, or spectra computed here."""

    names: tuple[str, ...]
    skipped: tuple[Skipped, ...]
    order: tuple[str, ...]
    path: str | None = None
    spectra: Spectra | None = None


def plan_work(source: Any, *, layers: str | None, device: str, progress: bool) -> Work:
    """Which layers there are. A path is planned from its headers (workers read the weights);
    anything else (a module, a mapping, a :class:`rmtfit.Spectra`) is turned into spectra here."""
    if isinstance(source, str | Path) and Path(source).suffix != ".nc":
        if not Path(source).exists():
            raise FileNotFoundError(f"{source}: no such file or folder; check the path.")
        plan = plan_layers(source, include=layers)
        return Work(plan.names, plan.skipped, plan.order, path=str(source))
    spectra = collect_spectra(source, layers=layers, device=device, progress=progress)
    order = tuple(s.name for s in spectra) + tuple(s.name for s in spectra.skipped)
    return Work(tuple(s.name for s in spectra), tuple(spectra.skipped), order, spectra=spectra)


def group_layers(names: Sequence[str], workers: int, per_task: int | None) -> list[tuple[str, ...]]:
    """Consecutive groups of layers: ``per_task`` each, or about :data:`TASKS_PER_WORKER` per worker."""
    if per_task is None:
        per_task = max(1, math.ceil(len(names) / (TASKS_PER_WORKER * max(workers, 1))))
    return [tuple(names[i : i + per_task]) for i in range(0, len(names), per_task)]


def analyze_group(
    path: str | None, names: tuple[str, ...], spectra: Spectra | None, options: Mapping[str, Any]
) -> dict[str, LayerPart]:
    """One task: the serial analysis of ``names`` (read from ``path``, or given as ``spectra``)."""
    if spectra is None:
        pattern = "^(?:" + "|".join(re.escape(n) for n in names) + ")$"
        spectra = load_spectra(path, include=pattern, device=options["device"])
    wanted = set(names)
    failed = [s for s in spectra.skipped if s.name in wanted]
    bar = ProgressBar(enabled=False)
    per_layer = collect_classical(spectra, bar)
    full = FullResults()
    if not options["fast"]:
        from rmtfit.pipeline._full import collect_full

        full = collect_full(
            spectra,
            per_layer,
            collect_likelihoods(options["likelihoods"]),
            seed=options["seed"],
            draws=options["draws"],
            chains=options["chains"],
            ci_prob=options["ci_prob"],
            bar=bar,
            timings={},
        )
    notes = dict(spectra.meta.get("notes", {}))
    parts = {s.name: LayerPart(s.name, skipped=s) for s in failed}
    for spectrum in spectra:
        parts[spectrum.name] = _layer_part(spectrum, per_layer[spectrum.name], full, notes)
    return parts


def _layer_part(spectrum: Any, base: LayerBase, full: FullResults, notes: Mapping) -> LayerPart:
    name = spectrum.name
    fits = full.fits
    if fits is None or name not in fits.layers:
        return LayerPart(name, spectrum=spectrum, base=base, note=notes.get(name, ""))
    fitted_spectrum = next((s for s in fits.spectra or () if s.name == name), spectrum)
    return LayerPart(
        name,
        spectrum=spectrum,
        base=base,
        fitted=full.layers.get(name),
        comparison=(full.comparison or {}).get(name),
        phase=(full.phases or {}).get(name),
        predictive=full.predictive.get(name),
        pairs={lik: fits[name, lik] for lik in fits.likelihoods if fits.has(name, lik)},
        status={lik: (fits.status(name, lik), fits.reason(name, lik)) for lik in fits.likelihoods},
        summary=fits.summary.sel(layer=[name]),
        fitted_spectrum=fitted_spectrum,
        settings=dict(fits.settings),
        note=notes.get(name, ""),
    )


def run_distributed(
    source: Any,
    *,
    client: Any,
    staging: str | Path | None,
    resume: bool,
    layers_per_task: int | None,
    options: Mapping[str, Any],
    fingerprint: Mapping[str, Any],
    progress: bool,
) -> tuple[Work, dict[str, LayerPart]]:
    """Every layer's part: those in ``staging`` (with ``resume``) and the rest computed as tasks."""
    work = plan_work(source, layers=options["layers"], device=options["device"], progress=progress)
    if not work.names:
        raise ValueError(no_layers_message(Spectra((), work.skipped, source=str(source)), None))
    store = None if staging is None else PartStore(staging, fingerprint, resume=resume)
    parts = {} if store is None else {k: v for k, v in store.load().items() if k in work.names}
    todo = [n for n in work.names if n not in parts]
    groups = group_layers(todo, num_workers(client), layers_per_task)
    items = {
        f"layers {g[0]} .. {g[-1]}" if len(g) > 1 else f"layer {g[0]}": (
            work.path,
            g,
            None if work.spectra is None else _subset(work.spectra, g),
            dict(options),
        )
        for g in groups
    }
    members = dict(zip(items, groups, strict=True))
    with ProgressBar(enabled=progress) as bar, bar.task("layers", total=len(work.names)) as advance:
        advance(len(parts))

        def finished(key: str, value: Any) -> None:
            found = _failed_parts(value, members[key]) if isinstance(value, TaskFailed) else value
            for name, part in found.items():
                parts[name] = part
                if store is not None and not isinstance(value, TaskFailed):
                    store.put(name, part)  # a failed task is retried by --resume
            advance(len(members[key]))

        run_tasks(client, analyze_group, items, on_result=finished, label="rmtfit-layers")
    return work, parts


def _subset(spectra: Spectra, names: Sequence[str]) -> Spectra:
    chosen = set(names)
    return Spectra(
        tuple(s for s in spectra if s.name in chosen), (), source=spectra.source, meta=spectra.meta
    )


def _failed_parts(failure: TaskFailed, names: Sequence[str]) -> dict[str, LayerPart]:
    reason = f"its task failed ({failure.reason})"
    return {name: LayerPart(name, skipped=Skipped(name, (), reason, True)) for name in names}


def merge_parts(
    work: Work, parts: Mapping[str, LayerPart], chosen: Sequence[tuple[str, Any]], options: Mapping
) -> tuple[Spectra, dict[str, LayerBase], FullResults]:
    """The serial path's ``(spectra, per_layer, full)``, rebuilt from the parts in checkpoint order."""
    rank = {name: i for i, name in enumerate(work.order)}
    ordered = [parts[n] for n in work.names if n in parts]
    spectra_parts = [p for p in ordered if p.spectrum is not None]
    failed = [p.skipped for p in ordered if p.skipped is not None]
    skipped = sorted((*work.skipped, *failed), key=lambda s: rank.get(s.name, len(rank)))
    meta = dict(work.spectra.meta) if work.spectra is not None else {}
    meta["notes"] = {**meta.get("notes", {}), **{p.name: p.note for p in ordered if p.note}}
    spectra = Spectra(
        tuple(p.spectrum for p in spectra_parts),
        tuple(skipped),
        source=work.path or (work.spectra.source if work.spectra is not None else ""),
        meta=meta,
    )
    per_layer = {p.name: p.base for p in spectra_parts}
    fitted = [p for p in spectra_parts if p.summary is not None]
    if options["fast"] or not fitted:
        return spectra, per_layer, FullResults()
    fits = _merge_fits(fitted, chosen)
    from rmtfit.pipeline._full import _network  # the serial path's network summary

    ok = [p.spectrum for p in spectra_parts if p.base.status == "ok"]
    classical = {
        p.name: p.base.classical
        for p in spectra_parts
        if p.base.status == "ok" and p.base.classical is not None and p.base.classical.ok
    }
    network, network_summary = _network(fits, ok, classical, options["seed"], options["ci_prob"])
    full = FullResults(
        fits=fits,
        comparison={p.name: p.comparison for p in fitted},
        phases={p.name: p.phase for p in fitted if p.phase is not None},
        network=network,
        network_summary=network_summary,
        layers={p.name: p.fitted for p in fitted if p.fitted is not None},
        predictive={p.name: p.predictive for p in fitted if p.predictive is not None},
    )
    return spectra, per_layer, full


def _merge_fits(parts: Sequence[LayerPart], chosen: Sequence[tuple[str, Any]]) -> Any:
    """One :class:`rmtfit.Fits` from the layers' pairs and summary rows (in ``parts`` order)."""
    import xarray as xr

    from rmtfit.inference import Fits

    params: list[str] = []
    for p in parts:
        params.extend(str(v) for v in p.summary["parameter"].values if str(v) not in params)
    summary = xr.concat([p.summary for p in parts], dim="layer", join="outer").reindex(
        parameter=params
    )
    summary.attrs = dict(parts[0].summary.attrs)
    return Fits(
        {(p.name, lik): f for p in parts for lik, f in p.pairs.items()},
        {(p.name, lik): s for p in parts for lik, s in p.status.items()},
        [p.name for p in parts],
        [name for name, _ in chosen],
        summary,
        _merge_settings([p.settings for p in parts]),
        dict(chosen),
        spectra=[p.fitted_spectrum for p in parts],
        classical={p.name: p.base.classical for p in parts if p.base.classical is not None},
    )


def _merge_settings(settings: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The first group's sampler settings; the time and count entries summed over the groups."""
    out = dict(settings[0])
    for key in out:
        if key.startswith(("seconds_", "num_")):
            out[key] = sum(s.get(key, 0) for s in settings)
    return out
