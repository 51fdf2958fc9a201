"""The statistical criteria of ``stat_checks`` pass a calibrated posterior and fail wrong ones.

The posterior is that of a Gaussian mean with a Gaussian prior (conjugate, so exact):
theta ~ N(0, 1), y ~ N(theta, s^2) with s varying between replicates. "Too narrow" draws from
N(mean, (sd / 1.5)^2), "too wide" from N(mean, (1.5 sd)^2), "biased" from N(mean + sd / 2, sd^2).
100 replicates, the size of the slow tier's runs; each case at several seeds.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats
from stat_checks import (
    SBC_DRAWS,
    SEED_LIST,
    _seeds_from_env,
    binomial_range,
    check_calibration,
    check_warnings,
    interval_covers,
    rank_histogram,
    rank_uniformity,
    recorded_warnings,
    sbc_rank,
    thin,
)

REPLICATES = 100
CRITERION_SEEDS = range(5)


def gaussian_posteriors(seed, n=REPLICATES, num_draws=400, sd_factor=1.0, bias=0.0):
    """Truths from the prior and (possibly distorted) posterior draws, one row per replicate."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=n)
    noise_sd = rng.uniform(0.2, 2.0, n)
    y = theta + noise_sd * rng.normal(size=n)
    post_var = 1.0 / (1.0 + noise_sd**-2)
    post_mean = post_var * y / noise_sd**2
    post_sd = np.sqrt(post_var)
    draws = (post_mean + bias * post_sd)[:, None] + sd_factor * post_sd[:, None] * rng.normal(
        size=(n, num_draws)
    )
    return draws, theta


@pytest.mark.parametrize("seed", CRITERION_SEEDS)
def test_a_calibrated_posterior_passes(seed):
    cal = check_calibration(*gaussian_posteriors(seed), "theta")
    assert cal.ok, str(cal)
    assert cal.replicates == REPLICATES and [c[0] for c in cal.covered] == [0.5, 0.9]


@pytest.mark.parametrize("seed", CRITERION_SEEDS)
def test_a_posterior_too_narrow_by_1_5x_fails(seed):
    cal = check_calibration(*gaussian_posteriors(seed, sd_factor=1 / 1.5), "theta")
    assert not cal.ok, str(cal)
    assert any("coverage" in f and "too narrow" in f for f in cal.failures), str(cal)
    assert any("sum z^2" in f for f in cal.failures), str(cal)


@pytest.mark.parametrize("seed", CRITERION_SEEDS)
def test_a_posterior_too_wide_by_1_5x_fails(seed):
    cal = check_calibration(*gaussian_posteriors(seed, sd_factor=1.5), "theta")
    assert any("too wide" in f for f in cal.failures), str(cal)
    assert any("sd too large" in f for f in cal.failures), str(cal)


@pytest.mark.parametrize("seed", CRITERION_SEEDS)
def test_a_biased_posterior_fails(seed):
    cal = check_calibration(*gaussian_posteriors(seed, bias=0.5), "theta")
    assert any("mean z" in f and "biased" in f for f in cal.failures), str(cal)


def test_the_old_three_sd_criterion_passed_the_narrow_posterior():
    """Why the criterion changed: |mean - truth| < 3 sd held in >= 95% for sd 1.5x too small."""
    draws, theta = gaussian_posteriors(0, n=1000, sd_factor=1 / 1.5)
    inside = np.abs(draws.mean(axis=1) - theta) < 3 * draws.std(axis=1)
    assert inside.mean() >= 0.95
    assert not check_calibration(draws, theta, "theta").ok


def test_coverage_counts_and_binomial_range():
    draws = np.tile(np.arange(101.0), (3, 1))  # quantiles 5% -> 5, 95% -> 95
    np.testing.assert_array_equal(
        interval_covers(draws, [4.0, 50.0, 95.0], 0.9), [False, True, True]
    )
    lo, hi = binomial_range(100, 0.9)
    assert (lo, hi) == (
        int(stats.binom(100, 0.9).ppf(0.001)),
        int(stats.binom(100, 0.9).ppf(0.999)),
    )
    assert stats.binom(100, 0.9).cdf(lo - 1) < 0.001 <= stats.binom(100, 0.9).cdf(lo)
    assert 80 <= lo < 90 < hi <= 98


def test_discrete_parameters_fail_only_on_too_few_covers():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 4, REPLICATES)
    exact = [np.full(200, k) for k in truth]  # all mass on the truth: over-covers, sd 0
    cal = check_calibration(exact, truth, "K", discrete=True)
    assert cal.ok and cal.covered[1][1] == REPLICATES, str(cal)
    off_by_one = [np.full(200, k + 1) for k in truth]
    cal = check_calibration(off_by_one, truth, "K", discrete=True)
    assert not cal.ok and "too narrow or biased" in cal.failures[0], str(cal)
    assert "sd is 0" in check_calibration(exact, truth, "K").failures[-1]


def test_sbc_bins_hold_equally_many_rank_values():
    ranks = np.repeat(np.arange(SBC_DRAWS + 1), 3)  # every rank value equally often
    for bins in (5, 10, 20, 25):
        counts = rank_histogram(ranks, SBC_DRAWS, bins)
        assert counts.tolist() == [3 * (SBC_DRAWS + 1) // bins] * bins
        assert stats.chisquare(counts).statistic == 0.0
        assert rank_uniformity(ranks, SBC_DRAWS, bins)[0] == 1.0
    # the old binning, ranks * bins // (L + 1) with L = 100 draws, gave bin 0 one value more
    old = np.bincount(np.repeat(np.arange(101), 3) * 10 // 101, minlength=10)
    assert old[0] > old[1:].max()
    with pytest.raises(ValueError, match="101 possible ranks.*thin to L = 10 \\* k - 1"):
        rank_histogram(np.arange(101), 100, 10)
    with pytest.raises(ValueError, match="ranks must lie in 0..99"):
        rank_histogram(np.array([0, 100]), 99, 10)


def test_sbc_ranks_are_uniform_for_a_calibrated_posterior_and_not_for_a_narrow_one():
    for factor, uniform in ((1.0, True), (1 / 1.5, False)):
        draws, theta = gaussian_posteriors(3, n=500, num_draws=SBC_DRAWS, sd_factor=factor)
        rng = np.random.default_rng(0)
        ranks = np.array([sbc_rank(d, t, rng) for d, t in zip(draws, theta, strict=True)])
        p, counts = rank_uniformity(ranks, SBC_DRAWS, bins=10)
        assert (p > 0.01) == uniform, (factor, p, counts.tolist())


def test_thin_and_ties():
    draws = np.arange(4000.0).reshape(4, 1000)
    kept = thin(draws)
    assert kept.size == SBC_DRAWS and np.all(np.diff(kept[:25]) == 40)
    assert {int(v) // 1000 for v in kept} == {0, 1, 2, 3}  # every chain contributes
    with pytest.raises(ValueError, match="cannot give 99 draws"):
        thin(np.zeros((2, 10)))
    ranks = [sbc_rank(np.array([1, 2, 2, 2, 3]), 2, np.random.default_rng(s)) for s in range(200)]
    assert set(ranks) == {1, 2, 3, 4}  # below = 1, three ties: ranks 1..4


def test_seed_list_from_the_environment(monkeypatch):
    monkeypatch.delenv("RMTFIT_TEST_SEEDS", raising=False)
    assert _seeds_from_env() == (0,)  # CI: the first seed of SEED_LIST
    monkeypatch.setenv("RMTFIT_TEST_SEEDS", "0,1,2")
    assert _seeds_from_env() == SEED_LIST
    monkeypatch.setenv("RMTFIT_TEST_SEEDS", "7, 11")
    assert _seeds_from_env() == (7, 11)
    monkeypatch.setenv("RMTFIT_TEST_SEEDS", "seven")
    with pytest.raises(ValueError, match="comma-separated list of integers"):
        _seeds_from_env()


def test_warning_checks():
    with recorded_warnings() as record:
        warnings.warn("fit 1 flagged", RuntimeWarning, stacklevel=1)
        warnings.warn("fit 1 flagged", RuntimeWarning, stacklevel=1)  # "always": not deduplicated
    assert check_warnings(record, (RuntimeWarning,), flagged=2, max_flagged=2, why="x") == {
        "RuntimeWarning": 2
    }
    with pytest.raises(AssertionError, match="more than the 1 allowed \\(the reason\\)"):
        check_warnings(record, (RuntimeWarning,), flagged=2, max_flagged=1, why="the reason")
    with pytest.raises(AssertionError, match="2 warnings .* but 1 fits flagged"):
        check_warnings(record, (RuntimeWarning,), flagged=1, max_flagged=5, why="x")
    with recorded_warnings() as record:
        warnings.warn("something else", UserWarning, stacklevel=1)
    with pytest.raises(AssertionError, match="unexpected warnings.*UserWarning: something else"):
        check_warnings(record, (RuntimeWarning,), flagged=1, max_flagged=5, why="x")
