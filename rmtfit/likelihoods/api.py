"""The public extension API: declare a likelihood once, and fit/compare/report accept it.

A likelihood is a pure JAX pointwise log-density plus a declaration of its parameters
(constraint, prior, documentation), of which eigenvalues of a layer it explains, of the fixed
per-layer constants ("context") it needs, and of the roles of its posterior variables (which one
is the tail exponent alpha, the MP bulk edge, ...). The built-in likelihoods are written with
exactly this API and the toolbox :mod:`rmtfit.likelihoods.helpers` (see
:mod:`rmtfit.likelihoods`), and so can a user's::

    import jax.numpy as jnp
    import numpyro.distributions as dist
    from numpyro.distributions import constraints
    from rmtfit.likelihoods.api import Parameter, Roles, likelihood

    @likelihood(
        "my_tail",
        family="tail",
        parameters=[Parameter("alpha", constraints.interval(1.0, 12.0),
                              lambda ctx: dist.Uniform(1.0, 12.0), "alpha ~ U(1, 12)")],
        roles=Roles(kind="tail", tail_exponent="alpha"),
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
``roles = Roles(...)``
    What the later stages read, and all they read: the report's posterior columns, the network
    metrics and the phases find alpha, xmin, sigma^2, lambda_+ and the spike count of any
    likelihood through its :class:`Roles`, never through its name. A role names a declared
    parameter or a key of ``derived``; the conformance checker tests that it does.
``joint = True`` with ``marginal_logpdf(x, params, context) -> array``
    For a likelihood whose pointwise terms split a joint density of dependent observations
    (the top-k Frechet model): ``marginal_logpdf`` is the law of one observation picked at
    random, and the checker tests normalisation and the sampler against it (drawing one
    observation from each of many joint samples). PSIS-LOO on such terms is an approximation.
``exact_posterior(x, context, num_draws, seed) -> dict[str, array]`` (optional)
    Exact posterior draws of every parameter under the declared priors (a conjugate case such
    as ``power_law`` with xmin fixed). ``rmtfit.fit`` returns them instead of NUTS draws for the
    registered likelihood with its declared priors; the test suite uses them as an oracle.
``exact_posterior_cdf(value, x, context) -> array`` (optional)
    The CDF of that exact posterior (one-parameter likelihoods), for goodness-of-fit tests.
``quadrature_points(params, context) -> list[float]`` (optional)
    Where the density has narrow features (edges, a splice point): the checker's integrals
    place break points there.
``extra``
    Free-form user metadata. rmtfit never reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = [
    "Parameter",
    "Roles",
    "ROLE_KINDS",
    "ROLE_FIELDS",
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

ROLE_KINDS: tuple[str, ...] = ("mp", "tail", "other")
"""Allowed :attr:`Roles.kind` values: ``mp`` (an MP bulk, maybe with spikes), ``tail`` (a
power-law-type tail exponent), ``other`` (neither)."""

ROLE_FIELDS: tuple[str, ...] = (
    "tail_exponent",
    "xmin",
    "bulk_scale",
    "bulk_edge",
    "spike_count",
    "spike_probability",
    "tail_fraction",
)
"""The roles a posterior variable can play (the fields of :class:`Roles` besides ``kind``)."""

_ROLE_PREFIX = "role_"


@dataclass(frozen=True)
class Roles:
    """Which posterior variables of a likelihood play the roles the later stages read.

    The report, the network metrics and the phases read a fit only through these fields (never
    through a table of built-in names), so a user's likelihood that declares its roles is
    reported, aggregated and classified like a built-in one. Each role holds the name of a
    posterior variable: a declared parameter, or a key that the likelihood's ``derived``
    returns; :func:`rmtfit.likelihoods.check_likelihood` checks that it exists.

    Parameters
    ----------
    kind
        ``"mp"`` (an MP bulk, maybe with spikes), ``"tail"`` (the model has a power-law-type
        tail exponent) or ``"other"`` (neither; the default). Read by the phases, which
        weigh the evidence of the ``mp`` models against the ``tail`` models.
    tail_exponent
        The posterior variable that is the ESD tail exponent alpha (density ~ x^-alpha).
        Required when ``kind="tail"``. Read by the report (posterior column ``alpha``), the
        network metrics (alpha, weighted alpha, alpha-norm) and the phases.
    xmin
        The posterior variable that is the tail's start xmin, only when it is sampled (the
        spliced models); leave ``None`` where xmin is a fixed context value. Read by the report
        (posterior column ``xmin``).
    bulk_scale
        The posterior variable that is the MP entry variance sigma^2. Read by the report
        (posterior column ``sigma_mp``, its square root) and the phases.
    bulk_edge
        The posterior (usually derived) variable that is the MP bulk edge lambda_+ in raw
        eigenvalue units. Read by the report (posterior column ``lambda_plus``) and the phases.
        ``kind="mp"`` needs ``bulk_scale`` or ``bulk_edge``.
    spike_count
        The derived variable that is the number of spikes K above the bulk, per draw. Read by
        the report (posterior column ``num_spikes``) and the phases.
    spike_probability
        The derived per-eigenvalue probability that an eigenvalue is a spike (one value per
        observation and draw); for plots and users.
    tail_fraction
        The spliced models' tail fraction phi (the probability mass above xmin).

    Examples
    --------
    >>> Roles(kind="tail", tail_exponent="alpha").to_attrs()
    {'role_kind': 'tail', 'role_tail_exponent': 'alpha'}
    """

    kind: str = "other"
    tail_exponent: str | None = None
    xmin: str | None = None
    bulk_scale: str | None = None
    bulk_edge: str | None = None
    spike_count: str | None = None
    spike_probability: str | None = None
    tail_fraction: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or self.kind not in ROLE_KINDS:
            raise ValueError(
                f"Roles(kind={self.kind!r}) is not allowed; use one of {ROLE_KINDS}: 'mp' for "
                "an MP bulk (maybe with spikes), 'tail' for a model with a tail exponent, "
                "'other' for neither."
            )
        for role in ROLE_FIELDS:
            value = getattr(self, role)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValueError(
                    f"Roles({role}={value!r}): a role names a posterior variable (a parameter "
                    "or a derived quantity), so it must be a non-empty string, or None."
                )
        if self.kind == "tail" and self.tail_exponent is None:
            raise ValueError(
                "Roles(kind='tail') needs tail_exponent: the name of the posterior variable "
                "that is the tail exponent alpha (for example tail_exponent='alpha'), or use "
                "kind='other'."
            )
        if self.kind == "mp" and self.bulk_scale is None and self.bulk_edge is None:
            raise ValueError(
                "Roles(kind='mp') needs bulk_scale (the MP entry variance sigma^2) or bulk_edge "
                "(the bulk edge lambda_+): name the posterior variable, for example "
                "bulk_scale='sigma2', or use kind='other'."
            )

    def variable(self, role: str) -> str | None:
        """The posterior variable that plays ``role`` (``None`` when none does)."""
        if role not in ROLE_FIELDS:
            raise ValueError(f"unknown role {role!r}; the roles are {ROLE_FIELDS}.")
        return getattr(self, role)

    def to_attrs(self) -> dict[str, str]:
        """The roles as string attributes (``role_kind``, ``role_<role>``), for netCDF files.

        Only roles that are set appear; :meth:`from_attrs` reads them back.
        """
        attrs = {f"{_ROLE_PREFIX}kind": self.kind}
        for role in ROLE_FIELDS:
            value = getattr(self, role)
            if value is not None:
                attrs[f"{_ROLE_PREFIX}{role}"] = value
        return attrs

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> Roles | None:
        """The :class:`Roles` stored by :meth:`to_attrs` (``None`` without ``role_kind``).

        Other keys of ``attrs`` are ignored, so a fit's whole attribute dict can be passed.
        """
        if attrs is None or f"{_ROLE_PREFIX}kind" not in attrs:
            return None
        values = {
            role: _attr_text(attrs[f"{_ROLE_PREFIX}{role}"])
            for role in ROLE_FIELDS
            if f"{_ROLE_PREFIX}{role}" in attrs
        }
        return cls(kind=_attr_text(attrs[f"{_ROLE_PREFIX}kind"]), **values)


def _attr_text(value: Any) -> str:
    """An attribute read back from a file as ``str`` (netCDF may return bytes or numpy str)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


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
    """A declared likelihood: see the module docstring for every callable's contract.

    Build one with the :func:`likelihood` decorator. Everything rmtfit reads is a typed field:
    the callables, ``roles`` (what the later stages read), ``joint`` / ``marginal_logpdf``,
    ``exact_posterior`` / ``exact_posterior_cdf`` and ``quadrature_points``; ``extra`` is the
    user's own.
    """

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
    target_accept: float | None = None
    """Smallest NUTS target acceptance for this likelihood's posteriors (``None``: the run's).
    For a posterior with kinks, such as a spliced model whose density changes piece as ``xmin``
    crosses an eigenvalue, a higher target (smaller steps) at the first attempt is cheaper than
    the divergences and the retry that the run's default would cost."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Free-form user metadata, carried along and never read by rmtfit (everything rmtfit
    reads has a typed field below)."""
    cdf: Callable[..., Any] | None = None
    """Optional ``cdf(x, params, context)`` of one observation; see the module docstring."""
    support: Callable[..., Any] | None = None
    """Optional ``support(params, context) -> (lower, upper)``; see the module docstring."""
    summed: tuple[Callable[..., Any], Callable[..., Any]] | None = None
    """Optional ``(statistics, total)``: the exact summed log-likelihood from per-layer
    statistics; see the module docstring."""
    roles: Roles = Roles()
    """Which posterior variables are alpha, xmin, sigma^2, lambda_+, K, ...: all that the
    report, the network metrics and the phases read (:class:`Roles`)."""
    joint: bool = False
    """True when the pointwise terms split a joint density of dependent observations (the
    top-k Frechet model); then ``marginal_logpdf`` is required."""
    marginal_logpdf: Callable[..., Any] | None = None
    """``marginal_logpdf(x, params, context)``: the law of one observation picked at random,
    for a ``joint`` likelihood (the checker's normalisation and sampler tests use it)."""
    exact_posterior: Callable[..., Any] | None = None
    """Optional ``exact_posterior(x, context, num_draws, seed) -> {name: draws}`` under the
    declared priors; ``rmtfit.fit`` uses it instead of NUTS (see the module docstring)."""
    exact_posterior_cdf: Callable[..., Any] | None = None
    """Optional ``exact_posterior_cdf(value, x, context)``: the CDF of the exact posterior."""
    quadrature_points: Callable[..., Any] | None = None
    """Optional ``quadrature_points(params, context) -> list[float]``: where the density has
    narrow features, for the checker's integrals."""

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(
                f"likelihood {self.name!r}: family={self.family!r} is not allowed; use one of {FAMILIES}."
            )
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise ValueError(f"likelihood {self.name!r}: duplicate parameter names {names}.")
        object.__setattr__(self, "parameters", tuple(self.parameters))
        if not isinstance(self.roles, Roles):
            raise TypeError(
                f"likelihood {self.name!r}: roles={self.roles!r} is not a Roles; declare "
                "roles=Roles(kind=..., tail_exponent=..., ...)."
            )
        for hook in _OPTIONAL_CALLABLES:
            value = getattr(self, hook)
            if value is not None and not callable(value):
                raise TypeError(
                    f"likelihood {self.name!r}: {hook}={value!r} is not callable; pass a "
                    "function or None."
                )
        if self.target_accept is not None and not 0.0 < float(self.target_accept) < 1.0:
            raise ValueError(
                f"likelihood {self.name!r}: target_accept={self.target_accept!r} must be in "
                "(0, 1), or None for the run's target."
            )
        if self.joint and self.marginal_logpdf is None:
            raise ValueError(
                f"likelihood {self.name!r}: joint=True needs marginal_logpdf(x, params, "
                "context), the law of one observation picked at random (the conformance "
                "checks test it)."
            )

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


_OPTIONAL_CALLABLES = (
    "marginal_logpdf",
    "exact_posterior",
    "exact_posterior_cdf",
    "quadrature_points",
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
    roles: Roles | None = None,
    joint: bool = False,
    marginal_logpdf: Callable[..., Any] | None = None,
    exact_posterior: Callable[..., Any] | None = None,
    exact_posterior_cdf: Callable[..., Any] | None = None,
    quadrature_points: Callable[..., Any] | None = None,
    target_accept: float | None = None,
) -> Callable[[Callable[..., Any]], Likelihood]:
    """Decorator: turn ``logpdf(x, params, context)`` into a registered :class:`Likelihood`.

    Every keyword is the :class:`Likelihood` field of that name (contracts in the module
    docstring); ``roles`` defaults to ``Roles()`` (kind ``"other"``, no roles) and
    ``register_as=False`` returns the likelihood without registering it. ``observations``
    defaults to the tail above the classical xmin for ``family="tail"`` and to every eigenvalue
    for ``family="full"``; the strings ``"tail"`` and ``"all"`` pick those too.
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
            roles=Roles() if roles is None else roles,
            joint=joint,
            marginal_logpdf=marginal_logpdf,
            exact_posterior=exact_posterior,
            exact_posterior_cdf=exact_posterior_cdf,
            quadrature_points=quadrature_points,
            target_accept=target_accept,
        )
        if register_as:
            register(lik)
        return lik

    return wrap
