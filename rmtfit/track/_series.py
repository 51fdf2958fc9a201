"""Which checkpoints form the series, in which order, at which training steps."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rmtfit.spectra.sources import WEIGHT_SUFFIXES, natural_key

__all__ = ["Checkpoint", "checkpoint_series"]

_TRAILING_INT = re.compile(r"(\d+)$")


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint of the series: its path, its training step and a short label."""

    path: str
    step: float
    label: str


def checkpoint_series(
    paths: Sequence[str | Path], *, steps: Sequence[float] | None = None
) -> tuple[Checkpoint, ...]:
    """The checkpoints of a training run, in order.

    Parameters
    ----------
    paths
        Two or more checkpoints (files, or folders of shards), in training order; or one folder
        that holds them (its weight files and sub-folders, in natural order of their names:
        ``step-9`` before ``step-10``).
    steps
        The training step of each checkpoint. By default the number that ends each name
        (``checkpoint-1200``, ``step_300.safetensors``) when every name has a different one,
        else the position 0, 1, 2, ...

    Raises
    ------
    FileNotFoundError, ValueError
        A path is missing, fewer than two checkpoints, or ``steps`` of the wrong length or not
        increasing.
    """
    found = [Path(p) for p in paths]
    for path in found:
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or folder; check the path.")
    if len(found) == 1 and found[0].is_dir() and not _is_checkpoint_folder(found[0]):
        found = sorted(
            (c for c in found[0].iterdir() if _is_checkpoint(c)), key=lambda c: natural_key(c.name)
        )
    if len(found) < 2:
        raise ValueError(
            f"a trajectory needs two or more checkpoints; got {len(found)} "
            f"({', '.join(map(str, paths))}): pass several checkpoints or a folder of them."
        )
    labels = [_label(p) for p in found]
    if steps is None:  # steps read from the names put the checkpoints in step order
        values = _steps_from_names(labels)
        order = sorted(range(len(found)), key=values.__getitem__)
        found, labels, values = ([x[i] for i in order] for x in (found, labels, values))
    else:
        values = [float(s) for s in steps]
    if len(values) != len(found):
        raise ValueError(
            f"steps: {len(values)} values for {len(found)} checkpoints; give one step each."
        )
    if any(b <= a for a, b in zip(values, values[1:], strict=False)):
        raise ValueError(
            f"steps {values} are not increasing; list the checkpoints in training order."
        )
    return tuple(
        Checkpoint(str(p), s, lab) for p, s, lab in zip(found, values, labels, strict=True)
    )


def _is_checkpoint_folder(path: Path) -> bool:
    """A folder that is one (sharded) checkpoint: it has an index or only shard files."""
    if any(path.glob("*.index.json")):
        return True
    children = [c for c in path.iterdir() if not c.name.startswith(".")]
    return bool(children) and all(c.is_file() for c in children) and len(children) == 1


def _is_checkpoint(path: Path) -> bool:
    if path.name.startswith("."):
        return False
    return path.is_dir() or path.suffix in WEIGHT_SUFFIXES


def _label(path: Path) -> str:
    name = path.name
    for suffix in WEIGHT_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _steps_from_names(labels: Sequence[str]) -> list[float]:
    numbers = [_TRAILING_INT.search(label) for label in labels]
    if all(numbers):
        values = [float(m.group(1)) for m in numbers if m]
        if len(set(values)) == len(values):
            return values
    return [float(i) for i in range(len(labels))]
