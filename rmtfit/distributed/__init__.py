"""Work as Dask tasks: a scheduler from one string, tasks that survive a dead worker, parts on disk.

This package knows nothing of layers or likelihoods; :mod:`rmtfit.pipeline` (layers of one network)
and :mod:`rmtfit.track` (checkpoints of one training run) give it their work:

- :func:`parse_scheduler` and :func:`connect`: ``"local:N"`` starts a ``LocalCluster`` of N worker
  processes (one thread each) on this machine, ``"tcp://HOST:PORT"`` joins a running scheduler
  (``dask scheduler``, dask-jobqueue, Kubernetes);
- :func:`run_tasks`: submit one task per item, collect results as they finish (each one handed to
  a callback at once, so a caller can write it to disk), and turn a task that kept killing its
  workers into a :class:`TaskFailed` value rather than an exception: one bad item never ends a run;
- :class:`PartStore`: a folder of finished parts, one file per part written atomically, with a
  fingerprint of the settings so that ``resume`` never mixes parts of two different runs.

Dask is imported only inside these functions: ``import rmtfit`` and every run without a
scheduler never import it (``pip install 'rmtfit[dask]'`` for the extra).
"""

from rmtfit.distributed._client import connect, parse_scheduler, require_dask
from rmtfit.distributed._run import TaskFailed, num_workers, run_tasks
from rmtfit.distributed._store import PartStore

__all__ = [
    "PartStore",
    "TaskFailed",
    "connect",
    "num_workers",
    "parse_scheduler",
    "require_dask",
    "run_tasks",
]
