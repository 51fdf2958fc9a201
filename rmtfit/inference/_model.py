"""From a declared likelihood to a log density: the second of the three levels (STYLE.md, 4).

:func:`numpyro_model` turns a :class:`~rmtfit.likelihoods.Likelihood` into an ordinary NumPyro
model. The batched engine does not go through NumPyro's effect handlers (they cost tracing time
that the vmapped sampler multiplies); it uses :func:`log_density`, the same joint density written
directly on an unconstrained vector ``z`` (one entry per declared parameter):

.. math::

    \\log p(z \\mid x) = \\sum_j \\big[\\log \\pi_j(T_j(z_j)) + \\log |T_j'(z_j)|\\big]
        + \\sum_i m_i \\log f(x_i \\mid T(z)) + \\text{const},

where :math:`m_i` is the padding mask and :math:`T_j` maps the real line onto the intersection
of the parameter's declared constraint with its prior's support (so a user prior narrower than
the constraint, say ``Uniform(1, 8)`` for an alpha declared on (1, 12), is sampled on (1, 8), and
a prior wider than the constraint is truncated to it). When the two coincide, as for every
built-in likelihood, :func:`log_density` equals NumPyro's potential of :func:`numpyro_model`
(a test checks it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
from numpyro.distributions import constraints

__all__ = [
    "numpyro_model",
    "log_density",
    "data_statistics",
    "total_loglik",
    "constrain",
    "unconstrain",
    "Box",
]

_INTERVAL = constraints.interval
_GREATER = constraints.greater_than
_LESS = constraints.less_than
_REAL = type(constraints.real)
_CLIP = 1e-9


def _bounds(c: Any, where: str) -> tuple[Any, Any]:
    """(lower, upper) of a scalar bound-type constraint; ``None`` where unbounded."""
    if getattr(c, "event_dim", 0) != 0 or getattr(c, "is_discrete", False):
        raise ValueError(
            f"{where}: constraint {c!r} is not a scalar continuous range; the engine samples "
            "scalar parameters constrained to an interval, a half-line or the real line."
        )
    if isinstance(c, _INTERVAL):
        return c.lower_bound, c.upper_bound
    if isinstance(c, _GREATER):
        return c.lower_bound, None
    if isinstance(c, _LESS):
        return None, c.upper_bound
    if isinstance(c, _REAL):
        return None, None
    raise ValueError(
        f"{where}: constraint {c!r} is not supported; use constraints.real, positive, "
        "greater_than, less_than or interval."
    )


def _tighter(a: Any, b: Any, pick: Callable[[Any, Any], Any]) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return pick(a, b)


@dataclass(frozen=True)
class Box:
    """The bijection from the real line onto (lower, upper) (either end may be missing).

    Both ends: a scaled logistic; one end: a shifted exponential; none: the identity.
    Bounds may be JAX tracers (priors that depend on the layer's context).
    """

    lower: Any = None
    upper: Any = None

    def forward(self, u: Any) -> tuple[Any, Any]:
        """Constrained value and log |dv/du| at unconstrained ``u``."""
        lo, hi = self.lower, self.upper
        if lo is not None and hi is not None:
            width = hi - lo
            v = lo + width * jax.nn.sigmoid(u)
            return v, jnp.log(width) + jax.nn.log_sigmoid(u) + jax.nn.log_sigmoid(-u)
        if lo is not None:
            return lo + jnp.exp(u), u
        if hi is not None:
            return hi - jnp.exp(u), u
        return u, jnp.zeros_like(u)

    def inverse(self, v: Any) -> Any:
        """Unconstrained value of ``v``, clipped a hair inside the bounds (never infinite)."""
        lo, hi = self.lower, self.upper
        if lo is not None and hi is not None:
            p = jnp.clip((v - lo) / (hi - lo), _CLIP, 1.0 - _CLIP)
            return jnp.log(p) - jnp.log1p(-p)
        if lo is not None:
            return jnp.log(jnp.maximum(v - lo, _CLIP * jnp.maximum(1.0, jnp.abs(lo))))
        if hi is not None:
            return jnp.log(jnp.maximum(hi - v, _CLIP * jnp.maximum(1.0, jnp.abs(hi))))
        return v


def parameter_box(lik: Any, name: str, context: Mapping[str, Any]) -> tuple[Box, Any]:
    """The :class:`Box` of one parameter (constraint intersected with prior support) and its prior."""
    p = lik.parameter(name)
    prior = p.prior(context)
    where = f"likelihood {lik.name!r}, parameter {name!r}"
    c_lo, c_hi = _bounds(p.constraint, where)
    s_lo, s_hi = _bounds(prior.support, where + " (prior support)")
    lo = _tighter(c_lo, s_lo, jnp.maximum)
    hi = _tighter(c_hi, s_hi, jnp.minimum)
    return Box(lo, hi), prior


def constrain(lik: Any, z: Any, context: Mapping[str, Any]) -> tuple[dict[str, Any], Any, Any]:
    """Map unconstrained ``z`` (shape ``(P,)``) to ``(params, log_jacobian, log_prior)``."""
    params: dict[str, Any] = {}
    log_jac = jnp.zeros((), dtype=z.dtype)
    log_prior = jnp.zeros((), dtype=z.dtype)
    for j, p in enumerate(lik.parameters):
        box, prior = parameter_box(lik, p.name, context)
        v, lj = box.forward(z[j])
        params[p.name] = v
        log_jac = log_jac + lj
        log_prior = log_prior + prior.log_prob(v)
    return params, log_jac, log_prior


def unconstrain(lik: Any, params: Mapping[str, Any], context: Mapping[str, Any]) -> Any:
    """Inverse of :func:`constrain` (clipped inside the bounds): a ``(P,)`` array."""
    return jnp.stack(
        [
            parameter_box(lik, p.name, context)[0].inverse(jnp.asarray(params[p.name]))
            for p in lik.parameters
        ]
    )


def masked_loglik(lik: Any, x: Any, mask: Any, params: Mapping[str, Any], context: Any) -> Any:
    """Pointwise log-likelihood with padded entries set to 0."""
    return jnp.where(mask, lik.logpdf(x, params, context), 0.0)


def data_statistics(lik: Any, x: Any, mask: Any) -> dict[str, Any]:
    """The likelihood's per-layer statistics (``lik.summed[0]``), or ``{}`` when it has none."""
    return dict(lik.summed[0](x, mask)) if lik.summed is not None else {}


def total_loglik(
    lik: Any,
    x: Any,
    mask: Any,
    params: Mapping[str, Any],
    context: Mapping[str, Any],
    stats: Mapping[str, Any] | None = None,
) -> Any:
    """The summed log-likelihood of a layer: from ``stats`` through ``lik.summed[1]`` when both
    exist (exact, O(1) in the layer size), else the masked sum of ``logpdf``."""
    if lik.summed is not None and stats:
        return lik.summed[1](stats, params, context)
    return masked_loglik(lik, x, mask, params, context).sum()


def log_density(
    lik: Any,
    z: Any,
    x: Any,
    mask: Any,
    context: Mapping[str, Any],
    stats: Mapping[str, Any] | None = None,
) -> Any:
    """Unnormalised log posterior of unconstrained ``z`` given padded ``x`` and its mask.

    ``stats``: :func:`data_statistics` of ``(x, mask)``, computed once per layer; with it a
    likelihood that declares ``summed`` is evaluated from its statistics (same value).
    """
    params, log_jac, log_prior = constrain(lik, z, context)
    total = log_jac + log_prior + total_loglik(lik, x, mask, params, context, stats)
    return jnp.where(jnp.isnan(total), -jnp.inf, total)


def numpyro_model(lik: Any) -> Callable[..., None]:
    """A NumPyro model of one layer: ``model(x, mask=None, context=None)``.

    Each declared parameter is a ``numpyro.sample`` site drawn from its prior (so
    ``numpyro.infer.Predictive`` gives prior draws), and the likelihood enters through
    ``numpyro.factor("obs", ...)``, masked when ``mask`` is given.

    Examples
    --------
    >>> from numpyro.infer import MCMC, NUTS                   # doctest: +SKIP
    >>> model = numpyro_model(get_likelihood("power_law"))      # doctest: +SKIP
    >>> mcmc = MCMC(NUTS(model), num_warmup=500, num_samples=500)  # doctest: +SKIP
    >>> mcmc.run(jax.random.key(0), x, context={"xmin": 1.0})   # doctest: +SKIP
    """
    import numpyro

    def model(x: Any, mask: Any = None, context: Mapping[str, Any] | None = None) -> None:
        ctx = dict(context or {})
        params = {p.name: numpyro.sample(p.name, p.prior(ctx)) for p in lik.parameters}
        lp = lik.logpdf(x, params, ctx)
        if mask is not None:
            lp = jnp.where(mask, lp, 0.0)
        numpyro.factor("obs", jnp.sum(lp))

    model.__name__ = f"{lik.name}_model"
    model.__doc__ = f"NumPyro model of likelihood {lik.name!r}."
    return model
