"""Tests written to kill the mutants of rmtfit.classical that the other tests let live (docs/mutation.md).

Every expected value comes from an independent reference: a closed form written out here,
scipy (quadrature, root finding, distributions, kstest) or an independent simulation.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from rmtfit.classical import (
    bootstrap_gof,
    fit_exponential,
    fit_lognormal,
    fit_power_law,
    fit_truncated_power_law,
    ks_distance,
    nested_lr_test,
    power_law_logpdf,
    vuong_test,
)


def _truncated_logpdf(x, alpha, xmin, xmax):
    """Closed form of the power law on [xmin, xmax], written without exprel."""
    if alpha == 1.0:
        return -np.log(x) - np.log(np.log(xmax / xmin))
    norm = (1.0 - alpha) / (xmax ** (1.0 - alpha) - xmin ** (1.0 - alpha))
    return np.log(norm) - alpha * np.log(x)


def _truncated_cdf(x, alpha, xmin, xmax):
    if alpha == 1.0:
        return np.log(x / xmin) / np.log(xmax / xmin)
    a = 1.0 - alpha
    return (x**a - xmin**a) / (xmax**a - xmin**a)


def _quantile_tail(b, span, n):
    """Data x = exp(y), y at the mid-quantiles of the exponential of rate b truncated to [0, span]."""
    u = (np.arange(n) + 0.5) / n
    y = u * span if b == 0 else -np.log1p(u * np.expm1(-b * span)) / b
    return np.exp(np.clip(y, 0.0, span))


# The root b of the score equation mean(y) = 1/b - L/(e^{bL} - 1) for the truncated law in
# y = log(x/xmin) on [0, L]: from steep decay (bL = 40) through flat (bL ~ 0) to steep growth
# (bL = -60, where the root sits near -1/(1 - t) and a too narrow bracket misses it).
@pytest.mark.parametrize("u", [-60.0, -8.0, -0.5, -3e-5, 2e-6, 0.6, 5.0, 40.0])
def test_truncated_exponent_solves_the_score_equation_by_brentq(u):
    span = np.log(50.0)
    x = _quantile_tail(u / span, span, 400)
    x = np.concatenate(([1.0, 50.0], x))  # the support's ends are data points
    mean_y = float(np.mean(np.log(x)))

    def score(b):  # mean of y under the truncated exponential minus the data's mean
        num = integrate.quad(lambda y: y * np.exp(-b * (y - span * (b < 0))), 0, span, epsabs=0)[0]
        den = integrate.quad(lambda y: np.exp(-b * (y - span * (b < 0))), 0, span, epsabs=0)[0]
        return num / den - mean_y

    b_ref = optimize.brentq(score, -200.0, 200.0, xtol=1e-14, rtol=1e-13)
    tp = fit_truncated_power_law(x, xmin=1.0, xmax=50.0)
    fixed = fit_power_law(x, xmin=1.0, xmax=50.0)
    for alpha in (tp.params["alpha"], fixed.alpha):
        assert alpha - 1.0 == pytest.approx(b_ref, rel=1e-7, abs=1e-9)
    assert tp.params["xmax"] == 50.0 and tp.xmax == 50.0
    # the pointwise log-likelihoods are the closed-form density at the fitted alpha
    want = _truncated_logpdf(np.sort(x), tp.params["alpha"], 1.0, 50.0)
    np.testing.assert_allclose(tp.logliks, want, rtol=1e-9, atol=1e-9)
    assert tp.loglik == pytest.approx(float(np.sum(want)), rel=1e-10)


def test_truncated_power_law_defaults_to_the_largest_value_and_drops_values_below_xmin():
    rng = np.random.default_rng(4)
    x = np.concatenate((rng.uniform(0.1, 0.9, 50), _quantile_tail(1.3, np.log(20.0), 300)))
    tp = fit_truncated_power_law(x, xmin=1.0)
    assert tp.xmax == pytest.approx(x.max()) and tp.n == 300
    np.testing.assert_array_equal(tp.tail, np.sort(x[x >= 1.0]))


@pytest.mark.parametrize("alpha", [0.4, 1.0, 2.5])
def test_truncated_ks_distance_is_scipys_kstest(alpha):
    rng = np.random.default_rng(11)
    xmin, xmax = 2.0, 90.0
    grid = np.geomspace(xmin, xmax, 4001)
    x = np.interp(rng.random(300), _truncated_cdf(grid, alpha, xmin, xmax), grid)
    want = stats.kstest(x, lambda v: _truncated_cdf(v, alpha, xmin, xmax)).statistic
    got = ks_distance(x, alpha, xmin, xmax=xmax)
    assert got == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("alpha", [0.3, 1.0, 1.0 + 1e-7, 3.2])
def test_truncated_logpdf_is_the_closed_form(alpha):
    x = np.geomspace(1.5, 40.0, 17)
    np.testing.assert_allclose(
        power_law_logpdf(x, alpha, 1.5, 40.0), _truncated_logpdf(x, alpha, 1.5, 40.0), rtol=1e-9
    )
    assert power_law_logpdf(np.array([1.4, 40.1]), alpha, 1.5, 40.0).tolist() == [-np.inf] * 2


def test_vuong_statistic_and_p_value_against_scipy_norm():
    rng = np.random.default_rng(2)
    la, lb = rng.normal(-1.0, 1.0, 60), rng.normal(-1.2, 1.0, 60)
    d = la - lb
    z = d.sum() / (np.sqrt(d.size) * np.sqrt(np.mean((d - d.mean()) ** 2)))
    res = vuong_test(la, lb, a="A", b="B")
    assert res.statistic == pytest.approx(z, rel=1e-12)
    assert res.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-10)
    assert (res.n, res.method, res.a, res.b) == (60, "vuong", "A", "B")
    assert res.log_ratio == pytest.approx(d.sum(), rel=1e-12)
    # a constant non-zero difference: certain, z = +-inf and p = 0
    const = vuong_test(np.zeros(5), np.full(5, 0.5))
    assert const.statistic == -np.inf and const.p_value == 0.0 and const.favours == "b"
    # integer input is converted, not truncated
    assert vuong_test([1, 2, 3], [0, 0, 1]).log_ratio == 5.0


@pytest.mark.parametrize("two_r", [0.0, 0.7, 3.84, 9.0])
def test_nested_lr_p_values_are_scipys_chi2_mixtures(two_r):
    full, restricted = np.array([-1.0, two_r / 2 - 2.0]), np.array([-1.0, -2.0])
    mix1 = 1.0 if two_r == 0 else 0.5 * stats.chi2.sf(two_r, 1)
    mix2 = 0.5 * stats.chi2.sf(two_r, 1) + 0.5 * stats.chi2.sf(two_r, 2)
    res = nested_lr_test(full, restricted)
    assert (res.statistic, res.n, res.method) == (pytest.approx(two_r), 2, "nested-boundary")
    assert res.p_value == pytest.approx(mix1, rel=1e-12)
    assert nested_lr_test(full, restricted, df=2).p_value == pytest.approx(mix2, rel=1e-12)
    plain = nested_lr_test(full, restricted, boundary=False)
    assert plain.p_value == pytest.approx(stats.chi2.sf(two_r, 1), rel=1e-12)
    assert plain.method == "nested"
    # totals instead of pointwise values: n = 0; a fuller law fitting worse is noise: 2R -> 0
    worse = nested_lr_test(-5.0, -4.0)
    assert (worse.statistic, worse.p_value, worse.n, worse.log_ratio) == (0.0, 1.0, 0, -1.0)


def test_exponential_fit_is_scipys_expon_fit():
    rng = np.random.default_rng(6)
    x = np.concatenate((rng.uniform(0.0, 1.0, 40) + 0.1, 1.0 + rng.exponential(0.4, 500)))
    fit = fit_exponential(x, xmin=1.0)
    tail = np.sort(x[x >= 1.0])
    loc, scale = stats.expon.fit(tail, floc=1.0)
    assert fit.params["lambda"] == pytest.approx(1.0 / scale, rel=1e-12)
    np.testing.assert_allclose(fit.logliks, stats.expon.logpdf(tail, loc, scale), rtol=1e-12)
    np.testing.assert_array_equal(fit.tail, tail)
    assert (fit.xmin, fit.xmax, fit.num_params, fit.model) == (1.0, np.inf, 1, "exponential")


def test_lognormal_fit_is_the_mle_of_scipys_truncated_lognormal():
    rng = np.random.default_rng(9)
    x = rng.lognormal(0.3, 0.9, 2000)
    xmin = 2.0
    tail = np.sort(x[x >= xmin])

    def logpdf(mu, sigma):  # log-normal conditioned on x >= xmin, from scipy
        law = stats.lognorm(s=sigma, scale=np.exp(mu))
        return law.logpdf(tail) - law.logsf(xmin)

    fit = fit_lognormal(x, xmin=xmin)
    mu, sigma = fit.params["mu"], fit.params["sigma"]
    np.testing.assert_allclose(fit.logliks, logpdf(mu, sigma), rtol=1e-9)
    ref = optimize.minimize(
        lambda th: -np.sum(logpdf(th[0], np.exp(th[1]))), [0.0, 0.0], method="Powell",
        options={"xtol": 1e-10, "ftol": 1e-13},
    )  # fmt: skip
    assert fit.loglik == pytest.approx(-ref.fun, abs=1e-6)
    assert (mu, np.log(sigma)) == (
        pytest.approx(ref.x[0], abs=1e-3),
        pytest.approx(ref.x[1], abs=1e-3),
    )
    assert (fit.num_params, fit.model, fit.converged) == (2, "lognormal", True)
    np.testing.assert_array_equal(fit.tail, tail)


def test_bootstrap_at_fixed_xmin_matches_an_independent_simulation():
    """Semi-parametric bootstrap, fixed xmin: each synthetic set has Binomial(n, n_tail/n) tail
    values from the fitted law, refitted at the same xmin. Reference: the same procedure
    simulated here with scipy (inverse CDF, closed-form MLE, kstest); the two samples of KS
    distances must come from one law (two-sample KS test)."""
    rng = np.random.default_rng(3)
    n_tail, n_body, xmin = 150, 1350, 1.0
    x = np.concatenate((rng.uniform(0.05, 0.95, n_body), xmin * (1 - rng.random(n_tail)) ** -1.0))
    fit = fit_power_law(x, xmin=xmin)
    gof = bootstrap_gof(x, fit, n_boot=300, seed=5)
    ref_rng = np.random.default_rng(99)
    ref = []
    for _ in range(300):
        m = ref_rng.binomial(x.size, n_tail / x.size)
        t = xmin * (1 - ref_rng.random(m)) ** (-1.0 / (fit.alpha - 1.0))
        a = 1.0 + m / np.sum(np.log(t / xmin))
        ref.append(stats.kstest(t, lambda v, a=a: 1.0 - (v / xmin) ** (1.0 - a)).statistic)
    assert gof.num_failed == 0 and gof.n_boot == 300 and gof.D == fit.D
    assert stats.ks_2samp(gof.D_boot, ref).pvalue > 1e-3
    assert gof.p_value == pytest.approx(np.mean(gof.D_boot >= fit.D))


def test_bootstrap_accepts_one_replicate_and_refuses_none():
    x = (1 - np.random.default_rng(0).random(200)) ** -1.0
    fit = fit_power_law(x)
    one = bootstrap_gof(x, fit, n_boot=1, seed=0)
    assert one.n_boot == 1 and one.D_boot.shape == (1,)
    with pytest.raises(ValueError, match="`n_boot` must be at least 1, got 0"):
        bootstrap_gof(x, fit, n_boot=0)
