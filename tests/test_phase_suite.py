"""The synthetic phase suite (tests/phase_suite.py) through the default analysis, as a user runs it.

The normal tier runs two matrices per generator (all shapes of the suite are covered across the
generators) and requires every unambiguous one to land in its phase; the slow tier runs ten per
generator at two seeds and requires at least 90% MAP-correct per unambiguous generator (the
issue's target; the published table in docs/phases.md has 34 per generator). Both also check
that a spectrum too small to carry a phase gets none, with the reason.
"""

from __future__ import annotations

import warnings

import numpy as np
import phase_suite
import pytest

import rmtfit
from rmtfit.phases import THRESHOLDS


def _run(per_generator: int, seed: int):
    items = list(phase_suite.suite(per_generator, seed=seed))
    weights = {name: w for name, _, w in items}
    weights["tiny.weight"] = np.random.default_rng(seed).normal(size=(12, 9))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # flagged fits and high Pareto k are reported, not errors
        analysis = rmtfit.analyze(weights, seed=seed, quiet=True)
    found = {}
    for name, g, _ in items:
        layer = analysis.layer(name)
        assert layer.ok, (name, layer.reason)
        found[name] = (g, (layer.phase or {}).get("map"))
    return analysis, found


def _check_tiny(analysis) -> None:
    tiny = analysis.layer("tiny.weight")
    minimum = int(THRESHOLDS["min_phase_evals"].value)
    assert tiny.phase is None
    assert f"9 eigenvalues, fewer than the {minimum}" in tiny.reason


def test_every_unambiguous_generator_lands_in_its_phase():
    analysis, found = _run(per_generator=2, seed=0)
    wrong = {
        name: (g.phase, phase)
        for name, (g, phase) in found.items()
        if not g.ambiguous and phase != g.phase
    }
    assert wrong == {}
    _check_tiny(analysis)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_ninety_percent_map_correct_per_unambiguous_generator(seed):
    analysis, found = _run(per_generator=10, seed=seed)
    summary = phase_suite.confusion(list(found.values()), rmtfit.PHASES)
    low = {
        g.name: summary["correct"][g.name]
        for g in phase_suite.GENERATORS
        if not g.ambiguous and summary["correct"][g.name] < 0.9
    }
    assert low == {}, f"seed {seed}: {low}; table {summary['table']}"
    _check_tiny(analysis)
