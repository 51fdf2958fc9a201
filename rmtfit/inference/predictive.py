"""Posterior predictive spectra of many layers at once (for the ESD plots and predictive checks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rmtfit.common import enable_x64

__all__ = ["predictive_draws"]


def predictive_draws(
    fits: Any, likelihood: str, layers: Sequence[str], n_draws: int, *, seed: int
) -> dict[str, np.ndarray]:
    """Replicated spectra ``(n_draws, n_obs)`` of ``likelihood`` for each of ``layers``.

    One compiled sampler serves every layer: the layers are stacked, each draws ``max n``
    observations at ``n_draws`` random posterior draws, and each keeps its first ``n``. That is
    exact for likelihoods whose observations are independent given the parameters; a joint
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


def _stacked(
    fits: Any, lik: Any, layers: Sequence[str], n_draws: int, seed: int
) -> dict[str, np.ndarray]:
    import jax

    enable_x64()
    rng = np.random.default_rng(seed)
    per_layer = [fits[name, lik.name] for name in layers]
    n_max = max(int(f.observed.size) for f in per_layer)
    params: dict[str, list[np.ndarray]] = {k: [] for k in per_layer[0].parameters}
    context: dict[str, list[float]] = {k: [] for k in per_layer[0].context}
    for f in per_layer:
        c, d = f.num_chains, f.num_draws
        chain, draw = np.divmod(rng.choice(c * d, n_draws, replace=c * d < n_draws), d)
        for k in params:
            params[k].append(np.asarray(f.posterior[k][chain, draw], dtype=np.float64))
        for k in context:
            context[k].append(float(f.context[k]))
    stacked_params = {k: np.stack(v) for k, v in params.items()}
    stacked_context = {k: np.asarray(v, dtype=np.float64) for k, v in context.items()}
    keys = jax.random.split(jax.random.PRNGKey(seed), len(layers) * n_draws)
    keys = keys.reshape(len(layers), n_draws, *keys.shape[1:])

    def one(key: Any, p: Any, ctx: Any) -> Any:
        return lik.sample(key, p, ctx, n_max)

    per_draw = jax.vmap(one, in_axes=(0, 0, None))
    sample = jax.jit(jax.vmap(per_draw, in_axes=(0, 0, 0)))
    result = np.asarray(sample(keys, stacked_params, stacked_context))
    return {
        name: result[i, :, : int(f.observed.size)]
        for i, (name, f) in enumerate(zip(layers, per_layer, strict=True))
    }
