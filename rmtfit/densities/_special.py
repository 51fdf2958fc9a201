"""Special functions in pure ``jax.numpy`` (float64), differentiable and jit/vmap-able.

The one that matters most is the upper incomplete gamma function for non-positive shape,

.. math:: \\Gamma(s, x) = \\int_x^\\infty t^{s-1} e^{-t}\\, dt, \\qquad x > 0,

which normalises the power law with exponential cutoff (shape ``s = 1 - alpha <= 0`` for
``alpha >= 1``); ``jax.scipy.special.gammaincc`` is NaN there. We compute the scaled function

.. math:: G(s, x) = e^{x} x^{-s} \\Gamma(s, x),

which is O(1/x) for large x and O(1/|s|) for small x, so it neither overflows nor underflows:

* ``x < 2``: the power series for ``s0 = s + m`` in ``(-1/2, 1/2]`` (or ``s`` itself up to 3/2),
  written without the removable poles of :math:`\\Gamma(s_0)` and :math:`\\gamma(s_0, x)`,
  then ``m`` steps of the downward recurrence ``G(s - 1) = (x G(s) - 1) / (s - 1)``, which is
  stable for small ``x`` (each step damps relative errors by about ``x / (1 - s)``);
* ``x >= 2``: Legendre's continued fraction, evaluated backward from a fixed depth.

Accuracy: 1e-10 relative or better against mpmath on ``s`` in [-50, 1.5], ``x`` in [1e-12, 1e4]
(see ``tests/densities/test_special.py``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import zeta

__all__ = [
    "exprel",
    "log_exprel",
    "log1mexp",
    "log_softplus",
    "lgamma1p",
    "log_upper_gamma",
    "log_upper_gamma_scaled",
    "upper_gamma",
]

EULER_GAMMA = 0.57721566490153286061
_SERIES_CF_SWITCH = 2.0  # x below: series + recurrence; above: continued fraction
_CF_DEPTH = 200  # backward evaluation depth of the continued fraction (converged at x >= 2)
_SERIES_TERMS = 40  # terms of the x-power series (x < 2: 2^40 / 40! ~ 1e-36)
_MAX_RECURRENCE = 64  # supports s down to -63.5
_LGAMMA1P_TERMS = 60

# log Gamma(1 + s) = -gamma s + sum_{k >= 2} (-1)^k zeta(k) s^k / k, |s| < 1
_LGAMMA1P_COEFFS = np.array(
    [0.0, -EULER_GAMMA] + [(-1.0) ** k * zeta(k) / k for k in range(2, _LGAMMA1P_TERMS)]
)


def exprel(z):
    """``expm1(z) / z``, equal to 1 at ``z = 0`` and smooth through it."""
    z = jnp.asarray(z, dtype=jnp.float64)
    small = jnp.abs(z) < 1e-3
    zs = jnp.where(small, 1.0, z)
    series = 1.0 + z / 2.0 + z**2 / 6.0 + z**3 / 24.0 + z**4 / 120.0
    return jnp.where(small, series, jnp.expm1(zs) / zs)


def log_exprel(z):
    """``log(expm1(z) / z)`` without overflow for large ``|z|``."""
    z = jnp.asarray(z, dtype=jnp.float64)
    small = jnp.abs(z) < 1e-3
    zp = jnp.where(z > 0, jnp.maximum(z, 1e-3), 1.0)
    zn = jnp.where(z < 0, jnp.minimum(z, -1e-3), -1.0)
    pos = zp + jnp.log(-jnp.expm1(-zp)) - jnp.log(zp)
    neg = jnp.log(-jnp.expm1(zn)) - jnp.log(-zn)
    series = jnp.log1p(z / 2.0 + z**2 / 6.0 + z**3 / 24.0 + z**4 / 120.0)
    return jnp.where(small, series, jnp.where(z > 0, pos, neg))


def log1mexp(a):
    """``log(1 - exp(-a))`` for ``a > 0``, accurate for small and large ``a`` (Maechler 2012)."""
    a = jnp.asarray(a, dtype=jnp.float64)
    return jnp.where(a < np.log(2.0), jnp.log(-jnp.expm1(-a)), jnp.log1p(-jnp.exp(-a)))


def log_softplus(z):
    """``log(log(1 + exp(z)))``, linear (``= z``) far in the left tail instead of ``-inf``."""
    z = jnp.asarray(z, dtype=jnp.float64)
    far = z < -30.0
    zs = jnp.where(far, 0.0, z)
    # softplus(z) = max(z, 0) + log1p(exp(-|z|)), without logaddexp's NaN bookkeeping (hot
    # path); -|z| is written z - 2 max(z, 0) so that the gradient at z = 0 is exactly 1/2
    top = jnp.maximum(zs, 0.0)
    softplus = top + jnp.log1p(jnp.exp(zs - 2.0 * top))
    return jnp.where(far, z, jnp.log(softplus))


def _power_series(coeffs, z):
    """``sum_k coeffs[k] z^k`` as one vectorised op (cheaper to compile than Horner's loop)."""
    coeffs = np.asarray(coeffs, dtype=np.float64)
    k = jnp.arange(1, len(coeffs), dtype=jnp.float64)  # z^0 kept apart: d(z^0)/dz is NaN at 0
    return coeffs[0] + jnp.sum(jnp.asarray(coeffs[1:]) * z[..., None] ** k, axis=-1)


def lgamma1p(s):
    """``log Gamma(1 + s)``, accurate to full relative precision near ``s = 0``."""
    s = jnp.asarray(s, dtype=jnp.float64)
    near = jnp.abs(s) <= 0.5
    sn = jnp.where(near, s, 0.0)
    series = _power_series(_LGAMMA1P_COEFFS, sn)
    sf = jnp.where(near, 1.0, s)
    return jnp.where(near, series, jax.scipy.special.gammaln(1.0 + sf))


def _lgamma1p_over_s(s):
    """``log Gamma(1 + s) / s``, smooth through ``s = 0`` (-> -Euler gamma)."""
    near = jnp.abs(s) <= 0.5
    sn = jnp.where(near, s, 0.0)
    series = _power_series(_LGAMMA1P_COEFFS[1:], sn)
    sf = jnp.where(near, 1.0, s)
    return jnp.where(near, series, jax.scipy.special.gammaln(1.0 + sf) / sf)


def _gamma_minus_reciprocal(s):
    """``Gamma(s) - 1/s = (Gamma(1 + s) - 1) / s``, smooth through ``s = 0`` (-> -Euler gamma)."""
    ratio = _lgamma1p_over_s(s)
    return ratio * exprel(s * ratio)


def _upper_gamma_series(s0, x):
    """``Gamma(s0, x)`` for ``s0`` in (-1/2, 3/2] and ``0 < x <= 2`` (no removable poles).

    Gamma(s0, x) = [Gamma(s0) - 1/s0] + (1 - x^s0)/s0 - sum_{k>=1} (-1)^k x^(s0+k) / (k! (s0+k)).
    """
    log_x = jnp.log(x)
    a = _gamma_minus_reciprocal(s0)
    b = -log_x * exprel(s0 * log_x)
    k = jnp.arange(1, _SERIES_TERMS + 1, dtype=jnp.float64)
    log_fact = jax.scipy.special.gammaln(k + 1.0)
    # term_k = (-1)^(k+1) x^k / (k! (s0 + k)), all scaled by x^s0 afterwards
    signs = jnp.where(k % 2 == 1, 1.0, -1.0)
    terms = signs * jnp.exp(k * log_x[..., None] - log_fact) / (s0[..., None] + k)
    c = jnp.exp(s0 * log_x) * jnp.sum(terms, axis=-1)
    return a + b + c


def _scaled_small_x(s, x):
    """``G(s, x)`` for ``x <= 2``: series at ``s0 = s + m`` then ``m`` downward steps."""
    m = jnp.clip(jnp.floor(0.5 - s), 0.0, float(_MAX_RECURRENCE))
    s0 = s + m
    g0 = _upper_gamma_series(s0, x) * jnp.exp(x - s0 * jnp.log(x))

    def step(j, g):
        shape = s0 - j - 1.0
        new = (x * g - 1.0) / jnp.where(j < m, shape, 1.0)
        return jnp.where(j < m, new, g)

    return jax.lax.fori_loop(0, _MAX_RECURRENCE, step, g0)


def _scaled_large_x(s, x):
    """``G(s, x)`` for ``x >= 2``: Legendre's continued fraction, evaluated backward.

    G = 1 / (x + 1 - s - t_1),  t_k = k (k - s) / (x + 2k + 1 - s - t_{k+1}),  t_{K+1} = 0.
    """

    def step(i, t):
        k = float(_CF_DEPTH) - i
        return k * (k - s) / (x + 2.0 * k + 1.0 - s - t)

    t1 = jax.lax.fori_loop(0, _CF_DEPTH, step, jnp.zeros_like(x))
    return 1.0 / (x + 1.0 - s - t1)


def log_upper_gamma_scaled(s, x):
    """``log G(s, x) = log Gamma(s, x) + x - s log x`` for real ``s <= 3/2`` and ``x > 0``.

    Parameters
    ----------
    s
        Shape, any real number down to -63.5 (``s = 1 - alpha`` for the cutoff power law).
    x
        Lower limit of the integral, ``x > 0``.

    Returns
    -------
    array
        The log of the scaled upper incomplete gamma function, broadcast over ``s`` and ``x``.
    """
    s, x = jnp.broadcast_arrays(jnp.asarray(s, jnp.float64), jnp.asarray(x, jnp.float64))
    small = x < _SERIES_CF_SWITCH
    x_small = jnp.where(small, x, 1.0)
    x_large = jnp.where(small, _SERIES_CF_SWITCH, x)
    g = jnp.where(small, _scaled_small_x(s, x_small), _scaled_large_x(s, x_large))
    return jnp.log(g)


def log_upper_gamma(s, x):
    """``log Gamma(s, x)``, the non-regularised upper incomplete gamma, for ``s <= 3/2``, ``x > 0``.

    .. math:: \\log\\Gamma(s, x) = \\log G(s, x) + s \\log x - x.
    """
    s, x = jnp.broadcast_arrays(jnp.asarray(s, jnp.float64), jnp.asarray(x, jnp.float64))
    return log_upper_gamma_scaled(s, x) + s * jnp.log(x) - x


def upper_gamma(s, x):
    """``Gamma(s, x)`` (may overflow for tiny ``x`` and very negative ``s``; prefer the log)."""
    return jnp.exp(log_upper_gamma(s, x))
