"""The public extension API: declare a likelihood once, and fit/compare/report accept it.

A likelihood is a pure JAX pointwise log-density plus a declaration of its parameters
(constraint, prior, documentation), of which eigenvalues of a layer it explains, and of the
fixed per-layer constants ("context") it needs. The built-in likelihoods are written with exactly
this API (see :mod:`rmtfit.likelihoods`), and so can a user's::

    import jax.numpy as jnp
    import numpyro.distributions as dist
    from numpyro.distributions import constraints
    import rmtfit

    @rmtfit.likelihood(
        "my_tail",
        family="tail",
        parameters=[rmtfit.Parameter("alpha", constraints.interval(1.0, 12.0),
                                     lambda ctx: dist.Uniform(1.0, 12.0), "alpha ~ U(1, 12)")],
    )
    def my_tail(x, params, context):
        a, xmin = params["alpha"], context["xmin"]
        return jnp.log(a - 1) - jnp.log(xmin) - a * jnp.log(x / xmin)

Levels (STYLE.md, principle 4): ``lik.logpdf(x, params, context)`` is the pure math;
:func:`rmtfit.inference.numpyro_model` turns a likelihood into a NumPyro model; ``rmtfit.fit``
runs it over every layer.

Contracts
---------
``logpdf(x, params, context) -> array``
    Pointwise log-density, same shape as ``x``; ``params`` and ``context`` are dicts of JAX
    scalars. Pure ``jax.numpy``; must be jit- and vmap-able and differentiable in ``params``.
    Padded entries of ``x`` (the engine pads layers to size buckets) are filled with a valid
    observation and masked out by the engine; ``logpdf`` need not know about masks.
``observations(spectrum, classical) -> np.ndarray``
    The eigenvalues this likelihood explains (ascending float64). Tail likelihoods take the tail
    above the classical xmin; full-spectrum likelihoods take every eigenvalue.
``context(x, spectrum, classical) -> dict[str, float]``
    Fixed per-layer constants (xmin, N, Q, a classical sigma^2, ...). Only floats: they are stacked
    across layers and vmapped.
``init(context) -> dict[str, float]``
    Starting values (in the constrained space) for the chains, usually the classical estimates.
``sample(rng_key, params, context, n) -> array``
    Draws ``n`` observations from the likelihood at ``params`` (posterior predictive).
``derived(rng_key, x, mask, params, context) -> dict[str, array]``
    Optional posterior quantities computed per draw (spike count K, lambda+, ...).
``cdf(x, params, context) -> array`` (optional)
    CDF of one observation, same shape as ``x``. The conformance checker
    (:func:`rmtfit.likelihoods.check_likelihood`) tests the sampler against it; without it, it
    integrates the density numerically instead.
``support(params, context) -> (lower, upper)`` (optional)
    Where the density is positive. Default: ``(context["xmin"], inf)`` for ``family="tail"``,
    ``(0, inf)`` for ``family="full"``. Used by the checker's normalisation test.
``summed = (statistics, total)`` (optional)
    An exact shortcut for the *summed* log-likelihood, for likelihoods whose sum over a layer
    depends on the data only through a few statistics (counts, sums of ``log x``; prefix sums
    of them when a parameter such as ``xmin`` splits the data). ``statistics(x, mask) -> dict``
    of JAX arrays (pure JAX, fixed shapes, vmap-able) is computed once per layer before
    sampling; ``total(statistics, params, context) -> scalar`` must equal
    ``sum(where(mask, logpdf(x, params, context), 0))`` and be differentiable in ``params``.
    The sampler then costs O(1) or O(log n) per evaluation instead of O(n); the pointwise
    ``logpdf`` is still used for LOO and predictive checks. The conformance checker tests the
    equality at several parameter points, with and without padding.

``extra`` keys understood by rmtfit: ``exact_posterior`` (a conjugate oracle, see
``power_law``), ``quadrature_points(params, context) -> list`` (where the density has narrow
features, for the checker), ``joint=True`` with ``marginal_logpdf(x, params, context)`` for a
likelihood whose pointwise terms split a joint density of dependent observations (the top-k
Frechet model): the checker then tests the marginal law of one observation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = [
    "Parameter",
    "Likelihood",
    "likelihood",
    "register",
    "get_likelihood",
    "list_likelihoods",
    "FAMILIES",
]

Family = Literal["tail", "full"]
FAMILIES: tuple[str, ...] = ("tail", "full")
"""``tail``: models of a fixed tail x >= xmin (xmin from the classical fit). ``full``: models of
every eigenvalue of a layer. The two are never compared with each other (different observations)."""

Context = Mapping[str, Any]
PriorFn = Callable[[Context], Any]


@dataclass(frozen=True)
class Parameter:
    """One declared parameter of a likelihood.

    Parameters
    ----------
    name
        Parameter name, used as the NumPyro sample site and in every output.
    constraint
        A ``numpyro.distributions.constraints`` object: the support. Validation and the
        unconstraining transform follow from it.
    prior
        ``prior(context) -> numpyro Distribution``: the default prior, allowed to depend on the
        layer's context (for example centred on the classical sigma^2). Override per fit with
        ``Likelihood.with_priors``.
    doc
        One line stating the prior in words (shown in docs and reports).
    """

    name: str
    constraint: Any
    prior: PriorFn
    doc: str = ""

    def check(self, value: float, *, where: str = "") -> None:
        """Raise ``ValueError`` when ``value`` lies outside the declared constraint."""
        v = np.asarray(value, dtype=np.float64)
        ok = bool(np.all(np.isfinite(v))) and bool(np.all(np.asarray(self.constraint.check(v))))
        if not ok:
            prefix = f"{where}: " if where else ""
            shown = float(v) if v.ndim == 0 else value  # 0.5, not np.float64(0.5)
            raise ValueError(
                f"{prefix}parameter `{self.name}` = {shown!r} is outside its allowed range "
                f"{_describe_constraint(self.constraint)}."
            )


def _describe_constraint(c: Any) -> str:
    lo = getattr(c, "lower_bound", None)
    hi = getattr(c, "upper_bound", None)
    if lo is not None and hi is not None:
        return f"({float(lo):g}, {float(hi):g})"
    if lo is not None:
        return f"(> {float(lo):g})"
    if hi is not None:
        return f"(< {float(hi):g})"
    return str(c)


def _all_eigenvalues(spectrum: Any, classical: Any) -> np.ndarray:
    return np.asarray(spectrum.eigenvalues, dtype=np.float64)


def _tail_above_xmin(spectrum: Any, classical: Any) -> np.ndarray:
    if (
        classical is None
        or getattr(classical, "xmin", None) is None
        or not np.isfinite(classical.xmin)
    ):
        raise ValueError(
            f"layer {getattr(spectrum, 'name', '?')!r}: a tail likelihood needs the classical xmin, "
            "but the classical power-law fit did not give one."
        )
    x = np.asarray(spectrum.eigenvalues, dtype=np.float64)
    return x[x >= classical.xmin]


def _default_context(x: np.ndarray, spectrum: Any, classical: Any) -> dict[str, float]:
    ctx: dict[str, float] = {"N": float(spectrum.N), "M": float(spectrum.M), "Q": float(spectrum.Q)}
    if x.size:
        ctx["xmin"] = float(x.min())
        ctx["xmax"] = float(x.max())
    return ctx


@dataclass(frozen=True)
class Likelihood:
    """A declared likelihood: see the module docstring for every callable's contract."""

    name: str
    family: str
    logpdf: Callable[..., Any]
    parameters: tuple[Parameter, ...]
    observations: Callable[[Any, Any], np.ndarray] = _all_eigenvalues
    context: Callable[[np.ndarray, Any, Any], dict[str, float]] = _default_context
    init: Callable[[Context], dict[str, float]] | None = None
    sample: Callable[..., Any] | None = None
    derived: Callable[..., dict[str, Any]] | None = None
    min_observations: int = 2
    doc: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Free-form metadata (for example ``exact_posterior`` for conjugate cases)."""
    cdf: Callable[..., Any] | None = None
    """Optional ``cdf(x, params, context)`` of one observation (added after the first release
    of this class; optional and last, so existing code is unaffected)."""
    support: Callable[..., Any] | None = None
    """Optional ``support(params, context) -> (lower, upper)``; see the module docstring."""
    summed: tuple[Callable[..., Any], Callable[..., Any]] | None = None
    """Optional ``(statistics, total)``: the exact summed log-likelihood from per-layer
    statistics; see the module docstring."""

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(
                f"likelihood {self.name!r}: family={self.family!r} is not allowed; use one of {FAMILIES}."
            )
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise ValueError(f"likelihood {self.name!r}: duplicate parameter names {names}.")
        object.__setattr__(self, "parameters", tuple(self.parameters))

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    def parameter(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(
            f"likelihood {self.name!r} has no parameter {name!r}; it has {self.parameter_names}"
        )

    def check_params(self, params: Mapping[str, float]) -> None:
        """Raise ``ValueError`` naming the parameter, its value and the allowed range."""
        missing = set(self.parameter_names) - set(params)
        if missing:
            raise ValueError(f"likelihood {self.name!r}: missing parameters {sorted(missing)}.")
        for p in self.parameters:
            p.check(params[p.name], where=f"likelihood {self.name!r}")

    def with_priors(self, **priors: PriorFn) -> Likelihood:
        """A copy with some priors replaced: ``lik.with_priors(alpha=lambda ctx: dist.Uniform(1, 8))``."""
        unknown = set(priors) - set(self.parameter_names)
        if unknown:
            raise ValueError(
                f"likelihood {self.name!r}: no parameters {sorted(unknown)}; it has {self.parameter_names}."
            )
        new = tuple(
            Parameter(p.name, p.constraint, priors[p.name], "user prior") if p.name in priors else p
            for p in self.parameters
        )
        return _replace(self, parameters=new)

    def __repr__(self) -> str:
        return (
            f"Likelihood({self.name!r}, family={self.family!r}, parameters={self.parameter_names})"
        )


def _replace(lik: Likelihood, **changes: Any) -> Likelihood:
    from dataclasses import replace

    return replace(lik, **changes)


_REGISTRY: dict[str, Likelihood] = {}


def register(lik: Likelihood, *, overwrite: bool = False) -> Likelihood:
    """Add a likelihood to the registry by name (``overwrite=True`` to replace one)."""
    if lik.name in _REGISTRY and not overwrite and _REGISTRY[lik.name] is not lik:
        raise ValueError(
            f"a likelihood named {lik.name!r} is already registered; pick another name or pass overwrite=True."
        )
    _REGISTRY[lik.name] = lik
    return lik


def get_likelihood(name: str | Likelihood) -> Likelihood:
    """Look a likelihood up by name (a :class:`Likelihood` is returned as is)."""
    if isinstance(name, Likelihood):
        return name
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown likelihood {name!r}; registered: {sorted(_REGISTRY)}. "
            "Register your own with rmtfit.likelihood(...) or rmtfit.register(...)."
        ) from None


def list_likelihoods(family: str | None = None) -> list[str]:
    """Names of registered likelihoods, optionally only one family."""
    return [n for n, lik in _REGISTRY.items() if family is None or lik.family == family]


def likelihood(
    name: str,
    *,
    family: str,
    parameters: Sequence[Parameter],
    observations: Callable[[Any, Any], np.ndarray] | str | None = None,
    context: Callable[[np.ndarray, Any, Any], dict[str, float]] | None = None,
    init: Callable[[Context], dict[str, float]] | None = None,
    sample: Callable[..., Any] | None = None,
    derived: Callable[..., dict[str, Any]] | None = None,
    min_observations: int = 2,
    doc: str | None = None,
    register_as: bool = True,
    extra: Mapping[str, Any] | None = None,
    cdf: Callable[..., Any] | None = None,
    support: Callable[..., Any] | None = None,
    summed: tuple[Callable[..., Any], Callable[..., Any]] | None = None,
) -> Callable[[Callable[..., Any]], Likelihood]:
    """Decorator: turn ``logpdf(x, params, context)`` into a registered :class:`Likelihood`.

    ``observations`` defaults to the tail above the classical xmin for ``family="tail"`` and to
    every eigenvalue for ``family="full"``; the strings ``"tail"`` and ``"all"`` pick those too.
    """
    if observations is None:
        observations = "tail" if family == "tail" else "all"
    if isinstance(observations, str):
        if observations not in ("tail", "all"):
            raise ValueError(f"observations={observations!r}: use 'tail', 'all' or a function.")
        observations = _tail_above_xmin if observations == "tail" else _all_eigenvalues

    def wrap(fn: Callable[..., Any]) -> Likelihood:
        lik = Likelihood(
            name=name,
            family=family,
            logpdf=fn,
            parameters=tuple(parameters),
            observations=observations,
            context=context or _default_context,
            init=init,
            sample=sample,
            derived=derived,
            min_observations=min_observations,
            doc=doc if doc is not None else (fn.__doc__ or "").strip(),
            extra=dict(extra or {}),
            cdf=cdf,
            support=support,
            summed=summed,
        )
        if register_as:
            register(lik)
        return lik

    return wrap
