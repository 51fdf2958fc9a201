"""Statistical criteria shared by the recovery and calibration tests, written once.

Every criterion is a two-sided test at a stated false-alarm rate, so a posterior that is too
narrow, too wide or biased fails it, and a calibrated one fails it rarely (``TAIL`` on each side
of each check). The criteria themselves are tested in ``tests/test_stat_checks.py``.

* **Coverage at the nominal rate.** Each replicate's central ``prob`` interval (equal-tailed
  quantiles of its posterior draws) either covers the truth or not; for a calibrated posterior
  the count of covering replicates is Binomial(n, prob), so it must lie between the ``TAIL`` and
  ``1 - TAIL`` quantiles of that binomial. Checked at 50% and 90%. (Exact when the truths are
  drawn from the prior; at fixed truths it is the Bernstein-von Mises approximation.)
* **Spread of the z-scores** z = (posterior mean - truth) / posterior sd. For a calibrated
  posterior E[z] = 0 and E[z^2] = 1 (exactly when the truths come from the prior: given the
  data, the truth is a posterior draw); for a Gaussian posterior sum z^2 ~ chi^2_n and
  mean z ~ N(0, 1/n). Checked: sum z^2 within the ``TAIL`` and ``1 - TAIL`` quantiles of chi^2_n
  (catches an sd too small or too large), |mean z| <= Phi^-1(1 - TAIL) / sqrt(n) (catches a bias).
* **SBC ranks** (Talts et al. 2018): with ``L`` posterior draws the rank of the truth takes the
  ``L + 1`` values 0..L, uniformly for a calibrated sampler. The histogram has ``bins`` bins of
  exactly ``(L + 1) / bins`` rank values each (an error otherwise), so the chi-square test of
  uniformity compares like with like.

Seeds: the slow tier runs each statistical test at every seed of :data:`SEEDS`, parametrised by
:data:`over_seeds` so that a failure's test id names its seed. The list is
``RMTFIT_TEST_SEEDS`` (comma-separated, e.g. ``RMTFIT_TEST_SEEDS=0,1,2`` for the multi-seed run
of :data:`SEED_LIST`); unset, it is the first seed of the list only, which is what CI runs (all
three seeds roughly triple the slow tier, past CI's 30-minute budget on 2 cores).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats

TAIL = 0.001
"""False-alarm probability on each side of each two-sided check (binomial, chi-square, normal)."""

PROBS = (0.5, 0.9)
"""Central interval probabilities whose coverage is checked."""

SBC_DRAWS = 99
"""Posterior draws per SBC rank: 100 possible ranks, so 5, 10, 20 or 25 bins are exact."""


SEED_LIST = (0, 1, 2)
"""The seeds the slow statistical tier is checked at (``RMTFIT_TEST_SEEDS=0,1,2``)."""


def _seeds_from_env() -> tuple[int, ...]:
    text = os.environ.get("RMTFIT_TEST_SEEDS", "").strip()
    if not text:
        return SEED_LIST[:1]
    try:
        seeds = tuple(int(s) for s in text.replace(" ", "").split(",") if s)
    except ValueError:
        raise ValueError(
            f"RMTFIT_TEST_SEEDS={text!r} is not a comma-separated list of integers; "
            "set it like RMTFIT_TEST_SEEDS=0,1,2 or unset it"
        ) from None
    if not seeds or min(seeds) < 0:
        raise ValueError(f"RMTFIT_TEST_SEEDS={text!r} must list non-negative integers, e.g. 0,1,2")
    return seeds


SEEDS = _seeds_from_env()
"""Seeds of the slow statistical tier (the reduced tier runs one fixed seed)."""

over_seeds = pytest.mark.parametrize("seed", SEEDS, ids=[f"seed{s}" for s in SEEDS])
"""Parametrise a slow statistical test over :data:`SEEDS`; the test id names the seed."""


# ----------------------------------------------------------------------- coverage and z-scores


def binomial_range(n: int, prob: float, tail: float = TAIL) -> tuple[int, int]:
    """Counts of covering replicates, out of ``n``, accepted for a ``prob`` interval."""
    law = stats.binom(n, prob)
    return int(law.ppf(tail)), int(law.ppf(1.0 - tail))


def interval_covers(draws: Sequence[np.ndarray], truth: Sequence[float], prob: float) -> np.ndarray:
    """Whether each replicate's central ``prob`` interval (equal-tailed) covers its truth."""
    truth = np.broadcast_to(np.asarray(truth, dtype=np.float64), (len(draws),))
    out = np.empty(len(draws), dtype=bool)
    for i, d in enumerate(draws):
        lo, hi = np.quantile(np.ravel(d), [(1.0 - prob) / 2.0, (1.0 + prob) / 2.0])
        out[i] = lo <= truth[i] <= hi
    return out


@dataclass(frozen=True)
class Calibration:
    """Coverage counts and z-score summary of one parameter over ``replicates`` fits."""

    parameter: str
    replicates: int
    covered: tuple[tuple[float, int, int, int], ...]
    """(prob, covering replicates, lowest accepted, highest accepted) per interval."""
    z_mean: float
    z_square_sum: float
    failures: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.failures

    def __str__(self) -> str:
        cover = ", ".join(
            f"{p:.0%} interval covers {k}/{self.replicates} (accepted {lo}..{hi})"
            for p, k, lo, hi in self.covered
        )
        z = (
            f"; z-scores: mean {self.z_mean:+.3f}, mean square "
            f"{self.z_square_sum / self.replicates:.3f}"
            if np.isfinite(self.z_square_sum)
            else ""
        )
        verdict = "ok" if self.ok else "FAILED: " + "; ".join(self.failures)
        return f"{self.parameter}: {cover}{z} -> {verdict}"


def check_calibration(
    draws: Sequence[np.ndarray],
    truth: Sequence[float] | float,
    parameter: str,
    *,
    probs: Sequence[float] = PROBS,
    tail: float = TAIL,
    discrete: bool = False,
) -> Calibration:
    """Coverage of the central ``probs`` intervals and the z-score spread, as in the module doc.

    ``draws[i]`` holds replicate ``i``'s posterior draws (any shape) and ``truth[i]`` its true
    value. ``discrete=True`` (an integer parameter such as a spike count): quantile intervals of
    integer draws include their end points and over-cover, and the sd can be 0, so only too few
    covering replicates is a failure and the z-scores are not checked.
    """
    n = len(draws)
    if n == 0:
        raise ValueError(f"{parameter}: no replicates to check")
    truth = np.broadcast_to(np.asarray(truth, dtype=np.float64), (n,))
    failures, covered = [], []
    for prob in probs:
        k = int(interval_covers(draws, truth, prob).sum())
        lo, hi = binomial_range(n, prob, tail)
        covered.append((prob, k, lo, hi))
        if k < lo or (k > hi and not discrete):
            side = "too narrow or biased" if k < lo else "too wide"
            failures.append(f"{prob:.0%} coverage {k}/{n} outside {lo}..{hi} ({side})")
    z_mean = z_square_sum = float("nan")
    if not discrete:
        mean = np.array([np.mean(d) for d in draws])
        sd = np.array([np.std(d, ddof=1) for d in draws])
        if np.any(sd <= 0):
            failures.append(f"posterior sd is 0 in {int(np.sum(sd <= 0))} replicates")
        else:
            z = (mean - truth) / sd
            z_mean, z_square_sum = float(z.mean()), float(np.sum(z**2))
            lo, hi = stats.chi2(n).ppf([tail, 1.0 - tail])
            if not lo <= z_square_sum <= hi:
                side = "sd too small or biased" if z_square_sum > hi else "sd too large"
                failures.append(
                    f"sum z^2 = {z_square_sum:.1f} outside chi2_{n} range {lo:.1f}..{hi:.1f} ({side})"
                )
            bound = stats.norm.ppf(1.0 - tail) / np.sqrt(n)
            if abs(z_mean) > bound:
                failures.append(f"mean z = {z_mean:+.3f} beyond +-{bound:.3f} (biased)")
    return Calibration(parameter, n, tuple(covered), z_mean, z_square_sum, tuple(failures))


# ------------------------------------------------------------------------------------- SBC


def thin(draws: np.ndarray, num_draws: int = SBC_DRAWS) -> np.ndarray:
    """``num_draws`` draws spread evenly over each chain of ``draws`` (chain, draw), flattened."""
    draws = np.asarray(draws)
    chains, per_chain = draws.shape[:2]
    keep = -(-num_draws // chains)
    if keep > per_chain:
        raise ValueError(f"{chains} chains of {per_chain} draws cannot give {num_draws} draws")
    return draws[:, :: per_chain // keep][:, :keep].reshape(-1)[:num_draws]


def sbc_rank(draws: np.ndarray, truth: float, rng: np.random.Generator) -> int:
    """Rank of ``truth`` among ``draws`` (0..len(draws)); ties get a uniformly random rank."""
    draws = np.ravel(draws)
    below = int(np.sum(draws < truth))
    ties = int(np.sum(draws == truth))
    return below + int(rng.integers(0, ties + 1))


def rank_histogram(ranks: np.ndarray, num_draws: int, bins: int) -> np.ndarray:
    """Counts of ``ranks`` (0..num_draws) in ``bins`` bins of equally many rank values."""
    ranks = np.asarray(ranks)
    values = num_draws + 1
    if values % bins:
        raise ValueError(
            f"{num_draws} draws give {values} possible ranks, which {bins} bins cannot split "
            f"evenly; thin to L = {bins} * k - 1 draws (e.g. {bins * (values // bins) - 1})"
        )
    if ranks.size and (ranks.min() < 0 or ranks.max() > num_draws):
        raise ValueError(f"ranks must lie in 0..{num_draws}; got {ranks.min()}..{ranks.max()}")
    return np.bincount(ranks // (values // bins), minlength=bins)


def rank_uniformity(ranks: np.ndarray, num_draws: int, bins: int) -> tuple[float, np.ndarray]:
    """Chi-square p-value of uniform ranks and the histogram it was computed from."""
    counts = rank_histogram(ranks, num_draws, bins)
    return float(stats.chisquare(counts).pvalue), counts


# ----------------------------------------------------------------------------------- warnings


@contextlib.contextmanager
def recorded_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """Record every warning raised inside (none is shown, ignored or turned into an error)."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        yield record


def check_warnings(
    record: Sequence[warnings.WarningMessage],
    expected: tuple[type[Warning], ...],
    *,
    flagged: int,
    max_flagged: int,
    why: str,
) -> Counter:
    """Only ``expected`` kinds were warned, one per flagged fit, and at most ``max_flagged``.

    Returns the count of each kind; ``why`` (the reason for the bound) goes into the message.
    """
    kinds = Counter(w.category.__name__ for w in record)
    unexpected = [
        f"{w.category.__name__}: {w.message}"
        for w in record
        if not issubclass(w.category, expected)
    ]
    assert not unexpected, f"unexpected warnings ({dict(kinds)}): {unexpected[:5]}"
    assert len(record) == flagged, (
        f"{len(record)} warnings ({dict(kinds)}) but {flagged} fits flagged"
    )
    assert flagged <= max_flagged, (
        f"{flagged} fits flagged, more than the {max_flagged} allowed ({why}): "
        + "; ".join(str(w.message) for w in record[:5])
    )
    return kinds
