"""A training run's checkpoints side by side: how alpha and the phases move over steps.

:func:`track` analyses each checkpoint (one after the other, or as Dask tasks with ``client=``),
and returns a :class:`Trajectory`: per layer and for the network, the posterior of alpha (mean
and credible interval) and the phase probabilities at every step, and ``P(alpha decreased)``
between consecutive checkpoints, computed from the posterior draws by
:func:`rmtfit.network.compare_networks` (the same comparison as ``rmtfit compare``).
:func:`write_trajectory` writes ``trajectory.json``, ``trajectory.csv``, the figure
``trajectory.png`` and the self-contained page ``trajectory.html``; ``rmtfit track`` does both.
"""

from rmtfit.track._page import TRAJECTORY_FILES, trajectory_figure, write_trajectory
from rmtfit.track._series import Checkpoint, checkpoint_series
from rmtfit.track._track import NETWORK, Trajectory, track

__all__ = [
    "NETWORK",
    "TRAJECTORY_FILES",
    "Checkpoint",
    "Trajectory",
    "checkpoint_series",
    "track",
    "trajectory_figure",
    "write_trajectory",
]
