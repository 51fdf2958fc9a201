"""``frechet_topk``: the top-k eigenvalues as the largest points of a Frechet Poisson process.

For entries with tail exponent ``mu < 4`` the top eigenvalues form a Poisson process with mean
measure ``Lambda(x) = (x / s)^(-a)``, ``a = mu / 2 = alpha - 1`` (DESIGN.md, "Heavy tails"), so
the shape is tied to the ESD tail exponent alpha and the model shares ``alpha`` with the tail
likelihoods. The k observations are the eigenvalues above the classical xmin; their joint
density is (:func:`rmtfit.densities.frechet_topk_logpdf`)

.. math:: \\prod_{i=1}^{k} a\\, m\\, x_k^{a}\\, x_i^{-a-1} \\, e^{-m},
          \\qquad m = \\Lambda(x_k) = (s / x_k)^{a},

written with the expected number ``m`` (``tail_mass``) of process points above the smallest
observation ``x_k`` instead of the scale ``s = x_k m^{1/a}``: ``m`` and ``alpha`` are then
independent a posteriori (the profile in ``alpha`` is the Clauset estimator with
``xmin = x_k``). The pointwise terms share the factor ``e^{-m}`` equally, so they sum to the
joint log-density; the observations are dependent, so the likelihood is declared ``joint=True``
and ``marginal_logpdf`` / ``cdf`` describe one observation picked at random. Derivation:
``docs/derivations/frechet_topk.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from jax.scipy.special import gammaincc
from numpyro.distributions import constraints

from rmtfit.densities import frechet_topk_marginal_logpdf, frechet_topk_sample
from rmtfit.likelihoods.api import Parameter, Roles, likelihood
from rmtfit.likelihoods.helpers import (
    POWER_LAW_EXCESS_RANGE,
    clip_into,
    jeffreys_alpha_prior,
    tail_context,
)

__all__ = ["frechet_topk", "frechet_context"]

_LOW = 1.0 + POWER_LAW_EXCESS_RANGE[0]
_HIGH = 1.0 + POWER_LAW_EXCESS_RANGE[1]


def frechet_context(x: np.ndarray, spectrum: Any, classical: Any) -> dict[str, float]:
    """:func:`~rmtfit.likelihoods.helpers.tail_context` plus ``x_k``, the smallest observation
    (the k-th largest eigenvalue)."""
    ctx = tail_context(x, spectrum, classical)
    arr = np.asarray(x, dtype=np.float64)
    ctx["x_k"] = float(arr[arr >= ctx["xmin"]].min())
    return ctx


def _scale(params, context):
    """``s = x_k m^(1/a)``."""
    shape = params["alpha"] - 1.0
    return context["x_k"] * jnp.exp(jnp.log(params["tail_mass"]) / shape)


def _marginal_logpdf(x, params, context):
    shape = params["alpha"] - 1.0
    return frechet_topk_marginal_logpdf(x, shape, _scale(params, context), context["n"])


def _marginal_cdf(x, params, context):
    """``(1/k) sum_{i<=k} Q(i, t) = Q(k, t) - (t/k) Q(k-1, t)``, ``t = Lambda(x)``."""
    x = jnp.asarray(x, dtype=jnp.float64)
    shape, k = params["alpha"] - 1.0, context["n"]
    xs = jnp.where(x > 0, x, 1.0)
    t = jnp.exp(-shape * jnp.log(xs / _scale(params, context)))
    lower = jnp.where(k > 1, gammaincc(jnp.maximum(k - 1.0, 1.0), t), 0.0)
    return jnp.where(x > 0, gammaincc(k, t) - t / k * lower, 0.0)


def _sample(rng_key, params, context, n):
    shape = params["alpha"] - 1.0
    return frechet_topk_sample(rng_key, shape, _scale(params, context), n)[::-1]


def _init(context: Mapping[str, float]) -> dict[str, float]:
    return {
        "alpha": clip_into(float(context["alpha_classical"]), _LOW, _HIGH, 0.01),
        "tail_mass": float(context["n"]),
    }


@likelihood(
    "frechet_topk",
    family="tail",
    parameters=[
        Parameter(
            "alpha",
            constraints.interval(_LOW, _HIGH),
            jeffreys_alpha_prior,
            "alpha ~ 1/(alpha - 1) on (1.01, 12) (Frechet shape alpha - 1): Jeffreys, made proper",
        ),
        Parameter(
            "tail_mass",
            constraints.positive,
            lambda context: dist.LogNormal(jnp.log(context["n"]), 1.0),
            "log tail_mass ~ Normal(log k, 1): expected number of points above x_k",
        ),
    ],
    context=frechet_context,
    init=_init,
    sample=_sample,
    cdf=_marginal_cdf,
    support=lambda params, context: (0.0, jnp.inf),
    joint=True,
    marginal_logpdf=_marginal_logpdf,
    roles=Roles(kind="tail", tail_exponent="alpha"),
)
def frechet_topk(x, params, context):
    """Top-k eigenvalues as the largest points of a Frechet process with shape alpha - 1."""
    x = jnp.asarray(x, dtype=jnp.float64)
    shape, mass, k = params["alpha"] - 1.0, params["tail_mass"], context["n"]
    return (
        jnp.log(shape)
        + shape * jnp.log(context["x_k"])
        + jnp.log(mass)
        - (shape + 1.0) * jnp.log(x)
        - mass / k
    )
