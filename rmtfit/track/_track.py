"""Analyse every checkpoint of a series and line up alpha and the phases over the steps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rmtfit.common import CI_PROB, check_ci_prob
from rmtfit.distributed import TaskFailed, connect, run_tasks
from rmtfit.network import compare_networks
from rmtfit.track._series import Checkpoint, checkpoint_series

__all__ = ["NETWORK", "Trajectory", "track", "CheckpointResult"]

NETWORK = "network"
"""The name under which the network-level series are stored (next to the layers' names)."""


@dataclass(frozen=True)
class CheckpointResult:
    """What the trajectory keeps of one checkpoint's analysis (small and picklable)."""

    checkpoint: Checkpoint
    network: Any = None  # rmtfit.network.NetworkMetrics, or None when no layer has alpha
    phases: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    failed: Mapping[str, str] = field(default_factory=dict)
    error: str = ""


@dataclass(frozen=True)
class Trajectory:
    """alpha and the phases of every layer and of the network over the checkpoints of a run.

    Attributes
    ----------
    checkpoints
        The series, in step order.
    layers
        Layer names (those of the first checkpoint that has them, in order), then :data:`NETWORK`.
    alpha
        ``alpha[name][i]``: ``{"mean", "sd", "low", "high"}`` of alpha at checkpoint ``i`` (the
        equal-tailed ``ci_prob`` interval), or ``None`` where the layer has no alpha posterior.
        For :data:`NETWORK` it is the mean over layers, drawn jointly (``rmtfit.network``).
    decreased
        ``decreased[name][i]``: ``P(alpha at checkpoint i+1 < alpha at checkpoint i)`` over
        independent posterior draws (ties count one half), or ``None``.
    phases
        ``phases[name][i]``: phase -> probability at checkpoint ``i`` (``None`` without one). For
        :data:`NETWORK`, the expected share of layers in each phase (mean over layers).
    failed
        ``failed[i]``: layer -> reason for the layers of checkpoint ``i`` that failed; a checkpoint
        that could not be analysed at all has the reason under ``"*"``.
    """

    checkpoints: tuple[Checkpoint, ...]
    layers: tuple[str, ...]
    alpha: Mapping[str, tuple[Mapping[str, float] | None, ...]]
    decreased: Mapping[str, tuple[float | None, ...]]
    phases: Mapping[str, tuple[Mapping[str, float] | None, ...]]
    failed: tuple[Mapping[str, str], ...]
    ci_prob: float = CI_PROB
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> tuple[float, ...]:
        return tuple(c.step for c in self.checkpoints)

    def to_dict(self) -> dict[str, Any]:
        """The content of ``trajectory.json`` (format ``rmtfit.trajectory/1``)."""
        return {
            "format": "rmtfit.trajectory/1",
            "ci_prob": self.ci_prob,
            "settings": dict(self.settings),
            "checkpoints": [
                {"path": c.path, "step": c.step, "label": c.label, "failed": dict(f)}
                for c, f in zip(self.checkpoints, self.failed, strict=True)
            ],
            "layers": {
                name: {
                    "alpha": list(self.alpha[name]),
                    "p_alpha_decreased": list(self.decreased[name]),
                    "phases": list(self.phases[name]),
                }
                for name in self.layers
            },
        }

    def rows(self) -> list[dict[str, Any]]:
        """One row per (layer, checkpoint): the long table of ``trajectory.csv``."""
        out = []
        for name in self.layers:
            for i, c in enumerate(self.checkpoints):
                alpha = self.alpha[name][i] or {}
                phases = self.phases[name][i] or {}
                out.append(
                    {
                        "layer": name,
                        "step": c.step,
                        "checkpoint": c.label,
                        **{f"alpha_{k}": alpha.get(k) for k in ("mean", "sd", "low", "high")},
                        "p_alpha_decreased": self.decreased[name][i - 1] if i else None,
                        "map_phase": max(phases, key=phases.get) if phases else None,
                        **{f"p_{k}": v for k, v in phases.items()},
                    }
                )
        return out

    def __repr__(self) -> str:
        net = [a["mean"] if a else float("nan") for a in self.alpha.get(NETWORK, ())]
        text = ", ".join(f"{s:g}: {a:.3g}" for s, a in zip(self.steps, net, strict=True))
        return f"Trajectory({len(self.checkpoints)} checkpoints, {len(self.layers) - 1} layers; network alpha {text})"


def track(
    checkpoints: Sequence[str | Path],
    *,
    steps: Sequence[float] | None = None,
    client: Any = None,
    layers: str | None = None,
    likelihoods: Any = None,
    seed: int = 0,
    draws: int | None = None,
    chains: int | None = None,
    device: str = "auto",
    ci_prob: float = CI_PROB,
    quiet: bool = False,
) -> Trajectory:
    """Analyse each checkpoint of a training run and line up alpha and the phases over steps.

    Parameters
    ----------
    checkpoints, steps
        The series (see :func:`rmtfit.track.checkpoint_series`): several paths in training
        order, or one folder of checkpoints; ``steps`` their training steps.
    client
        A ``dask.distributed.Client`` or a scheduler string (``"local:N"``,
        ``"tcp://HOST:PORT"``): each checkpoint is one task. Default: one after the other here.
    layers, likelihoods, seed, draws, chains, device, ci_prob
        As for :func:`rmtfit.analyze` (full mode). Checkpoint ``i`` is analysed with seed
        ``seed + i``, so that the posteriors of two checkpoints are independent draws.
    quiet
        No progress bars.

    Returns
    -------
    Trajectory
        A checkpoint that cannot be analysed is kept, with its reason, and holes in the series.
    """
    check_ci_prob(ci_prob)
    series = checkpoint_series(checkpoints, steps=steps)
    options = {
        "layers": layers,
        "likelihoods": likelihoods,
        "draws": draws,
        "chains": chains,
        "device": device,
        "ci_prob": float(ci_prob),
        "quiet": True,
    }
    items = {c.label: (c, {**options, "seed": int(seed) + i}) for i, c in enumerate(series)}
    if isinstance(client, str):
        with connect(client) as connected:
            found = run_tasks(connected, analyze_checkpoint, items, label="rmtfit-track")
    else:
        found = _run(client, items, quiet)
    results = [
        CheckpointResult(c, error=found[c.label].reason)
        if isinstance(found[c.label], TaskFailed)
        else found[c.label]
        for c in series
    ]
    settings = {k: v for k, v in options.items() if k != "quiet"} | {"seed": int(seed)}
    return assemble(results, ci_prob=float(ci_prob), seed=int(seed), settings=settings)


def _run(client: Any, items: Mapping[str, Any], quiet: bool) -> dict[str, Any]:
    from rmtfit.common import ProgressBar

    with (
        ProgressBar(enabled=not quiet) as bar,
        bar.task("checkpoints", total=len(items)) as advance,
    ):
        return run_tasks(
            client, analyze_checkpoint, items, on_result=lambda *_: advance(), label="rmtfit-track"
        )


def analyze_checkpoint(checkpoint: Checkpoint, options: Mapping[str, Any]) -> CheckpointResult:
    """One task: the full analysis of one checkpoint, reduced to what the trajectory needs."""
    from rmtfit.pipeline import analyze

    try:
        analysis = analyze(checkpoint.path, **options)
    except (OSError, ValueError) as exc:  # an unreadable checkpoint is a hole, not the end
        return CheckpointResult(checkpoint, error=f"{type(exc).__name__}: {exc}")
    phases = {
        r.name: dict(r.phase["probabilities"]) for r in analysis.layers if r.phase is not None
    }
    failed = {r.name: r.reason for r in analysis.failed}
    return CheckpointResult(checkpoint, analysis.network, phases, failed)


def assemble(
    results: Sequence[CheckpointResult], *, ci_prob: float, seed: int, settings: Mapping[str, Any]
) -> Trajectory:
    """The :class:`Trajectory` of the checkpoints' results (in step order)."""
    names: list[str] = []
    for r in results:
        if r.network is not None:
            names.extend(n for n in r.network.layers if n not in names)
        names.extend(n for n in r.phases if n not in names)
    alpha = {n: tuple(_alpha(r, n, ci_prob) for r in results) for n in (*names, NETWORK)}
    phases = {n: tuple(r.phases.get(n) for r in results) for n in names}
    phases[NETWORK] = tuple(_network_phases(r) for r in results)
    decreased: dict[str, list[float | None]] = {n: [] for n in (*names, NETWORK)}
    for i, (a, b) in enumerate(zip(results, results[1:], strict=False)):
        found = _decreased(a, b, ci_prob, seed + i)
        for n in decreased:
            decreased[n].append(found.get(n))
    failed = tuple({**r.failed, **({"*": r.error} if r.error else {})} for r in results)
    return Trajectory(
        checkpoints=tuple(r.checkpoint for r in results),
        layers=(*names, NETWORK),
        alpha=alpha,
        decreased={n: tuple(v) for n, v in decreased.items()},
        phases=phases,
        failed=failed,
        ci_prob=ci_prob,
        settings=dict(settings),
    )


def _alpha(result: CheckpointResult, name: str, ci_prob: float) -> dict[str, float] | None:
    metrics = result.network
    if metrics is None:
        return None
    draws = (
        metrics.network.get("alpha")
        if name == NETWORK
        else metrics.draws.get(name, {}).get("alpha")
    )
    if draws is None:
        return None
    low, high = np.quantile(draws, [(1 - ci_prob) / 2, (1 + ci_prob) / 2])
    sd = float(np.std(draws, ddof=1)) if draws.size > 1 else 0.0
    return {"mean": float(np.mean(draws)), "sd": sd, "low": float(low), "high": float(high)}


def _network_phases(result: CheckpointResult) -> dict[str, float] | None:
    if not result.phases:
        return None
    keys = list(next(iter(result.phases.values())))
    return {k: float(np.mean([p.get(k, 0.0) for p in result.phases.values()])) for k in keys}


def _decreased(
    a: CheckpointResult, b: CheckpointResult, ci_prob: float, seed: int
) -> dict[str, float]:
    """``P(alpha_b < alpha_a)`` per layer present in both (same name) and for the network."""
    if a.network is None or b.network is None:
        return {}
    if "alpha" not in a.network.network or "alpha" not in b.network.network:
        return {}
    comparison = compare_networks(a.network, b.network, ci_prob=ci_prob, seed=seed)
    out = {}
    for row in comparison.rows:
        if row["metric"] != "alpha" or row["layer_a"] != row["layer_b"]:
            continue  # layers matched by shape only are different layers of a trajectory
        name = row["layer_a"] if row["layer_a"] in a.network.layers else NETWORK
        out[name] = 1.0 - float(row["p_a_below_b"])  # P(B < A), ties one half either way
    return out
