"""Submit one Dask task per item and collect the results as they finish."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["TaskFailed", "run_tasks", "num_workers"]


@dataclass(frozen=True)
class TaskFailed:
    """What a task left instead of a result: its item's key and why it gave none.

    A task fails when its function raises, or when every worker that ran it died (Dask retries a
    task whose worker died on another worker, up to ``distributed.scheduler.allowed-failures``
    times, then raises ``KilledWorker``: usually a task that needs more memory than a worker has).
    """

    key: str
    reason: str


def num_workers(client: Any) -> int:
    """How many workers the client's scheduler has now (at least 1; 1 for ``None``)."""
    if client is None:
        return 1
    return max(1, len(client.scheduler_info().get("workers", {})))


def run_tasks(
    client: Any,
    function: Callable[..., Any],
    items: Mapping[str, Sequence[Any]],
    *,
    on_result: Callable[[str, Any], None] | None = None,
    label: str = "rmtfit",
) -> dict[str, Any]:
    """Run ``function(*items[key])`` as one Dask task per key; ``{key: result or TaskFailed}``.

    Parameters
    ----------
    client
        A ``distributed.Client``; ``None`` runs the tasks one after the other in this process
        (no Dask needed: the same parts, the same callback, e.g. for a resumable serial run).
    function
        A module-level function (workers import it by name), whose arguments and result pickle.
    items
        Key -> the positional arguments of its task.
    on_result
        Called on this process with ``(key, result)`` as each task finishes, in the order they
        finish: the place to write a finished part to disk, so that nothing finished is lost if
        the run stops later.
    label
        Prefix of the Dask task keys (shown on the dashboard).

    Notes
    -----
    A worker that dies takes its running task with it; the scheduler reruns that task on another
    worker, and results already sent back are kept. Task keys are unique per call (a random
    suffix), so two runs on one shared scheduler never share a result.
    """
    if client is None:
        return _run_here(function, items, on_result)
    from distributed import as_completed

    run = uuid.uuid4().hex[:8]
    futures = {
        client.submit(function, *args, key=f"{label}-{run}-{i}", pure=False): key
        for i, (key, args) in enumerate(items.items())
    }
    out: dict[str, Any] = {}
    for future in as_completed(list(futures)):
        key = futures.pop(future)
        try:
            value = future.result()
        except Exception as exc:  # the task's own error, or KilledWorker: one item fails alone
            value = TaskFailed(key, f"{type(exc).__name__}: {_first_line(exc)}")
        finally:
            future.release()
        out[key] = value
        if on_result is not None:
            on_result(key, value)
    return out


def _run_here(
    function: Callable[..., Any],
    items: Mapping[str, Sequence[Any]],
    on_result: Callable[[str, Any], None] | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, args in items.items():
        try:
            value = function(*args)
        except Exception as exc:  # as on a cluster: one item fails alone
            value = TaskFailed(key, f"{type(exc).__name__}: {_first_line(exc)}")
        out[key] = value
        if on_result is not None:
            on_result(key, value)
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
