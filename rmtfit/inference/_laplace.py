"""Where a chain starts and what NUTS sees: the Laplace whitening, and the NaN probe.

:func:`laplace` finds the posterior mode and curvature from the classical estimates; NUTS then
runs on coordinates whitened by them (an affine change of variables: the density and its draws
are exact, only the geometry the sampler sees changes). :func:`nan_probe` looks for NaN
log-likelihoods next to divergent transitions, which NUTS would otherwise only reject.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from rmtfit.inference import _model

__all__ = ["laplace", "nan_probe"]


_MAX_SCALE = 10.0  # largest Laplace standard deviation (unconstrained units) used to whiten
_MIN_CURVATURE = 1.0 / _MAX_SCALE**2


def laplace(potential: Callable[[Any], Any], z: Any, steps: int) -> tuple[Any, Any]:
    """The posterior mode and a square root of the Laplace covariance: ``(centre, root)``.

    Saddle-free Newton (the step uses ``|eigenvalues|`` of the Hessian) with a trust radius,
    ``steps`` iterations from ``z``; a step is taken only when it lowers the potential. ``root``
    is ``V diag(h^-1/2)`` with ``h`` the Hessian's eigenvalues at the mode, floored at
    :data:`_MIN_CURVATURE` (flat or non-convex directions get a scale of at most
    :data:`_MAX_SCALE`), so ``root @ root.T`` is the Laplace covariance where it exists. NUTS then
    samples ``w`` with ``z = centre + root @ w``: an affine change of variables (the density and
    its draws are exact, only the geometry NUTS sees changes), under which a near-Gaussian
    posterior is close to standard normal: warmup starts adapted and the dense mass matrix only
    corrects what the Laplace approximation misses.
    """
    grad = jax.grad(potential)
    hessian = jax.hessian(potential)

    def curvature(zi: Any) -> tuple[Any, Any]:
        h = hessian(zi)
        h = jnp.where(jnp.isfinite(h), 0.5 * (h + h.T), 0.0)
        values, vectors = jnp.linalg.eigh(h)
        return jnp.maximum(jnp.abs(values), _MIN_CURVATURE), vectors

    def body(carry: Any, i: Any) -> tuple[Any, None]:
        # iteration ``steps`` (the last) only measures the curvature at the final point: one
        # Hessian in the compiled program instead of two (it is most of the compile time)
        zi, fi, radius, _, _ = carry
        g = grad(zi)
        values, vectors = curvature(zi)
        step = -vectors @ ((vectors.T @ g) / values)
        norm = jnp.linalg.norm(step)
        step = step * jnp.minimum(1.0, radius / jnp.maximum(norm, 1e-300))
        z_new = zi + step
        f_new = potential(z_new)
        better = jnp.isfinite(f_new) & (f_new <= fi) & jnp.all(jnp.isfinite(step)) & (i < steps)
        zi = jnp.where(better, z_new, zi)
        fi = jnp.where(better, f_new, fi)
        radius = jnp.where(better, jnp.minimum(2.0 * radius, 10.0), 0.25 * radius)
        return (zi, fi, radius, values, vectors), None

    p = z.shape[-1]
    start = (z, potential(z), jnp.asarray(1.0), jnp.ones(p), jnp.eye(p))
    (centre, _, _, values, vectors), _ = jax.lax.scan(body, start, jnp.arange(steps + 1))
    return centre, vectors / jnp.sqrt(values)[None, :]


_PROBE_POINTS = 16
_PROBE_STEPS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)


def nan_probe(
    lik: Any, z: Any, diverging: Any, scale: Any, x: Any, mask: Any, ctx: Any
) -> tuple[Any, Any]:
    """Look for NaN log-likelihoods where NUTS diverged: ``(found, constrained params)``.

    NumPyro treats a NaN energy as a divergence and rejects it, so a region where ``logpdf`` is
    NaN would otherwise show up only as divergent transitions. From the starting point of each
    of the first :data:`_PROBE_POINTS` divergent transitions, the log-likelihood is evaluated at
    ``+-k`` adapted step sizes along every coordinate (``k`` in :data:`_PROBE_STEPS`): the
    leapfrog trajectories that diverged reached no further than that from where they started.
    """
    num_params = z.shape[-1]
    (idx,) = jnp.nonzero(diverging, size=_PROBE_POINTS, fill_value=-1)
    starts = z[jnp.maximum(idx, 0)]  # (K, P)
    steps = jnp.asarray(_PROBE_STEPS)
    offsets = jnp.concatenate([steps, -steps])[:, None, None] * jnp.eye(num_params)[None]
    offsets = (offsets * scale).reshape(-1, num_params)  # (2 * S * P, P)
    points = (starts[:, None, :] + offsets[None]).reshape(-1, num_params)
    valid = jnp.repeat(idx >= 0, offsets.shape[0])

    def raw_loglik(zi: Any) -> Any:
        params, _, log_prior = _model.constrain(lik, zi, ctx)
        total = _model.masked_loglik(lik, x, mask, params, ctx).sum()
        value = jnp.stack([params[p.name] for p in lik.parameters])
        return jnp.isnan(total) & jnp.isfinite(log_prior), value

    is_nan, values = jax.vmap(raw_loglik)(points)
    is_nan = is_nan & valid
    first = jnp.argmax(is_nan)
    return is_nan.any(), values[first]
