"""Spliced bulk + tail models over every eigenvalue: ``spliced_pl``, ``spliced_tpl``, ``spliced_mp``.

A likelihood over ``x >= xmin`` alone cannot compare different ``xmin``; a spliced
("extreme-value mixture") model explains the whole spectrum, so ``xmin`` gets a posterior and
alpha's uncertainty includes xmin's (DESIGN.md, "Modelling notes"; Behrens, Lopes & Gamerman
2004; Scarrott & MacDonald 2012):

.. math:: p(x) = (1 - \\phi) \\frac{f_{bulk}(x)}{F_{bulk}(x_{\\min})}\\ (x < x_{\\min}),
          \\qquad \\phi\\, f_{tail}(x \\mid x \\ge x_{\\min})\\ (x \\ge x_{\\min}).

==============  =================================  ============================================
name            bulk below xmin                    tail above xmin
==============  =================================  ============================================
spliced_pl      log-normal (bulk_loc, bulk_scale)  power law (alpha)
spliced_tpl     log-normal (bulk_loc, bulk_scale)  power law with exponential cutoff (alpha, rate)
spliced_mp      MP, softened edges (sigma2)        power law (alpha)
==============  =================================  ============================================

Every piece is a closed form per eigenvalue (plus one incomplete-gamma or MP-CDF evaluation per
draw), so the models stay cheap on layers with thousands of eigenvalues. The likelihood jumps
where ``xmin`` crosses an eigenvalue (the eigenvalue changes component); NUTS copes with these
finite jumps. Derivations: ``docs/derivations/spliced.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from jax.scipy.special import log_ndtr, ndtr, ndtri
from numpyro.distributions import constraints

from rmtfit.densities import (
    cutoff_power_law_cdf,
    cutoff_power_law_logpdf,
    cutoff_power_law_sample,
    mp_soft_cdf,
    mp_soft_log_normaliser,
    mp_soft_logpdf,
    mp_soft_sample,
    power_law_cdf,
    power_law_logpdf,
    power_law_sample,
)
from rmtfit.likelihoods._api import Parameter, likelihood
from rmtfit.likelihoods._common import clip_into, full_context
from rmtfit.likelihoods._mp_spikes import SIGMA2_PRIOR_SD
from rmtfit.likelihoods._priors import (
    CUTOFF_ALPHA_RANGE,
    POWER_LAW_EXCESS_RANGE,
    jeffreys_alpha_prior,
)

__all__ = ["spliced_pl", "spliced_tpl", "spliced_mp", "spliced_context"]

_PL_LOW = 1.0 + POWER_LAW_EXCESS_RANGE[0]
_PL_HIGH = 1.0 + POWER_LAW_EXCESS_RANGE[1]
_HALF_LOG_2PI = 0.91893853320467274178
_MIN_OBSERVATIONS = 24  # the xmin prior runs from the median to the 11th largest eigenvalue


# ------------------------------------------------------------------------ shared pieces


def spliced_context(x: np.ndarray, spectrum: Any, classical: Any) -> dict[str, float]:
    """:func:`~rmtfit.likelihoods._common.full_context` plus ``tail_fraction_classical`` (the
    fraction of eigenvalues above the starting xmin) and ``mp_log_z`` (for ``spliced_mp``)."""
    ctx = full_context(x, spectrum, classical)
    arr = np.asarray(x, dtype=np.float64)
    xmin = _xmin_start(ctx)
    ctx["tail_fraction_classical"] = float(np.clip(np.mean(arr >= xmin), 1e-3, 0.999))
    ctx["mp_log_z"] = float(mp_soft_log_normaliser(ctx["N"], ctx["Q"]))
    return ctx


def _xmin_start(context: Mapping[str, float]) -> float:
    low, high = float(context["log_xmin_low"]), float(context["log_xmin_high"])
    return float(np.exp(clip_into(np.log(float(context["xmin_classical"])), low, high, 0.02)))


def _xmin_prior(context: Mapping[str, Any]) -> Any:
    return dist.LogUniform(jnp.exp(context["log_xmin_low"]), jnp.exp(context["log_xmin_high"]))


def _splice(bulk_logpdf, bulk_logcdf_xmin, tail_logpdf, x, params):
    x = jnp.asarray(x, dtype=jnp.float64)
    phi, xmin = params["phi"], params["xmin"]
    below = jnp.log1p(-phi) + bulk_logpdf - bulk_logcdf_xmin
    above = jnp.log(phi) + tail_logpdf
    return jnp.where(x < xmin, below, above)


def _splice_cdf(bulk_cdf, bulk_cdf_xmin, tail_cdf, x, params):
    phi, xmin = params["phi"], params["xmin"]
    below = (1.0 - phi) * bulk_cdf / bulk_cdf_xmin
    above = (1.0 - phi) + phi * tail_cdf
    return jnp.where(x < xmin, jnp.clip(below, 0.0, 1.0 - phi), above)


def _splice_sample(rng_key, params, n, bulk_sampler, tail_sampler):
    key_member, key_bulk, key_tail = jax.random.split(rng_key, 3)
    is_tail = jax.random.bernoulli(key_member, params["phi"], (n,))
    return jnp.where(is_tail, tail_sampler(key_tail, (n,)), bulk_sampler(key_bulk, (n,)))


def _n_tail(rng_key, x, mask, params, context):
    return {"n_tail": jnp.sum((jnp.asarray(x) >= params["xmin"]) & jnp.asarray(mask, dtype=bool))}


def _quadrature_points(params, context):
    return [float(params["xmin"])]


def _common_parameters() -> list[Parameter]:
    return [
        Parameter(
            "xmin",
            constraints.positive,
            _xmin_prior,
            "log xmin ~ Uniform(log median eigenvalue, log 11th largest eigenvalue)",
        ),
        Parameter(
            "phi",
            constraints.unit_interval,
            lambda context: dist.Uniform(0.0, 1.0),
            "phi (tail fraction) ~ Uniform(0, 1)",
        ),
    ]


def _alpha_parameter() -> Parameter:
    return Parameter(
        "alpha",
        constraints.interval(_PL_LOW, _PL_HIGH),
        jeffreys_alpha_prior,
        "alpha ~ 1/(alpha - 1) on (1.01, 12): the Jeffreys prior, made proper",
    )


def _common_init(context: Mapping[str, float]) -> dict[str, float]:
    return {
        "xmin": _xmin_start(context),
        "phi": float(context["tail_fraction_classical"]),
    }


# ----------------------------------------------------------- log-normal bulk (pl, tpl)


def _lognormal_bulk_parameters() -> list[Parameter]:
    return [
        Parameter(
            "bulk_loc",
            constraints.real,
            lambda context: dist.Normal(context["log_median"], 3.0 * context["log_sd"]),
            "bulk_loc (log-scale location) ~ Normal(median of log x, 3 sd of log x)",
        ),
        Parameter(
            "bulk_scale",
            constraints.positive,
            lambda context: dist.LogNormal(jnp.log(context["log_sd"]), 1.0),
            "bulk_scale (log-scale sd) ~ LogNormal(log sd of log x, 1)",
        ),
    ]


def _lognormal_bulk(x, params):
    """``(log f_bulk(x), log F_bulk(xmin))`` of the log-normal bulk (untruncated law)."""
    loc, scale = params["bulk_loc"], params["bulk_scale"]
    xs = jnp.maximum(jnp.asarray(x, dtype=jnp.float64), 1e-300)
    z = (jnp.log(xs) - loc) / scale
    logpdf = -0.5 * z**2 - _HALF_LOG_2PI - jnp.log(scale) - jnp.log(xs)
    return logpdf, log_ndtr((jnp.log(params["xmin"]) - loc) / scale)


def _lognormal_bulk_cdf(x, params):
    loc, scale = params["bulk_loc"], params["bulk_scale"]
    xs = jnp.maximum(jnp.asarray(x, dtype=jnp.float64), 1e-300)
    return ndtr((jnp.log(xs) - loc) / scale), ndtr((jnp.log(params["xmin"]) - loc) / scale)


def _lognormal_bulk_sampler(params):
    loc, scale = params["bulk_loc"], params["bulk_scale"]
    log_top = log_ndtr((jnp.log(params["xmin"]) - loc) / scale)

    def draw(key, shape):
        u = jax.random.uniform(key, shape, dtype=jnp.float64, minval=1e-300)
        z = ndtri(jnp.exp(jnp.log(u) + log_top))
        return jnp.minimum(jnp.exp(loc + scale * z), params["xmin"] * (1.0 - 1e-15))

    return draw


def _lognormal_bulk_init(context: Mapping[str, float]) -> dict[str, float]:
    return {"bulk_loc": float(context["log_median"]), "bulk_scale": float(context["log_sd"])}


# ------------------------------------------------------------------------- spliced_pl


def _spliced_pl_logpdf(x, params, context):
    bulk, bulk_top = _lognormal_bulk(x, params)
    xs = jnp.maximum(x, params["xmin"])
    tail = power_law_logpdf(xs, params["alpha"], params["xmin"])
    return _splice(bulk, bulk_top, tail, x, params)


def _spliced_pl_cdf(x, params, context):
    bulk, bulk_top = _lognormal_bulk_cdf(x, params)
    tail = power_law_cdf(x, params["alpha"], params["xmin"])
    return _splice_cdf(bulk, bulk_top, tail, x, params)


def _spliced_pl_sample(rng_key, params, context, n):
    def tail(key, shape):
        return power_law_sample(key, params["alpha"], params["xmin"], shape)

    return _splice_sample(rng_key, params, n, _lognormal_bulk_sampler(params), tail)


def _alpha_init(context: Mapping[str, float]) -> float:
    return clip_into(float(context["alpha_classical"]), _PL_LOW, _PL_HIGH, 0.01)


@likelihood(
    "spliced_pl",
    family="full",
    parameters=[_alpha_parameter(), *_common_parameters(), *_lognormal_bulk_parameters()],
    context=spliced_context,
    init=lambda context: {
        "alpha": _alpha_init(context),
        **_common_init(context),
        **_lognormal_bulk_init(context),
    },
    sample=_spliced_pl_sample,
    derived=_n_tail,
    cdf=_spliced_pl_cdf,
    min_observations=_MIN_OBSERVATIONS,
    extra={"kind": "tail", "quadrature_points": _quadrature_points},
)
def spliced_pl(x, params, context):
    """Log-normal bulk below xmin, power law above; xmin, phi and alpha all have posteriors."""
    return _spliced_pl_logpdf(x, params, context)


# ------------------------------------------------------------------------ spliced_tpl


def _spliced_tpl_logpdf(x, params, context):
    bulk, bulk_top = _lognormal_bulk(x, params)
    xs = jnp.maximum(x, params["xmin"])
    tail = cutoff_power_law_logpdf(xs, params["alpha"], params["rate"], params["xmin"])
    return _splice(bulk, bulk_top, tail, x, params)


def _spliced_tpl_cdf(x, params, context):
    bulk, bulk_top = _lognormal_bulk_cdf(x, params)
    tail = cutoff_power_law_cdf(x, params["alpha"], params["rate"], params["xmin"])
    return _splice_cdf(bulk, bulk_top, tail, x, params)


def _spliced_tpl_sample(rng_key, params, context, n):
    def tail(key, shape):
        return cutoff_power_law_sample(key, params["alpha"], params["rate"], params["xmin"], shape)

    return _splice_sample(rng_key, params, n, _lognormal_bulk_sampler(params), tail)


@likelihood(
    "spliced_tpl",
    family="full",
    parameters=[
        Parameter(
            "alpha",
            constraints.interval(*CUTOFF_ALPHA_RANGE),
            lambda context: dist.Uniform(*CUTOFF_ALPHA_RANGE),
            "alpha ~ Uniform(0, 12) (the cutoff makes alpha <= 1 proper)",
        ),
        Parameter(
            "rate",
            constraints.positive,
            lambda context: dist.LogNormal(-jnp.log(context["xmax"]), 2.0),
            "log rate ~ Normal(-log xmax, 2): cutoff scale 1/rate near the largest eigenvalue",
        ),
        *_common_parameters(),
        *_lognormal_bulk_parameters(),
    ],
    context=spliced_context,
    init=lambda context: {
        "alpha": clip_into(float(context["alpha_classical"]), *CUTOFF_ALPHA_RANGE, margin=0.01),
        "rate": 0.5 / float(context["xmax"]),
        **_common_init(context),
        **_lognormal_bulk_init(context),
    },
    sample=_spliced_tpl_sample,
    derived=_n_tail,
    cdf=_spliced_tpl_cdf,
    min_observations=_MIN_OBSERVATIONS,
    extra={"kind": "tail", "quadrature_points": _quadrature_points},
)
def spliced_tpl(x, params, context):
    """Log-normal bulk below xmin, power law with exponential cutoff above."""
    return _spliced_tpl_logpdf(x, params, context)


# ------------------------------------------------------------------------- spliced_mp


def _mp_bulk(x, params, context):
    n_rows, q_ratio, sigma2 = context["N"], context["Q"], params["sigma2"]
    xs = jnp.maximum(jnp.asarray(x, dtype=jnp.float64), 1e-300)
    logpdf = mp_soft_logpdf(xs, sigma2, n_rows, q_ratio, log_normaliser=context["mp_log_z"])
    top = mp_soft_cdf(params["xmin"], sigma2, n_rows, q_ratio)
    return logpdf, jnp.log(top)


def _spliced_mp_logpdf(x, params, context):
    bulk, bulk_top = _mp_bulk(x, params, context)
    xs = jnp.maximum(x, params["xmin"])
    tail = power_law_logpdf(xs, params["alpha"], params["xmin"])
    return _splice(bulk, bulk_top, tail, x, params)


def _spliced_mp_cdf(x, params, context):
    n_rows, q_ratio, sigma2 = context["N"], context["Q"], params["sigma2"]
    bulk = mp_soft_cdf(x, sigma2, n_rows, q_ratio)
    bulk_top = mp_soft_cdf(params["xmin"], sigma2, n_rows, q_ratio)
    tail = power_law_cdf(x, params["alpha"], params["xmin"])
    return _splice_cdf(bulk, bulk_top, tail, x, params)


def _mp_bulk_sampler(params, context) -> Callable[..., Any]:
    def draw(key, shape):
        n_rows, q_ratio, sigma2 = context["N"], context["Q"], params["sigma2"]
        return mp_soft_sample(key, sigma2, n_rows, q_ratio, shape=shape, upper=params["xmin"])

    return draw


def _spliced_mp_sample(rng_key, params, context, n):
    def tail(key, shape):
        return power_law_sample(key, params["alpha"], params["xmin"], shape)

    return _splice_sample(rng_key, params, n, _mp_bulk_sampler(params, context), tail)


def _spliced_mp_points(params, context):
    n_rows, q_ratio = context["N"], context["Q"]
    lower = float(params["sigma2"]) * float(n_rows) * (1.0 - float(q_ratio) ** -0.5) ** 2
    upper = float(params["sigma2"]) * float(n_rows) * (1.0 + float(q_ratio) ** -0.5) ** 2
    return [lower, upper, float(params["xmin"])]


@likelihood(
    "spliced_mp",
    family="full",
    parameters=[
        _alpha_parameter(),
        *_common_parameters(),
        Parameter(
            "sigma2",
            constraints.positive,
            lambda context: dist.LogNormal(jnp.log(context["sigma2"]), SIGMA2_PRIOR_SD),
            "log sigma2 ~ Normal(log of the classical sigma2, 1)",
        ),
    ],
    context=spliced_context,
    init=lambda context: {
        "alpha": _alpha_init(context),
        **_common_init(context),
        "sigma2": float(context["sigma2"]),
    },
    sample=_spliced_mp_sample,
    derived=_n_tail,
    cdf=_spliced_mp_cdf,
    min_observations=_MIN_OBSERVATIONS,
    extra={"kind": "tail", "quadrature_points": _spliced_mp_points},
)
def spliced_mp(x, params, context):
    """MP bulk (Tracy-Widom-softened edges) below xmin, power law above."""
    return _spliced_mp_logpdf(x, params, context)
