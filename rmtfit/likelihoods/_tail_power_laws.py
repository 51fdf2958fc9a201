"""Tail likelihoods of the power-law kind: ``power_law``, ``truncated_power_law``, ``cutoff_power_law``.

Each explains the eigenvalues above the classical (KS-minimising) xmin, which stays fixed; see
``docs/derivations/`` for the densities, normalisers, CDFs, samplers and references.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from numpyro.distributions import constraints
from scipy import stats

from rmtfit.densities import (
    cutoff_power_law_cdf,
    cutoff_power_law_logpdf,
    cutoff_power_law_sample,
    power_law_cdf,
    power_law_logpdf,
    power_law_sample,
    truncated_power_law_cdf,
    truncated_power_law_logpdf,
    truncated_power_law_sample,
)
from rmtfit.likelihoods.api import Parameter, Roles, likelihood
from rmtfit.likelihoods.helpers import (
    CUTOFF_ALPHA_RANGE,
    POWER_LAW_EXCESS_RANGE,
    clip_into,
    jeffreys_alpha_prior,
    tail_context,
)

__all__ = ["power_law", "truncated_power_law", "cutoff_power_law"]

_TAIL_ROLES = Roles(kind="tail", tail_exponent="alpha")  # xmin is fixed (context): no xmin role

# ------------------------------------------------------------------------------ power_law

_PL_LOW = 1.0 + POWER_LAW_EXCESS_RANGE[0]
_PL_HIGH = 1.0 + POWER_LAW_EXCESS_RANGE[1]


def _power_law_init(context: Mapping[str, float]) -> dict[str, float]:
    return {"alpha": clip_into(float(context["alpha_classical"]), _PL_LOW, _PL_HIGH)}


def _power_law_sample(rng_key, params, context, n):
    return power_law_sample(rng_key, params["alpha"], context["xmin"], (n,))


def _power_law_cdf(x, params, context):
    return power_law_cdf(x, params["alpha"], context["xmin"])


def _gamma_posterior(x: Any, context: Mapping[str, float]) -> Any:
    """The Gamma(n, sum ln(x/xmin)) law of alpha - 1 (before truncation to the prior range)."""
    arr = np.asarray(x, dtype=np.float64)
    log_excess = float(np.sum(np.log(arr / float(context["xmin"]))))
    return stats.gamma(a=arr.size, scale=1.0 / log_excess)


def power_law_exact_posterior(
    x: Any, context: Mapping[str, float], num_draws: int, seed: int = 0
) -> dict[str, np.ndarray]:
    """Exact posterior draws of alpha for ``power_law`` with xmin fixed (a test oracle).

    Under the declared prior (density proportional to ``1/(alpha - 1)`` on (1.01, 12)), the
    posterior of ``alpha - 1`` is Gamma(n, sum ln(x_i / xmin)) truncated to (0.01, 11); the
    draws come from its inverse CDF (scipy), seeded by ``seed``.
    """
    law = _gamma_posterior(x, context)
    low, high = POWER_LAW_EXCESS_RANGE
    u = np.random.default_rng(seed).uniform(size=num_draws)
    if law.cdf(low) < 0.5:
        lo, hi = law.cdf(low), law.cdf(high)
        excess = law.ppf(lo + (hi - lo) * u)
    else:  # the mass sits in the upper tail: invert the survival function for accuracy
        lo, hi = law.sf(high), law.sf(low)
        excess = law.isf(lo + (hi - lo) * u)
    return {"alpha": 1.0 + np.clip(excess, low, high)}


def power_law_exact_posterior_cdf(alpha: Any, x: Any, context: Mapping[str, float]) -> np.ndarray:
    """CDF of the exact posterior of alpha (see :func:`power_law_exact_posterior`)."""
    law = _gamma_posterior(x, context)
    low, high = POWER_LAW_EXCESS_RANGE
    excess = np.clip(np.asarray(alpha, dtype=np.float64) - 1.0, low, high)
    if law.cdf(low) < 0.5:
        return (law.cdf(excess) - law.cdf(low)) / (law.cdf(high) - law.cdf(low))
    return (law.sf(low) - law.sf(excess)) / (law.sf(low) - law.sf(high))


@likelihood(
    "power_law",
    family="tail",
    parameters=[
        Parameter(
            "alpha",
            constraints.interval(_PL_LOW, _PL_HIGH),
            jeffreys_alpha_prior,
            "alpha ~ 1/(alpha - 1) on (1.01, 12): the Jeffreys prior, made proper",
        )
    ],
    context=tail_context,
    init=_power_law_init,
    sample=_power_law_sample,
    cdf=_power_law_cdf,
    exact_posterior=power_law_exact_posterior,
    exact_posterior_cdf=power_law_exact_posterior_cdf,
    roles=_TAIL_ROLES,
)
def power_law(x, params, context):
    """Power law on [xmin, inf): p(x) = (alpha - 1)/xmin (x/xmin)^-alpha, xmin fixed (classical)."""
    return power_law_logpdf(x, params["alpha"], context["xmin"])


# -------------------------------------------------------------------- truncated_power_law


def _alpha_uniform(context: Mapping[str, float]) -> Any:
    return dist.Uniform(*CUTOFF_ALPHA_RANGE)


def _alpha_init(context: Mapping[str, float]) -> float:
    return clip_into(float(context["alpha_classical"]), *CUTOFF_ALPHA_RANGE, margin=0.01)


def _truncated_sample(rng_key, params, context, n):
    return truncated_power_law_sample(
        rng_key, params["alpha"], context["xmin"], context["upper"], (n,)
    )


def _truncated_cdf(x, params, context):
    return truncated_power_law_cdf(x, params["alpha"], context["xmin"], context["upper"])


def _truncated_support(params, context):
    return context["xmin"], context["upper"]


@likelihood(
    "truncated_power_law",
    family="tail",
    parameters=[
        Parameter(
            "alpha",
            constraints.interval(*CUTOFF_ALPHA_RANGE),
            _alpha_uniform,
            "alpha ~ Uniform(0, 12) (the truncated law is proper for every alpha)",
        )
    ],
    context=tail_context,
    init=lambda context: {"alpha": _alpha_init(context)},
    sample=_truncated_sample,
    cdf=_truncated_cdf,
    support=_truncated_support,
    roles=_TAIL_ROLES,
)
def truncated_power_law(x, params, context):
    """Power law truncated to [xmin, upper] (upper: classical xmax or the largest eigenvalue)."""
    return truncated_power_law_logpdf(x, params["alpha"], context["xmin"], context["upper"])


# ----------------------------------------------------------------------- cutoff_power_law


def _rate_prior(context: Mapping[str, float]) -> Any:
    return dist.LogNormal(-jnp.log(context["xmax"]), 2.0)


def _cutoff_init(context: Mapping[str, float]) -> dict[str, float]:
    return {"alpha": _alpha_init(context), "rate": 0.5 / float(context["xmax"])}


def _cutoff_sample(rng_key, params, context, n):
    return cutoff_power_law_sample(rng_key, params["alpha"], params["rate"], context["xmin"], (n,))


def _cutoff_cdf(x, params, context):
    return cutoff_power_law_cdf(x, params["alpha"], params["rate"], context["xmin"])


@likelihood(
    "cutoff_power_law",
    family="tail",
    parameters=[
        Parameter(
            "alpha",
            constraints.interval(*CUTOFF_ALPHA_RANGE),
            _alpha_uniform,
            "alpha ~ Uniform(0, 12) (the cutoff makes alpha <= 1 proper)",
        ),
        Parameter(
            "rate",
            constraints.positive,
            _rate_prior,
            "log rate ~ Normal(-log xmax, 2): cutoff scale 1/rate near the largest eigenvalue",
        ),
    ],
    context=tail_context,
    init=_cutoff_init,
    sample=_cutoff_sample,
    cdf=_cutoff_cdf,
    roles=_TAIL_ROLES,
)
def cutoff_power_law(x, params, context):
    """Power law with exponential cutoff x^-alpha exp(-rate x) on [xmin, inf), xmin fixed."""
    return cutoff_power_law_logpdf(x, params["alpha"], params["rate"], context["xmin"])
