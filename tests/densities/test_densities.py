"""Tier 1: every density integrates to 1, matches scipy (or mpmath), and its gradient in the
parameters equals central finite differences.

Each density is jitted once with its parameters as arguments, so the parameter points share one
compilation. Integrals run on the log scale with the adaptive Gauss-Kronrod rule of
:mod:`rmtfit.densities._quadrature` (see :func:`rmtfit.likelihoods._check._integrate_log_scale`).
"""

from __future__ import annotations

from functools import cache

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
from scipy import stats

from rmtfit import densities as d
from rmtfit.densities._quadrature import bucketed
from rmtfit.likelihoods._check import _integrate_log_scale

TOL = 1e-8

# name: (logpdf, support(params) -> (lo, hi), feature points(params) -> list, parameter points)
CASES = {
    "power_law": (
        d.power_law_logpdf,
        lambda a, xmin: (xmin, np.inf),
        lambda a, xmin: [xmin],
        [(1.05, 3.0), (2.5, 3.0), (8.0, 0.2)],
    ),
    "truncated_power_law": (
        d.truncated_power_law_logpdf,
        lambda a, lo, hi: (lo, hi),
        lambda a, lo, hi: [lo, hi],
        [
            (-0.5, 2.0, 2e3),
            (0.3, 2.0, 2e3),
            (1.0, 2.0, 2e3),
            (1.0 + 1e-7, 2.0, 2e3),
            (2.5, 1.0, 50.0),
        ],
    ),
    "cutoff_power_law": (
        d.cutoff_power_law_logpdf,
        lambda a, rate, xmin: (xmin, np.inf),
        lambda a, rate, xmin: [xmin, 1.0 / rate],
        # alpha in (0, 1), at 1, small and large rate * xmin
        [
            (0.3, 0.01, 1.0),
            (0.99, 1.0, 2.0),
            (1.0, 0.5, 1.0),
            (2.5, 1e-3, 1.0),
            (3.0, 50.0, 2.0),
            (6.0, 2000.0, 1.0),
        ],
    ),
    "lognormal": (
        d.lognormal_logpdf,
        lambda mu, s, xmin: (xmin, np.inf),
        lambda mu, s, xmin: [xmin, np.exp(mu)],
        [(0.0, 1.0, 2.0), (-5.0, 0.5, 1.0), (3.0, 2.0, 1.0)],
    ),
    "exponential": (
        d.exponential_logpdf,
        lambda rate, xmin: (xmin, np.inf),
        lambda rate, xmin: [xmin, xmin + 1.0 / rate],
        [(0.5, 1.0), (100.0, 3.0)],
    ),
    "stretched_exponential": (
        d.stretched_exponential_logpdf,
        lambda b, s, xmin: (xmin, np.inf),
        lambda b, s, xmin: [xmin, s],
        [(0.3, 1.0, 2.0), (1.7, 5.0, 1.0)],
    ),
    "mp": (
        d.mp_logpdf,
        lambda s2, n, q: tuple(float(v) for v in d.mp_edges(s2, n, q)),
        lambda s2, n, q: [float(v) for v in d.mp_edges(s2, n, q)],
        [(1.0, 100.0, 1.0), (0.3, 1000.0, 10.0), (2.0, 50.0, 2.5)],
    ),
    "mp_soft": (
        d.mp_soft_logpdf,
        lambda s2, n, q: (0.0, np.inf),
        lambda s2, n, q: [float(v) for v in d.mp_edges(s2, n, q)],
        [(1.0, 100.0, 1.0), (0.3, 1536.0, 10.0), (2.0, 30.0, 1.2), (1.0, 400.0, 1.0 + 1e-6)],
    ),
    "frechet": (
        d.frechet_logpdf,
        lambda a, s: (0.0, np.inf),
        lambda a, s: [s],
        [(0.5, 2.0), (3.0, 1.0)],
    ),
    "frechet_topk_marginal": (
        d.frechet_topk_marginal_logpdf,
        lambda a, s, k: (0.0, np.inf),
        lambda a, s, k: [s, s * k ** (-1.0 / a)],
        [(1.5, 10.0, 1.0), (2.0, 10.0, 25.0)],
    ),
}
POINTS = [(name, p) for name, case in CASES.items() for p in case[3]]


@cache
def _jitted(name):
    return jax.jit(CASES[name][0])


def _integral(name, params, hi=None):
    fn = _jitted(name)
    density = bucketed(lambda x: jnp.exp(fn(x, *params)), chunk=2048)
    lo, top = CASES[name][1](*params)
    points = CASES[name][2](*params)
    return _integrate_log_scale(density, lo, top if hi is None else hi, points, TOL)[0]


@pytest.mark.parametrize(("name", "params"), POINTS)
def test_density_integrates_to_one(name, params):
    assert abs(_integral(name, params) - 1.0) < TOL


def test_tracy_widom_approximation_integrates_to_one_with_tw1_moments():
    density = bucketed(lambda t: jnp.exp(jax.jit(d.tracy_widom1_logpdf)(t - 10.0)))
    total = _integrate_log_scale(density, 1e-9, np.inf, [8.0, 9.0, 12.0], TOL)[0]
    assert abs(total - 1.0) < TOL
    k, theta, shift = d.TW1_GAMMA
    law = stats.gamma(a=k, loc=-shift, scale=theta)
    t = np.linspace(-6.0, 4.0, 9)
    np.testing.assert_allclose(np.asarray(d.tracy_widom1_logpdf(t)), law.logpdf(t), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(d.tracy_widom1_cdf(t)), law.cdf(t), rtol=1e-10)
    # published TW1 moments: mean -1.2065, variance 1.6078 (Tracy & Widom 1996)
    assert law.mean() == pytest.approx(-1.2065, abs=5e-4)
    assert law.var() == pytest.approx(1.6078, abs=5e-4)


# ---------------------------------------------------------------------- against scipy/mpmath

X = np.array([1.0, 2.0, 3.0, 3.5, 10.0, 47.0, 300.0, 1e4])


def _cutoff_reference(x, a, rate, xmin):
    with mpmath.workdps(40):
        log_norm = (a - 1) * mpmath.log(rate) + mpmath.log(mpmath.gammainc(1 - a, rate * xmin))
        return np.array([float(-a * mpmath.log(v) - rate * v - log_norm) for v in x])


SCIPY = [
    ("power_law", (2.5, 3.0), lambda x: stats.pareto(b=1.5, scale=3.0).logpdf(x)),
    (
        "truncated_power_law",
        (2.5, 1.0, 50.0),
        lambda x: stats.truncpareto(b=1.5, c=50.0, scale=1.0).logpdf(x),
    ),
    (
        "truncated_power_law",
        (0.3, 2.0, 2e3),
        lambda x: stats.truncpareto(b=-0.7, c=1e3, scale=2.0).logpdf(x),
    ),
    (
        "lognormal",
        (0.0, 1.0, 2.0),
        lambda x: stats.lognorm(s=1.0).logpdf(x) - stats.lognorm(s=1.0).logsf(2.0),
    ),
    ("exponential", (0.5, 1.0), lambda x: stats.expon(loc=1.0, scale=2.0).logpdf(x)),
    (
        "stretched_exponential",
        (0.3, 1.0, 2.0),
        lambda x: stats.weibull_min(c=0.3).logpdf(x) - stats.weibull_min(c=0.3).logsf(2.0),
    ),
    ("frechet", (3.0, 1.0), lambda x: stats.invweibull(c=3.0).logpdf(x)),
    ("cutoff_power_law", (0.3, 0.01, 1.0), lambda x: _cutoff_reference(x, 0.3, 0.01, 1.0)),
    ("cutoff_power_law", (3.0, 50.0, 2.0), lambda x: _cutoff_reference(x, 3.0, 50.0, 2.0)),
]


@pytest.mark.parametrize(("name", "params", "reference"), SCIPY)
def test_density_matches_reference(name, params, reference):
    lo, hi = CASES[name][1](*params)
    x = X[(X >= lo) & (X <= hi)]
    got = np.asarray(_jitted(name)(x, *params))
    np.testing.assert_allclose(got, reference(x), rtol=1e-10, atol=1e-12)


def test_mp_in_raw_units_is_the_textbook_law_of_w_transpose_w_over_n():
    sigma2, n_rows, q = 0.3, 1000.0, 10.0
    y = 1.0 / q
    lo, hi = sigma2 * (1 - np.sqrt(y)) ** 2, sigma2 * (1 + np.sqrt(y)) ** 2
    lam = np.linspace(lo, hi, 9)[1:-1]  # eigenvalues of W^T W / N
    textbook = np.sqrt((hi - lam) * (lam - lo)) / (2 * np.pi * sigma2 * y * lam)
    got = np.exp(np.asarray(d.mp_logpdf(lam * n_rows, sigma2, n_rows, q))) * n_rows
    np.testing.assert_allclose(got, textbook, rtol=1e-12)
    assert float(d.mp_edges(sigma2, n_rows, q)[1]) == pytest.approx(n_rows * hi, rel=1e-14)


@pytest.mark.parametrize("params", [(1.0, 100.0, 1.0), (0.3, 1000.0, 10.0)])
@pytest.mark.parametrize("name", ["mp", "mp_soft"])
def test_mp_cdfs_equal_the_integrated_density(name, params):
    cdf = jax.jit(d.mp_cdf if name == "mp" else d.mp_soft_cdf)
    lo, hi = (float(v) for v in d.mp_edges(*params))
    at = np.array([lo + 0.1 * (hi - lo), 0.5 * (lo + hi), hi - 0.01 * (hi - lo), hi * 1.01])
    integrated = [_integral(name, params, hi=min(a, hi) if name == "mp" else a) for a in at]
    np.testing.assert_allclose(np.asarray(cdf(at, *params)), integrated, atol=1e-9)


def test_softened_mp_tends_to_the_hard_law_inside_the_bulk():
    sigma2, n_rows, q = 1.0, 1536.0, 4.0
    lo, hi = (float(v) for v in d.mp_edges(sigma2, n_rows, q))
    x = np.linspace(lo, hi, 11)[2:-2]
    hard = np.asarray(d.mp_logpdf(x, sigma2, n_rows, q))
    soft = np.asarray(d.mp_soft_logpdf(x, sigma2, n_rows, q))
    log_z = float(d.mp_soft_log_normaliser(n_rows, q))
    np.testing.assert_allclose(soft + log_z, hard, atol=1e-9)
    assert 0 < log_z < 0.01
    # beyond the edge the soft law decays on the Tracy-Widom scale instead of vanishing
    tw = float(d.tw_edge_scale(sigma2, n_rows, q))
    beyond = np.asarray(d.mp_soft_logpdf(hi + tw * np.array([1.0, 3.0]), sigma2, n_rows, q))
    assert np.all(np.isfinite(beyond)) and beyond[1] < beyond[0]


# ------------------------------------------------------------------------------- gradients


PARAMETER_ARGS = {
    "power_law": (0,),
    "truncated_power_law": (0,),
    "cutoff_power_law": (0, 1),
    "lognormal": (0, 1),
    "exponential": (0,),
    "stretched_exponential": (0, 1),
    "mp": (0,),
    "mp_soft": (0,),
    "frechet": (0, 1),
    "frechet_topk_marginal": (0, 1),
}


def _gradient_points(name, params):
    """Interior observation points where the log density is smooth: the feature points moved
    1% inwards, plus a point between the support's ends (mp and the top-k marginal: interior
    points only)."""
    lo, hi = CASES[name][1](*params)
    points = [p for p in CASES[name][2](*params) if np.isfinite(p) and p > 0]
    if name == "mp":
        return np.array([lo + f * (hi - lo) for f in (0.2, 0.5, 0.8)])
    if name == "frechet_topk_marginal":
        return np.array(points + [2.0 * max(points)])
    inside = np.clip(np.array(points) * 1.01, lo, hi)
    middle = 2.0 * max(points) if not np.isfinite(hi) else 0.5 * (lo + hi)
    return np.unique(np.append(inside[inside > 0], middle))


@pytest.mark.parametrize(("name", "params"), POINTS)
def test_gradients_in_the_parameters_equal_central_differences(name, params):
    """jax.grad of each pointwise log density (float64) against central differences with the
    step 1e-6 relative (absolute at 0), at 3-4 observation points per parameter point: truncation error ~ 1e-12
    and rounding ~ 1e-10 relative, so 1e-7 (relative, plus 1e-7 absolute) leaves a wide margin
    and still catches any derivative wrong by a factor, a sign or a missing term."""
    x = jnp.asarray(_gradient_points(name, params))
    argnums = PARAMETER_ARGS[name]  # the rest (xmin, N, Q, k) are fixed per layer
    fn = _jitted(name)
    grads = jax.jit(jax.jacfwd(lambda *p: fn(x, *p), argnums=argnums))(
        *[jnp.float64(v) for v in params]
    )
    for arg, grad in zip(argnums, grads, strict=True):
        h = 1e-6 * (abs(params[arg]) or 1.0)
        up = [v + h if i == arg else v for i, v in enumerate(params)]
        down = [v - h if i == arg else v for i, v in enumerate(params)]
        central = (np.asarray(fn(x, *up)) - np.asarray(fn(x, *down))) / (2 * h)
        assert np.all(np.isfinite(np.asarray(grad))), (arg, grad)
        np.testing.assert_allclose(
            np.asarray(grad), central, rtol=1e-7, atol=1e-7, err_msg=f"parameter {arg} at {x}"
        )
