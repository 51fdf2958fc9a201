"""The Marchenko-Pastur law in raw eigenvalue units, hard-edged and with Tracy-Widom-softened edges.

Conventions (DESIGN.md, "Conventions of the spectrum"): ``W`` is ``N x M`` with ``Q = N/M >= 1``,
entries of variance ``sigma2``; the eigenvalues ``x`` of ``W^T W`` (no ``1/N``) follow, for large
``N``, the MP law of ``X = W^T W / N`` scaled by ``c = N sigma2``. With ``u = x / c``, ``y = 1/Q``,
``r = sqrt(y)`` and edges ``a, b = (1 -+ r)^2``,

.. math:: \\rho(u) = \\frac{\\sqrt{(b - u)(u - a)}}{2 \\pi y u}, \\qquad a \\le u \\le b.

``Q = 1`` gives ``a = 0`` and the integrable singularity ``rho ~ u^{-1/2}``.

**CDF.** With ``u = 1 + y - 2 r cos(theta)``, ``theta`` in ``[0, pi]``, ``rho du`` becomes
``2 sin^2(theta) / (pi (1 + r^2 - 2 r cos theta)) dtheta``, whose integral is elementary:

.. math:: F = \\frac{2}{\\pi}\\left[\\frac{\\sin\\theta}{2r} + \\frac{(1 + r^2)\\theta}{4 r^2}
          - \\frac{1 - r^2}{2 r^2} \\operatorname{atan2}\\big((1 + r)\\sin\\tfrac{\\theta}{2},
          (1 - r)\\cos\\tfrac{\\theta}{2}\\big)\\right].

**Softened edges.** For finite ``N`` the extreme bulk eigenvalues fluctuate on the Tracy-Widom
scale (Johnstone 2001): ``s_+ = (1 + r)(1 + sqrt(Q))^{1/3} N^{-2/3}`` at the upper edge (in units
of ``c``) and ``s_- = (1 - r)(sqrt(Q) - 1)^{1/3} N^{-2/3}`` at the lower one. The softened law
replaces each square-root factor ``sqrt(d)`` by ``sqrt(g(d))``, ``g(d) = s softplus(d / s)``
(``d = b - u`` above; ``d = u - a`` for ``u >= a`` and ``a log(u/a)`` below ``a`` so that the
density stays integrable at 0). It is smooth in ``x`` and ``sigma2``, equals the MP density
(to ``exp(-d/s)``) inside the bulk, and decays exponentially beyond the edges, so NUTS sees a
smooth likelihood when ``lambda_+`` moves past an eigenvalue. Its normaliser ``Z(N, Q)`` does not
depend on ``sigma2``; ``Z = 1 + C`` where the correction ``C`` (the integral of softened minus
hard density, concentrated at the edges) is computed by graded fixed Gauss-Legendre panels,
accurate to about 1e-12. ``s_-`` is capped at ``a / 8`` and the lower edge is not softened at
``Q = 1``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rmtfit.densities._quadrature import bisect_increasing, gauss_legendre_panels
from rmtfit.densities._special import log_softplus

__all__ = [
    "mp_edges",
    "mp_logpdf",
    "mp_cdf",
    "mp_sample",
    "tw_edge_scale",
    "mp_soft_logpdf",
    "mp_soft_cdf",
    "mp_soft_log_normaliser",
    "mp_soft_sample",
    "mp_soft_support",
]

_LOG_2PI = 1.8378770664093454836
_TAIL_SCALES = 46.0  # softened tails are integrated over 46 scales: exp(-23) of the edge density
_NODES = 20
# panel breakpoints, in units of the feature width, graded towards an edge
_GRADING = np.array([0.0, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0])
_TAIL_GRADING = np.array([0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, _TAIL_SCALES])


def _f64(*arrays):
    return [jnp.asarray(a, dtype=jnp.float64) for a in arrays]


def _shape(q_ratio):
    r = 1.0 / jnp.sqrt(q_ratio)
    return r, (1.0 - r) ** 2, (1.0 + r) ** 2


def mp_edges(sigma2, n_rows, q_ratio):
    """Bulk edges ``(lambda_-, lambda_+) = N sigma2 (1 -+ Q^{-1/2})^2`` in raw eigenvalue units."""
    sigma2, n_rows, q_ratio = _f64(sigma2, n_rows, q_ratio)
    _, a, b = _shape(q_ratio)
    return n_rows * sigma2 * a, n_rows * sigma2 * b


def tw_edge_scale(sigma2, n_rows, q_ratio):
    """Tracy-Widom scale of the top bulk eigenvalue in raw units (DESIGN.md, Tracy-Widom edge).

    .. math:: N \\sigma^2 (1 + Q^{-1/2}) (1 + \\sqrt{Q})^{1/3} N^{-2/3}
    """
    sigma2, n_rows, q_ratio = _f64(sigma2, n_rows, q_ratio)
    return n_rows * sigma2 * _upper_scale(n_rows, q_ratio)


# ----------------------------------------------------------------------------- hard edges


def mp_logpdf(x, sigma2, n_rows, q_ratio):
    """Log-density of the MP law of the raw eigenvalues (``-inf`` outside the bulk)."""
    x, sigma2, n_rows, q_ratio = _f64(x, sigma2, n_rows, q_ratio)
    scale = n_rows * sigma2
    r, a, b = _shape(q_ratio)
    u = x / scale
    inside = (u > a) & (u < b)
    us = jnp.where(inside, u, 0.5 * (a + b))
    value = (
        0.5 * jnp.log(b - us)
        + 0.5 * jnp.log(us - a)
        - jnp.log(2.0 * jnp.pi * r**2 * us)
        - jnp.log(scale)
    )
    return jnp.where(inside, value, -jnp.inf)


def _theta_of_u(u, r):
    cos_t = jnp.clip((1.0 + r**2 - u) / (2.0 * r), -1.0, 1.0)
    return jnp.arccos(cos_t)


def _u_of_theta(theta, r):
    return 1.0 + r**2 - 2.0 * r * jnp.cos(theta)


def _cdf_theta(theta, r):
    """The elementary MP CDF as a function of ``theta`` (see the module docstring)."""
    angle = jnp.arctan2((1.0 + r) * jnp.sin(0.5 * theta), (1.0 - r) * jnp.cos(0.5 * theta))
    value = (
        jnp.sin(theta) / (2.0 * r)
        + (1.0 + r**2) * theta / (4.0 * r**2)
        - (1.0 - r**2) / (2.0 * r**2) * angle
    )
    return jnp.clip(2.0 / jnp.pi * value, 0.0, 1.0)


def mp_cdf(x, sigma2, n_rows, q_ratio):
    """CDF of the hard-edged MP law of the raw eigenvalues (closed form)."""
    x, sigma2, n_rows, q_ratio = _f64(x, sigma2, n_rows, q_ratio)
    r, _, _ = _shape(q_ratio)
    return _cdf_theta(_theta_of_u(x / (n_rows * sigma2), r), r)


def mp_sample(rng_key, sigma2, n_rows, q_ratio, shape=(), num_iter: int = 60):
    """Draws by bisection of the closed-form CDF in ``theta``."""
    sigma2, n_rows, q_ratio = _f64(sigma2, n_rows, q_ratio)
    r, _, _ = _shape(q_ratio)
    v = jax.random.uniform(rng_key, shape, dtype=jnp.float64)
    theta = bisect_increasing(lambda t: _cdf_theta(t, r), v, 0.0, jnp.pi, num_iter)
    return n_rows * sigma2 * _u_of_theta(theta, r)


# ------------------------------------------------------------------------ softened edges


def _upper_scale(n_rows, q_ratio):
    r = 1.0 / jnp.sqrt(q_ratio)
    return (1.0 + r) * (1.0 + jnp.sqrt(q_ratio)) ** (1.0 / 3.0) * n_rows ** (-2.0 / 3.0)


def _soft_scales(n_rows, q_ratio, softness):
    """``(s_+, s_-, soft_lower)`` in units of ``c = N sigma2``."""
    r, a, _ = _shape(q_ratio)
    upper = softness * _upper_scale(n_rows, q_ratio)
    soft_lower = q_ratio > 1.0 + 1e-9
    tw_lower = (1.0 - r) * jnp.abs(jnp.sqrt(q_ratio) - 1.0) ** (1.0 / 3.0) * n_rows ** (-2.0 / 3.0)
    lower = jnp.where(soft_lower, jnp.minimum(softness * tw_lower, a / 8.0), 1.0)
    return upper, lower, soft_lower


def _log_soft_sqrt(d, s):
    """``0.5 log(s softplus(d / s))``: the log of a softened ``sqrt(d)``."""
    return 0.5 * (jnp.log(s) + log_softplus(d / s))


def _lower_distance(u, a):
    """``u - a`` above the lower edge, ``a log(u / a)`` below it (C^1 at ``a``)."""
    a_safe = jnp.maximum(a, 1e-300)
    below = a * jnp.log(jnp.maximum(u, 1e-300) / a_safe)
    return jnp.where(u >= a, u - a, below)


def _log_soft_density(u, r, a, b, s_up, s_lo, soft_lower):
    """Unnormalised log of the softened density in units of ``c`` (no ``log Z``)."""
    log_up = _log_soft_sqrt(b - u, s_up)
    log_lo_soft = _log_soft_sqrt(_lower_distance(u, a), s_lo)
    log_lo_hard = 0.5 * jnp.log(jnp.maximum(u - a, 1e-300))
    log_lo = jnp.where(soft_lower, log_lo_soft, log_lo_hard)
    return log_up + log_lo - jnp.log(2.0 * jnp.pi * r**2 * u)


def _breakpoints(grading, width, upper):
    return jnp.minimum(jnp.asarray(grading) * width[..., None], upper[..., None])


def _corrections(u_max, r, a, b, s_up, s_lo, soft_lower):
    """Integral of (softened - hard) density from 0 to ``u_max``, split by region (L, M, U)."""
    u_max = jnp.asarray(u_max)
    pi = jnp.full_like(u_max, jnp.pi)
    # region M: a <= u <= b in theta, graded towards both ends; the hard density's square roots
    # are 2 sqrt(r) sin(theta/2) and 2 sqrt(r) cos(theta/2) there.
    theta_max = jnp.where(u_max >= b, jnp.pi, _theta_of_u(jnp.maximum(u_max, a), r))
    w_lo = jnp.sqrt(s_lo / r) * jnp.ones_like(u_max)
    w_up = jnp.sqrt(s_up / r) * jnp.ones_like(u_max)
    half = 0.5 * pi
    lower_bp = _breakpoints(_GRADING, w_lo, half)
    upper_bp = pi[..., None] - _breakpoints(_GRADING, w_up, half)[..., ::-1]
    theta_bp = jnp.minimum(jnp.concatenate([lower_bp, upper_bp], axis=-1), theta_max[..., None])

    def middle(theta):
        u = _u_of_theta(theta, r)
        soft = jnp.exp(_log_soft_density(u, r, a, b, s_up, s_lo, soft_lower))
        hard = 2.0 * jnp.sin(theta) / (jnp.pi * jnp.maximum(u, 1e-300)) * jnp.sin(theta)
        return (soft * 2.0 * r * jnp.sin(theta) - hard) * (u > 0)

    region_m = jnp.sum(gauss_legendre_panels(middle, theta_bp, _NODES), axis=-1)

    # region U: b < u < b + 46 s_+ (no hard density there)
    width_up = s_up * jnp.ones_like(u_max)
    span_up = jnp.maximum(u_max - b, 0.0)
    up_bp = b + jnp.minimum(
        _breakpoints(_TAIL_GRADING, width_up, _TAIL_SCALES * width_up), span_up[..., None]
    )

    def tail_up(u):
        return jnp.exp(_log_soft_density(u, r, a, b, s_up, s_lo, soft_lower))

    region_u = jnp.sum(gauss_legendre_panels(tail_up, up_bp, _NODES), axis=-1)

    # region L: u < a, in v = log(u / a), only when the lower edge is softened; there the
    # integrand decays like exp(a v / (2 s_-)), so v runs from -46 s_- / a to 0
    a_safe = jnp.maximum(a, 1e-300)
    width_v = s_lo / a_safe * jnp.ones_like(u_max)
    v_max = jnp.log(jnp.clip(u_max, 1e-300, a_safe) / a_safe)
    v_bp = jnp.minimum(
        -_breakpoints(_TAIL_GRADING[::-1], width_v, _TAIL_SCALES * width_v), v_max[..., None]
    )

    def tail_lo(v):
        u = a * jnp.exp(v)
        return jnp.exp(_log_soft_density(u, r, a, b, s_up, s_lo, soft_lower)) * u

    region_l = jnp.sum(gauss_legendre_panels(tail_lo, v_bp, _NODES), axis=-1)
    region_l = jnp.where(soft_lower & (a > 0), region_l, 0.0)
    return region_l, region_m, region_u


def _soft_setup(n_rows, q_ratio, softness):
    r, a, b = _shape(q_ratio)
    s_up, s_lo, soft_lower = _soft_scales(n_rows, q_ratio, softness)
    return r, a, b, s_up, s_lo, soft_lower


def mp_soft_log_normaliser(n_rows, q_ratio, softness=1.0):
    """``log Z(N, Q)`` of the softened MP law (independent of ``sigma2``)."""
    n_rows, q_ratio, softness = _f64(n_rows, q_ratio, softness)
    r, a, b, s_up, s_lo, soft_lower = _soft_setup(n_rows, q_ratio, softness)
    big = jnp.asarray(b + 2.0 * _TAIL_SCALES * s_up)
    parts = _corrections(big, r, a, b, s_up, s_lo, soft_lower)
    return jnp.log1p(parts[0] + parts[1] + parts[2])


def mp_soft_logpdf(x, sigma2, n_rows, q_ratio, softness=1.0, log_normaliser=None):
    """Log-density of the MP law with Tracy-Widom-softened edges (raw eigenvalue units).

    Parameters
    ----------
    x
        Eigenvalues (raw units, ``> 0``).
    sigma2
        Entry variance of ``W``; the bulk edge is ``N sigma2 (1 + Q^{-1/2})^2``.
    n_rows, q_ratio
        ``N`` and ``Q = N / M >= 1`` of the layer.
    softness
        Multiplies both Tracy-Widom scales (1 by default; smaller is closer to the hard law).
    log_normaliser
        :func:`mp_soft_log_normaliser` of ``(n_rows, q_ratio, softness)`` when already known
        (it depends on the layer only); computed here when ``None``.
    """
    x, sigma2, n_rows, q_ratio, softness = _f64(x, sigma2, n_rows, q_ratio, softness)
    if log_normaliser is None:
        log_normaliser = mp_soft_log_normaliser(n_rows, q_ratio, softness)
    scale = n_rows * sigma2
    r, a, b, s_up, s_lo, soft_lower = _soft_setup(n_rows, q_ratio, softness)
    u = jnp.maximum(x / scale, 1e-300)
    value = _log_soft_density(u, r, a, b, s_up, s_lo, soft_lower) - jnp.log(scale) - log_normaliser
    return jnp.where(x > 0, value, -jnp.inf)


def mp_soft_cdf(x, sigma2, n_rows, q_ratio, softness=1.0, log_normaliser=None):
    """CDF of the softened MP law: ``(F_hard(u) + C(u)) / Z`` (see the module docstring).

    ``log_normaliser``: :func:`mp_soft_log_normaliser` of ``(n_rows, q_ratio, softness)`` when
    already known (it depends on the layer only). The derivative in ``x`` and ``sigma2`` is the
    closed-form density (a custom JVP), not the derivative of the quadrature, so a gradient costs
    one density evaluation; ``n_rows``, ``q_ratio`` and ``softness`` are treated as constants.
    """
    x, sigma2, n_rows, q_ratio, softness = _f64(x, sigma2, n_rows, q_ratio, softness)
    if log_normaliser is None:
        log_normaliser = mp_soft_log_normaliser(n_rows, q_ratio, softness)
    (log_normaliser,) = _f64(log_normaliser)
    u = jnp.maximum(x / (n_rows * sigma2), 0.0)
    return _soft_cdf_of_u(u, n_rows, q_ratio, softness, log_normaliser)


@jax.custom_jvp
def _soft_cdf_of_u(u, n_rows, q_ratio, softness, log_z):
    r, a, b, s_up, s_lo, soft_lower = _soft_setup(n_rows, q_ratio, softness)
    part = sum(_corrections(u, r, a, b, s_up, s_lo, soft_lower))
    hard = _cdf_theta(_theta_of_u(u, r), r)
    return jnp.clip((hard + part) * jnp.exp(-log_z), 0.0, 1.0)


@_soft_cdf_of_u.defjvp
def _soft_cdf_of_u_jvp(primals, tangents):
    u, n_rows, q_ratio, softness, log_z = primals
    value = _soft_cdf_of_u(u, n_rows, q_ratio, softness, log_z)
    r, a, b, s_up, s_lo, soft_lower = _soft_setup(n_rows, q_ratio, softness)
    us = jnp.maximum(u, 1e-300)
    log_density = _log_soft_density(us, r, a, b, s_up, s_lo, soft_lower) - log_z
    density = jnp.where(u > 0, jnp.exp(log_density), 0.0)
    return value, density * tangents[0]


def mp_soft_support(sigma2, n_rows, q_ratio, softness=1.0):
    """``(lower, upper)`` outside which the softened law has mass below about 1e-10 (raw units)."""
    sigma2, n_rows, q_ratio, softness = _f64(sigma2, n_rows, q_ratio, softness)
    r, a, b, s_up, s_lo, soft_lower = _soft_setup(n_rows, q_ratio, softness)
    scale = n_rows * sigma2
    lower = jnp.where(soft_lower, a * jnp.exp(-_TAIL_SCALES * s_lo / jnp.maximum(a, 1e-300)), 0.0)
    return scale * lower, scale * (b + _TAIL_SCALES * s_up)


def _soft_grid(n_rows, q_ratio, softness, size: int = 512):
    """Points (units of ``c``) dense where the softened CDF bends: uniform in ``theta`` over the
    bulk, geometric in the softened tails."""
    r, a, b, s_up, s_lo, soft_lower = _soft_setup(n_rows, q_ratio, softness)
    theta = jnp.linspace(0.0, jnp.pi, 2 * size)
    frac = jnp.linspace(0.0, 1.0, size) ** 2
    above = b + _TAIL_SCALES * s_up * frac
    v_from = -_TAIL_SCALES * s_lo / jnp.maximum(a, 1e-300)
    below = jnp.where(soft_lower, a * jnp.exp(v_from * frac), a)
    return jnp.sort(jnp.concatenate([below, _u_of_theta(theta, r), above]))


def mp_soft_sample(
    rng_key, sigma2, n_rows, q_ratio, softness=1.0, shape=(), upper=None, num_newton: int = 4
):
    """Draws by inverting :func:`mp_soft_cdf`, optionally truncated to ``x <= upper``.

    The CDF is tabulated once on a grid dense at the edges (``mp_soft_cdf``, exact); inside a
    draw's bracket ``[g_j, g_{j+1}]`` the CDF is ``F(g_j)`` plus an 8-point Gauss-Legendre
    integral of the density, and safeguarded Newton steps (clamped to the bracket) solve
    ``F(u) = v`` from the linear interpolation of the table.
    """
    sigma2, n_rows, q_ratio, softness = _f64(sigma2, n_rows, q_ratio, softness)
    scale = n_rows * sigma2
    grid = _soft_grid(n_rows, q_ratio, softness)
    if upper is not None:
        (upper,) = _f64(upper)
        grid = jnp.minimum(grid, upper / scale)
    table = mp_soft_cdf(grid * scale, sigma2, n_rows, q_ratio, softness)
    v = jax.random.uniform(rng_key, shape, dtype=jnp.float64) * table[-1]
    right = jnp.clip(jnp.searchsorted(table, v, side="right"), 1, grid.size - 1)
    lo, hi = grid[right - 1], grid[right]
    f_lo, f_hi = table[right - 1], table[right]
    u = lo + (hi - lo) * jnp.clip((v - f_lo) / jnp.maximum(f_hi - f_lo, 1e-300), 0.0, 1.0)
    log_z = mp_soft_log_normaliser(n_rows, q_ratio, softness)

    def density(w):
        return jnp.exp(mp_soft_logpdf(w * scale, sigma2, n_rows, q_ratio, softness, log_z)) * scale

    def newton(_, u):
        partial = gauss_legendre_panels(density, jnp.stack([lo, u], axis=-1), 8)[..., 0]
        step = (f_lo + partial - v) / jnp.maximum(density(u), 1e-300)
        return jnp.clip(u - step, lo, hi)

    u = jax.lax.fori_loop(0, num_newton, newton, u)
    return u * scale
