"""Padding layers into size buckets: one compiled program per (likelihood, bucket).

Each layer contributes ``n`` observations. Layers are padded to a bucket size ``B >= n`` with a
valid observation (the layer's own first one) and a mask, so that every layer of a bucket has
the same array shape and one compiled, vmapped sampler serves them all.

Compilation dominates cold start (several seconds per program), so buckets are few: sizes are
eighth-octave steps (multiples of ``2^k / 8`` just above ``n``: 64, 80, ..., 128, 160, ...,
384, 448, 512, ...; padding wastes at most a quarter of a bucket), at least
:data:`MIN_BUCKET`, and a bucket is merged into the next larger one
whenever the padding that merge adds (layers x extra entries) costs less than about one compile.
What a padded entry costs depends on the likelihood: one whose summed form (``lik.summed``)
replaces the per-eigenvalue density in the sampler pays for padding only in the pointwise pass
(:data:`MERGE_ELEMENTS`, 32768 entries); one evaluated per eigenvalue pays at every leapfrog
step: about 100 ns per entry per chain for ``mp_spikes`` times ~50,000 leapfrog steps of 4
chains, 5 ms per entry, against ~5 s of compilation (:data:`MERGE_ELEMENTS_DENSE`, 1024 entries;
with 32768, mobilenet_v2's 64-eigenvalue layers were padded to its 1,000-eigenvalue bucket).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "MIN_BUCKET",
    "MERGE_ELEMENTS",
    "MERGE_ELEMENTS_DENSE",
    "bucket_size",
    "bucket_sizes",
    "Batch",
    "make_batch",
]

MIN_BUCKET = 64
MERGE_ELEMENTS = 32768
MERGE_ELEMENTS_DENSE = 1024


def _next_pow2(n: int) -> int:
    return 1 << max(0, int(n - 1).bit_length())


def bucket_size(n: int, min_size: int = MIN_BUCKET) -> int:
    """The smallest eighth-octave size ``>= max(n, min_size)``: a multiple of
    ``next_pow2 / 8`` (for example 384 for 384 eigenvalues, 448 for 385)."""
    n = max(int(n), int(min_size))
    step = max(1, _next_pow2(n) // 8)
    return -(-n // step) * step


def bucket_sizes(
    n_obs: Sequence[int], *, min_size: int = MIN_BUCKET, merge_elements: int = MERGE_ELEMENTS
) -> list[int]:
    """The padded size of each layer (same order as ``n_obs``).

    Parameters
    ----------
    n_obs
        Number of observations of each layer.
    min_size
        Smallest bucket.
    merge_elements
        A bucket holding ``k`` layers moves into the next larger bucket ``B'`` when
        ``k * (B' - B) <= merge_elements``, from the smallest bucket up.
    """
    sizes = [bucket_size(n, min_size) for n in n_obs]
    distinct = sorted(set(sizes))
    target = {b: b for b in distinct}
    for i, b in enumerate(distinct[:-1]):
        members = sum(1 for s in sizes if target[s] == b)
        nxt = distinct[i + 1]
        if members * (nxt - b) <= merge_elements:
            for s in distinct:
                if target[s] == b:
                    target[s] = nxt
    return [target[s] for s in sizes]


@dataclass(frozen=True, eq=False)
class Batch:
    """Layers of one likelihood padded to one bucket size (arrays first: leading axis = layer).

    Attributes
    ----------
    layers
        Layer names, in order.
    x, mask
        ``(L, B)`` padded observations and the mask of real entries.
    n_obs
        ``(L,)`` number of real observations per layer.
    context
        Name -> ``(L,)`` float array of per-layer constants.
    init
        ``(L, P)`` starting values (constrained), NaN where the likelihood gave none.
    """

    layers: tuple[str, ...]
    x: np.ndarray
    mask: np.ndarray
    n_obs: np.ndarray
    context: Mapping[str, np.ndarray]
    init: np.ndarray
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Bucket size B."""
        return int(self.x.shape[1])

    def __len__(self) -> int:
        return len(self.layers)

    def subset(self, index: Sequence[int]) -> Batch:
        """The batch restricted to the layers at ``index``."""
        idx = np.asarray(index, dtype=int)
        return Batch(
            layers=tuple(self.layers[i] for i in idx),
            x=self.x[idx],
            mask=self.mask[idx],
            n_obs=self.n_obs[idx],
            context={k: v[idx] for k, v in self.context.items()},
            init=self.init[idx],
            meta=dict(self.meta),
        )


def make_batch(
    layers: Sequence[str],
    observations: Sequence[np.ndarray],
    contexts: Sequence[Mapping[str, float]],
    inits: Sequence[Mapping[str, float] | None],
    parameter_names: Sequence[str],
    size: int,
) -> Batch:
    """Pad the layers' observations to ``size`` and stack their contexts and starting values.

    Every context must have the same keys (they become stacked arrays).
    """
    n = len(layers)
    x = np.empty((n, size), dtype=np.float64)
    mask = np.zeros((n, size), dtype=bool)
    n_obs = np.zeros(n, dtype=np.int64)
    for i, obs in enumerate(observations):
        k = obs.size
        if k > size:
            raise ValueError(
                f"layer {layers[i]!r}: {k} observations do not fit bucket size {size}."
            )
        x[i, :k] = obs
        x[i, k:] = obs[0]
        mask[i, :k] = True
        n_obs[i] = k
    keys = sorted(contexts[0]) if contexts else []
    context = {key: np.asarray([float(c[key]) for c in contexts], dtype=np.float64) for key in keys}
    init = np.full((n, len(parameter_names)), np.nan)
    for i, values in enumerate(inits):
        if values:
            for j, name in enumerate(parameter_names):
                if name in values:
                    init[i, j] = float(values[name])
    return Batch(tuple(layers), x, mask, n_obs, context, init)
