"""Tests written to kill the mutants of rmtfit.classical._mp that the other tests let live (docs/mutation.md).

They exercise ``fit_mp(method="median")`` where the Tracy-Widom band lies *inside* the MP support
(a ``tw_level`` below about 0.83, where the TW1 quantile is negative), so that ``_median_update``
matches the bulk's median to the median of the MP law truncated at the band. Every expected value
comes from an independent reference written here: the MP density integrated by scipy quadrature,
Johnstone's Tracy-Widom scale and Chiani's shifted Gamma for TW1, written out in closed form.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from rmtfit.classical import fit_mp


def _mp_cdf_by_quadrature(x, Q):
    """CDF of the standard (sigma^2 = 1) MP law of W^T W / N, ratio y = 1/Q, by quadrature."""
    y = 1.0 / Q
    a, b = (1 - np.sqrt(y)) ** 2, (1 + np.sqrt(y)) ** 2
    if x <= a:
        return 0.0
    dens = lambda t: np.sqrt(max((b - t) * (t - a), 0.0)) / (2 * np.pi * y * t)  # noqa: E731
    return integrate.quad(dens, a, min(x, b), epsabs=1e-14, epsrel=1e-12, limit=200)[0]


def _mp_median_by_quadrature(Q):
    y = 1.0 / Q
    a, b = (1 - np.sqrt(y)) ** 2, (1 + np.sqrt(y)) ** 2
    return optimize.brentq(lambda m: _mp_cdf_by_quadrature(m, Q) - 0.5, a, b, xtol=1e-14)


def _band(N, Q, tw_level):  # noqa: N803
    """Upper edge of the Tracy-Widom band per unit N sigma^2: (1 + Q^-1/2)^2 + c s / N, with
    Johnstone's scale s = N^(1/3) (1 + Q^-1/2)(1 + sqrt Q)^(1/3) and c Chiani's TW1 quantile."""
    c = stats.gamma.ppf(tw_level, 46.446, scale=0.186054) - 9.84801
    scale = (1 + Q**-0.5) * (1 + np.sqrt(Q)) ** (1 / 3) * N ** (-2 / 3)
    return (1 + Q**-0.5) ** 2 + c * scale


def test_median_method_does_not_crash_when_the_band_sits_just_inside_the_edge():
    """A TW level just below the one where the TW1 quantile is 0 puts the band 1e-12 inside the
    MP edge: the truncated median equals the plain one to rounding. Before the fix, brentq was
    called with f(a) > 0 from rounding and raised "f(a) and f(b) must have different signs"."""
    rng = np.random.default_rng(8)
    N = M = 100
    ev = np.linalg.svd(rng.normal(size=(N, M)), compute_uv=False) ** 2
    level = stats.gamma.cdf(9.84801 - 1e-10, 46.446, scale=0.186054)
    fit = fit_mp(ev, N, M, method="median", tw_level=level)
    bulk = ev[ev <= fit.tw_threshold]
    assert fit.converged
    assert fit.sigma2 == pytest.approx(
        np.median(bulk) / (N * _mp_median_by_quadrature(1.0)), rel=1e-9
    )


@pytest.mark.parametrize(
    ("N", "M", "variance", "spike"),
    [(200, 200, 1e-3, 0.0), (400, 100, 3.0, 0.0), (300, 100, 0.02, 6.0)],
)
def test_median_method_matches_the_median_of_the_truncated_mp_law(N, M, variance, spike):  # noqa: N803
    """tw_level = 0.01 puts the band inside the support: the fitted sigma^2 must make the
    median of the MP law truncated at t = N sigma^2 band equal the median of the eigenvalues
    at or below t, F(med / (N s2)) = F(t / (N s2)) / 2, F by quadrature. The plain estimate
    median / (N mu) misses that by percents (checked, so that the case tells them apart)."""
    rng = np.random.default_rng(N + M)
    W = rng.normal(0.0, np.sqrt(variance), (N, M))
    if spike:
        W[:, :2] += spike * np.sqrt(variance) * rng.normal(size=(N, 1)) @ rng.normal(size=(1, 2))
    ev = np.linalg.svd(W, compute_uv=False) ** 2
    Q = N / M
    fit = fit_mp(ev, N, M, method="median", tw_level=0.01)
    s2 = fit.sigma2
    t = N * s2 * _band(N, Q, 0.01)
    assert fit.tw_threshold == pytest.approx(t, rel=1e-12)
    bulk = ev[ev <= t]
    med = float(np.median(bulk))
    frac = _mp_cdf_by_quadrature(t / (N * s2), Q)
    assert fit.converged and fit.method == "median-iterative"
    assert frac < 0.999  # the truncation is active
    assert _mp_cdf_by_quadrature(med / (N * s2), Q) == pytest.approx(0.5 * frac, abs=1e-10)
    plain = med / (N * _mp_median_by_quadrature(Q))
    assert s2 / plain - 1 > 3e-3
    assert s2 == pytest.approx(variance, rel=0.1)


def test_median_method_keeps_the_plain_estimate_when_no_truncated_law_has_the_bulk_median():
    """Q = 1, N = 20, tw_level = 1e-3: the band is at 2.4 of the edge 4, and these eigenvalues
    (spread over [1, 2]) all lie below it. For Q = 1 the MP density is x^(-1/2) times a decreasing
    function, so the law truncated at t (or ending below t) has at least half its mass below t / 4,
    for every sigma^2; the bulk's median is above t / 4, so no sigma^2 matches it and the plain
    estimate median / (N mu) is kept (no solver error)."""
    N = M = 20
    ev = np.linspace(1.0, 2.0, 20)
    fit = fit_mp(ev, N, M, method="median", tw_level=1e-3)
    t = N * fit.sigma2 * _band(N, 1.0, 1e-3)
    assert ev.max() <= t and np.median(ev) > t / 4
    assert fit.converged and fit.num_bulk == ev.size
    assert fit.sigma2 == pytest.approx(
        np.median(ev) / (N * _mp_median_by_quadrature(1.0)), rel=1e-9
    )


def test_truncated_median_root_far_above_the_plain_estimate_is_found():
    """A band deep inside the support (t at 0.05 of the MP scale, Q = 1) moves the truncated
    median so far down that the sigma^2 matching it is about 50 times the plain estimate,
    beyond the first bracket [plain, e^3 plain]: the bracket is widened until it holds the root
    (before, the plain estimate came back as if it were the answer). Reference: the truncated
    median x_m by quadrature, F(x_m) = F(0.05) / 2, so the bulk median is N s2 x_m."""
    from rmtfit.classical._mp import _median_update

    N, Q, s2 = 100, 1.0, 0.37  # noqa: N806
    x_t = 0.05
    f_t = _mp_cdf_by_quadrature(x_t, Q)
    x_m = optimize.brentq(lambda x: _mp_cdf_by_quadrature(x, Q) - 0.5 * f_t, 1e-12, x_t, xtol=1e-15)
    mu = _mp_median_by_quadrature(Q)
    med = N * s2 * x_m
    plain = med / (N * mu)
    assert s2 / plain > np.exp(3.0) * 2  # the case needs the widened bracket
    got = _median_update(np.array([med]), N * s2 * x_t, N, Q, mu)
    assert got == pytest.approx(s2, rel=1e-7)
