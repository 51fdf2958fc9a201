"""The public toolbox for writing likelihoods: the helpers every built-in likelihood uses.

The built-in likelihoods (``rmtfit/likelihoods/_*.py``) import only from
:mod:`rmtfit.likelihoods.api` (the declaration), this module and :mod:`rmtfit.densities`, so any of
them can be copied into a user's own module as the starting point of a new likelihood.

* Contexts: a context is a flat ``dict[str, float]`` (the engine stacks contexts across layers
  and vmaps over them), so every built-in of a family builds it with the same helper and the
  same keys: :func:`tail_context` (the tail family) and :func:`full_context` (the full family).
* Validation: :func:`validate_observations` (what the engine checks before a fit),
  :func:`check_eigenvalues`, :func:`check_context`.
* Small utilities: :func:`clip_into` (starting values inside an open range), :func:`finite_or`,
  :func:`layer_name`.
* Default priors: the ranges in one place (:data:`ALPHA_RANGE`, :data:`CUTOFF_ALPHA_RANGE`,
  :data:`POWER_LAW_EXCESS_RANGE`, :data:`SIGMA2_PRIOR_SD`), the proper Jeffreys prior of a
  power-law exponent (:func:`jeffreys_alpha_prior`) and the law behind it
  (:class:`ShiftedLogUniform`). Every default prior is weakly informative on the natural scale
  (DESIGN.md, "Modelling notes"), stated in the parameter's ``doc`` and overridable with
  ``Likelihood.with_priors``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from numpyro.distributions import constraints
from numpyro.distributions.util import promote_shapes

__all__ = [
    "ALPHA_RANGE",
    "CUTOFF_ALPHA_RANGE",
    "POWER_LAW_EXCESS_RANGE",
    "SIGMA2_PRIOR_SD",
    "ShiftedLogUniform",
    "check_context",
    "check_eigenvalues",
    "clip_into",
    "finite_or",
    "full_context",
    "jeffreys_alpha_prior",
    "layer_name",
    "tail_context",
    "validate_observations",
]

ALPHA_RANGE = (1.0, 12.0)
"""Range of a tail exponent alpha whose law needs alpha > 1 (power law, spliced tails)."""

CUTOFF_ALPHA_RANGE = (0.0, 12.0)
"""Range of alpha for laws that are normalisable at alpha <= 1 (cutoff, truncated power law)."""

POWER_LAW_EXCESS_RANGE = (0.01, 11.0)
"""``alpha - 1`` range of the power-law Jeffreys prior: alpha in (1.01, 12)."""

SIGMA2_PRIOR_SD = 1.0
"""Sd of the log-normal prior of ``sigma2`` (the MP entry variance) around the classical (or
median-matching) estimate."""


def layer_name(spectrum: Any) -> str:
    """The layer's name for messages (``'?'`` when unknown)."""
    return str(getattr(spectrum, "name", "?"))


def finite_or(value: Any, fallback: float) -> float:
    """``float(value)`` when it is a finite number, else ``fallback``."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return float(fallback)
    return v if np.isfinite(v) else float(fallback)


def clip_into(value: float, lower: float, upper: float, margin: float = 1e-3) -> float:
    """``value`` moved inside the open interval ``(lower, upper)`` by a relative margin."""
    width = upper - lower
    return float(np.clip(value, lower + margin * width, upper - margin * width))


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


def check_eigenvalues(x: Any, *, where: str = "", positive: bool = False) -> np.ndarray:
    """Raise ``ValueError`` for empty, non-1-D, NaN/inf or negative eigenvalues; return float64."""
    arr = np.asarray(x, dtype=np.float64)
    pre = _prefix(where)
    if arr.ndim != 1:
        raise ValueError(f"{pre}eigenvalues must be a 1-D array, got shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError(
            f"{pre}no eigenvalues to fit (empty data); a likelihood needs at least 2 observations."
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"{pre}eigenvalue x[{i}] = {float(arr[i])!r} is not finite; eigenvalues must be finite "
            "numbers >= 0 (recompute the spectrum in float64)."
        )
    if (arr < 0).any():
        i = int(np.argmin(arr))
        raise ValueError(
            f"{pre}eigenvalue x[{i}] = {float(arr[i])!r} is negative; eigenvalues of W^T W lie in "
            "[0, inf) (a tiny negative value is round-off: compute them with the SVD path)."
        )
    if positive and (arr <= 0).any():
        i = int(np.argmin(arr))
        raise ValueError(
            f"{pre}eigenvalue x[{i}] = {float(arr[i])!r} is zero; full-spectrum likelihoods need "
            "eigenvalues in (0, inf) (a rank-collapsed layer: see the classical rank_collapse)."
        )
    return arr


def check_context(context: Mapping[str, Any], *, where: str = "") -> None:
    """Raise ``ValueError`` for a non-float or non-finite context entry, or ``Q < 1``."""
    pre = _prefix(where)
    for key, value in context.items():
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"{pre}context[{key!r}] = {value!r} is not a number; contexts hold floats only."
            ) from None
        if not np.isfinite(v):
            raise ValueError(f"{pre}context[{key!r}] = {v!r} must be a finite number.")
    if "Q" in context and float(context["Q"]) < 1.0:
        raise ValueError(
            f"{pre}aspect ratio Q = {float(context['Q'])!r} is below 1; allowed range [1, inf): "
            "orient W as N x M with N >= M (transpose it)."
        )


def validate_observations(lik: Any, x: Any, context: Mapping[str, Any], *, where: str = "") -> None:
    """Check a layer's observations and context before fitting ``lik``; raise ``ValueError``.

    Checks: 1-D, non-empty, at least ``lik.min_observations`` values, finite, non-negative
    (strictly positive for the full family), the context's entries finite floats with
    ``Q >= 1``; for the tail family ``0 < xmin`` below the largest eigenvalue and every
    observation ``>= xmin``. Each message names the value, the allowed range and a fix.
    """
    where = where or f"likelihood {getattr(lik, 'name', '?')!r}"
    arr = check_eigenvalues(x, where=where, positive=getattr(lik, "family", "") == "full")
    pre = _prefix(where)
    need = int(getattr(lik, "min_observations", 2))
    if arr.size < need:
        raise ValueError(f"{pre}{arr.size} observations, but this likelihood needs >= {need}.")
    check_context(context, where=where)
    if getattr(lik, "family", "") == "tail" and "xmin" in context:
        xmin = float(context["xmin"])
        if not xmin > 0:
            raise ValueError(f"{pre}xmin = {xmin!r} must be > 0.")
        if xmin >= arr.max():
            raise ValueError(
                f"{pre}xmin = {xmin!r} is at or above the largest eigenvalue {float(arr.max())!r}; "
                "allowed range (0, largest eigenvalue): choose a lower xmin."
            )
        if arr.min() < xmin:
            raise ValueError(
                f"{pre}observation {float(arr.min())!r} lies below xmin = {xmin!r}; a tail likelihood "
                "explains x >= xmin only (use lik.observations to select the tail)."
            )


# ----------------------------------------------------------------------------- contexts


def _shape_context(spectrum: Any, where: str) -> dict[str, float]:
    n_rows, n_cols = float(spectrum.N), float(spectrum.M)
    if n_cols <= 0 or n_rows < n_cols:
        raise ValueError(
            f"{where}: N = {n_rows:g}, M = {n_cols:g} gives Q = N/M below 1 (allowed range "
            "[1, inf)); orient W as N x M with N >= M."
        )
    return {"N": n_rows, "M": n_cols, "Q": n_rows / n_cols}


def tail_context(x: np.ndarray, spectrum: Any, classical: Any) -> dict[str, float]:
    """Context of the tail likelihoods: ``N, M, Q, xmin, xmax, upper, n, alpha_classical``.

    ``xmin`` is the classical (KS-minimising) xmin; ``xmax`` the largest observation; ``upper``
    the truncation point of ``truncated_power_law`` (the classical ``xmax`` when the classical
    fit gave one above the data, else the largest eigenvalue); ``alpha_classical`` the classical
    alpha (or the MLE on these observations) for the chains' starting values.
    """
    where = f"layer {layer_name(spectrum)!r}"
    ctx = _shape_context(spectrum, where)
    arr = check_eigenvalues(x, where=where)
    xmin = finite_or(getattr(classical, "xmin", np.nan), np.nan)
    if not np.isfinite(xmin):
        raise ValueError(f"{where}: a tail likelihood needs the classical xmin, which is NaN.")
    if not xmin > 0 or xmin >= arr.max():
        raise ValueError(
            f"{where}: xmin = {xmin!r} is outside its allowed range (0, largest eigenvalue "
            f"{float(arr.max())!r}); choose a lower xmin."
        )
    arr = arr[arr >= xmin]
    log_excess = float(np.sum(np.log(arr / xmin)))
    mle = 1.0 + arr.size / log_excess if log_excess > 0 else 3.0
    upper = finite_or(getattr(classical, "xmax", np.nan), np.nan)
    if not (np.isfinite(upper) and upper >= arr.max()):
        upper = float(arr.max())
    ctx.update(
        xmin=xmin,
        xmax=float(arr.max()),
        upper=upper,
        n=float(arr.size),
        alpha_classical=finite_or(getattr(classical, "alpha", np.nan), mle),
    )
    return ctx


def _mp_median(q_ratio: float) -> float:
    """Median of the standard (sigma^2 = 1, X = W^T W / N) MP law of aspect ratio ``Q``."""
    from rmtfit.densities import mp_cdf  # local: keeps import light

    lo, hi = (1 - q_ratio**-0.5) ** 2, (1 + q_ratio**-0.5) ** 2
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if float(mp_cdf(mid, 1.0, 1.0, q_ratio)) < 0.5:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def full_context(x: np.ndarray, spectrum: Any, classical: Any) -> dict[str, float]:
    """Context of the full-spectrum likelihoods.

    Keys: ``N, M, Q, n, xmax`` (largest eigenvalue), ``sigma2`` (classical MP entry variance,
    or the median-matching estimate of Gavish & Donoho 2014 when the classical one is missing),
    ``log_median`` and ``log_sd`` (of log x), ``log_xmin_low`` / ``log_xmin_high`` (the xmin prior
    range of the spliced models: log of the median eigenvalue and of the value that leaves 10
    above it), and starting values ``xmin_classical``, ``alpha_classical``,
    ``spike_fraction_classical``.
    """
    where = f"layer {layer_name(spectrum)!r}"
    ctx = _shape_context(spectrum, where)
    arr = np.sort(check_eigenvalues(x, where=where, positive=True))
    n = arr.size
    logs = np.log(arr)
    median_sigma2 = float(np.median(arr)) / (ctx["N"] * _mp_median(ctx["Q"]))
    sigma2 = finite_or(getattr(classical, "sigma2", np.nan), median_sigma2)
    if not sigma2 > 0:
        sigma2 = median_sigma2
    low = float(np.log(np.median(arr)))
    high = float(logs[max(n - 11, 0)])
    xmin_cl = finite_or(getattr(classical, "xmin", np.nan), float(np.exp(0.5 * (low + high))))
    tail = arr[arr >= xmin_cl]
    log_excess = float(np.sum(np.log(tail / xmin_cl))) if tail.size else 0.0
    mle = 1.0 + tail.size / log_excess if log_excess > 0 else 3.0
    lambda_plus = ctx["N"] * sigma2 * (1.0 + ctx["Q"] ** -0.5) ** 2
    num_spikes = int(getattr(classical, "num_spikes", 0) or 0)
    if num_spikes <= 0:
        num_spikes = int(np.sum(arr > 1.05 * lambda_plus))
    ctx.update(
        n=float(n),
        xmax=float(arr[-1]),
        sigma2=float(sigma2),
        log_median=float(np.median(logs)),
        log_sd=float(max(np.std(logs), 1e-3)),
        log_xmin_low=low,
        log_xmin_high=high,
        xmin_classical=float(xmin_cl),
        alpha_classical=finite_or(getattr(classical, "alpha", np.nan), mle),
        spike_fraction_classical=float(np.clip((num_spikes + 0.5) / n, 1e-3, 0.5)),
    )
    return ctx


# ----------------------------------------------------------------------------- priors


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
