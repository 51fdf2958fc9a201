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
    assert fit.sigma2 == pytest.approx(np.median(bulk) / (N * _mp_median_by_quadrature(1.0)), rel=1e-9)
