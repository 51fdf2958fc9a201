"""Spliced bulk + tail models over every eigenvalue: ``spliced_pl``, ``spliced_tpl``, ``spliced_mp``.

A likelihood over ``x >= xmin`` alone cannot compare different ``xmin``; a spliced
("extreme-value mixture") model explains the whole spectrum, so ``xmin`` gets a posterior and
alpha's uncertainty includes xmin's (DESIGN.md, "Modelling notes"; Behrens, Lopes & Gamerman
2004; Scarrott & MacDonald 2012):

.. math:: p(x) = (1 - \\phi) \\frac{f_{bulk}(x)}{F_{bulk}(x_{\\min})}\\ (x < x_{\\min}),
          \\qquad \\phi\\, f_{tail}(x \\mid x \\ge x_{\\min})\\ (x \\ge x_{\\min}).

The tail fraction ``phi`` is fixed by continuity of the density at ``xmin`` (the hybrid Pareto of
Carreau & Bengio 2009; the continuity-constrained splice of MacDonald et al. 2011):

.. math:: (1 - \\phi)\\, h_{bulk} = \\phi\\, f_{tail}(x_{\\min}), \\quad
          h_{bulk} = \\frac{f_{bulk}(x_{\\min})}{F_{bulk}(x_{\\min})}
          \\ \\Rightarrow\\ \\phi = \\frac{h_{bulk}}{h_{bulk} + f_{tail}(x_{\\min})}.

With ``phi`` free, the log-likelihood jumps whenever ``xmin`` crosses an eigenvalue (it changes
component), the posterior of ``xmin`` is a saw-tooth and NUTS mixes very badly (measured: R-hat
above 2 on synthetic layers); with continuity it is continuous (kinks only) and ``phi`` is
reported per draw as a derived quantity (``derived["phi"]``, in the posterior like a parameter).

==============  =================================  ============================================
name            bulk below xmin                    tail above xmin
==============  =================================  ============================================
spliced_pl      log-normal (bulk_loc, bulk_scale)  power law (alpha)
spliced_tpl     log-normal (bulk_loc, bulk_scale)  power law with exponential cutoff (alpha, rate)
spliced_mp      MP, softened edges (sigma2)        power law (alpha)
==============  =================================  ============================================

Every piece is a closed form per eigenvalue (plus one incomplete-gamma or MP-CDF evaluation per
draw), so the models stay cheap on layers with thousands of eigenvalues. Derivations:
``docs/derivations/spliced_pl.md``, ``spliced_tpl.md``, ``spliced_mp.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    log_upper_gamma_scaled,
    mp_soft_cdf,
    mp_soft_log_normaliser,
    mp_soft_logpdf,
    mp_soft_sample,
    power_law_cdf,
    power_law_logpdf,
    power_law_sample,
)
from rmtfit.likelihoods.api import Parameter, Roles, likelihood
from rmtfit.likelihoods.helpers import (
    CUTOFF_ALPHA_RANGE,
    POWER_LAW_EXCESS_RANGE,
    SIGMA2_PRIOR_SD,
    clip_into,
    full_context,
    jeffreys_alpha_prior,
)

__all__ = ["spliced_pl", "spliced_tpl", "spliced_mp", "spliced_context"]

_PL_LOW = 1.0 + POWER_LAW_EXCESS_RANGE[0]
_PL_HIGH = 1.0 + POWER_LAW_EXCESS_RANGE[1]
_HALF_LOG_2PI = 0.91893853320467274178
_MIN_OBSERVATIONS = 24  # the xmin prior runs from the median to the 11th largest eigenvalue
_TARGET_ACCEPT = 0.95
"""NUTS target acceptance of the spliced models: the density changes piece (its gradient jumps)
wherever ``xmin`` crosses an eigenvalue, and at the default 0.8 most all-MiniLM-L6-v2 layers
had a few divergent transitions (1-15 of 2000) and went to the retry, which runs at 0.95."""
_SPLICED_ROLES = Roles(kind="tail", tail_exponent="alpha", xmin="xmin", tail_fraction="phi")


# ------------------------------------------------------------------------ shared pieces


def spliced_context(x: np.ndarray, spectrum: Any, classical: Any) -> dict[str, float]:
    """:func:`~rmtfit.likelihoods.helpers.full_context` plus ``mp_log_z`` (the log normaliser of
    the softened MP law, used by ``spliced_mp``)."""
    ctx = full_context(x, spectrum, classical)
    ctx["mp_log_z"] = float(mp_soft_log_normaliser(ctx["N"], ctx["Q"]))
    return ctx


def _xmin_start(context: Mapping[str, float]) -> float:
    low, high = float(context["log_xmin_low"]), float(context["log_xmin_high"])
    return float(np.exp(clip_into(np.log(float(context["xmin_classical"])), low, high, 0.02)))


def _xmin_prior(context: Mapping[str, Any]) -> Any:
    return dist.LogUniform(jnp.exp(context["log_xmin_low"]), jnp.exp(context["log_xmin_high"]))


def _log_weights(log_bulk_hazard, log_tail_at_xmin):
    """``(log(1 - phi), log phi)`` from continuity of the density at xmin."""
    total = jnp.logaddexp(log_bulk_hazard, log_tail_at_xmin)
    return log_tail_at_xmin - total, log_bulk_hazard - total


def _spliced_functions(bulk, tail):
    """``(logpdf, cdf, sample, derived)`` of the splice of a bulk and a tail.

    ``bulk(params, context)`` returns ``(logpdf(x), logcdf(x), cdf(x), sampler(key, shape))`` of
    the untruncated bulk law; ``tail(params, context)`` returns ``(logpdf(x), cdf(x),
    sampler(key, shape))`` of the tail law on ``[xmin, inf)``.
    """

    def weights(params, context):
        b_logpdf, b_logcdf, _, _ = bulk(params, context)
        t_logpdf, _, _ = tail(params, context)
        xmin = params["xmin"]
        return _log_weights(b_logpdf(xmin) - b_logcdf(xmin), t_logpdf(xmin))

    def logpdf(x, params, context):
        x = jnp.asarray(x, dtype=jnp.float64)
        xmin = params["xmin"]
        b_logpdf, b_logcdf, _, _ = bulk(params, context)
        t_logpdf, _, _ = tail(params, context)
        log_bulk_weight, log_tail_weight = weights(params, context)
        below = log_bulk_weight + b_logpdf(jnp.minimum(x, xmin)) - b_logcdf(xmin)
        above = log_tail_weight + t_logpdf(jnp.maximum(x, xmin))
        return jnp.where(x < xmin, below, above)

    def cdf(x, params, context):
        x = jnp.asarray(x, dtype=jnp.float64)
        xmin = params["xmin"]
        _, _, b_cdf, _ = bulk(params, context)
        _, t_cdf, _ = tail(params, context)
        log_bulk_weight, _ = weights(params, context)
        bulk_weight = jnp.exp(log_bulk_weight)
        below = bulk_weight * b_cdf(jnp.minimum(x, xmin)) / b_cdf(xmin)
        above = bulk_weight + (1.0 - bulk_weight) * t_cdf(jnp.maximum(x, xmin))
        return jnp.where(x < xmin, jnp.clip(below, 0.0, bulk_weight), above)

    def sample(rng_key, params, context, n):
        key_member, key_bulk, key_tail = jax.random.split(rng_key, 3)
        _, log_tail_weight = weights(params, context)
        is_tail = jax.random.bernoulli(key_member, jnp.exp(log_tail_weight), (n,))
        _, _, _, b_sampler = bulk(params, context)
        _, _, t_sampler = tail(params, context)
        return jnp.where(is_tail, t_sampler(key_tail, (n,)), b_sampler(key_bulk, (n,)))

    def derived(rng_key, x, mask, params, context):
        _, log_tail_weight = weights(params, context)
        above = (jnp.asarray(x) >= params["xmin"]) & jnp.asarray(mask, dtype=bool)
        return {"phi": jnp.exp(log_tail_weight), "n_tail": jnp.sum(above)}

    return logpdf, cdf, sample, derived, weights


def _quadrature_points(params, context):
    return [float(params["xmin"])]


def _xmin_parameter() -> Parameter:
    return Parameter(
        "xmin",
        constraints.positive,
        _xmin_prior,
        "log xmin ~ Uniform(log median eigenvalue, log 11th largest eigenvalue)",
    )


def _alpha_parameter() -> Parameter:
    return Parameter(
        "alpha",
        constraints.interval(_PL_LOW, _PL_HIGH),
        jeffreys_alpha_prior,
        "alpha ~ 1/(alpha - 1) on (1.01, 12): the Jeffreys prior, made proper",
    )


def _alpha_init(context: Mapping[str, float]) -> float:
    return clip_into(float(context["alpha_classical"]), _PL_LOW, _PL_HIGH, 0.01)


# --------------------------------------------------------------------- bulks and tails


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


def _lognormal_bulk_init(context: Mapping[str, float]) -> dict[str, float]:
    return {"bulk_loc": float(context["log_median"]), "bulk_scale": float(context["log_sd"])}


def _lognormal_bulk(params, context):
    """The log-normal bulk LN(bulk_loc, bulk_scale^2): logpdf, logcdf, cdf, sampler below xmin."""
    loc, scale, xmin = params["bulk_loc"], params["bulk_scale"], params["xmin"]

    def z_of(x):
        return (jnp.log(jnp.maximum(x, 1e-300)) - loc) / scale

    def logpdf(x):
        z = z_of(x)
        return -0.5 * z**2 - _HALF_LOG_2PI - jnp.log(scale) - jnp.log(jnp.maximum(x, 1e-300))

    def sampler(key, shape):  # truncated to (0, xmin) by inversion
        u = jax.random.uniform(key, shape, dtype=jnp.float64, minval=1e-300)
        z = ndtri(jnp.exp(jnp.log(u) + log_ndtr(z_of(xmin))))
        return jnp.minimum(jnp.exp(loc + scale * z), xmin * (1.0 - 1e-15))

    return logpdf, lambda x: log_ndtr(z_of(x)), lambda x: ndtr(z_of(x)), sampler


def _mp_bulk(params, context):
    """The softened MP bulk of entry variance sigma2: logpdf, logcdf, cdf, sampler below xmin."""
    n_rows, q_ratio, sigma2 = context["N"], context["Q"], params["sigma2"]

    def logpdf(x):
        xs = jnp.maximum(x, 1e-300)
        return mp_soft_logpdf(xs, sigma2, n_rows, q_ratio, log_normaliser=context["mp_log_z"])

    def cdf(x):
        return mp_soft_cdf(x, sigma2, n_rows, q_ratio, log_normaliser=context["mp_log_z"])

    def sampler(key, shape):
        return mp_soft_sample(key, sigma2, n_rows, q_ratio, shape=shape, upper=params["xmin"])

    return logpdf, lambda x: jnp.log(cdf(x)), cdf, sampler


def _power_law_tail(params, context):
    alpha, xmin = params["alpha"], params["xmin"]
    return (
        lambda x: power_law_logpdf(x, alpha, xmin),
        lambda x: power_law_cdf(x, alpha, xmin),
        lambda key, shape: power_law_sample(key, alpha, xmin, shape),
    )


def _cutoff_tail(params, context):
    alpha, rate, xmin = params["alpha"], params["rate"], params["xmin"]
    return (
        lambda x: cutoff_power_law_logpdf(x, alpha, rate, xmin),
        lambda x: cutoff_power_law_cdf(x, alpha, rate, xmin),
        lambda key, shape: cutoff_power_law_sample(key, alpha, rate, xmin, shape),
    )


# ------------------------------------------------------------ exact summed log-likelihood
#
# With a log-normal bulk and a (cut-off) power-law tail every term of the summed log-likelihood
# is a count or a sum of log x, (log x)^2 or x over the eigenvalues below or above xmin, so with
# prefix sums over the sorted eigenvalues the sum costs one binary search per evaluation
# instead of one density per eigenvalue (the Likelihood ``summed`` contract). log x is centred
# at its mean so the sum of squares loses no digits.


def _splice_statistics(x, mask):
    """Sorted eigenvalues (padding last, as +inf) and prefix sums of centred log x, its square
    and x."""
    mask = jnp.asarray(mask, dtype=bool)
    xs = jnp.sort(jnp.where(mask, jnp.asarray(x, dtype=jnp.float64), jnp.inf))
    valid = jnp.isfinite(xs)
    n = jnp.sum(valid)
    log_x = jnp.where(valid, jnp.log(jnp.where(valid, xs, 1.0)), 0.0)
    centre = jnp.sum(log_x) / jnp.maximum(n, 1)
    y = jnp.where(valid, log_x - centre, 0.0)
    zero = jnp.zeros(1)
    return {
        "sorted": xs,
        "n": n,
        "centre": centre,
        "cum_y": jnp.concatenate([zero, jnp.cumsum(y)]),
        "cum_y2": jnp.concatenate([zero, jnp.cumsum(y * y)]),
        "cum_x": jnp.concatenate([zero, jnp.cumsum(jnp.where(valid, xs, 0.0))]),
    }


def _splice_totals(stats, params, log_weights, bulk_logcdf_xmin):
    """``(k, m, below, sums)``: counts below/above xmin, the summed log-normal bulk terms, and
    the centred sums the tail needs."""
    xmin = params["xmin"]
    k = jnp.searchsorted(stats["sorted"], xmin, side="left")  # eigenvalues < xmin
    n = stats["n"]
    m = n - k
    c = stats["centre"]
    s1, s2 = stats["cum_y"][k], stats["cum_y2"][k]
    t1 = stats["cum_y"][n] - s1
    loc = params["bulk_loc"] - c
    scale = params["bulk_scale"]
    sum_z2 = (s2 - 2.0 * loc * s1 + k * loc**2) / scale**2
    log_bulk_weight, log_tail_weight = log_weights
    below = (
        k * (log_bulk_weight - bulk_logcdf_xmin - _HALF_LOG_2PI - jnp.log(scale))
        - 0.5 * sum_z2
        - (s1 + k * c)
    )
    sum_log_above = t1 + m * c
    sum_x_above = stats["cum_x"][n] - stats["cum_x"][k]
    return m, below + m * log_tail_weight, sum_log_above, sum_x_above


def _pl_total(stats, params, context):
    log_bulk, log_tail = _PL_WEIGHTS(params, context)
    m, base, sum_log, _ = _splice_totals(stats, params, (log_bulk, log_tail), _bulk_logcdf(params))
    alpha, log_xmin = params["alpha"], jnp.log(params["xmin"])
    return base + m * (jnp.log(alpha - 1.0) + (alpha - 1.0) * log_xmin) - alpha * sum_log


def _tpl_total(stats, params, context):
    log_bulk, log_tail = _TPL_WEIGHTS(params, context)
    m, base, sum_log, sum_x = _splice_totals(
        stats, params, (log_bulk, log_tail), _bulk_logcdf(params)
    )
    alpha, rate, xmin = params["alpha"], params["rate"], params["xmin"]
    log_xmin = jnp.log(xmin)
    per_point = (
        alpha * log_xmin + rate * xmin - log_xmin - log_upper_gamma_scaled(1.0 - alpha, rate * xmin)
    )
    return base + m * per_point - alpha * sum_log - rate * sum_x


def _bulk_logcdf(params):
    return _lognormal_bulk(params, None)[1](params["xmin"])


# ------------------------------------------------------------------------- spliced_pl

_PL = _spliced_functions(_lognormal_bulk, _power_law_tail)
_PL_WEIGHTS = _PL[4]


@likelihood(
    "spliced_pl",
    family="full",
    parameters=[_alpha_parameter(), _xmin_parameter(), *_lognormal_bulk_parameters()],
    context=spliced_context,
    init=lambda context: {
        "alpha": _alpha_init(context),
        "xmin": _xmin_start(context),
        **_lognormal_bulk_init(context),
    },
    sample=_PL[2],
    derived=_PL[3],
    cdf=_PL[1],
    summed=(_splice_statistics, _pl_total),
    min_observations=_MIN_OBSERVATIONS,
    target_accept=_TARGET_ACCEPT,
    quadrature_points=_quadrature_points,
    roles=_SPLICED_ROLES,
)
def spliced_pl(x, params, context):
    """Log-normal bulk below xmin, power law above, continuous at xmin; alpha and xmin free."""
    return _PL[0](x, params, context)


# ------------------------------------------------------------------------ spliced_tpl

_TPL = _spliced_functions(_lognormal_bulk, _cutoff_tail)
_TPL_WEIGHTS = _TPL[4]


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
        _xmin_parameter(),
        *_lognormal_bulk_parameters(),
    ],
    context=spliced_context,
    init=lambda context: {
        "alpha": clip_into(float(context["alpha_classical"]), *CUTOFF_ALPHA_RANGE, margin=0.01),
        "rate": 0.5 / float(context["xmax"]),
        "xmin": _xmin_start(context),
        **_lognormal_bulk_init(context),
    },
    sample=_TPL[2],
    derived=_TPL[3],
    cdf=_TPL[1],
    summed=(_splice_statistics, _tpl_total),
    min_observations=_MIN_OBSERVATIONS,
    target_accept=_TARGET_ACCEPT,
    quadrature_points=_quadrature_points,
    roles=_SPLICED_ROLES,
)
def spliced_tpl(x, params, context):
    """Log-normal bulk below xmin, power law with exponential cutoff above, continuous at xmin."""
    return _TPL[0](x, params, context)


# ------------------------------------------------------------------------- spliced_mp

_MP = _spliced_functions(_mp_bulk, _power_law_tail)


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
        _xmin_parameter(),
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
        "xmin": _xmin_start(context),
        "sigma2": float(context["sigma2"]),
    },
    sample=_MP[2],
    derived=_MP[3],
    cdf=_MP[1],
    min_observations=_MIN_OBSERVATIONS,
    target_accept=_TARGET_ACCEPT,
    quadrature_points=_spliced_mp_points,
    roles=Roles(
        kind="tail",
        tail_exponent="alpha",
        xmin="xmin",
        tail_fraction="phi",
        bulk_scale="sigma2",
    ),
)
def spliced_mp(x, params, context):
    """MP bulk (Tracy-Widom-softened edges) below xmin, power law above, continuous at xmin."""
    return _MP[0](x, params, context)
