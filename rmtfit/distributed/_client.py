"""Which Dask scheduler to use, from one string, and a client on it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["parse_scheduler", "connect", "require_dask"]

_LOCAL = re.compile(r"local:(\d+)")
_TCP = re.compile(r"(tcp|tls)://[^\s:/]+:\d+")
SCHEDULER_FORMS = "'local:N' (N worker processes on this machine) or 'tcp://HOST:PORT'"


def parse_scheduler(spec: str) -> tuple[str, Any]:
    """``("local", N)`` or ``("address", "tcp://HOST:PORT")`` from a ``--scheduler`` value.

    Raises
    ------
    ValueError
        The string has neither form, or N is below 1.
    """
    text = str(spec).strip()
    local = _LOCAL.fullmatch(text)
    if local:
        workers = int(local.group(1))
        if workers < 1:
            raise ValueError(f"scheduler {spec!r}: local:N needs N >= 1 worker processes.")
        return "local", workers
    if _TCP.fullmatch(text):
        return "address", text
    raise ValueError(f"scheduler {spec!r} is not understood; use {SCHEDULER_FORMS}.")


def require_dask() -> None:
    """Raise an ImportError with the install line when ``dask.distributed`` is missing."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ImportError(
            "running on a Dask scheduler needs dask.distributed: pip install 'rmtfit[dask]' "
            "(or run without --scheduler / client=)."
        ) from None


@contextmanager
def connect(spec: str, *, memory_limit: str | int = "auto") -> Iterator[Any]:
    """A ``distributed.Client`` for ``spec`` (see :func:`parse_scheduler`), closed on exit.

    ``local:N`` starts N worker processes with one thread each (the fits of a layer are
    single-threaded NumPyro/JAX work: processes, not threads, run them side by side) and stops
    them on exit; an address joins a scheduler somebody else runs and leaves it running.
    """
    kind, value = parse_scheduler(spec)
    require_dask()
    from distributed import Client, LocalCluster

    if kind == "local":
        cluster = LocalCluster(
            n_workers=value,
            threads_per_worker=1,
            processes=True,
            memory_limit=memory_limit,
            dashboard_address=None,
        )
        try:
            with Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    try:
        client = Client(value, timeout="30s")
    except OSError as exc:
        raise OSError(
            f"scheduler {value}: cannot connect ({exc}); is `dask scheduler` running there and "
            "reachable from this machine?"
        ) from None
    with client:
        yield client
