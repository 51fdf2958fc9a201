"""Posterior predictive spectra of many layers at once (for the ESD plots and predictive checks)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from rmtfit.common import enable_x64

__all__ = ["predictive_draws"]


def predictive_draws(
    fits: Any, likelihood: str, layers: Sequence[str], n_draws: int, *, seed: int
) -> dict[str, np.ndarray]:
    """Replicated spectra ``(n_draws, n_obs)`` of ``likelihood`` for each of ``layers``.

    One compiled sampler serves every layer: each layer draws ``max n`` observations at
    ``n_draws`` random posterior draws (in batches of :data:`DRAWS_PER_BATCH`, so memory stays
    bounded) and keeps its first ``n``. That is exact for likelihoods whose observations are
    independent given the parameters; a joint
    likelihood (``Likelihood.joint``, e.g. the top-k Frechet model) goes through
    :meth:`rmtfit.Fits.posterior_predictive` one layer at a time. Layers are those of ``fits``
    with draws (status ok or flagged); a likelihood without a ``sample`` function gives ``{}``.
    """
    lik = fits.likelihood_object(likelihood)
    if not layers or lik.sample is None:
        return {}
    if lik.joint:
        return {
            name: fits.posterior_predictive(name, likelihood, n_draws, seed=seed) for name in layers
        }
    return _stacked(fits, lik, layers, n_draws, seed)


DRAWS_PER_BATCH = 10
"""Posterior draws sampled at once. A sampler may build per-draw tables (the truncated MP bulk of
``spliced_mp`` tabulates its CDF for each draw's xmin: megabytes per draw), so the draws of a
layer go through :func:`jax.lax.map` in batches of this many and memory stays bounded however
many layers and draws there are."""


def _stacked(
    fits: Any, lik: Any, layers: Sequence[str], n_draws: int, seed: int
) -> dict[str, np.ndarray]:
    """Every layer's replicated spectra, layers grouped by size (powers of four, at least
    :data:`MIN_GROUP`): one compiled sampler per group draws the group's largest ``n`` for each
    of its layers. One group for all would make a 9-eigenvalue layer draw as many observations
    as the network's largest layer (1,000 of them in mobilenet_v2: 10 s of the full run);
    powers of four rather than two halve the programs to compile on a cold start."""
    import jax

    enable_x64()
    per_layer = [fits[name, lik.name] for name in layers]
    groups: dict[int, list[int]] = {}
    for i, f in enumerate(per_layer):
        n = max(int(f.observed.size), 1)
        bits = (n - 1).bit_length()
        groups.setdefault(max(MIN_GROUP, 1 << (bits + bits % 2)), []).append(i)
    out = {}
    for members in groups.values():
        n_max = max(int(per_layer[i].observed.size) for i in members)

        def one_layer(layer_keys: Any, params: Any, context: Any, n_max: int = n_max) -> Any:
            def one(item: Any) -> Any:
                key, p = item
                return lik.sample(key, p, context, n_max)

            return jax.lax.map(one, (layer_keys, params), batch_size=DRAWS_PER_BATCH)

        sample = jax.jit(one_layer)  # one program per group: its layers have the same shapes
        for i in members:
            name, f = layers[i], per_layer[i]
            # a layer's draws depend on the seed, the likelihood and its name only
            rng = np.random.default_rng([seed, zlib.crc32(f"{lik.name}/{name}".encode())])
            keys = jax.random.split(jax.random.PRNGKey(rng.integers(2**31)), n_draws)
            c, d = f.num_chains, f.num_draws
            chain, draw = np.divmod(rng.choice(c * d, n_draws, replace=c * d < n_draws), d)
            params = {
                k: np.asarray(f.posterior[k][chain, draw], dtype=np.float64) for k in f.parameters
            }
            context = {k: np.float64(f.context[k]) for k in f.context}
            values = np.asarray(sample(keys, params, context))
            out[name] = values[:, : int(f.observed.size)]
    return {name: out[name] for name in layers}


MIN_GROUP = 64
"""Smallest size group of :func:`_stacked` (smaller layers share its program)."""
