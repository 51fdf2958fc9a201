"""The comparison alternatives to a power-law tail, each truncated to ``[xmin, inf)``.

Log-normal, exponential and stretched exponential (Weibull), conditioned on ``x >= xmin`` as
in Clauset, Shalizi & Newman (2009), Table 2. Pure ``jax.numpy``, float64, differentiable in the
parameters; below ``xmin`` the log-density is ``-inf``. Derivations: ``docs/derivations/``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import log_ndtr

from rmtfit.densities._quadrature import bisect_increasing

__all__ = [
    "lognormal_logpdf",
    "lognormal_logsf",
    "lognormal_cdf",
    "lognormal_sample",
    "exponential_logpdf",
    "exponential_logsf",
    "exponential_cdf",
    "exponential_sample",
    "stretched_exponential_logpdf",
    "stretched_exponential_logsf",
    "stretched_exponential_cdf",
    "stretched_exponential_sample",
]

_HALF_LOG_2PI = 0.91893853320467274178


def _f64(*arrays):
    return [jnp.asarray(a, dtype=jnp.float64) for a in arrays]


# ---------------------------------------------------------------- log-normal on [xmin, inf)


def lognormal_logpdf(x, mu, sigma, xmin):
    """Log-density of the log-normal ``LN(mu, sigma^2)`` conditioned on ``x >= xmin``.

    .. math:: p(x) = \\frac{\\phi(z)}{x \\sigma\\, \\Phi(-z_0)}, \\quad z = \\frac{\\log x - \\mu}{\\sigma},
              \\ z_0 = \\frac{\\log x_{\\min} - \\mu}{\\sigma}

    ``log Phi(-z0)`` is evaluated with ``log_ndtr``, accurate deep in the tail.
    """
    x, mu, sigma, xmin = _f64(x, mu, sigma, xmin)
    z = (jnp.log(x) - mu) / sigma
    z0 = (jnp.log(xmin) - mu) / sigma
    value = -0.5 * z**2 - _HALF_LOG_2PI - jnp.log(sigma) - jnp.log(x) - log_ndtr(-z0)
    return jnp.where(x >= xmin, value, -jnp.inf)


def lognormal_logsf(x, mu, sigma, xmin):
    """``log P(X > x | X >= xmin) = log Phi(-z) - log Phi(-z0)``."""
    x, mu, sigma, xmin = _f64(x, mu, sigma, xmin)
    z = (jnp.log(jnp.maximum(x, xmin)) - mu) / sigma
    z0 = (jnp.log(xmin) - mu) / sigma
    return log_ndtr(-z) - log_ndtr(-z0)


def lognormal_cdf(x, mu, sigma, xmin):
    """CDF of the truncated log-normal."""
    return -jnp.expm1(lognormal_logsf(x, mu, sigma, xmin))


def lognormal_sample(rng_key, mu, sigma, xmin, shape=(), num_iter: int = 90):
    """Draws by bisection in ``z`` of ``log Phi(-z) = log V + log Phi(-z0)`` (robust for any z0).

    The bracket is ``[z0, max(z0, sqrt(-2 t))]`` with ``t`` the target: ``Phi(-z) <= exp(-z^2/2)``.
    """
    mu, sigma, xmin = _f64(mu, sigma, xmin)
    v = 1.0 - jax.random.uniform(rng_key, shape, dtype=jnp.float64)
    z0 = (jnp.log(xmin) - mu) / sigma
    target = jnp.log(v) + log_ndtr(-z0)
    hi = jnp.maximum(z0, jnp.sqrt(-2.0 * target)) + 1e-12
    z = bisect_increasing(lambda zz: -log_ndtr(-zz), -target, z0, hi, num_iter)
    return jnp.maximum(jnp.exp(mu + sigma * z), xmin)


# --------------------------------------------------------------- exponential on [xmin, inf)


def exponential_logpdf(x, rate, xmin):
    """Log-density of the shifted exponential ``rate exp(-rate (x - xmin))`` on ``[xmin, inf)``."""
    x, rate, xmin = _f64(x, rate, xmin)
    value = jnp.log(rate) - rate * (x - xmin)
    return jnp.where(x >= xmin, value, -jnp.inf)


def exponential_logsf(x, rate, xmin):
    """``log P(X > x) = -rate (x - xmin)``."""
    x, rate, xmin = _f64(x, rate, xmin)
    return -rate * (jnp.maximum(x, xmin) - xmin)


def exponential_cdf(x, rate, xmin):
    """CDF of the shifted exponential."""
    return -jnp.expm1(exponential_logsf(x, rate, xmin))


def exponential_sample(rng_key, rate, xmin, shape=()):
    """Draws ``xmin - log(V) / rate``, ``V ~ U(0, 1]``."""
    v = 1.0 - jax.random.uniform(rng_key, shape, dtype=jnp.float64)
    return xmin - jnp.log(v) / rate


# ------------------------------------------------ stretched exponential (Weibull) [xmin, inf)


def stretched_exponential_logpdf(x, beta, scale, xmin):
    """Log-density of ``x^(beta-1) exp(-(x/scale)^beta)`` conditioned on ``x >= xmin``.

    .. math:: p(x) = \\frac{\\beta}{s} \\left(\\frac{x}{s}\\right)^{\\beta - 1}
              \\exp\\left[\\left(\\frac{x_{\\min}}{s}\\right)^{\\beta} - \\left(\\frac{x}{s}\\right)^{\\beta}\\right]
    """
    x, beta, scale, xmin = _f64(x, beta, scale, xmin)
    log_ratio = jnp.log(x / scale)
    value = (
        jnp.log(beta)
        - jnp.log(scale)
        + (beta - 1.0) * log_ratio
        - jnp.exp(beta * log_ratio)
        + jnp.exp(beta * jnp.log(xmin / scale))
    )
    return jnp.where(x >= xmin, value, -jnp.inf)


def stretched_exponential_logsf(x, beta, scale, xmin):
    """``log P(X > x) = (xmin/scale)^beta - (x/scale)^beta``."""
    x, beta, scale, xmin = _f64(x, beta, scale, xmin)
    x = jnp.maximum(x, xmin)
    return jnp.exp(beta * jnp.log(xmin / scale)) - jnp.exp(beta * jnp.log(x / scale))


def stretched_exponential_cdf(x, beta, scale, xmin):
    """CDF of the truncated stretched exponential."""
    return -jnp.expm1(stretched_exponential_logsf(x, beta, scale, xmin))


def stretched_exponential_sample(rng_key, beta, scale, xmin, shape=()):
    """Draws by inversion: ``x = scale ((xmin/scale)^beta - log V)^(1/beta)``."""
    beta, scale, xmin = _f64(beta, scale, xmin)
    v = 1.0 - jax.random.uniform(rng_key, shape, dtype=jnp.float64)
    base = jnp.exp(beta * jnp.log(xmin / scale)) - jnp.log(v)
    return jnp.maximum(scale * jnp.exp(jnp.log(base) / beta), xmin)
