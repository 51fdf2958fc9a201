"""Tier 3 recovery of the full-spectrum likelihoods: ``mp_spikes`` and ``spliced_pl``.

* ``mp_spikes``: Gaussian random matrices (N = 200, M = 100, entry variance sigma^2) with K
  planted rank-one spikes far beyond the BBP threshold; the truth is sigma^2 and K.
* ``spliced_pl`` from its own sampler (``Likelihood.sample``) with a known xmin and alpha;
* ``spliced_pl`` from an independent generator written here with numpy and scipy
  (:func:`spliced_pl_numpy`: the law of docs/derivations/spliced_pl.md, log-normal bulk truncated
  below xmin by its inverse CDF, Pareto tail above, tail fraction phi by continuity), so that a
  mistake shared by the likelihood's density and its sampler cannot pass unseen.

Criterion (``stat_checks.check_calibration``): the central 50% and 90% intervals cover the truth
at their nominal rates and the z-scores have mean 0 and mean square 1, each within its 0.001/0.999
quantiles. K is discrete: its intervals include their end points and over-cover, so only too few
covering replicates fail. Each parameter is its own test (one fit per seed, cached), so that the
two findings below, marked ``xfail(strict=True)`` with their figures, leave the other checks
enforced: ``mp_spikes``'s sigma2 posterior is about 3x too wide on Gaussian matrices
(:data:`MP_SIGMA2_FINDING`) and ``spliced_pl``'s xmin posterior sits below the truth
(:data:`SPLICED_XMIN_FINDING`). A strict xfail turns into a failure the day the check passes. Fits flagged by the diagnostics stay in (dropping them would hide
failures); a DiagnosticsWarning is the only warning allowed, one per flagged fit, and at most
:data:`MAX_FLAGGED` of them. Reduced versions (4 layers, 2 chains of 300 draws, no retry, one
seed) run in the normal tier; the full ones (40 layers, :data:`conftest.SETTINGS`, every seed of
``stat_checks.SEEDS``) under ``slow``.
"""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest
from conftest import SETTINGS
from scipy import stats
from stat_checks import check_calibration, check_warnings, over_seeds, recorded_warnings

import rmtfit
from rmtfit.classical import fit_classical
from rmtfit.common import enable_x64
from rmtfit.inference import DiagnosticsWarning
from rmtfit.spectra import Spectrum

REDUCED = {"draws": 300, "warmup": 300, "chains": 2, "exact": False, "retry": False}
"""The reduced tier: shorter chains and no retry (compiling these models dominates its time)."""

MAX_FLAGGED = {"mp_spikes": 0.25, "spliced_pl": 0.1}
"""Share of the full tier's fits that may be flagged, per likelihood. mp_spikes: 1 or 2 divergent
transitions out of 4000 remain after the retry in about one fit in nine (measured: 4 of 40 at
seed 0, 5 of 40 at seed 1, mostly layers with one spike), so the bound is twice that; spliced_pl:
none flagged at seeds 0-2 with either generator, and R-hat crosses 1.01 by chance now and then.
A sampler that fails on these easy layers flags most. The reduced tier's 2 x 300 draws cannot
meet the bulk-ESS rule of 400 reliably (measured: 3 of 4 mp_spikes fits flagged, spike_loc ESS
80-400), so there every fit may be flagged; the check that only DiagnosticsWarnings occur, one
per flagged fit, still holds."""

MP_SIGMA2_FINDING = (
    "finding (issue 17): on Gaussian matrices the sigma2 posterior of mp_spikes is about 3x too "
    "wide and centred about 2% low: mp_spikes treats the eigenvalues as independent draws, but a "
    "random matrix's eigenvalues repel (seed 0: sum z^2 = 12.4, chi2_40 range 17.9..73.4, mean z "
    "-0.42; posterior sd 5.1% of sigma2, spread of the posterior means 1.8%; its SBC on its own "
    "draws passes)"
)
SPLICED_XMIN_FINDING = (
    "finding (issue 17): the xmin posterior of spliced_pl sits below the true xmin at every seed "
    "and with both generators (mean z -0.73 to -1.35, bound +-0.49; coverage of the 50% and 90% "
    "intervals is within its range): with n = 400 and a tail of 5-8% the continuous splice "
    "leaves xmin weakly identified below the truth, where the default prior (log-uniform from "
    "the median eigenvalue) puts much of its mass; its SBC with a fixed prior passes"
)

SPLICED_BULK = {"bulk_loc": 0.5, "bulk_scale": 0.6}
SPLICED_XMIN = 5.0


def _fit(spectra, likelihood, seed, settings):
    classical = {s.name: fit_classical(s) for s in spectra}
    with recorded_warnings() as record:
        fits = rmtfit.fit(spectra, likelihood, classical=classical, seed=seed, **settings)
    statuses = [fits.status(s.name, likelihood) for s in spectra]
    assert all(st in ("ok", "flagged") for st in statuses), [
        fits.reason(s.name, likelihood) for s in spectra
    ]
    check_warnings(
        record,
        (DiagnosticsWarning,),
        flagged=statuses.count("flagged"),
        max_flagged=(
            len(spectra) if settings is REDUCED else int(MAX_FLAGGED[likelihood] * len(spectra))
        ),
        why="isolated divergences or R-hat just over 1.01, see MAX_FLAGGED",
    )
    return fits


def _draws(fits, spectra, likelihood, parameter):
    return [fits.draws(s.name, likelihood, parameter) for s in spectra]


def _assert_calibrated(*calibrations, seed):
    assert all(c.ok for c in calibrations), f"seed {seed}: " + " | ".join(map(str, calibrations))


# ------------------------------------------------------------------------------- mp_spikes


def mp_spike_layer(name, rng, sigma2, num_spikes, n_rows=200, n_cols=100):
    w = np.sqrt(sigma2) * rng.normal(size=(n_rows, n_cols))
    edge = n_rows * sigma2 * (1 + (n_rows / n_cols) ** -0.5) ** 2
    for k in range(num_spikes):
        u = rng.normal(size=n_rows)
        v = rng.normal(size=n_cols)
        w += np.sqrt((3.0 + 2.0 * k) * edge) * np.outer(
            u / np.linalg.norm(u), v / np.linalg.norm(v)
        )
    evals = np.linalg.eigvalsh(w.T @ w)
    return Spectrum(name, "matrix", n_rows, n_cols, np.sort(evals))


def mp_spikes_recovery(num_layers, seed, settings=SETTINGS):
    rng = np.random.default_rng(seed)
    sigma2 = np.array([0.5, 1.0, 2.0])[np.arange(num_layers) % 3]
    spikes = np.arange(num_layers) % 4
    spectra = [mp_spike_layer(f"mp{i}", rng, sigma2[i], int(spikes[i])) for i in range(num_layers)]
    fits = _fit(spectra, "mp_spikes", seed, settings)
    return (
        check_calibration(_draws(fits, spectra, "mp_spikes", "sigma2"), sigma2, "sigma2"),
        check_calibration(_draws(fits, spectra, "mp_spikes", "K"), spikes, "K", discrete=True),
    )


def test_mp_spikes_recovery_reduced():
    _assert_calibrated(*mp_spikes_recovery(4, seed=500, settings=REDUCED), seed=500)


@functools.cache
def _mp_spikes_full(seed):
    return mp_spikes_recovery(40, seed=600 + seed)


@pytest.mark.slow
@over_seeds
def test_mp_spikes_spike_count_full(seed):
    _assert_calibrated(_mp_spikes_full(seed)[1], seed=seed)


@pytest.mark.slow
@over_seeds
@pytest.mark.xfail(strict=True, raises=AssertionError, reason=MP_SIGMA2_FINDING)
def test_mp_spikes_sigma2_full(seed):
    _assert_calibrated(_mp_spikes_full(seed)[0], seed=seed)


# ------------------------------------------------------------------------------- spliced_pl


def spliced_pl_numpy(rng, n, alpha, xmin, bulk_loc, bulk_scale):
    """``n`` draws of the spliced law of docs/derivations/spliced_pl.md, and its phi.

    Independent of ``rmtfit``: the bulk hazard h_b = f_b(xmin) / F_b(xmin) of the log-normal
    LN(bulk_loc, bulk_scale^2) from scipy, phi = h_b / (h_b + (alpha - 1) / xmin), a
    Binomial(n, phi) tail count, the bulk by inverting F_b(x) / F_b(xmin) and the tail by
    inverting the Pareto survival function (x / xmin)^(1 - alpha).
    """
    bulk = stats.lognorm(s=bulk_scale, scale=np.exp(bulk_loc))
    hazard = bulk.pdf(xmin) / bulk.cdf(xmin)
    phi = hazard / (hazard + (alpha - 1.0) / xmin)
    n_tail = rng.binomial(n, phi)
    u_bulk = 1.0 - rng.uniform(size=n - n_tail)  # in (0, 1]: no eigenvalue at 0
    u_tail = 1.0 - rng.uniform(size=n_tail)
    x = np.concatenate([bulk.ppf(u_bulk * bulk.cdf(xmin)), xmin * u_tail ** (-1.0 / (alpha - 1))])
    return np.sort(x), phi


def test_the_numpy_generator_follows_the_likelihoods_law():
    """KS of the independent generator against ``spliced_pl``'s CDF, and phi against its own."""
    enable_x64()  # the likelihood's CDF is float64 code; rmtfit.fit switches it on itself
    lik = rmtfit.get_likelihood("spliced_pl")
    params = {"alpha": 2.5, "xmin": SPLICED_XMIN, **SPLICED_BULK}
    x, phi = spliced_pl_numpy(np.random.default_rng(0), 5000, **params)
    u = np.asarray(lik.cdf(x, params, {}))  # probability integral transform: uniform if equal
    assert stats.kstest(u, "uniform").pvalue > 0.001
    tail = stats.binomtest(int(np.sum(x >= SPLICED_XMIN)), x.size, phi)
    assert tail.pvalue > 0.001, (phi, int(np.sum(x >= SPLICED_XMIN)))
    assert 0.03 < phi < 0.2  # the tail is a small share, as in a layer's spectrum


def spliced_recovery(num_layers, seed, n=400, settings=SETTINGS, generator="rmtfit"):
    """Recovery of alpha and xmin from ``generator`` "rmtfit" (the likelihood's sampler) or
    "numpy" (:func:`spliced_pl_numpy`)."""
    enable_x64()  # the sampler is float64 code; in a session of its own it runs first
    lik = rmtfit.get_likelihood("spliced_pl")
    rng = np.random.default_rng(seed)
    alphas = np.array([2.5, 3.5])[np.arange(num_layers) % 2]
    spectra = []
    for i, alpha in enumerate(alphas):
        truth = {"alpha": alpha, "xmin": SPLICED_XMIN, **SPLICED_BULK}
        if generator == "numpy":
            x, _ = spliced_pl_numpy(rng, n, **truth)
        else:
            x = np.sort(np.asarray(lik.sample(jax.random.key(seed * 1000 + i), truth, {}, n)))
        spectra.append(Spectrum(f"sp{i}", "matrix", n, n, x))
    fits = _fit(spectra, "spliced_pl", seed, settings)
    return (
        check_calibration(_draws(fits, spectra, "spliced_pl", "xmin"), SPLICED_XMIN, "xmin"),
        check_calibration(_draws(fits, spectra, "spliced_pl", "alpha"), alphas, "alpha"),
    )


def test_spliced_pl_recovery_reduced():
    _assert_calibrated(*spliced_recovery(4, seed=700, settings=REDUCED), seed=700)


def test_spliced_pl_recovery_from_numpy_draws_reduced():
    cals = spliced_recovery(4, seed=750, settings=REDUCED, generator="numpy")
    _assert_calibrated(*cals, seed=750)


@functools.cache
def _spliced_full(seed, generator):
    base = {"rmtfit": 800, "numpy": 850}[generator]
    return spliced_recovery(40, seed=base + seed, generator=generator)


@pytest.mark.slow
@over_seeds
@pytest.mark.parametrize("generator", ["rmtfit", "numpy"])
def test_spliced_pl_alpha_full(seed, generator):
    _assert_calibrated(_spliced_full(seed, generator)[1], seed=seed)


@pytest.mark.slow
@over_seeds
@pytest.mark.parametrize("generator", ["rmtfit", "numpy"])
@pytest.mark.xfail(strict=True, raises=AssertionError, reason=SPLICED_XMIN_FINDING)
def test_spliced_pl_xmin_full(seed, generator):
    _assert_calibrated(_spliced_full(seed, generator)[0], seed=seed)
