"""The synthetic phase suite: weight matrices whose phase is known by construction.

Each generator draws one N x M matrix (N >= M) for one of the 5+1 phases. They are what the
phase rules are calibrated on (``docs/phases.md``), never the zoo or a real network:

============================  ===============  ============================================
generator                     phase            construction
============================  ===============  ============================================
``gaussian``                  random_like      i.i.d. N(0, s^2) entries
``strong_spikes``             bulk_spikes      Gaussian with 1-4 population spikes of
                                               strength 3-8 x the BBP threshold 1 + sqrt(M/N)
``near_threshold_spikes``     bleeding_out     1-3 spikes at 0.9-1.3 x the BBP threshold:
                                               *ambiguous by nature* (a spike just above
                                               the threshold separates by less than the TW
                                               scale; just below, it is not separated)
``signal_continuum``          bulk_decay       Gaussian plus a rank-M/4 signal whose
                                               strengths fall smoothly from 6 x to 0.3 x the
                                               threshold: many outliers, no gap
``very_heavy_entries``        heavy_tailed     i.i.d. symmetric Pareto entries, tail
                                               exponent mu in [1, 2] (M&M 2019: the very
                                               heavy-tailed class, alpha = 1 + mu/2 < 2)
``heavy_entries``             heavy_tailed     the same with mu in [2, 4]: *ambiguous by
                                               nature* at these sizes (M&M: for 2 < mu < 4
                                               the finite-size alpha grows like a mu + b and
                                               reaches the Bulk-decay range; the top few
                                               eigenvalues can look like spikes)
``low_rank``                  rank_collapse    a float32 product of rank M/20 (at least 1)
============================  ===============  ============================================

Every matrix is multiplied by a random scale 10^U(-2, 1): the phases must not depend on it.
:func:`suite` draws a reproducible list of ``(name, phase, matrix)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

SHAPES: tuple[tuple[int, int], ...] = ((200, 100), (400, 200), (300, 300))
"""The shapes of the suite (N, M): Q = 2, 2 and 1; few shapes so compiled samplers are shared."""

AMBIGUOUS = frozenset({"near_threshold_spikes", "heavy_entries"})
"""Generators whose phase is ambiguous by nature (excluded from the 90% MAP-correct target)."""


def _bbp(n: int, m: int) -> float:
    return 1.0 + np.sqrt(m / n)


def _spiked(rng: np.random.Generator, n: int, m: int, strengths: np.ndarray) -> np.ndarray:
    """Rows ~ N(0, I + sum_k (l_k - 1) v_k v_k^T): population spikes of strength ``l_k``."""
    v = np.linalg.qr(rng.normal(size=(m, strengths.size)))[0]
    root = np.eye(m) + v @ np.diag(np.sqrt(strengths) - 1.0) @ v.T
    return rng.normal(size=(n, m)) @ root


def gaussian(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    return rng.normal(size=(n, m))


def strong_spikes(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    k = int(rng.integers(1, 5))
    return _spiked(rng, n, m, _bbp(n, m) * rng.uniform(3.0, 8.0, size=k))


def near_threshold_spikes(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    k = int(rng.integers(1, 4))
    return _spiked(rng, n, m, _bbp(n, m) * rng.uniform(0.9, 1.3, size=k))


def signal_continuum(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    r = max(m // 4, 8)
    strengths = _bbp(n, m) * np.geomspace(6.0, 0.3, r)
    return _spiked(rng, n, m, strengths)


def _pareto(rng: np.random.Generator, n: int, m: int, mu: float) -> np.ndarray:
    return (rng.pareto(mu, size=(n, m)) + 1.0) * rng.choice([-1.0, 1.0], size=(n, m))


def very_heavy_entries(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    return _pareto(rng, n, m, rng.uniform(1.0, 2.0))


def heavy_entries(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    return _pareto(rng, n, m, rng.uniform(2.0, 4.0))


def low_rank(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    r = max(m // 20, 1)
    return (rng.normal(size=(n, r)) @ rng.normal(size=(r, m))).astype(np.float32)


@dataclass(frozen=True)
class Generator:
    name: str
    phase: str
    draw: Callable[[np.random.Generator, int, int], np.ndarray]

    @property
    def ambiguous(self) -> bool:
        return self.name in AMBIGUOUS


GENERATORS: tuple[Generator, ...] = (
    Generator("gaussian", "random_like", gaussian),
    Generator("strong_spikes", "bulk_spikes", strong_spikes),
    Generator("near_threshold_spikes", "bleeding_out", near_threshold_spikes),
    Generator("signal_continuum", "bulk_decay", signal_continuum),
    Generator("very_heavy_entries", "heavy_tailed", very_heavy_entries),
    Generator("heavy_entries", "heavy_tailed", heavy_entries),
    Generator("low_rank", "rank_collapse", low_rank),
)


def suite(
    per_generator: int, *, seed: int = 0, shapes: tuple[tuple[int, int], ...] = SHAPES
) -> Iterator[tuple[str, Generator, np.ndarray]]:
    """``per_generator`` matrices of every generator, cycling through ``shapes``."""
    rng = np.random.default_rng(seed)
    for g in GENERATORS:
        for i in range(per_generator):
            n, m = shapes[i % len(shapes)]
            scale = 10.0 ** rng.uniform(-2.0, 1.0)
            w = g.draw(rng, n, m) * scale
            yield f"{g.name}.{i:03d}.{n}x{m}", g, w.astype(w.dtype)


def confusion(results: list[tuple[Generator, str]], phases: tuple[str, ...]) -> dict:
    """Rows: generators; columns: MAP phases; plus the MAP-correct share per generator."""
    table: dict[str, dict[str, int]] = {}
    for g, found in results:
        row = table.setdefault(g.name, {p: 0 for p in (*phases, "none")})
        row[found if found in row else "none"] += 1
    correct = {
        g.name: table[g.name][g.phase] / max(sum(table[g.name].values()), 1)
        for g in GENERATORS
        if g.name in table
    }
    return {"table": table, "correct": correct}


def calibration(pairs: list[tuple[float, bool]], bins: int = 5) -> list[tuple[float, float, int]]:
    """Reliability of the phase probabilities: per bin of stated probability ``p`` (of every
    (layer, phase) pair), the mean stated ``p``, the share of pairs that are the true phase, and
    the count. Well calibrated: the share equals the mean ``p`` in every bin."""
    p = np.asarray([x for x, _ in pairs], dtype=float)
    hit = np.asarray([y for _, y in pairs], dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        inside = (p >= lo) & ((p < hi) if hi < 1.0 else (p <= hi))
        if inside.any():
            out.append((float(p[inside].mean()), float(hit[inside].mean()), int(inside.sum())))
    return out
