"""Alternative tail laws (MLE on a given tail) and the likelihood-ratio tests between them."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from rmtfit.classical import (
    fit_cutoff_power_law,
    fit_exponential,
    fit_lognormal,
    fit_stretched_exponential,
    fit_tail_power_law,
    fit_truncated_power_law,
    log_exp_integral,
    nested_lr_test,
    sample_power_law,
    vuong_test,
)
from rmtfit.classical._tails import _cutoff_logliks

sys.path.append(str(Path(__file__).resolve().parents[1]))  # tests/: stat_checks, the seed list
from stat_checks import over_seeds  # noqa: E402

XMIN = 1.5


@pytest.mark.parametrize("p", [-2.0, 0.0, 0.5, 1.0, 1.7, 3.0, 8.0])
@pytest.mark.parametrize("z", [1e-3, 0.2, 0.99, 1.0, 3.0, 40.0])
def test_log_exp_integral_matches_mpmath(p, z):
    mpmath = pytest.importorskip("mpmath")
    want = float(mpmath.log(mpmath.expint(p, z)))
    assert log_exp_integral(p, z) == pytest.approx(want, rel=1e-10, abs=1e-10)


@pytest.mark.parametrize(
    ("p", "z"), [(-300.0, 50.0), (-1999.0, 100.0), (-40.0, 2.0), (-5.0, 800.0), (0.5, 900.0)]
)
def test_log_exp_integral_of_a_steeply_rising_or_far_cut_tail_matches_mpmath(p, z):
    """alpha far below -lambda xmin (a tail rising before its cutoff), and z beyond where
    e^-z underflows: the 150-point quadrature overflowed to inf at (-300, 50)."""
    mpmath = pytest.importorskip("mpmath")
    want = float(mpmath.log(mpmath.expint(p, z)))
    assert log_exp_integral(p, z) == pytest.approx(want, rel=1e-10, abs=1e-10)


def test_cutoff_density_integrates_to_one():
    for alpha, lam in ((2.5, 0.01), (0.5, 1.0), (-1.0, 3.0)):
        val, _ = integrate.quad(
            lambda v, a=alpha, b=lam: np.exp(_cutoff_logliks(np.array(v), XMIN, a, b)), XMIN, np.inf
        )
        assert val == pytest.approx(1.0, rel=1e-8)


def test_cutoff_recovers_parameters_and_beats_power_law():
    rng = np.random.default_rng(1)
    # x^-1.5 e^{-x/20} on [1.5, inf) by rejection from the power law
    x = sample_power_law(rng, 20000, 1.5, XMIN)
    x = x[rng.random(x.size) < np.exp(-(x - XMIN) / 20.0)][:1500]
    fit = fit_cutoff_power_law(x, xmin=XMIN)
    assert fit.params["alpha"] == pytest.approx(1.5, abs=0.15)
    assert fit.params["lambda"] == pytest.approx(0.05, rel=0.3)
    pl = fit_tail_power_law(x, xmin=XMIN)
    test = nested_lr_test(fit.logliks, pl.logliks)
    assert test.p_value < 1e-3 and test.favours == "full"


def test_lognormal_and_stretched_exponential_agree_with_scipy():
    rng = np.random.default_rng(2)
    x = rng.lognormal(0.5, 0.8, 3000)
    tail = np.sort(x[x >= XMIN])
    ln = fit_lognormal(x, xmin=XMIN)
    dist = stats.lognorm(s=ln.params["sigma"], scale=np.exp(ln.params["mu"]))
    np.testing.assert_allclose(ln.logliks, dist.logpdf(tail) - dist.logsf(XMIN), rtol=1e-10)

    def nll(theta):
        d = stats.lognorm(s=np.exp(theta[1]), scale=np.exp(theta[0]))
        return -np.sum(d.logpdf(tail) - d.logsf(XMIN))

    best = optimize.minimize(
        nll, [ln.params["mu"], np.log(ln.params["sigma"])], method="Nelder-Mead"
    )
    assert -best.fun <= ln.loglik + 1e-6
    se = stats.weibull_min
    sx = fit_stretched_exponential(x, xmin=XMIN)
    beta, lam = sx.params["beta"], sx.params["lambda"]
    w = se(c=beta, scale=lam ** (-1 / beta))
    np.testing.assert_allclose(sx.logliks, w.logpdf(tail) - w.logsf(XMIN), rtol=1e-9)
    best = optimize.minimize(
        lambda th: (
            -np.sum(
                se(c=np.exp(th[0]), scale=np.exp(th[1])).logpdf(tail)
                - se(c=np.exp(th[0]), scale=np.exp(th[1])).logsf(XMIN)
            )
        ),
        [np.log(beta), np.log(lam ** (-1 / beta))],
        method="Nelder-Mead",
    )
    assert -best.fun <= sx.loglik + 1e-6


def test_exponential_and_truncated_closed_forms():
    rng = np.random.default_rng(3)
    x = XMIN + rng.exponential(2.0, 800)
    ex = fit_exponential(x, xmin=XMIN)
    loc, scale = stats.expon.fit(x, floc=XMIN)
    assert ex.params["lambda"] == pytest.approx(1 / scale, rel=1e-12)
    np.testing.assert_allclose(ex.loglik, np.sum(stats.expon(loc, scale).logpdf(x)), rtol=1e-12)
    tp = fit_truncated_power_law(x, xmin=XMIN)
    assert tp.xmax == x.max() and tp.n == x.size


def test_vuong_is_antisymmetric_and_picks_the_truth():
    rng = np.random.default_rng(4)
    x = XMIN * np.exp(rng.exponential(1 / 1.5, 3000))  # Pareto, alpha = 2.5
    pl = fit_tail_power_law(x, xmin=XMIN)
    ex = fit_exponential(x, xmin=XMIN)
    ab = vuong_test(pl.logliks, ex.logliks, a="power_law", b="exponential")
    ba = vuong_test(ex.logliks, pl.logliks, a="exponential", b="power_law")
    assert ab.statistic == pytest.approx(-ba.statistic) and ab.p_value == pytest.approx(ba.p_value)
    assert ab.favours == "power_law" and ab.p_value < 1e-6
    d = pl.logliks - ex.logliks
    assert ab.statistic == pytest.approx(d.sum() / (np.sqrt(d.size) * d.std()))
    same = vuong_test(pl.logliks, pl.logliks)
    assert same.statistic == 0.0 and same.p_value == 1.0


def test_nested_boundary_p_value_formula():
    for stat in (0.3, 1.0, 2.706, 6.0):
        t = nested_lr_test(stat / 2, 0.0)
        assert t.p_value == pytest.approx(0.5 * stats.chi2.sf(stat, 1), rel=1e-12)
        plain = nested_lr_test(stat / 2, 0.0, boundary=False)
        assert plain.p_value == pytest.approx(2 * t.p_value)  # powerlaw's p is 2x too large
    assert nested_lr_test(-1e-9, 0.0).p_value == 1.0  # 2R = 0 (chi2_0 point mass)
    assert nested_lr_test(1.0, 0.0, df=2).p_value == pytest.approx(
        0.5 * stats.chi2.sf(2.0, 1) + 0.5 * stats.chi2.sf(2.0, 2)
    )


def boundary_null(reps: int, seed: int, n: int, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """2R of cutoff power law vs power law on pure power-law samples (the boundary null).

    Also returns the profile score of lambda at 0, n (E[x] - mean(x)) at the power-law MLE:
    the cutoff fit must land on the boundary (2R = 0) exactly when it is <= 0. alpha > 3: the
    Self-Liang mixture needs finite Fisher information for lambda at 0 (finite Var(x)).
    """
    rng = np.random.default_rng(seed)
    two_r, score = np.empty(reps), np.empty(reps)
    for r in range(reps):
        x = sample_power_law(rng, n, alpha, XMIN)
        pl = fit_tail_power_law(x, xmin=XMIN)
        two_r[r] = nested_lr_test(fit_cutoff_power_law(x, xmin=XMIN).logliks, pl.logliks).statistic
        a = pl.params["alpha"]
        score[r] = n * (XMIN * (a - 1) / (a - 2) - np.mean(x))
    return two_r, score


def check_boundary_null(two_r: np.ndarray, score: np.ndarray) -> None:
    """1/2 chi2_0 + 1/2 chi2_1: 2R = 0 exactly when the score says so, chi2_1 above 0.

    The share of zeros is P(mean(x) >= E[x]), which tends to 1/2 but is below it for skewed
    laws at finite n (measured 0.42 at n = 200, alpha = 4.5; 0.46 at n = 1000, alpha = 8).
    """
    zero = two_r <= 1e-8
    np.testing.assert_array_equal(zero, score <= 0)  # boundary iff the score is not positive
    assert stats.kstest(two_r[~zero], stats.chi2(1).cdf).pvalue > 0.001
    assert abs(two_r.mean() - 0.5) <= 3 * np.sqrt(1.25 / two_r.size)  # var of the mixture: 1.25


def test_boundary_null_reduced():
    check_boundary_null(*boundary_null(120, seed=5, n=200, alpha=4.5))


@pytest.mark.slow
@over_seeds
def test_boundary_null_full(seed):
    two_r, score = boundary_null(300, seed=6 + 100 * seed, n=2000, alpha=8.0)
    check_boundary_null(two_r, score)
    assert abs(np.mean(two_r <= 1e-8) - 0.5) <= 3 * np.sqrt(0.25 / two_r.size)
    p_corrected = np.array([nested_lr_test(v / 2, 0.0).p_value for v in two_r])
    p_plain = np.array([nested_lr_test(v / 2, 0.0, boundary=False).p_value for v in two_r])
    assert abs(np.mean(p_corrected <= 0.1) - 0.1) <= 3 * np.sqrt(0.09 / two_r.size)
    assert np.mean(p_plain <= 0.1) < np.mean(p_corrected <= 0.1)  # uncorrected: too few rejections


@pytest.mark.parametrize(
    "fn,kwargs,match",
    [
        (fit_tail_power_law, {"xmin": 0.0}, "`xmin` must be positive"),
        (fit_lognormal, {"xmin": 50.0}, "at least 3 distinct values"),
        (fit_exponential, {"xmin": 1.0}, "positive finite"),
    ],
)
def test_tail_bad_input(fn, kwargs, match):
    x = np.array([1.0, 2.0, 3.0, 4.0]) if fn is not fit_exponential else np.array([1.0, -2.0])
    with pytest.raises(ValueError, match=match):
        fn(x, **kwargs)


def test_lr_bad_input():
    with pytest.raises(ValueError, match="same observations"):
        vuong_test(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="finite"):
        vuong_test(np.array([0.0, -np.inf]), np.zeros(2))
    with pytest.raises(ValueError, match="`df` must be at least 1"):
        nested_lr_test(1.0, 0.0, df=0)
