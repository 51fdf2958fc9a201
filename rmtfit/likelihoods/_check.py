"""The conformance checker: one call runs a likelihood through the checks every built-in passes.

:func:`check_likelihood` checks, at one parameter point and one layer context:

==================  ==========================================================================
``parameters``      each declared parameter has a scalar range constraint and a prior whose
                    support overlaps it
``init``            the starting values satisfy the constraints, with a finite prior density
``logpdf``          finite, same shape as the observations
``jit``, ``vmap``   jitted and vmapped (over parameter draws) results equal the plain call
``gradient``        the gradient in the parameters equals finite differences (4 points)
``normalisation``   the density integrates to 1 (adaptive Gauss-Kronrod on the log scale)
``cdf``             the declared CDF equals the integrated density (when a CDF is declared)
``sampler``         draws pass a Kolmogorov-Smirnov test against the CDF (or a chi-square test
                    against the integrated density when there is no CDF)
``bad_params``      a value outside each constraint raises ``ValueError`` naming the parameter
``bad_data``        negative, NaN and empty eigenvalues raise ``ValueError``
``roles``           every role of ``lik.roles`` names a parameter or a key that ``derived``
                    returns (evaluated once at the check point)
==================  ==========================================================================

For a likelihood whose pointwise terms split a joint density (``joint=True``, the top-k Frechet
model) the normalisation and sampler checks use ``marginal_logpdf``, the law of one observation
picked at random, and draw one observation from each of many joint samples.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from rmtfit.common import enable_x64
from rmtfit.densities import bucketed, integrate, mp_sample, power_law_sample
from rmtfit.likelihoods.api import ROLE_FIELDS, Likelihood, get_likelihood
from rmtfit.likelihoods.helpers import validate_observations

__all__ = [
    "check_likelihood",
    "CheckResult",
    "ConformanceReport",
    "ConformanceError",
    "synthetic_layer",
]

_LOG_LIMIT = 700.0  # |log x| beyond which the integrals stop (exp(700) ~ 1e304)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: its name, whether it passed, and what was measured."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class ConformanceReport:
    """All checks of one likelihood at one parameter point."""

    likelihood: str
    params: Mapping[str, float]
    results: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if not r.passed)

    def __getitem__(self, name: str) -> CheckResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(f"no check {name!r}; checks are {[r.name for r in self.results]}")

    def __str__(self) -> str:
        lines = [f"check_likelihood({self.likelihood!r}) at {dict(self.params)}:"]
        for r in self.results:
            lines.append(f"  [{'pass' if r.passed else 'FAIL'}] {r.name}: {r.detail}")
        return "\n".join(lines)

    __repr__ = __str__


class ConformanceError(AssertionError):
    """Raised by :func:`check_likelihood` when a check fails (``raise_on_failure=True``)."""


def synthetic_layer(seed: int = 0) -> tuple[Any, Any]:
    """A small fixed layer (N = 400, M = 200): an MP bulk with a power-law tail of 30 eigenvalues.

    Returns ``(spectrum, classical)``: duck-typed stand-ins with the attributes the likelihoods'
    ``observations`` and ``context`` read (``name, N, M, Q, eigenvalues``; ``xmin, alpha,
    sigma2, xmax, num_spikes``).
    """
    key_bulk, key_tail = jax.random.split(jax.random.PRNGKey(seed))
    n_rows, n_cols, sigma2 = 400.0, 200.0, 0.01
    bulk = np.asarray(mp_sample(key_bulk, sigma2, n_rows, n_rows / n_cols, (170,)))
    tail = np.asarray(power_law_sample(key_tail, 3.0, 0.9 * bulk.max(), (30,)))
    eigenvalues = np.sort(np.concatenate([bulk, tail]))
    xmin = float(tail.min())
    excess = np.log(tail / xmin).sum()
    spectrum = SimpleNamespace(
        name="synthetic", N=n_rows, M=n_cols, Q=n_rows / n_cols, eigenvalues=eigenvalues
    )
    classical = SimpleNamespace(
        xmin=xmin, alpha=1.0 + tail.size / excess, sigma2=sigma2, xmax=np.nan, num_spikes=0
    )
    return spectrum, classical


def _default_params(lik: Likelihood, context: Mapping[str, float]) -> dict[str, float]:
    if lik.init is not None:
        return {k: float(v) for k, v in lik.init(context).items()}
    out = {}
    for p in lik.parameters:
        prior = p.prior(context)
        out[p.name] = float(np.median(np.asarray(prior.sample(jax.random.PRNGKey(0), (101,)))))
    return out


def check_likelihood(
    lik: Likelihood | str,
    params: Mapping[str, float] | None = None,
    context: Mapping[str, float] | None = None,
    *,
    x: Any = None,
    seed: int = 0,
    num_samples: int = 2000,
    normalisation_tol: float = 1e-8,
    ks_threshold: float = 1e-3,
    raise_on_failure: bool = True,
) -> ConformanceReport:
    """Run a likelihood through the conformance checks every built-in passes.

    Parameters
    ----------
    lik
        A :class:`~rmtfit.likelihoods.Likelihood` or a registered name.
    params
        Parameter values to check at; default ``lik.init(context)`` (else prior medians).
    context
        The layer context; default: built by ``lik.context`` on :func:`synthetic_layer`.
    x
        Observations for the pointwise checks; default: ``lik.observations`` of the same layer.
    seed
        Seeds the sampler draws (and the synthetic layer).
    num_samples
        Draws for the sampler's goodness-of-fit test.
    normalisation_tol
        Allowed ``|integral - 1|``.
    ks_threshold
        The sampler check fails when the test's p-value is below this.
    raise_on_failure
        Raise :class:`ConformanceError` listing the failed checks (else only return them).

    Returns
    -------
    ConformanceReport
        One :class:`CheckResult` per check; ``report.passed`` is True when all passed.
    """
    enable_x64()
    lik = get_likelihood(lik)
    if context is None or x is None:
        spectrum, classical = synthetic_layer(seed)
        obs = np.asarray(lik.observations(spectrum, classical), dtype=np.float64)
        x = obs if x is None else x
        if context is None:
            context = lik.context(obs, spectrum, classical)
    x = np.asarray(x, dtype=np.float64)
    ctx = {k: float(v) for k, v in dict(context).items()}
    params = (
        _default_params(lik, ctx) if params is None else {k: float(v) for k, v in params.items()}
    )
    checks = (
        _check_parameters,
        _check_init,
        _check_logpdf,
        _check_jit_vmap,
        _check_gradient,
        _check_summed,
        _check_normalisation_and_cdf,
        _check_sampler,
        _check_bad_params,
        _check_bad_data,
        _check_roles,
    )
    results: list[CheckResult] = []
    for check in checks:
        try:
            results.extend(
                check(lik, params, ctx, x, seed, num_samples, normalisation_tol, ks_threshold)
            )
        except Exception as exc:  # a crashing check is a failed check, with its reason
            results.append(
                CheckResult(check.__name__[7:], False, f"raised {type(exc).__name__}: {exc}")
            )
    report = ConformanceReport(lik.name, dict(params), tuple(results))
    if raise_on_failure and not report.passed:
        raise ConformanceError(str(report))
    return report


# ---------------------------------------------------------------------------- the checks


def _bounds(c: Any) -> tuple[float, float]:
    lo = getattr(c, "lower_bound", None)
    hi = getattr(c, "upper_bound", None)
    lo = -np.inf if lo is None else float(lo)
    hi = np.inf if hi is None else float(hi)
    return lo, hi


def _check_parameters(lik, params, ctx, *_):
    problems = []
    for p in lik.parameters:
        if getattr(p.constraint, "event_dim", 0) != 0 or getattr(
            p.constraint, "is_discrete", False
        ):
            problems.append(
                f"{p.name}: constraint {p.constraint!r} is not a scalar continuous range"
            )
            continue
        c_lo, c_hi = _bounds(p.constraint)
        s_lo, s_hi = _bounds(p.prior(ctx).support)
        lo, hi = max(c_lo, s_lo), min(c_hi, s_hi)
        if not lo < hi:
            problems.append(f"{p.name}: prior support and constraint do not overlap ({lo}, {hi})")
    detail = "; ".join(problems) or f"{len(lik.parameters)} parameters with ranges and priors"
    return [CheckResult("parameters", not problems and len(lik.parameters) > 0, detail)]


def _check_init(lik, params, ctx, *_):
    lik.check_params(params)
    bad = []
    for p in lik.parameters:
        lp = float(p.prior(ctx).log_prob(jnp.asarray(params[p.name])))
        if not np.isfinite(lp):
            bad.append(f"{p.name}={params[p.name]!r} has prior log density {lp}")
    return [CheckResult("init", not bad, "; ".join(bad) or "inside constraints, finite prior")]


def _logpdf(lik, x, params, ctx):
    return np.asarray(lik.logpdf(jnp.asarray(x), _jnp(params), _jnp(ctx)))


def _jnp(d):
    return {k: jnp.asarray(v, dtype=jnp.float64) for k, v in d.items()}


def _check_logpdf(lik, params, ctx, x, *_):
    values = _logpdf(lik, x, params, ctx)
    ok = values.shape == x.shape and bool(np.all(np.isfinite(values)))
    detail = f"shape {values.shape} for {x.shape}; sum {float(np.sum(values)):.6g}"
    if not ok:
        detail += f"; non-finite at {np.flatnonzero(~np.isfinite(values))[:5].tolist()}"
    return [CheckResult("logpdf", ok, detail)]


def _check_jit_vmap(lik, params, ctx, x, *_):
    plain = _logpdf(lik, x, params, ctx)
    jitted = np.asarray(jax.jit(lik.logpdf)(jnp.asarray(x), _jnp(params), _jnp(ctx)))
    stacked = {k: jnp.full((2,), v, dtype=jnp.float64) for k, v in params.items()}
    mapped = jax.jit(jax.vmap(lambda p: lik.logpdf(jnp.asarray(x), p, _jnp(ctx))))(stacked)
    err_jit = float(np.max(np.abs(jitted - plain) / (1.0 + np.abs(plain))))
    err_vmap = float(np.max(np.abs(np.asarray(mapped) - plain[None]) / (1.0 + np.abs(plain))))
    return [
        CheckResult("jit", err_jit < 1e-10, f"max relative difference {err_jit:.2e}"),
        CheckResult("vmap", err_vmap < 1e-10, f"max relative difference {err_vmap:.2e}"),
    ]


def _summed_points(lik, params, x, seed):
    """The check point and three nearby ones (each parameter moved by a few percent, kept
    inside its constraint and off the observations, where the summed form has kinks)."""
    rng = np.random.default_rng(seed + 17)
    points = [dict(params)]
    for _ in range(3):
        moved = {}
        for p in lik.parameters:
            v = float(params[p.name])
            for _try in range(20):
                cand = v * float(np.exp(rng.normal(0.0, 0.04))) if v != 0 else rng.normal(0, 0.04)
                inside = bool(np.asarray(p.constraint.check(jnp.asarray(cand))))
                if inside and not np.any(np.isclose(x, cand, rtol=1e-9, atol=0.0)):
                    break
            else:
                cand = v
            moved[p.name] = cand
        points.append(moved)
    return points


def _check_summed(lik, params, ctx, x, seed, *_):
    """``summed``: the total from the statistics equals the masked sum of ``logpdf`` (value and
    gradient), on shuffled observations with padding."""
    if lik.summed is None:
        return []
    rng = np.random.default_rng(seed)
    pad = max(3, x.size // 5)
    padded = np.concatenate([x, np.full(pad, x[0])])
    mask = np.concatenate([np.ones(x.size, bool), np.zeros(pad, bool)])
    order = rng.permutation(padded.size)
    xs, ms = jnp.asarray(padded[order]), jnp.asarray(mask[order])
    stats = jax.jit(lik.summed[0])(xs, ms)
    c = _jnp(ctx)

    def pointwise(p):
        return jnp.sum(jnp.where(ms, lik.logpdf(xs, p, c), 0.0))

    def summed(p):
        return lik.summed[1](stats, p, c)

    worst_value, worst_grad = 0.0, 0.0
    for i, point in enumerate(_summed_points(lik, params, x, seed)):
        p = _jnp(point)
        a, b = float(pointwise(p)), float(summed(p))
        worst_value = max(worst_value, abs(a - b) / (1.0 + abs(a)))
        if i:  # the check point may sit on an observation (a kink): gradients only off it
            ga, gb = jax.grad(pointwise)(p), jax.grad(summed)(p)
            for k in ga:
                d = abs(float(ga[k]) - float(gb[k])) / (1.0 + abs(float(ga[k])))
                worst_grad = max(worst_grad, d)
    ok_value = bool(np.isfinite(worst_value)) and worst_value < 1e-10
    ok_grad = bool(np.isfinite(worst_grad)) and worst_grad < 1e-8
    return [
        CheckResult("summed", ok_value, f"max relative difference {worst_value:.2e} in value"),
        CheckResult("summed_gradient", ok_grad, f"max relative difference {worst_grad:.2e}"),
    ]


_GRADIENT_RTOL = 1e-6  # allowed |jax.grad - finite difference| / (sum of the terms' |derivatives|)


def _check_gradient(lik, params, ctx, x, seed, *_):
    """``gradient``: ``jax.grad`` of the summed log density equals finite differences (float64,
    step 1e-5 relative) at the check point and three nearby ones (``_summed_points``), within
    ``_GRADIENT_RTOL`` times the sum of the terms' absolute derivatives (a scale that does not
    vanish at the mode, as the total does) plus rounding; not across a kink (an observation)."""
    xs, c = jnp.asarray(x), _jnp(ctx)
    logpdf = jax.jit(lik.logpdf)  # compiled once already by the jit check

    def terms(p):
        return np.asarray(logpdf(xs, _jnp(p), c))

    grad = jax.jit(jax.grad(lambda p: jnp.sum(lik.logpdf(xs, p, c))))
    worst, where, values, compared = 0.0, "", {}, 0
    for i, point in enumerate(_summed_points(lik, params, x, seed)):
        g = {k: float(v) for k, v in grad(_jnp(point)).items()}
        values = values or g
        if not all(np.isfinite(v) for v in g.values()):
            return [CheckResult("gradient", False, f"not finite at {point}: {g}")]
        rounding = 1e3 * np.finfo(np.float64).eps * float(np.sum(np.abs(terms(point))))
        for p in lik.parameters:
            v = float(point[p.name])
            h = 1e-5 * max(abs(v), 1e-3)
            if np.any(np.abs(x - v) <= 2 * h):
                continue
            pointwise = _difference(terms, point, p, h)
            fd = float(np.sum(pointwise))
            allowed = _GRADIENT_RTOL * float(np.sum(np.abs(pointwise))) + rounding / h
            ratio, compared = abs(g[p.name] - fd) / allowed, compared + 1
            ratio = ratio if np.isfinite(ratio) else np.inf  # a NaN difference fails
            if ratio > worst:
                worst, where = ratio, f"{p.name} at point {i}: grad {g[p.name]:.8g}, fd {fd:.8g}"
    detail = (
        f"d sum logpdf / d params = {values}; |grad - finite difference| at most "
        f"{worst:.2g} of the allowed ({where}; {compared} derivatives compared)"
    )
    return [CheckResult("gradient", compared > 0 and worst < 1.0, detail)]


def _difference(terms, point, p, h):
    """Pointwise d logpdf / d ``p``: central, or one-sided (second order) at a constraint edge."""
    v = float(point[p.name])

    def at(value):
        return terms({**point, p.name: value})

    def inside(value):
        return bool(np.asarray(p.constraint.check(jnp.asarray(value))))

    if inside(v - h) and inside(v + h):
        return (at(v + h) - at(v - h)) / (2 * h)
    d = 1.0 if inside(v + 2 * h) else -1.0
    return d * (-3 * at(v) + 4 * at(v + d * h) - at(v + 2 * d * h)) / (2 * h)


def _density_fn(lik, params, ctx):
    if lik.joint:
        marginal = lik.marginal_logpdf
        fn = jax.jit(lambda x: jnp.exp(marginal(x, _jnp(params), _jnp(ctx))))
    else:
        fn = jax.jit(lambda x: jnp.exp(lik.logpdf(x, _jnp(params), _jnp(ctx))))
    return bucketed(fn, chunk=2048)


def _support(lik, params, ctx):
    if lik.support is not None:
        lo, hi = lik.support(_jnp(params), _jnp(ctx))
        return float(lo), float(hi)
    if lik.family == "tail" and "xmin" in ctx and not lik.joint:
        return float(ctx["xmin"]), np.inf
    return 0.0, np.inf


def _features(lik, params, ctx, x):
    points = list(np.quantile(x, [0.0, 0.5, 1.0])) if x.size else []
    maker = lik.quadrature_points
    if maker is not None:
        points += [float(p) for p in maker(_jnp(params), _jnp(ctx))]
    return [p for p in points if np.isfinite(p) and p > 0]


def _integrate_log_scale(density, lo, hi, points, tol):
    """``int_lo^hi density(x) dx`` in ``v = log x``, extending open ends until negligible."""

    def fn(v):
        xv = np.exp(v)
        return density(xv) * xv

    top = hi if np.isfinite(hi) else np.inf
    positive = [p for p in points if lo < p < top and p > 0]
    log_points = sorted(np.log(positive))
    if lo > 0:
        v_lo = float(np.log(lo))
    else:
        v_lo = min(log_points + ([float(np.log(hi))] if np.isfinite(hi) else [0.0])) - 1.0
    v_hi = float(np.log(hi)) if np.isfinite(hi) else max(log_points + [v_lo]) + 1.0
    inner = [v for v in log_points if v_lo < v < v_hi]
    total, err = integrate(fn, v_lo, v_hi, points=inner, abs_tol=tol * 1e-2)
    for direction, open_end in ((1, not np.isfinite(hi)), (-1, lo <= 0)):
        edge, width = (v_hi if direction > 0 else v_lo), 1.0
        while open_end and abs(edge) < _LOG_LIMIT:
            nxt = float(np.clip(edge + direction * width, -_LOG_LIMIT, _LOG_LIMIT))
            a, b = sorted((edge, nxt))
            part, e = integrate(fn, a, b, abs_tol=tol * 1e-2)
            total, err, edge, width = total + part, err + e, nxt, width * 2.0
            if abs(part) < tol * 1e-3:
                break
    return total, err


def _check_normalisation_and_cdf(lik, params, ctx, x, seed, num_samples, tol, _ks):
    density = _density_fn(lik, params, ctx)
    lo, hi = _support(lik, params, ctx)
    points = _features(lik, params, ctx, x)
    total, err = _integrate_log_scale(density, lo, hi, points, tol)
    out = [
        CheckResult(
            "normalisation",
            abs(total - 1.0) <= tol,
            f"integral over ({lo:.6g}, {hi:.6g}) = 1 {total - 1.0:+.2e} (quadrature error {err:.1e})",
        )
    ]
    if lik.cdf is not None and x.size:
        at = [float(q) for q in np.quantile(x, [0.1, 0.5, 0.9])]
        declared = np.asarray(_cdf_fn(lik, params, ctx)(jnp.asarray(at)))
        inner = [p for p in points]
        integrated = np.array(
            [
                _integrate_log_scale(density, lo, a, [p for p in inner if p < a] or [a], tol)[0]
                for a in at
            ]
        )
        gap = float(np.max(np.abs(declared - integrated)))
        out.append(CheckResult("cdf", gap < 1e-7, f"max |cdf - integrated density| {gap:.2e}"))
    return out


def _cdf_fn(lik, params, ctx):
    return jax.jit(lambda v: lik.cdf(v, _jnp(params), _jnp(ctx)))


def _draw(lik, params, ctx, x, seed, num_samples):
    key = jax.random.PRNGKey(seed + 1)
    if lik.joint:
        k = int(x.size)
        keys = jax.random.split(key, num_samples)
        sets = jax.jit(jax.vmap(lambda kk: lik.sample(kk, _jnp(params), _jnp(ctx), k)))(keys)
        pick = np.random.default_rng(seed).integers(0, k, size=num_samples)
        return np.asarray(sets)[np.arange(num_samples), pick]
    draw = jax.jit(lambda kk: lik.sample(kk, _jnp(params), _jnp(ctx), num_samples))
    return np.asarray(draw(key))


def _check_sampler(lik, params, ctx, x, seed, num_samples, tol, ks_threshold):
    if lik.sample is None:
        return [
            CheckResult("sampler", False, "no sampler declared (needed for posterior predictive)")
        ]
    draws = _draw(lik, params, ctx, x, seed, num_samples)
    lo, hi = _support(lik, params, ctx)
    inside = bool(np.all(np.isfinite(draws)) and np.all(draws >= lo) and np.all(draws <= hi))
    if not inside:
        return [
            CheckResult("sampler", False, f"draws outside the support ({lo}, {hi}) or not finite")
        ]
    if lik.cdf is not None:
        cdf = _cdf_fn(lik, params, ctx)
        p_value = float(stats.kstest(draws, lambda v: np.asarray(cdf(jnp.asarray(v)))).pvalue)
        test = "Kolmogorov-Smirnov vs cdf"
    else:
        p_value = _chi_square_pvalue(lik, params, ctx, x, draws, tol)
        test = "chi-square vs integrated density (20 bins)"
    detail = f"{test}: p = {p_value:.3g} over {draws.size} draws (threshold {ks_threshold:g})"
    return [CheckResult("sampler", p_value > ks_threshold, detail)]


def _chi_square_pvalue(lik, params, ctx, x, draws, tol):
    density = _density_fn(lik, params, ctx)
    lo, hi = _support(lik, params, ctx)
    edges = np.unique(np.quantile(draws, np.linspace(0.0, 1.0, 21)[1:-1]))
    points = _features(lik, params, ctx, x)
    cumulative = [
        _integrate_log_scale(density, lo, e, [p for p in points if p < e] or [e], tol)[0]
        for e in edges
    ]
    probs = np.diff(np.concatenate([[0.0], cumulative, [1.0]]))
    counts = np.bincount(np.searchsorted(edges, draws, side="right"), minlength=edges.size + 1)
    expected = probs * draws.size
    chi2 = float(np.sum((counts - expected) ** 2 / np.maximum(expected, 1e-300)))
    return float(stats.chi2.sf(chi2, edges.size))


def _check_bad_params(lik, params, ctx, *_):
    problems = []
    for p in lik.parameters:
        lo = getattr(p.constraint, "lower_bound", None)
        hi = getattr(p.constraint, "upper_bound", None)
        bad_values = [np.nan]
        if lo is not None:
            bad_values.append(float(lo) - 1.0)
        if hi is not None:
            bad_values.append(float(hi) + 1.0)
        for value in bad_values:
            try:
                lik.check_params({**params, p.name: value})
            except ValueError as exc:
                if p.name not in str(exc):
                    problems.append(f"{p.name}={value}: message does not name it: {exc}")
            else:
                problems.append(f"{p.name}={value} accepted")
    return [
        CheckResult("bad_params", not problems, "; ".join(problems) or "ValueError naming each")
    ]


def _check_bad_data(lik, params, ctx, x, *_):
    problems = []
    for label, data in (
        ("negative", -np.abs(x)),
        ("NaN", np.full_like(x, np.nan)),
        ("empty", x[:0]),
    ):
        try:
            validate_observations(lik, data, ctx)
        except ValueError:
            continue
        problems.append(f"{label} eigenvalues accepted")
    return [CheckResult("bad_data", not problems, "; ".join(problems) or "ValueError for each")]


def _check_roles(lik, params, ctx, x, seed, *_):
    """Every role names a parameter or a key of ``derived`` (evaluated once at ``params``)."""
    roles = {r: lik.roles.variable(r) for r in ROLE_FIELDS if lik.roles.variable(r) is not None}
    derived: list[str] = []
    if lik.derived is not None and any(v not in lik.parameter_names for v in roles.values()):
        mask = jnp.ones(x.shape, dtype=bool)
        key = jax.random.PRNGKey(seed + 2)
        derived = sorted(lik.derived(key, jnp.asarray(x), mask, _jnp(params), _jnp(ctx)))
    known = set(lik.parameter_names) | set(derived)
    missing = [
        f"role {role}={name!r} names no parameter or derived quantity"
        for role, name in roles.items()
        if name not in known
    ]
    if missing:
        returns = f"derived returns {derived}" if lik.derived is not None else "no derived"
        detail = (
            f"{'; '.join(missing)}; the parameters are {list(lik.parameter_names)}, {returns} "
            "(name an existing variable, or add it to derived)"
        )
    else:
        shown = ", ".join(f"{r}={v}" for r, v in roles.items()) or "none"
        detail = f"kind {lik.roles.kind!r}; roles {shown}"
    return [CheckResult("roles", not missing, detail)]
