"""Tests that kill the survivors of rmtfit.classical's tails, bootstrap, power-law and scan
modules left open by the mutation check (docs/mutation.md, issue 17 item 5).

Every expected value comes from an independent reference: a closed form written out here, scipy
(root finding, optimisers, distributions, kstest) or a simulation written in the test.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from rmtfit.classical import (
    _bootstrap,
    bootstrap_gof,
    fit_cutoff_power_law,
    fit_lognormal,
    fit_power_law,
    fit_stretched_exponential,
    fit_truncated_power_law,
    hill_estimator,
    ks_distance,
)


def _pareto(rng, n, alpha, xmin=1.0):
    return xmin * (1.0 - rng.random(n)) ** (-1.0 / (alpha - 1.0))


def _ks(t, xmin, alpha, ks="standard"):
    """KS distance of a sample to the power law (alpha, xmin), from the textbook definitions."""
    t = np.sort(t)
    n = t.size
    F = 1.0 - (t / xmin) ** (1.0 - alpha)
    i = np.arange(1, n + 1)
    above, below = i / n - F, F - (i - 1) / n
    if ks == "standard":
        return float(max(above.max(), below.max()))
    inside = (F > 0) & (F < 1)  # reweighted: each deviation over sqrt(F (1 - F))
    return float(np.max(np.maximum(above, below)[inside] / np.sqrt(F * (1 - F))[inside]))


def _truncated_score_root(mean_y, span):
    """b = alpha - 1 of the power law on [xmin, xmax]: mean(y) = 1/b - L/(e^{bL} - 1), y = ln(x/xmin)."""
    return optimize.brentq(
        lambda b: (1.0 / b - span / np.expm1(b * span) if b else span / 2) - mean_y,
        -60.0, 60.0, xtol=1e-14, rtol=1e-13,
    )  # fmt: skip


# --- messages name the argument -------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda x: bootstrap_gof(x, fit_power_law(np.geomspace(1, 50, 40), xmin=1.0), n_boot=1),
        lambda x: hill_estimator(x, 1),
        lambda x: fit_truncated_power_law(x, xmin=1.0),
    ],
    ids=["bootstrap_gof", "hill_estimator", "fit_truncated_power_law"],
)
def test_bad_values_are_an_error_naming_x(call):
    with pytest.raises(ValueError, match="`x` must hold positive finite values; 1 of 4"):
        call(np.array([2.0, 0.0, 3.0, 5.0]))


def test_an_unknown_ks_is_an_error_naming_ks_and_the_choices():
    with pytest.raises(ValueError, match=r"`ks` must be one of \('standard'.*got 'two-sided'"):
        ks_distance(np.geomspace(1, 9, 20), 2.0, 1.0, ks="two-sided")


# --- the truncated power law ------------------------------------------------------------------


def test_truncated_power_law_at_a_given_xmax_above_and_below_the_data():
    """xmax above the largest value: the law lives on [xmin, xmax], not [xmin, max x]; xmax
    below it: the values above xmax are dropped. alpha from brentq on the score equation."""
    rng = np.random.default_rng(21)
    x = np.concatenate((rng.uniform(0.2, 0.9, 30), 1.0 + 40.0 * rng.random(200)))
    for xmax in (80.0, 25.0):
        tp = fit_truncated_power_law(x, xmin=1.0, xmax=xmax)
        tail = np.sort(x[(x >= 1.0) & (x <= xmax)])
        span = np.log(xmax)
        b = _truncated_score_root(np.mean(np.log(tail)), span)
        assert tp.params["alpha"] == pytest.approx(1.0 + b, rel=1e-9)
        assert tp.params["xmax"] == tp.xmax == xmax
        np.testing.assert_array_equal(tp.tail, tail)
        want = np.log(-b / np.expm1(-b * span)) - (1.0 + b) * np.log(tail)  # xmin = 1
        np.testing.assert_allclose(tp.logliks, want, rtol=1e-9)
        assert (tp.model, tp.num_params, tp.xmin) == ("truncated_power_law", 1, 1.0)


def test_a_tail_symmetric_in_log_is_alpha_one_without_a_warning():
    """mean(ln x / xmin) = L / 2 is the score equation's root b = 0 (the flat law in ln x); the
    bisection's first midpoint is then exactly 0, where h(u) needs its series."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tp = fit_truncated_power_law(np.array([1.0, 4.0]), xmin=1.0, xmax=4.0)
    assert tp.params["alpha"] == pytest.approx(1.0, abs=1e-12)
    assert tp.logliks == pytest.approx(-np.log([1.0, 4.0]) - np.log(np.log(4.0)), rel=1e-12)


# --- the fixed-xmin fit and its KS definition -------------------------------------------------


@pytest.mark.parametrize("ks", ["standard", "reweighted"])
def test_a_fixed_xmin_fit_uses_the_ks_it_was_given(ks):
    rng = np.random.default_rng(5)
    x = np.concatenate((rng.uniform(0.1, 0.9, 20), _pareto(rng, 300, 2.2)))
    fit = fit_power_law(x, xmin=1.0, ks=ks)
    tail = x[x >= 1.0]
    alpha = 1.0 + tail.size / np.sum(np.log(tail))
    assert fit.alpha == pytest.approx(alpha, rel=1e-12) and fit.ks == ks
    assert fit.D == pytest.approx(_ks(tail, 1.0, alpha, ks), rel=1e-9)


# --- the bootstrap ----------------------------------------------------------------------------


def _spy(monkeypatch):
    """Record every synthetic data set the bootstrap refits (then refit it as usual)."""
    seen = []

    def recording(sample, **kwargs):
        seen.append(np.array(sample))
        return fit_power_law(sample, **kwargs)

    monkeypatch.setattr(_bootstrap, "fit_power_law", recording)
    return seen


def test_bootstrap_sets_have_the_fitted_size_and_draw_every_body_value(monkeypatch):
    """Clauset's recipe: n values per set (n counts the value equal to xmax), each below xmin
    with probability 1 - n_tail/n and then uniform over the observed body values."""
    rng = np.random.default_rng(7)
    body = np.array([0.2, 0.5, 0.8])
    tail = np.concatenate((1.0 + 9.0 * rng.random(40), [10.0]))
    x = np.concatenate((body, tail, [12.0, 30.0]))  # 12 and 30 lie above xmax
    fit = fit_power_law(x, xmin=1.0, xmax=10.0)
    seen = _spy(monkeypatch)
    gof = bootstrap_gof(x, fit, n_boot=400, seed=2)
    n = int(np.sum(x <= 10.0))  # 44: the value 10.0 itself is in
    assert len(seen) == 400 and {s.size for s in seen} == {n}
    drawn = np.concatenate(seen)
    lo, hi = stats.binom.ppf([1e-5, 1 - 1e-5], drawn.size, (3 / n) / 3)
    for v in body:
        assert lo <= np.sum(drawn == v) <= hi
    assert gof.num_failed == 0


def test_bootstrap_refits_with_the_fits_ks():
    """A reweighted-KS fit at a fixed xmin: the synthetic distances are reweighted ones too.
    Reference: Pareto sets drawn here, the closed-form MLE, the reweighted distance written out."""
    rng = np.random.default_rng(11)
    x = _pareto(rng, 120, 2.5)
    fit = fit_power_law(x, xmin=1.0, ks="reweighted")
    gof = bootstrap_gof(x, fit, n_boot=200, seed=4)
    ref_rng, ref = np.random.default_rng(12), []
    for _ in range(400):
        t = _pareto(ref_rng, x.size, fit.alpha)
        ref.append(_ks(t, 1.0, 1.0 + t.size / np.sum(np.log(t)), "reweighted"))
    assert gof.num_failed == 0
    assert stats.ks_2samp(gof.D_boot, ref).pvalue > 1e-3


def test_bootstrap_refits_with_the_fits_min_tail():
    """min_tail = n leaves one candidate, the smallest value: each refit's xmin is its set's
    minimum. Reference: Pareto sets drawn here, refitted at their minimum (scipy's kstest)."""
    rng = np.random.default_rng(13)
    x = _pareto(rng, 80, 2.0)
    fit = fit_power_law(x, min_tail=x.size)
    assert fit.xmin == x.min() and not fit.xmin_fixed
    gof = bootstrap_gof(x, fit, n_boot=200, seed=6)
    ref_rng, ref = np.random.default_rng(14), []
    for _ in range(400):
        t = _pareto(ref_rng, x.size, fit.alpha, fit.xmin)
        m = t.min()
        a = 1.0 + t.size / np.sum(np.log(t / m))
        ref.append(stats.kstest(t, lambda v, a=a, m=m: 1.0 - (v / m) ** (1.0 - a)).statistic)
    assert gof.num_failed == 0
    assert stats.ks_2samp(gof.D_boot, ref).pvalue > 1e-3


def test_bootstrap_of_a_rising_truncated_law():
    """alpha < 1 on [xmin, xmax] (density rising in ln x): the synthetic sets come from the
    truncated law. Reference: inverse-CDF draws, brentq on the score equation, scipy's kstest."""
    rng = np.random.default_rng(15)
    xmin, xmax, b = 1.0, 50.0, -0.5
    span = np.log(xmax / xmin)
    x = xmin * np.exp(-np.log1p(rng.random(150) * np.expm1(-b * span)) / b)
    fit = fit_power_law(x, xmin=xmin, xmax=xmax)
    assert fit.alpha < 1.0
    gof = bootstrap_gof(x, fit, n_boot=150, seed=8)
    ref_rng, ref, bf = np.random.default_rng(16), [], fit.alpha - 1.0
    for _ in range(300):
        t = xmin * np.exp(-np.log1p(ref_rng.random(x.size) * np.expm1(-bf * span)) / bf)
        bb = _truncated_score_root(np.mean(np.log(t / xmin)), span)
        cdf = lambda v, c=bb: np.expm1(-c * np.log(v / xmin)) / np.expm1(-c * span)  # noqa: E731
        ref.append(stats.kstest(t, cdf).statistic)
    assert gof.num_failed == 0
    assert stats.ks_2samp(gof.D_boot, ref).pvalue > 1e-3


def test_bootstrap_p_value_is_nan_when_every_refit_fails():
    """Two tail values among 60: a synthetic set has fewer than two with probability
    P(Binomial(62, 2/62) < 2) ~ 0.4; the first seed whose one replicate fails gives p = NaN."""
    x = np.concatenate((np.linspace(0.1, 0.9, 60), [1.0, 3.0]))
    fit = fit_power_law(x, xmin=1.0)
    for seed in range(60):
        gof = bootstrap_gof(x, fit, n_boot=1, seed=seed)
        if gof.num_failed:
            break
    assert gof.num_failed == 1 and np.isnan(gof.D_boot).all()
    assert np.isnan(gof.p_value)


# --- the cutoff power law ---------------------------------------------------------------------


def test_cutoff_power_law_needs_three_values():
    x = np.array([0.5, 1.0, 2.0, 5.0])
    with pytest.raises(ValueError, match="at least 3 distinct values"):
        fit_cutoff_power_law(x, xmin=2.0)
    fit = fit_cutoff_power_law(x, xmin=1.0)  # three values: a fit, at least the power law's
    alpha = 1.0 + 3 / np.sum(np.log(x[1:]))
    pl = np.sum(np.log(alpha - 1.0) - alpha * np.log(x[1:]))
    assert fit.n == 3 and np.isfinite(fit.loglik) and fit.loglik >= pl - 1e-9


def _cutoff_mle(t, xmin):
    """MLE of x^-alpha e^(-lam x) on [xmin, inf): Nelder-Mead on the log-likelihood with the
    normaliser by quadrature (t and xmin in units where xmin = 1)."""

    def nll(theta):
        alpha, lam = theta[0], np.exp(theta[1])
        z = integrate.quad(lambda v: v**-alpha * np.exp(-lam * (v - xmin)), xmin, np.inf)[0]
        return -np.sum(-alpha * np.log(t) - lam * (t - xmin) - np.log(z))

    res = optimize.minimize(nll, [1.5, np.log(1.0 / np.mean(t))], method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000})  # fmt: skip
    return res.x[0], np.exp(res.x[1]), -res.fun


@pytest.mark.parametrize("scale", [1e-200, 1e200])
def test_cutoff_power_law_is_scale_free(scale):
    """A cutoff tail in units 1e-200 or 1e200: alpha is unchanged and lambda scales inversely,
    as the MLE computed here at unit scale says."""
    rng = np.random.default_rng(1)
    y = _pareto(rng, 400, 2.5)
    y = y[y < 30.0]
    alpha, lam, loglik = _cutoff_mle(y, 1.0)
    fit = fit_cutoff_power_law(y * scale, xmin=scale)
    assert fit.params["alpha"] == pytest.approx(alpha, rel=1e-5)
    assert fit.params["lambda"] * scale == pytest.approx(lam, rel=1e-4)
    assert fit.loglik + y.size * np.log(scale) == pytest.approx(loglik, abs=1e-6)


# --- the log-normal and the stretched exponential ---------------------------------------------


def test_lognormal_of_a_tail_spread_over_1e_13_in_log():
    """ln x spread over 4e-13: the MLE of the normal truncated at ln xmin, found here by
    Nelder-Mead on scipy's truncnorm in units of that spread (the fit is affine-equivariant)."""
    x = 1.0 + np.arange(40) * 1e-14
    y = np.log(x)
    c = y.std()
    u = y / c

    def nll(theta):
        m, s = theta[0], np.exp(theta[1])
        return -np.sum(stats.truncnorm.logpdf(u, -m / s, np.inf, loc=m, scale=s))

    res = optimize.minimize(nll, [u.mean(), 0.0], method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000})  # fmt: skip
    loglik_ref = -res.fun - x.size * np.log(c) - np.sum(np.log(x))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = fit_lognormal(x, xmin=1.0)
    assert fit.loglik == pytest.approx(loglik_ref, abs=1e-6)
    assert fit.params["sigma"] == pytest.approx(np.exp(res.x[1]) * c, rel=1e-3)


def test_lognormal_reports_the_optimisers_outcome():
    rng = np.random.default_rng(9)
    x = rng.lognormal(0.3, 0.9, 1000)
    fit = fit_lognormal(x, xmin=np.quantile(x, 0.2))
    success = optimize.minimize(lambda v: float(v @ v), [1.0, 1.0], method="Nelder-Mead")
    assert success.success and fit.converged
    assert fit.message == success.message  # scipy's own words for a converged Nelder-Mead


def test_stretched_exponential_searches_log_beta_up_to_4_as_documented():
    """A Weibull tail with beta = 150: the profile search over ln beta in [-9, 4] stops at the
    bound. Reference: L-BFGS-B on scipy's weibull_min over (ln beta, ln lam), ln beta <= 4."""
    rng = np.random.default_rng(0)
    w = stats.weibull_min(150, scale=1.0).rvs(400, random_state=rng)
    xmin = np.quantile(w, 0.3)
    t = w[w >= xmin]

    def nll(theta):
        beta, lam = np.exp(theta)
        law = stats.weibull_min(beta, scale=lam ** (-1.0 / beta))
        return -np.sum(law.logpdf(t) - law.logsf(xmin))

    res = optimize.minimize(nll, [3.0, 0.0], method="L-BFGS-B", bounds=[(-9.0, 4.0), (-50, 50)])
    fit = fit_stretched_exponential(w, xmin=xmin)
    assert np.exp(res.x[0]) == pytest.approx(np.exp(4.0), rel=1e-6)
    assert fit.params["beta"] == pytest.approx(np.exp(4.0), rel=1e-6)
    assert fit.loglik == pytest.approx(-res.fun, abs=1e-5)  # the bounded search stops 1e-7 short
    # a search that ends at its bound is no optimum, and the fit says so
    assert not fit.converged and "bound" in fit.message
    interior = fit_stretched_exponential(stats.weibull_min(0.7).rvs(400, random_state=rng), xmin=0.2)
    assert interior.converged
