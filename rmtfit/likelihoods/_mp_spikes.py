"""``mp_spikes``: a Marchenko-Pastur bulk plus a spike component, over every eigenvalue of a layer.

.. math:: \\log p(x) = \\operatorname{logsumexp}\\big(\\log(1 - \\pi) + \\log f_{MP}(x \\mid \\sigma^2),
          \\ \\log \\pi + \\log f_{spike}(x)\\big)

(DESIGN.md, "Modelling notes"). ``f_MP`` is the MP law of the raw eigenvalues with its edges
softened on the Tracy-Widom scale (:func:`rmtfit.densities.mp_soft_logpdf`), so the likelihood is
smooth in ``sigma2`` as the bulk edge ``lambda_+ = N sigma2 (1 + Q^{-1/2})^2`` moves past an
eigenvalue. ``f_spike`` is a broad log-normal placed above the bulk: its median is
``lambda_+ exp(spike_loc)`` with ``spike_loc > 0`` and its log-scale sd is ``spike_scale``.

The membership of each eigenvalue is marginalised in the likelihood (no discrete latent
variable in NUTS). Per posterior draw, ``derived`` gives the conditional spike probability of
each eigenvalue (``spike_prob``), a draw of the memberships summed to the spike count ``K``, and
``lambda_plus`` in raw eigenvalue units. Derivation: ``docs/derivations/mp_spikes.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from jax.scipy.special import ndtr
from numpyro.distributions import constraints

from rmtfit.densities import (
    mp_edges,
    mp_soft_cdf,
    mp_soft_log_normaliser,
    mp_soft_logpdf,
    mp_soft_sample,
)
from rmtfit.likelihoods.api import Parameter, Roles, likelihood
from rmtfit.likelihoods.helpers import SIGMA2_PRIOR_SD, full_context

__all__ = ["mp_spikes", "mp_spikes_context", "sample_with_members"]

_HALF_LOG_2PI = 0.91893853320467274178


def mp_spikes_context(x: np.ndarray, spectrum: Any, classical: Any) -> dict[str, float]:
    """:func:`~rmtfit.likelihoods.helpers.full_context` plus ``mp_log_z``, the log normaliser of
    the softened MP law (it depends on ``N`` and ``Q`` only, so it is computed once per layer)."""
    ctx = full_context(x, spectrum, classical)
    ctx["mp_log_z"] = float(mp_soft_log_normaliser(ctx["N"], ctx["Q"]))
    return ctx


def _log_mp_normaliser(context: Mapping[str, Any]) -> Any:
    if "mp_log_z" in context:
        return context["mp_log_z"]
    return mp_soft_log_normaliser(context["N"], context["Q"])


def _bulk_logpdf(x, params, context):
    log_z = _log_mp_normaliser(context)
    return mp_soft_logpdf(x, params["sigma2"], context["N"], context["Q"], log_normaliser=log_z)


def _spike_log_median(params, context):
    _, upper = mp_edges(params["sigma2"], context["N"], context["Q"])
    return jnp.log(upper) + params["spike_loc"]


def _spike_logpdf(x, params, context):
    z = (jnp.log(x) - _spike_log_median(params, context)) / params["spike_scale"]
    return -0.5 * z**2 - _HALF_LOG_2PI - jnp.log(params["spike_scale"]) - jnp.log(x)


def _components(x, params, context):
    x = jnp.asarray(x, dtype=jnp.float64)
    pi = params["spike_fraction"]
    bulk = jnp.log1p(-pi) + _bulk_logpdf(x, params, context)
    spike = jnp.log(pi) + _spike_logpdf(x, params, context)
    return bulk, spike


def _mp_spikes_logpdf(x, params, context):
    bulk, spike = _components(x, params, context)
    return jnp.logaddexp(bulk, spike)


def _derived(rng_key, x, mask, params, context):
    bulk, spike = _components(x, params, context)
    prob = jnp.exp(spike - jnp.logaddexp(bulk, spike))
    members = jax.random.bernoulli(rng_key, prob) & jnp.asarray(mask, dtype=bool)
    _, upper = mp_edges(params["sigma2"], context["N"], context["Q"])
    return {"lambda_plus": upper, "K": jnp.sum(members), "spike_prob": prob}


def sample_with_members(rng_key, params, context, n):
    """``n`` draws and their memberships (True: spike component); ``K`` is the sum of the
    memberships (simulation-based calibration checks the posterior of ``K`` against it)."""
    key_member, key_bulk, key_spike = jax.random.split(rng_key, 3)
    is_spike = jax.random.bernoulli(key_member, params["spike_fraction"], (n,))
    # the softened MP law is a scale family in sigma2 (its shape depends on N and Q only), so draw
    # at sigma2 = 1 and rescale: the inverse-CDF table then does not depend on the draw's
    # parameters, and under vmap over posterior draws it is built once per layer
    unit = mp_soft_sample(key_bulk, 1.0, context["N"], context["Q"], shape=(n,))
    bulk = params["sigma2"] * unit
    z = jax.random.normal(key_spike, (n,), dtype=jnp.float64)
    spike = jnp.exp(_spike_log_median(params, context) + params["spike_scale"] * z)
    return jnp.where(is_spike, spike, bulk), is_spike


def _sample(rng_key, params, context, n):
    return sample_with_members(rng_key, params, context, n)[0]


def _cdf(x, params, context):
    x = jnp.asarray(x, dtype=jnp.float64)
    pi = params["spike_fraction"]
    bulk = mp_soft_cdf(x, params["sigma2"], context["N"], context["Q"])
    xs = jnp.maximum(x, 1e-300)
    spike = ndtr((jnp.log(xs) - _spike_log_median(params, context)) / params["spike_scale"])
    return (1.0 - pi) * bulk + pi * jnp.where(x > 0, spike, 0.0)


def _init(context: Mapping[str, float]) -> dict[str, float]:
    sigma2 = float(context["sigma2"])
    upper = float(context["N"]) * sigma2 * (1.0 + float(context["Q"]) ** -0.5) ** 2
    loc = 0.5 * np.log(float(context["xmax"]) / upper) if context["xmax"] > upper else 0.3
    return {
        "sigma2": sigma2,
        "spike_fraction": float(context["spike_fraction_classical"]),
        "spike_loc": float(np.clip(loc, 0.05, 5.0)),
        "spike_scale": 0.5,
    }


def _quadrature_points(params, context):
    lower, upper = mp_edges(params["sigma2"], context["N"], context["Q"])
    median = jnp.exp(_spike_log_median(params, context))
    return [float(lower), float(upper), float(median)]


def _sigma2_prior(context):
    return dist.LogNormal(jnp.log(context["sigma2"]), SIGMA2_PRIOR_SD)


@likelihood(
    "mp_spikes",
    family="full",
    parameters=[
        Parameter(
            "sigma2",
            constraints.positive,
            _sigma2_prior,
            "log sigma2 ~ Normal(log of the classical sigma2, 1): bulk scale within a factor ~7",
        ),
        Parameter(
            "spike_fraction",
            constraints.unit_interval,
            lambda context: dist.Beta(1.0, 10.0),
            "spike_fraction ~ Beta(1, 10): spikes are a small fraction of the spectrum",
        ),
        Parameter(
            "spike_loc",
            constraints.positive,
            lambda context: dist.HalfNormal(2.0),
            "spike_loc = log(spike median / lambda_+) ~ HalfNormal(2): spikes sit above the bulk",
        ),
        Parameter(
            "spike_scale",
            constraints.positive,
            lambda context: dist.LogNormal(-0.5, 0.75),
            "spike_scale (log-sd of the spikes) ~ LogNormal(-0.5, 0.75): broad, away from 0",
        ),
    ],
    context=mp_spikes_context,
    init=_init,
    sample=_sample,
    derived=_derived,
    cdf=_cdf,
    min_observations=8,
    quadrature_points=_quadrature_points,
    roles=Roles(
        kind="mp",
        bulk_scale="sigma2",
        bulk_edge="lambda_plus",
        spike_count="K",
        spike_probability="spike_prob",
    ),
)
def mp_spikes(x, params, context):
    """MP bulk (Tracy-Widom-softened edges) + log-normal spikes above it, memberships marginalised."""
    return _mp_spikes_logpdf(x, params, context)
