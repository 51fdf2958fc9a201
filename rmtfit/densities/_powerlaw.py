"""Power laws: on [xmin, inf), doubly truncated on [xmin, xmax], and with an exponential cutoff.

All functions are pure ``jax.numpy``, float64, differentiable in the parameters (the samplers
are not differentiated), and broadcast over their arguments. Below ``xmin`` (or above ``xmax``)
the log-density is ``-inf``. Derivations: ``docs/derivations/power_law.md``,
``truncated_power_law.md``, ``cutoff_power_law.md``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rmtfit.densities._quadrature import bisect_increasing
from rmtfit.densities._special import exprel, log_exprel, log_upper_gamma_scaled

__all__ = [
    "power_law_logpdf",
    "power_law_logsf",
    "power_law_cdf",
    "power_law_sample",
    "truncated_power_law_logpdf",
    "truncated_power_law_cdf",
    "truncated_power_law_sample",
    "cutoff_power_law_logpdf",
    "cutoff_power_law_logsf",
    "cutoff_power_law_cdf",
    "cutoff_power_law_sample",
]

_NEG_INF = -jnp.inf


def _f64(*arrays):
    return [jnp.asarray(a, dtype=jnp.float64) for a in arrays]


# ------------------------------------------------------------------ power law on [xmin, inf)


def power_law_logpdf(x, alpha, xmin):
    """Log-density of the power law on ``[xmin, inf)``, ``alpha > 1``.

    .. math:: p(x) = \\frac{\\alpha - 1}{x_{\\min}} \\left(\\frac{x}{x_{\\min}}\\right)^{-\\alpha}
    """
    x, alpha, xmin = _f64(x, alpha, xmin)
    value = jnp.log(alpha - 1.0) - jnp.log(xmin) - alpha * jnp.log(x / xmin)
    return jnp.where(x >= xmin, value, _NEG_INF)


def power_law_logsf(x, alpha, xmin):
    """Log-survival ``log P(X > x) = (1 - alpha) log(x / xmin)`` for ``x >= xmin``."""
    x, alpha, xmin = _f64(x, alpha, xmin)
    return (1.0 - alpha) * jnp.log(jnp.maximum(x, xmin) / xmin)


def power_law_cdf(x, alpha, xmin):
    """CDF of the power law on ``[xmin, inf)``."""
    return -jnp.expm1(power_law_logsf(x, alpha, xmin))


def power_law_sample(rng_key, alpha, xmin, shape=()):
    """Draws by inversion: ``x = xmin * V^(-1/(alpha - 1))``, ``V ~ U(0, 1]``."""
    v = 1.0 - jax.random.uniform(rng_key, shape, dtype=jnp.float64)
    return xmin * jnp.exp(-jnp.log(v) / (alpha - 1.0))


# ------------------------------------------------------- doubly truncated power law [xmin, xmax]


def truncated_power_law_logpdf(x, alpha, xmin, xmax):
    """Log-density of the power law truncated to ``[xmin, xmax]``, any real ``alpha``.

    With ``L = log(xmax/xmin)`` and ``u = (alpha - 1) L``,

    .. math:: p(x) = \\frac{(x/x_{\\min})^{-\\alpha}}{x_{\\min} L\\, \\mathrm{exprel}(-u)},

    where ``exprel(z) = (e^z - 1)/z``: stable through ``alpha = 1`` (log-uniform law).
    """
    x, alpha, xmin, xmax = _f64(x, alpha, xmin, xmax)
    span = jnp.log(xmax / xmin)
    value = (
        -alpha * jnp.log(x / xmin)
        - jnp.log(xmin)
        - jnp.log(span)
        - log_exprel(-(alpha - 1.0) * span)
    )
    return jnp.where((x >= xmin) & (x <= xmax), value, _NEG_INF)


def truncated_power_law_cdf(x, alpha, xmin, xmax):
    """CDF ``F(x) = t exprel(-(alpha-1) t) / (L exprel(-(alpha-1) L))``, ``t = log(x/xmin)``."""
    x, alpha, xmin, xmax = _f64(x, alpha, xmin, xmax)
    span = jnp.log(xmax / xmin)
    t = jnp.log(jnp.clip(x, xmin, xmax) / xmin)
    log_num = jnp.log(jnp.maximum(t, 1e-300)) + log_exprel(-(alpha - 1.0) * t)
    log_den = jnp.log(span) + log_exprel(-(alpha - 1.0) * span)
    return jnp.where(t > 0, jnp.exp(log_num - log_den), 0.0)


def _log1p_over(w):
    """``log1p(w) / w``, 1 at ``w = 0``."""
    small = jnp.abs(w) < 1e-4
    ws = jnp.where(small, 1.0, w)
    return jnp.where(small, 1.0 - w / 2.0 + w**2 / 3.0, jnp.log1p(ws) / ws)


def truncated_power_law_sample(rng_key, alpha, xmin, xmax, shape=()):
    """Draws by inversion: ``t = -log1p(U expm1(-u)) / (alpha - 1)``, written stably at alpha=1."""
    alpha, xmin, xmax = _f64(alpha, xmin, xmax)
    u01 = jax.random.uniform(rng_key, shape, dtype=jnp.float64)
    span = jnp.log(xmax / xmin)
    u = (alpha - 1.0) * span
    w = u01 * jnp.expm1(-u)
    t = span * u01 * exprel(-u) * _log1p_over(w)
    return jnp.clip(xmin * jnp.exp(t), xmin, xmax)


# ------------------------------------------------ power law with exponential cutoff [xmin, inf)


def cutoff_power_law_logpdf(x, alpha, rate, xmin):
    """Log-density of ``x^-alpha e^(-rate x)`` on ``[xmin, inf)``, ``rate > 0``, any real ``alpha``.

    The normaliser is ``rate^(alpha-1) Gamma(1 - alpha, rate xmin)``; in terms of the scaled
    function ``G(s, y) = e^y y^-s Gamma(s, y)`` the powers of ``rate`` cancel:

    .. math:: \\log p(x) = -\\alpha \\log\\frac{x}{x_{\\min}} - \\lambda (x - x_{\\min})
              - \\log x_{\\min} - \\log G(1 - \\alpha, \\lambda x_{\\min}).
    """
    x, alpha, rate, xmin = _f64(x, alpha, rate, xmin)
    value = (
        -alpha * jnp.log(x / xmin)
        - rate * (x - xmin)
        - jnp.log(xmin)
        - log_upper_gamma_scaled(1.0 - alpha, rate * xmin)
    )
    return jnp.where(x >= xmin, value, _NEG_INF)


def cutoff_power_law_logsf(x, alpha, rate, xmin):
    """Log-survival ``log Gamma(1-alpha, rate x) - log Gamma(1-alpha, rate xmin)``."""
    x, alpha, rate, xmin = _f64(x, alpha, rate, xmin)
    x = jnp.maximum(x, xmin)
    s = 1.0 - alpha
    return (
        log_upper_gamma_scaled(s, rate * x)
        - log_upper_gamma_scaled(s, rate * xmin)
        + s * jnp.log(x / xmin)
        - rate * (x - xmin)
    )


def cutoff_power_law_cdf(x, alpha, rate, xmin):
    """CDF of the cutoff power law."""
    return -jnp.expm1(cutoff_power_law_logsf(x, alpha, rate, xmin))


def cutoff_power_law_sample(rng_key, alpha, rate, xmin, shape=(), num_iter: int = 90):
    """Draws by bisection on ``log x`` of the log-survival function.

    The bracket uses two stochastic dominations of the cutoff law: by the shifted exponential
    ``xmin + Exp(rate)`` (for ``alpha >= 0``) and by the power law (for ``alpha > 1``); the
    sampler therefore needs ``alpha >= 0`` (the density itself takes any real ``alpha``).
    """
    alpha, rate, xmin = _f64(alpha, rate, xmin)
    v = 1.0 - jax.random.uniform(rng_key, shape, dtype=jnp.float64)  # target survival in (0, 1]
    log_v = jnp.log(v)
    hi_exp = xmin - log_v / rate
    alpha_pl = jnp.where(alpha > 1.0, alpha, 2.0)
    hi_pl = jnp.where(alpha > 1.0, xmin * jnp.exp(-log_v / (alpha_pl - 1.0)), jnp.inf)
    hi = jnp.minimum(hi_exp, hi_pl)

    def neg_logsf(log_x):
        return -cutoff_power_law_logsf(jnp.exp(log_x), alpha, rate, xmin)

    log_x = bisect_increasing(neg_logsf, -log_v, jnp.log(xmin), jnp.log(hi), num_iter)
    return jnp.exp(log_x)
