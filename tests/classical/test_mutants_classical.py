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
    fit_mp,
    fit_power_law,
    fit_truncated_power_law,
    hill_estimator,
    ks_distance,
    nested_lr_test,
    power_law_logpdf,
    rank_collapse,
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
    a = 1.0 - alpha  # (x^a - xmin^a) / (xmax^a - xmin^a), without the cancellation near a = 0
    return np.expm1(a * np.log(x / xmin)) / np.expm1(a * np.log(xmax / xmin))


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
    xmin, xmax = 2.0, 100.0
    span = np.log(xmax / xmin)
    x = xmin * _quantile_tail(u / span, span, 400)
    x = np.concatenate(([xmin, xmax], x))  # the support's ends are data points
    mean_y = float(np.mean(np.log(x / xmin)))

    def score(b):  # mean of y under the truncated exponential minus the data's mean
        num = integrate.quad(lambda y: y * np.exp(-b * (y - span * (b < 0))), 0, span, epsabs=0)[0]
        den = integrate.quad(lambda y: np.exp(-b * (y - span * (b < 0))), 0, span, epsabs=0)[0]
        return num / den - mean_y

    b_ref = optimize.brentq(score, -200.0, 200.0, xtol=1e-14, rtol=1e-13)
    tp = fit_truncated_power_law(x, xmin=xmin, xmax=xmax)
    fixed = fit_power_law(x, xmin=xmin, xmax=xmax)
    for alpha in (tp.params["alpha"], fixed.alpha):
        assert alpha - 1.0 == pytest.approx(b_ref, rel=1e-7, abs=1e-9)
    assert tp.params["xmax"] == xmax and tp.xmax == xmax and fixed.n_tail == x.size
    # the fixed-xmin fit's D is the KS distance to the truncated law, as scipy computes it
    cdf = lambda v: _truncated_cdf(v, fixed.alpha, xmin, xmax)  # noqa: E731
    assert fixed.D == pytest.approx(stats.kstest(x, cdf).statistic, rel=1e-9)
    # the pointwise log-likelihoods are the closed-form density at the fitted alpha
    want = _truncated_logpdf(np.sort(x), tp.params["alpha"], xmin, xmax)
    np.testing.assert_allclose(tp.logliks, want, rtol=1e-9, atol=1e-9)
    assert tp.loglik == pytest.approx(float(np.sum(want)), rel=1e-10)


def test_truncated_power_law_defaults_to_the_largest_value_and_drops_values_below_xmin():
    rng = np.random.default_rng(4)
    x = np.concatenate((rng.uniform(0.1, 0.9, 50), _quantile_tail(1.3, np.log(20.0), 300)))
    tp = fit_truncated_power_law(x, xmin=1.0)
    assert tp.xmax == pytest.approx(x.max()) and tp.n == 300
    np.testing.assert_array_equal(tp.tail, np.sort(x[x >= 1.0]))


@pytest.mark.parametrize("alpha", [0.4, 1.0, 2.5])
@pytest.mark.parametrize("xmin_is_a_value", [False, True])
def test_truncated_ks_distance_is_scipys_kstest(alpha, xmin_is_a_value):
    rng = np.random.default_rng(11)
    xmin, xmax = 2.0, 90.0
    grid = np.geomspace(xmin, xmax, 4001)
    x = np.interp(rng.random(300), _truncated_cdf(grid, alpha, xmin, xmax), grid)
    x = np.concatenate(([xmin] if xmin_is_a_value else [], x, [1.5, 95.0]))  # outside: dropped
    inside = x[(x >= xmin) & (x <= xmax)]
    want = stats.kstest(inside, lambda v: _truncated_cdf(v, alpha, xmin, xmax)).statistic
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


def _bootstrap_reference(x, fit, n_boot, seed, xmax=None):
    """Clauset's bootstrap at a fixed xmin, simulated independently: Binomial(n, n_tail/n) tail
    values by the inverse CDF, the MLE by brentq on the score equation, D by scipy's kstest."""
    rng = np.random.default_rng(seed)
    b, out = fit.alpha - 1.0, []
    for _ in range(n_boot):
        m = rng.binomial(x.size, fit.n_tail / x.size)
        u = rng.random(m)
        if xmax is None:
            t = fit.xmin * (1 - u) ** (-1.0 / b)
            a = 1.0 + m / np.sum(np.log(t / fit.xmin))
            out.append(stats.kstest(t, lambda v, a=a: 1.0 - (v / fit.xmin) ** (1.0 - a)).statistic)
            continue
        span = np.log(xmax / fit.xmin)
        t = fit.xmin * np.exp(-np.log1p(u * np.expm1(-b * span)) / b)
        mean_y = np.mean(np.log(t / fit.xmin))
        bb = optimize.brentq(
            lambda c, s=span, y=mean_y: 1 / c - s / np.expm1(c * s) - y, 1e-6, 50.0
        )
        cdf = lambda v, a=1.0 + bb: _truncated_cdf(v, a, fit.xmin, xmax)  # noqa: E731
        out.append(stats.kstest(t, cdf).statistic)
    return np.array(out)


def test_bootstrap_of_a_truncated_fit_matches_an_independent_simulation():
    rng = np.random.default_rng(8)
    xmin, xmax = 1.0, 60.0
    tail = np.interp(rng.random(200), _truncated_cdf(np.geomspace(xmin, xmax, 4001), 1.8, xmin, xmax),
                     np.geomspace(xmin, xmax, 4001))  # fmt: skip
    x = np.concatenate((rng.uniform(0.05, 0.95, 800), tail))
    fit = fit_power_law(x, xmin=xmin, xmax=xmax)
    gof = bootstrap_gof(x, fit, n_boot=200, seed=1)
    ref = _bootstrap_reference(x, fit, 300, seed=77, xmax=xmax)
    assert gof.num_failed == 0
    assert stats.ks_2samp(gof.D_boot, ref).pvalue > 1e-3


def test_bootstrap_skips_a_failed_refit_and_goes_on():
    """Three tail values among 1,000: a synthetic set has fewer than 2 tail values with
    probability P(Binomial(1000, 0.003) < 2) = 0.199; those refits fail, the rest go on."""
    rng = np.random.default_rng(12)
    x = np.concatenate((rng.uniform(0.1, 0.9, 997), [1.0, 1.7, 4.0]))
    fit = fit_power_law(x, xmin=1.0)
    gof = bootstrap_gof(x, fit, n_boot=300, seed=3)
    p_fail = stats.binom.cdf(1, 1000, 0.003)
    lo, hi = stats.binom.ppf([1e-4, 1 - 1e-4], 300, p_fail)
    assert lo <= gof.num_failed <= hi and gof.num_failed == np.isnan(gof.D_boot).sum()
    ok = gof.D_boot[~np.isnan(gof.D_boot)]
    assert gof.p_value == pytest.approx(np.mean(ok >= fit.D))


def test_fixed_xmin_fit_of_two_distinct_values_is_the_closed_form():
    fit = fit_power_law(np.array([3.0, 0.5, 2.0]), xmin=2.0)
    assert fit.n_tail == 2 and fit.alpha == pytest.approx(1 + 2 / np.log(1.5), rel=1e-12)
    with pytest.raises(ValueError, match="at least 2 distinct values"):
        fit_power_law(np.array([0.5, 2.0, 2.0, 2.0]), xmin=2.0)


def test_hill_with_one_order_statistic():
    x = np.array([1.0, 2.0, 5.0, 11.0])
    one = hill_estimator(x, 1)
    assert type(one) is float and one == pytest.approx(1 + 1 / np.log(11.0 / 5.0), rel=1e-12)
    with pytest.raises(ValueError, match=r"integer in \[1, 3\]"):
        hill_estimator(x, 0)


def test_rank_collapse_counts_values_at_the_tolerance_and_is_nan_when_empty():
    assert rank_collapse(np.array([0.0, 1e-3, 0.5, 2.0]), tol=1e-3) == 0.5
    assert np.isnan(rank_collapse(np.array([]), tol=1e-3))


def _mp_median_by_quadrature(Q):
    """Median of the MP law (sigma^2 = 1, ratio y = 1/Q) by quadrature of its density."""
    y = 1.0 / Q
    a, b = (1 - np.sqrt(y)) ** 2, (1 + np.sqrt(y)) ** 2
    dens = lambda t: np.sqrt(max((b - t) * (t - a), 0.0)) / (2 * np.pi * y * t)  # noqa: E731
    return optimize.brentq(lambda m: integrate.quad(dens, a, m, epsabs=1e-13)[0] - 0.5, a, b)


def test_median_method_matches_the_bulk_median_to_the_mp_median():
    """method="median": sigma^2 = median(bulk) / (N mu), mu the MP median (here by quadrature),
    the bulk being the eigenvalues at or below the final Tracy-Widom threshold."""
    rng = np.random.default_rng(21)
    N, M = 600, 200
    W = rng.normal(0.0, 1.5, (N, M))
    W[:, :3] += 12.0 * rng.normal(size=(N, 1)) @ rng.normal(size=(1, 3))  # a planted spike
    ev = np.linalg.svd(W, compute_uv=False) ** 2
    fit = fit_mp(ev, N, M, method="median")
    bulk = ev[ev <= fit.tw_threshold]
    mu = _mp_median_by_quadrature(N / M)
    assert fit.converged and fit.method == "median-iterative" and fit.num_spikes >= 1
    assert fit.sigma2 == pytest.approx(np.median(bulk) / (N * mu), rel=1e-6)
    assert fit.sigma2 == pytest.approx(2.25, rel=0.05)


def test_a_fit_selects_its_tail_and_gives_its_log_density():
    x = np.array([0.5, 9.0, 1.0, 3.0, 120.0, 2.0, 50.0, 60.0])
    fit = fit_power_law(x, xmin=2.0, xmax=60.0)
    np.testing.assert_array_equal(fit.tail(x), [2.0, 3.0, 9.0, 50.0, 60.0])  # both ends included
    grid = np.array([1.9, 2.0, 10.0, 60.0, 61.0])
    want = np.where(
        (grid >= 2.0) & (grid <= 60.0), _truncated_logpdf(grid, fit.alpha, 2.0, 60.0), -np.inf
    )
    np.testing.assert_allclose(fit.logpdf(grid), want, rtol=1e-10)


def test_cutoff_power_law_at_its_boundary_is_the_power_law_itself():
    """A Pareto(alpha = 2.5) sample where no lambda > 0 beats the power law: the fit reports
    lambda = 0, the power law's alpha (1 + n / sum log(x/xmin)) and its log-likelihood."""
    from rmtfit.classical import fit_cutoff_power_law

    x = (1.0 - np.random.default_rng(3).random(300)) ** (-1.0 / 1.5)
    fit = fit_cutoff_power_law(x, xmin=1.0)
    assert fit.message == "lambda at its boundary 0"
    alpha = 1.0 + x.size / np.sum(np.log(x))
    logliks = np.log(alpha - 1.0) - alpha * np.log(fit.tail)  # xmin = 1
    assert fit.model == "cutoff_power_law" and fit.params == pytest.approx(
        {"alpha": alpha, "lambda": 0.0}
    )
    assert fit.loglik == pytest.approx(np.sum(logliks), rel=1e-12)
    np.testing.assert_allclose(fit.logliks, logliks, rtol=1e-12)
    np.testing.assert_array_equal(np.sort(fit.tail), np.sort(x))
    assert (fit.xmin, fit.xmax, fit.num_params, fit.converged) == (1.0, np.inf, 2, True)


def test_stretched_exponential_against_an_independent_two_parameter_optimum():
    """Weibull tail above xmin, density beta lam x^(beta-1) exp(-lam (x^beta - xmin^beta)):
    the MLE by Nelder-Mead on (log beta, log lam) here, the profile search in the code."""
    from rmtfit.classical import fit_stretched_exponential

    xmin = 2.0
    x = stats.weibull_min.rvs(0.6, scale=3.0, size=4000, random_state=8)
    t = x[x >= xmin]

    def loglik(beta, lam, t=t):
        return np.log(beta * lam) + (beta - 1) * np.log(t) - lam * (t**beta - xmin**beta)

    ref = optimize.minimize(
        lambda th: -np.sum(loglik(*np.exp(th))), [0.0, -1.0], method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000},
    )  # fmt: skip
    beta, lam = np.exp(ref.x)
    fit = fit_stretched_exponential(x, xmin=xmin)
    assert fit.model == "stretched_exponential"
    assert fit.params == pytest.approx({"beta": beta, "lambda": lam}, rel=1e-5)
    assert fit.loglik == pytest.approx(-ref.fun, abs=1e-6)
    np.testing.assert_allclose(
        fit.logliks, loglik(fit.params["beta"], fit.params["lambda"], fit.tail), rtol=1e-9
    )
    np.testing.assert_array_equal(np.sort(fit.tail), np.sort(t))
    assert (fit.xmin, fit.xmax, fit.num_params, fit.converged) == (xmin, np.inf, 2, True)
    assert fit.message == "Solution found."  # scipy's message for a converged bounded search
