"""Extreme-value laws: Tracy-Widom (beta = 1) and Frechet, with the top-k order statistics.

**Tracy-Widom.** The largest eigenvalue of a white Wishart matrix, centred at ``lambda_+`` and
scaled by the Tracy-Widom edge scale (DESIGN.md), converges to TW1 (Johnstone 2001). TW1 has no
closed form; the shifted Gamma of Chiani (2014), ``TW1 ~ Gamma(k, theta) - alpha`` with
``(k, theta, alpha) = (46.446, 0.186054, 9.84801)``, matches its mean (-1.2065), variance (1.6078),
skewness and kurtosis, and is JAX friendly (``gammainc`` for the CDF).

**Frechet.** For entries with tail exponent ``mu < 4`` the top eigenvalues form a Poisson process
with mean measure ``Lambda(x) = (x / s)^(-a)``, ``a = mu / 2 = alpha - 1`` of the ESD tail
(DESIGN.md, "Heavy tails"); ``lambda_max`` is Frechet, ``P(X <= x) = exp(-Lambda(x))``. The top-k
order statistics ``x_1 > ... > x_k`` have the joint density

.. math:: \\prod_{i=1}^{k} \\frac{a}{s}\\left(\\frac{x_i}{s}\\right)^{-a-1}
          \\exp\\left[-\\left(\\frac{x_k}{s}\\right)^{-a}\\right],

whose profile in ``a`` is the Clauset estimator with ``xmin = x_k`` (up to ``k`` vs ``k - 1``).
``Lambda(x_i)`` is Gamma(i, 1), so one of the k picked uniformly has the marginal density
``Q(k, Lambda(x)) |Lambda'(x)| / k`` (``Q`` the regularised upper incomplete gamma) and CDF
``(1/k) sum_i Q(i, Lambda(x))``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import gammainc, gammaincc, gammaln

__all__ = [
    "TW1_GAMMA",
    "tracy_widom1_logpdf",
    "tracy_widom1_cdf",
    "tracy_widom1_sample",
    "frechet_logpdf",
    "frechet_cdf",
    "frechet_sample",
    "frechet_topk_logpdf",
    "frechet_topk_pointwise",
    "frechet_topk_marginal_logpdf",
    "frechet_topk_marginal_cdf",
    "frechet_topk_sample",
]

TW1_GAMMA = (46.446, 0.186054, 9.84801)
"""``(k, theta, alpha)`` of Chiani's (2014) shifted-Gamma approximation of TW1."""


def _f64(*arrays):
    return [jnp.asarray(a, dtype=jnp.float64) for a in arrays]


# --------------------------------------------------------------------------- Tracy-Widom 1


def tracy_widom1_logpdf(t):
    """Log-density of TW1 (shifted-Gamma approximation); ``-inf`` below ``-alpha = -9.848``."""
    (t,) = _f64(t)
    k, theta, shift = TW1_GAMMA
    z = t + shift
    zs = jnp.where(z > 0, z, 1.0)
    value = (k - 1.0) * jnp.log(zs) - zs / theta - gammaln(k) - k * jnp.log(theta)
    return jnp.where(z > 0, value, -jnp.inf)


def tracy_widom1_cdf(t):
    """CDF of TW1 (shifted-Gamma approximation)."""
    (t,) = _f64(t)
    k, theta, shift = TW1_GAMMA
    return gammainc(k, jnp.maximum(t + shift, 0.0) / theta)


def tracy_widom1_sample(rng_key, shape=()):
    """Draws of TW1 (shifted-Gamma approximation)."""
    k, theta, shift = TW1_GAMMA
    return theta * jax.random.gamma(rng_key, k, shape, dtype=jnp.float64) - shift


# ------------------------------------------------------------------------------- Frechet


def frechet_logpdf(x, shape, scale):
    """Log-density of the Frechet law ``exp(-(x/s)^-a)`` on ``(0, inf)``."""
    x, shape, scale = _f64(x, shape, scale)
    xs = jnp.where(x > 0, x, scale)
    log_z = jnp.log(xs / scale)
    value = jnp.log(shape / scale) - (shape + 1.0) * log_z - jnp.exp(-shape * log_z)
    return jnp.where(x > 0, value, -jnp.inf)


def frechet_cdf(x, shape, scale):
    """CDF ``exp(-(x/s)^-a)`` of the Frechet law."""
    x, shape, scale = _f64(x, shape, scale)
    xs = jnp.where(x > 0, x, scale)
    return jnp.where(x > 0, jnp.exp(-jnp.exp(-shape * jnp.log(xs / scale))), 0.0)


def frechet_sample(rng_key, shape, scale, size=()):
    """Draws by inversion ``s (-log U)^(-1/a)``."""
    shape, scale = _f64(shape, scale)
    e = jax.random.exponential(rng_key, size, dtype=jnp.float64)
    return scale * jnp.exp(-jnp.log(e) / shape)


def frechet_topk_pointwise(x, shape, scale, x_k, k):
    """The joint top-k log-density split into ``k`` terms that sum to it.

    Term ``i``: ``log(a/s) - (a+1) log(x_i/s) - Lambda(x_k) / k``; the exponential factor of the
    k-th order statistic is shared equally so that no term depends on the ordering.
    """
    x, shape, scale, x_k, k = _f64(x, shape, scale, x_k, k)
    mass = jnp.exp(-shape * jnp.log(x_k / scale))
    return jnp.log(shape / scale) - (shape + 1.0) * jnp.log(x / scale) - mass / k


def frechet_topk_logpdf(x, shape, scale):
    """Joint log-density of the top-k order statistics ``x`` (any order), ``k = len(x)``."""
    (x,) = _f64(x)
    k = x.shape[-1]
    return jnp.sum(
        frechet_topk_pointwise(x, shape, scale, jnp.min(x, axis=-1, keepdims=True), k), -1
    )


def frechet_topk_marginal_logpdf(x, shape, scale, k):
    """Log-density of one of the top-k picked at random: ``Q(k, Lambda(x)) Lambda'(x) / k``."""
    x, shape, scale, k = _f64(x, shape, scale, k)
    xs = jnp.where(x > 0, x, scale)
    log_z = jnp.log(xs / scale)
    mass = jnp.exp(-shape * log_z)
    value = (
        jnp.log(gammaincc(k, mass)) - jnp.log(k) + jnp.log(shape / scale) - (shape + 1.0) * log_z
    )
    return jnp.where(x > 0, value, -jnp.inf)


def frechet_topk_marginal_cdf(x, shape, scale, k_max: int):
    """CDF ``(1/k) sum_{i<=k} Q(i, Lambda(x))`` of one of the top ``k_max`` picked at random."""
    x, shape, scale = _f64(x, shape, scale)
    xs = jnp.where(x > 0, x, scale)
    mass = jnp.exp(-shape * jnp.log(xs / scale))
    i = jnp.arange(1, k_max + 1, dtype=jnp.float64)
    value = jnp.mean(gammaincc(i, mass[..., None]), axis=-1)
    return jnp.where(x > 0, value, 0.0)


def frechet_topk_sample(rng_key, shape, scale, k: int, size=()):
    """The top-k points ``s T_i^(-1/a)``, ``T_i`` the arrival times of a unit Poisson process.

    Returns an array of shape ``size + (k,)``, largest first.
    """
    shape, scale = _f64(shape, scale)
    arrivals = jnp.cumsum(jax.random.exponential(rng_key, size + (k,), dtype=jnp.float64), -1)
    return scale * jnp.exp(-jnp.log(arrivals) / shape)
