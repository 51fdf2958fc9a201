"""The alternatives to a power-law tail: ``lognormal``, ``exponential``, ``stretched_exponential``.

Each is conditioned on ``x >= xmin`` with xmin the classical value (Clauset, Shalizi & Newman
2009, Table 2), so it explains the same observations as ``power_law`` and PSIS-LOO can compare
them. Densities, CDFs and samplers: :mod:`rmtfit.densities`; derivations:
``docs/derivations/lognormal.md``, ``exponential.md``, ``stretched_exponential.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from numpyro.distributions import constraints

from rmtfit.densities import (
    exponential_cdf,
    exponential_logpdf,
    exponential_sample,
    lognormal_cdf,
    lognormal_logpdf,
    lognormal_sample,
    stretched_exponential_cdf,
    stretched_exponential_logpdf,
    stretched_exponential_sample,
)
from rmtfit.likelihoods.api import Parameter, Roles, likelihood
from rmtfit.likelihoods.helpers import tail_context

__all__ = ["lognormal", "exponential", "stretched_exponential", "alternatives_context"]


def alternatives_context(x: np.ndarray, spectrum: Any, classical: Any) -> dict[str, float]:
    """:func:`~rmtfit.likelihoods.helpers.tail_context` plus summaries of the tail that centre
    the priors: ``log_mean_tail`` and ``log_sd_tail`` (of log x), ``mean_excess`` (of x - xmin)."""
    ctx = tail_context(x, spectrum, classical)
    arr = np.asarray(x, dtype=np.float64)
    arr = arr[arr >= ctx["xmin"]]
    logs = np.log(arr)
    ctx["log_mean_tail"] = float(np.mean(logs))
    ctx["log_sd_tail"] = max(float(np.std(logs)), 1e-3)
    ctx["mean_excess"] = max(float(np.mean(arr - ctx["xmin"])), 1e-12 * ctx["xmin"])
    return ctx


# ------------------------------------------------------------------------------ lognormal


def _lognormal_init(context: Mapping[str, float]) -> dict[str, float]:
    return {"mu": float(context["log_mean_tail"]), "sigma": float(context["log_sd_tail"])}


@likelihood(
    "lognormal",
    family="tail",
    parameters=[
        Parameter(
            "mu",
            constraints.real,
            lambda context: dist.Normal(jnp.log(context["xmin"]), 10.0 * context["log_sd_tail"]),
            "mu ~ Normal(log xmin, 10 sd of log x): the location may sit far below xmin",
        ),
        Parameter(
            "sigma",
            constraints.positive,
            lambda context: dist.LogNormal(jnp.log(context["log_sd_tail"]), 1.5),
            "log sigma ~ Normal(log sd of log x, 1.5)",
        ),
    ],
    context=alternatives_context,
    init=_lognormal_init,
    sample=lambda key, params, context, n: lognormal_sample(
        key, params["mu"], params["sigma"], context["xmin"], (n,)
    ),
    cdf=lambda x, params, context: lognormal_cdf(x, params["mu"], params["sigma"], context["xmin"]),
    roles=Roles(kind="other"),
)
def lognormal(x, params, context):
    """Log-normal LN(mu, sigma^2) conditioned on x >= xmin (xmin fixed, classical)."""
    return lognormal_logpdf(x, params["mu"], params["sigma"], context["xmin"])


# ---------------------------------------------------------------------------- exponential


@likelihood(
    "exponential",
    family="tail",
    parameters=[
        Parameter(
            "rate",
            constraints.positive,
            lambda context: dist.LogNormal(-jnp.log(context["mean_excess"]), 2.0),
            "log rate ~ Normal(-log mean excess over xmin, 2)",
        )
    ],
    context=alternatives_context,
    init=lambda context: {"rate": 1.0 / float(context["mean_excess"])},
    sample=lambda key, params, context, n: exponential_sample(
        key, params["rate"], context["xmin"], (n,)
    ),
    cdf=lambda x, params, context: exponential_cdf(x, params["rate"], context["xmin"]),
    roles=Roles(kind="other"),
)
def exponential(x, params, context):
    """Exponential rate exp(-rate (x - xmin)) on [xmin, inf) (xmin fixed, classical)."""
    return exponential_logpdf(x, params["rate"], context["xmin"])


# ------------------------------------------------------------------ stretched_exponential


def _stretched_init(context: Mapping[str, float]) -> dict[str, float]:
    return {"beta": 0.5, "scale": float(context["xmin"])}


@likelihood(
    "stretched_exponential",
    family="tail",
    parameters=[
        Parameter(
            "beta",
            constraints.positive,
            lambda context: dist.LogNormal(np.log(0.5), 1.0),
            "log beta ~ Normal(log 0.5, 1): stretched (beta < 1) more likely than compressed",
        ),
        Parameter(
            "scale",
            constraints.positive,
            lambda context: dist.LogNormal(jnp.log(context["xmin"]), 3.0),
            "log scale ~ Normal(log xmin, 3)",
        ),
    ],
    context=alternatives_context,
    init=_stretched_init,
    sample=lambda key, params, context, n: stretched_exponential_sample(
        key, params["beta"], params["scale"], context["xmin"], (n,)
    ),
    cdf=lambda x, params, context: stretched_exponential_cdf(
        x, params["beta"], params["scale"], context["xmin"]
    ),
    roles=Roles(kind="other"),
)
def stretched_exponential(x, params, context):
    """Stretched exponential x^(beta-1) exp(-(x/scale)^beta) conditioned on x >= xmin."""
    return stretched_exponential_logpdf(x, params["beta"], params["scale"], context["xmin"])
