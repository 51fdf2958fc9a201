"""``load_spectra``: read a checkpoint tensor by tensor and compute its spectra."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from rmtfit.common import ProgressBar
from rmtfit.spectra._types import Skipped, Spectra, Spectrum
from rmtfit.spectra.eigen import DEFAULT_BATCH_BYTES, BatchQueue, make_solver
from rmtfit.spectra.layers import LayerOptions, make_targets, plan_tensor
from rmtfit.spectra.sources import TensorRef, open_source

__all__ = ["load_spectra", "default_network_path", "plan_layers", "LayerPlanList"]

PROGRESS_MIN_TENSORS = 20
"""``progress=True`` shows a bar only for checkpoints with at least this many tensors."""


def default_network_path() -> Path:
    """Path of the small network shipped with rmtfit (a CNN trained on scikit-learn's digits).

    It is made by ``scripts/make_default_network.py``; the safetensors metadata records how.
    """
    path = Path(str(resources.files("rmtfit") / "data" / "default_network.safetensors"))
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: the embedded default network is missing; reinstall rmtfit, or run "
            "scripts/make_default_network.py."
        )
    return path


def load_spectra(
    source: Any,
    *,
    include: str | None = None,
    exclude: str | None = None,
    min_size: int = 1,
    max_size: int | None = None,
    conv: str = "pooled",
    split_qkv: bool = False,
    backend: str = "numpy",
    device: str = "auto",
    method: str = "gram",
    progress: bool = False,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
) -> Spectra:
    """Compute the eigenvalue spectra of every weight matrix in ``source``.

    Parameters
    ----------
    source
        A path to a ``.safetensors``, ``.pt``/``.pth``/``.bin``/``.ckpt`` (torch state dict, loaded
        with ``weights_only=True``; a nested ``state_dict`` or ``model`` entry is unwrapped),
        ``.npz`` or ``.npy`` file; a directory of such files (sharded checkpoints are read
        through their ``*.index.json``); a ``.nc`` file written by :meth:`Spectra.to_netcdf`; a
        ``torch.nn.Module``; a mapping of names to arrays or tensors; or a :class:`Spectra`
        (returned filtered by ``include``/``exclude``/``min_size``/``max_size``).
    include, exclude
        Regular expressions searched in tensor names: only names matching ``include`` and not
        matching ``exclude`` are analysed.
    min_size, max_size
        Bounds on M, the smaller dimension of each matrix (of one slice for a conv kernel).
    conv
        ``"pooled"`` (default): the kernel slices of a conv layer form one spectrum, as
        WeightWatcher's ``pool=True``; ``"slices"``: one spectrum per slice.
    split_qkv
        Split fused attention projections (``in_proj_weight``, ``c_attn``, ``qkv``) into their
        q, k and v thirds instead of analysing them whole.
    backend, device, method
        Eigensolver choices, see :mod:`rmtfit.spectra.eigen`: ``backend`` is ``numpy`` (CPU),
        ``torch`` or ``jax``; ``device="auto"`` takes a GPU when the backend sees one;
        ``method`` is ``gram`` (fast) or ``svd`` (accurate near zero).
    progress
        Show a progress bar on stderr (for checkpoints of 20 tensors or more).
    batch_bytes
        Memory budget of one batched eigensolver call.

    Returns
    -------
    Spectra
        One :class:`Spectrum` per analysed matrix in checkpoint order, and a :class:`Skipped` for
        every tensor not analysed (``failed=True`` for layers that should have been analysed but
        could not: NaN/Inf values, unsupported dtype of a weight, solver failure). ``meta``
        records the solver settings and, under ``"notes"``, remarks per layer (e.g. all-zero
        weights).

    Raises
    ------
    FileNotFoundError, ValueError
        The source cannot be read at all (missing, garbage, unsafe pickle, no tensors), or an
        option is invalid. Problems of single layers never raise.
    """
    options = LayerOptions(include, exclude, min_size, max_size, conv, split_qkv)
    if isinstance(source, str | Path) and Path(source).suffix == ".nc" and Path(source).is_file():
        from rmtfit.spectra._types import read_spectra

        source = read_spectra(source)
    if isinstance(source, Spectra):
        return _filter_spectra(source, options)
    solver = make_solver(backend, device, method, batch_bytes)
    src = open_source(source)
    queue = BatchQueue(solver)
    items: list[Skipped | _Pending] = []
    notes: dict[str, str] = {}
    show_bar = progress and len(src) >= PROGRESS_MIN_TENSORS
    bar = ProgressBar(enabled=show_bar, transient=True)
    label = f"spectra of {Path(src.label).name or src.label}"
    with bar.task(label, total=len(src)) as advance:
        for entry in src.entries:
            items.extend(_process(entry, options, queue, notes))
            advance()
        queue.flush()
    spectra, skipped = _assemble(items, queue)
    meta = {
        "backend": solver.backend,
        "device": solver.device,
        "method": method,
        "conv": conv,
        "split_qkv": split_qkv,
        "notes": notes,
    }
    return Spectra(tuple(spectra), tuple(skipped), source=src.label, meta=meta)


@dataclass(frozen=True)
class LayerPlanList:
    """Which tensors of a checkpoint :func:`load_spectra` would analyse, read from headers only.

    ``names`` are the matrices to analyse (checkpoint order), ``skipped`` the tensors the layer
    rules leave out (biases, norms, other dtypes, names filtered out), ``order`` every entry's
    name in checkpoint order. A matrix named here may still turn out unusable once read (NaN or
    Inf values, all zeros): that is found when its spectrum is computed.
    """

    names: tuple[str, ...]
    skipped: tuple[Skipped, ...]
    order: tuple[str, ...]


def plan_layers(
    source: Any,
    *,
    include: str | None = None,
    exclude: str | None = None,
    min_size: int = 1,
    max_size: int | None = None,
) -> LayerPlanList:
    """The layers of ``source`` that :func:`load_spectra` would analyse, without reading weights.

    Only names, shapes and dtypes are looked at (safetensors headers, the index of a sharded
    folder), so a 100 GB checkpoint is planned in milliseconds; the analysis can then be cut
    into groups of layers, each loaded on its own with ``load_spectra(source, include=...)``
    (:mod:`rmtfit.pipeline` does that for the Dask tasks). The filters are those of
    :func:`load_spectra`; fused-QKV splitting and per-slice conv spectra are not planned (their
    spectra are named after slices, not tensors).
    """
    options = LayerOptions(include, exclude, min_size, max_size, "pooled", False)
    names: list[str] = []
    skipped: list[Skipped] = []
    order: list[str] = []
    for entry in open_source(source).entries:
        order.append(entry.name)
        plan = entry if isinstance(entry, Skipped) else plan_tensor(entry, options)
        if isinstance(plan, Skipped):
            skipped.append(plan)
        else:
            names.append(entry.name)
    return LayerPlanList(tuple(names), tuple(skipped), tuple(order))


@dataclass(frozen=True)
class _Pending:
    """What is kept of a queued target until its eigenvalues are solved (not the matrices)."""

    name: str
    kind: str
    N: int  # noqa: N815
    M: int  # noqa: N815
    num_slices: int
    origin: str


def _process(
    entry: TensorRef | Skipped, options: LayerOptions, queue: BatchQueue, notes: dict[str, str]
) -> Iterator[Skipped | _Pending]:
    """Turn one entry into skipped records or queued targets (reading the tensor once)."""
    if isinstance(entry, Skipped):
        yield entry
        return
    plan = plan_tensor(entry, options)
    if isinstance(plan, Skipped):
        yield plan
        return
    try:
        array = entry.read()
    except Exception as exc:  # one unreadable tensor never stops the run
        yield Skipped(
            entry.name, entry.shape, f"could not be read ({type(exc).__name__}: {exc})", True
        )
        return
    problem = _non_finite(array)
    if problem:
        yield Skipped(entry.name, entry.shape, f"{problem}; the layer was not analysed", True)
        return
    degenerate = _degenerate(array)
    if degenerate:
        yield Skipped(entry.name, entry.shape, f"{degenerate}; the layer was not analysed", False)
        return
    if plan.note:
        notes[entry.name] = plan.note
    for target in make_targets(array, plan, options.conv):
        queue.add(target.name, target.slices)
        yield _Pending(
            target.name, target.kind, target.N, target.M, target.slices.shape[0], entry.origin
        )


def _degenerate(array: np.ndarray) -> str:
    """Describe a matrix with no spectrum to fit (all zero, or one value everywhere), else "".

    An all-zero tensor has every eigenvalue at 0 and a constant one a single non-zero eigenvalue
    (``c^2 N M``) and M - 1 zeros: neither has a bulk or a tail, so no likelihood, classical
    estimate or phase applies. They are reported as skipped with this reason.
    """
    if array.size == 0:
        return ""
    first = array.flat[0]
    if not np.all(array == first):
        return ""
    if first == 0:
        return "all weights are zero (an untrained, pruned or unused layer): every eigenvalue is 0"
    return (
        f"every weight equals {float(first):.6g}: a rank-one matrix whose spectrum is one "
        "eigenvalue and zeros, with no bulk to fit"
    )


def _non_finite(array: np.ndarray) -> str:
    """Describe NaN/Inf values in ``array``, or return "" when all values are finite."""
    # fast path: a NaN or Inf anywhere makes the sum non-finite. It is taken in the array's own
    # precision (float16 in float32, where it cannot overflow), a third of the cost of a float64
    # sum; a sum that overflowed although every value is finite is caught by the count below.
    accumulator = np.float32 if array.dtype == np.float16 else None
    with np.errstate(invalid="ignore", over="ignore"):
        total = np.sum(array, dtype=accumulator)
    if np.isfinite(total):
        return ""
    n_nan = int(np.isnan(array).sum())
    n_inf = int(np.isinf(array).sum())
    if n_nan == n_inf == 0:  # the sum of huge values overflowed; all are finite
        return ""
    return f"contains {n_nan} NaN and {n_inf} Inf values"


def _assemble(
    items: Iterable[Skipped | _Pending], queue: BatchQueue
) -> tuple[list[Spectrum], list[Skipped]]:
    spectra: list[Spectrum] = []
    skipped: list[Skipped] = []
    for item in items:
        if isinstance(item, Skipped):
            skipped.append(item)
            continue
        if item.name in queue.errors:
            shape = (item.num_slices, item.N, item.M) if item.num_slices > 1 else (item.N, item.M)
            skipped.append(Skipped(item.name, shape, queue.errors[item.name], failed=True))
            continue
        spectra.append(
            Spectrum(
                name=item.name,
                kind=item.kind,
                N=item.N,
                M=item.M,
                eigenvalues=np.sort(queue.results.pop(item.name).ravel()),
                scaling=1.0,
                source=item.origin,
                num_slices=item.num_slices,
            )
        )
    return spectra, skipped


def _filter_spectra(spectra: Spectra, options: LayerOptions) -> Spectra:
    """Apply the name and size filters to spectra computed earlier."""
    kept, skipped = [], list(spectra.skipped)
    for s in spectra:
        reason = ""
        if options.include is not None and not re.search(options.include, s.name):
            reason = f"name does not match include={options.include!r}"
        elif options.exclude is not None and re.search(options.exclude, s.name):
            reason = f"name matches exclude={options.exclude!r}"
        elif s.M < options.min_size:
            reason = f"M={s.M} is below min_size={options.min_size}"
        elif options.max_size is not None and s.M > options.max_size:
            reason = f"M={s.M} is above max_size={options.max_size}"
        if reason:
            skipped.append(Skipped(s.name, (s.N, s.M), reason))
        else:
            kept.append(s)
    return Spectra(tuple(kept), tuple(skipped), source=spectra.source, meta=dict(spectra.meta))
