"""Default priors of the built-in likelihoods: the ranges in one place, and one custom law.

Every default prior is weakly informative on the natural scale (DESIGN.md, "Modelling notes"),
stated in the parameter's ``doc`` and overridable with ``Likelihood.with_priors``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpyro.distributions as dist
from numpyro.distributions import constraints
from numpyro.distributions.util import promote_shapes

__all__ = ["ALPHA_RANGE", "POWER_LAW_EXCESS_RANGE", "ShiftedLogUniform", "jeffreys_alpha_prior"]

ALPHA_RANGE = (1.0, 12.0)
"""Range of a tail exponent alpha whose law needs alpha > 1 (power law, spliced tails)."""

CUTOFF_ALPHA_RANGE = (0.0, 12.0)
"""Range of alpha for laws that are normalisable at alpha <= 1 (cutoff, truncated power law)."""

POWER_LAW_EXCESS_RANGE = (0.01, 11.0)
"""``alpha - 1`` range of the power-law Jeffreys prior: alpha in (1.01, 12)."""


class ShiftedLogUniform(dist.Distribution):
    """``shift + LogUniform(low, high)``: density ``1 / ((x - shift) log(high / low))``.

    With ``shift = 1`` this is the Jeffreys prior ``1/(alpha - 1)`` of the power-law exponent,
    made proper by restricting ``alpha - 1`` to ``(low, high)``.
    """

    arg_constraints = {
        "shift": constraints.real,
        "low": constraints.positive,
        "high": constraints.positive,
    }
    reparametrized_params = ["shift", "low", "high"]
    pytree_data_fields = ("shift", "low", "high", "_support")

    def __init__(self, shift=0.0, low=1.0, high=2.0, *, validate_args=None):
        self.shift, self.low, self.high = promote_shapes(shift, low, high)
        batch_shape = jax.lax.broadcast_shapes(jnp.shape(shift), jnp.shape(low), jnp.shape(high))
        self._support = constraints.interval(self.shift + self.low, self.shift + self.high)
        super().__init__(batch_shape=batch_shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return self._support

    def sample(self, key, sample_shape=()):
        shape = sample_shape + self.batch_shape
        u = jax.random.uniform(key, shape, minval=jnp.log(self.low), maxval=jnp.log(self.high))
        return self.shift + jnp.exp(u)

    def log_prob(self, value):
        inside = (value > self.shift + self.low) & (value < self.shift + self.high)
        excess = jnp.where(inside, value - self.shift, self.low)
        log_p = -jnp.log(excess) - jnp.log(jnp.log(self.high / self.low))
        return jnp.where(inside, log_p, -jnp.inf)

    def cdf(self, value):
        excess = jnp.clip(value - self.shift, self.low, self.high)
        return jnp.log(excess / self.low) / jnp.log(self.high / self.low)

    @property
    def mean(self):
        return self.shift + (self.high - self.low) / jnp.log(self.high / self.low)

    @property
    def variance(self):
        span = jnp.log(self.high / self.low)
        second = (self.high**2 - self.low**2) / (2.0 * span)
        first = (self.high - self.low) / span
        return second - first**2


def jeffreys_alpha_prior(context=None) -> ShiftedLogUniform:
    """Proper Jeffreys prior of a power-law exponent: density ``1/(alpha - 1)`` on (1.01, 12)."""
    low, high = POWER_LAW_EXCESS_RANGE
    return ShiftedLogUniform(1.0, low, high)
