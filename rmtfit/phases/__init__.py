"""The 5+1 phases of training as posterior probabilities per layer.

:func:`phase_probabilities` states each phase as a condition on the posterior of a fitted
full-spectrum likelihood and averages the conditions with the stacking weights of
:func:`rmtfit.comparison.compare`. Which rule applies to a likelihood is its declared kind
(:class:`rmtfit.Roles`: ``mp`` or ``tail``), and the draws it reads are those of its declared
roles, so a user's likelihood takes part exactly as a built-in does. Every number of the rules
lives in :data:`THRESHOLDS` (:mod:`rmtfit.phases._thresholds`) with its source; the rules are in
:mod:`rmtfit.phases._phases`; ``docs/phases.md`` explains and calibrates both.
"""

from rmtfit.phases._phases import (
    network_phases,
    phase_probabilities,
    rank_collapse_probability,
    summarize_phases,
)
from rmtfit.phases._results import PhaseResult, PhaseSummary
from rmtfit.phases._thresholds import PHASE_LABELS, PHASES, THRESHOLDS, Threshold

__all__ = [
    "PHASES",
    "PHASE_LABELS",
    "THRESHOLDS",
    "PhaseResult",
    "PhaseSummary",
    "Threshold",
    "network_phases",
    "phase_probabilities",
    "rank_collapse_probability",
    "summarize_phases",
]
