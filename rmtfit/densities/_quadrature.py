"""Numerical integration and root finding used by the densities.

Two kinds of tool live here:

* pure-JAX fixed rules (:func:`gauss_legendre_panels`, :func:`bisect_increasing`), with static
  shapes so they jit, vmap and differentiate; the densities use them for normalisers and
  inverse-CDF samplers that have no closed form;
* a NumPy adaptive Gauss-Kronrod integrator (:func:`integrate`) that calls a vectorised density
  in batches; the conformance checker and the tests use it to check normalisation to 1e-8.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["gauss_legendre", "gauss_legendre_panels", "bisect_increasing", "integrate", "bucketed"]


@cache
def gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the ``n``-point Gauss-Legendre rule on [-1, 1]."""
    nodes, weights = np.polynomial.legendre.leggauss(n)
    return nodes, weights


def gauss_legendre_panels(fn: Callable, breakpoints, n: int = 16):
    """Integrate ``fn`` over each panel ``[breakpoints[i], breakpoints[i+1]]``.

    Parameters
    ----------
    fn
        Vectorised integrand (JAX), called once on an array of shape ``breakpoints.shape[:-1] +
        (num_panels, n)``.
    breakpoints
        Array ``(..., P + 1)``, non-decreasing along the last axis (zero-width panels are fine).
    n
        Nodes per panel.

    Returns
    -------
    array
        Panel integrals, shape ``(..., P)``.
    """
    nodes, weights = gauss_legendre(n)
    lo = breakpoints[..., :-1, None]
    hi = breakpoints[..., 1:, None]
    half = 0.5 * (hi - lo)
    points = lo + half * (1.0 + jnp.asarray(nodes))
    return jnp.sum(fn(points) * jnp.asarray(weights), axis=-1) * half[..., 0]


def bisect_increasing(fn: Callable, target, lo, hi, num_iter: int = 100):
    """Solve ``fn(y) = target`` for increasing ``fn`` on ``[lo, hi]`` by bisection (vectorised).

    The result is within ``(hi - lo) * 2**-num_iter`` of the root (clamped to the bracket).
    Bisection has no useful derivative; samplers built on it are not differentiated.
    """
    target = jnp.asarray(target, dtype=jnp.float64)
    lo, hi = jnp.broadcast_arrays(jnp.asarray(lo, jnp.float64), jnp.asarray(hi, jnp.float64))
    lo = jnp.broadcast_to(lo, target.shape)
    hi = jnp.broadcast_to(hi, target.shape)

    def step(_, bracket):
        a, b = bracket
        mid = 0.5 * (a + b)
        below = fn(mid) < target
        return jnp.where(below, mid, a), jnp.where(below, b, mid)

    a, b = jax.lax.fori_loop(0, num_iter, step, (lo, hi))
    return 0.5 * (a + b)


# ---------------------------------------------------------------- adaptive (NumPy) integrator

_KRONROD_NODES = np.array(
    [
        0.991455371120812639206854697526329,
        0.949107912342758524526189684047851,
        0.864864423359769072789712788640926,
        0.741531185599394439863864773280788,
        0.586087235467691130294144845693013,
        0.405845151377397166906606412076961,
        0.207784955007898467600689403773245,
        0.000000000000000000000000000000000,
    ]
)
_KRONROD_WEIGHTS = np.array(
    [
        0.022935322010529224963732008058970,
        0.063092092629978553290700663189204,
        0.104790010322250183839876322541518,
        0.140653259715525918745189590510238,
        0.169004726639267902826583426598550,
        0.190350578064785409913256402421014,
        0.204432940075298892414161999234649,
        0.209482141084727828012999174891714,
    ]
)
_GAUSS7_WEIGHTS = np.array(
    [
        0.129484966168869693270611432679082,
        0.279705391489276667901467771423780,
        0.381830050505118944950369775488975,
        0.417959183673469387755102040816327,
    ]
)
_K15 = np.concatenate([-_KRONROD_NODES[:-1], _KRONROD_NODES[::-1]])
_WK15 = np.concatenate([_KRONROD_WEIGHTS[:-1], _KRONROD_WEIGHTS[::-1]])
_WG7 = np.zeros(15)
_WG7[[1, 3, 5, 7, 9, 11, 13]] = np.concatenate([_GAUSS7_WEIGHTS[:-1], _GAUSS7_WEIGHTS[::-1]])


def integrate(
    fn: Callable[[np.ndarray], np.ndarray],
    lo: float,
    hi: float,
    *,
    points: Sequence[float] = (),
    abs_tol: float = 1e-13,
    max_rounds: int = 60,
    max_panels: int = 20000,
    cumulative: bool = False,
):
    """Adaptive Gauss-Kronrod (7/15) integral of a vectorised ``fn`` over a finite ``[lo, hi]``.

    Panels start at the sorted ``points`` inside ``(lo, hi)``; each round evaluates every open
    panel in one call of ``fn`` and splits the panels whose Kronrod-Gauss difference exceeds their
    share of ``abs_tol``.

    Returns
    -------
    (value, error_estimate), or with ``cumulative=True`` ``(edges, integrals_to_edges, error)``:
    the sorted panel edges ``[lo, *points inside, hi]`` and the integral from ``lo`` to each.
    """
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise ValueError(f"integrate: need finite lo < hi, got lo={lo!r}, hi={hi!r}.")
    inner = np.unique([p for p in points if lo < p < hi])
    edges = np.concatenate([[lo], inner, [hi]])
    open_lo, open_hi = edges[:-1], edges[1:]
    origin = np.arange(open_lo.size)
    per_interval = np.zeros(open_lo.size)
    error = 0.0
    for round_ in range(max_rounds + 1):
        if open_lo.size == 0:
            break
        half = 0.5 * (open_hi - open_lo)
        x = (open_lo + open_hi)[:, None] * 0.5 + half[:, None] * _K15[None, :]
        fx = np.asarray(fn(x.ravel()), dtype=np.float64).reshape(x.shape)
        kronrod = half * (fx @ _WK15)
        err = np.abs(kronrod - half * (fx @ _WG7))
        width_share = abs_tol * (open_hi - open_lo) / (hi - lo)
        done = (err <= np.maximum(width_share, 1e-15 * np.abs(kronrod))) | (half < 1e-15 * hi)
        if round_ == max_rounds or open_lo.size > max_panels:
            done[:] = True
        np.add.at(per_interval, origin[done], kronrod[done])
        error += float(np.sum(err[done]))
        mid = 0.5 * (open_lo + open_hi)
        keep = ~done
        open_lo = np.concatenate([open_lo[keep], mid[keep]])
        open_hi = np.concatenate([mid[keep], open_hi[keep]])
        origin = np.concatenate([origin[keep], origin[keep]])
    if cumulative:
        return edges, np.concatenate([[0.0], np.cumsum(per_interval)]), error
    return float(np.sum(per_interval)), error


def bucketed(fn: Callable, *, chunk: int = 4096) -> Callable[[np.ndarray], np.ndarray]:
    """Wrap a jitted 1-D JAX function so that it is always called on ``chunk``-long arrays.

    The adaptive integrator calls ``fn`` with a different number of points each round; feeding
    fixed-size chunks (the last one padded with its first point) means one compilation only.
    """

    def call(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64).ravel()
        out = np.empty_like(x)
        for start in range(0, x.size, chunk):
            part = x[start : start + chunk]
            padded = np.full(chunk, part[0])
            padded[: part.size] = part
            out[start : start + part.size] = np.asarray(fn(jnp.asarray(padded)))[: part.size]
        return out

    return call
