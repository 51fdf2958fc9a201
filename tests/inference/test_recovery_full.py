"""Tier 3 recovery of the full-spectrum likelihoods: ``mp_spikes`` and ``spliced_pl``.

* ``mp_spikes``: Gaussian random matrices (N = 200, M = 100, entry variance sigma^2) with K
  planted rank-one spikes far beyond the BBP threshold; the truth is sigma^2 and K.
* ``spliced_pl``: spectra drawn from the spliced model itself with a known xmin and alpha.

Truth within 3 posterior sd in at least 95% of the replicates (K: within 3 sd or 0.5, since its
posterior can be a single value). Fits flagged by the diagnostics stay in (dropping them would
hide failures) and their number is part of the assertion message. Reduced versions (4 layers, 2 chains
of 300 draws, no retry) run in the normal tier; the full ones (40 layers, the default sampler
settings) under ``slow``.
"""

from __future__ import annotations

import warnings

import jax
import numpy as np
import pytest
from conftest import SETTINGS

import rmtfit
from rmtfit.classical import fit_classical
from rmtfit.spectra import Spectrum


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


REDUCED = {"draws": 300, "warmup": 300, "chains": 2, "exact": False, "retry": False}
"""The reduced tier: shorter chains and no retry (compiling these models dominates its time)."""


def _fit(spectra, likelihood, seed, settings):
    classical = {s.name: fit_classical(s) for s in spectra}
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        fits = rmtfit.fit(spectra, likelihood, classical=classical, seed=seed, **settings)
    return fits


def _summary(fits, likelihood, parameter):
    s = fits.summary.sel(likelihood=likelihood, parameter=parameter)
    return s["mean"].values, s["sd"].values


def mp_spikes_recovery(num_layers, seed, settings=SETTINGS):
    rng = np.random.default_rng(seed)
    sigma2 = np.array([0.5, 1.0, 2.0])[np.arange(num_layers) % 3]
    spikes = np.arange(num_layers) % 4
    spectra = [mp_spike_layer(f"mp{i}", rng, sigma2[i], int(spikes[i])) for i in range(num_layers)]
    fits = _fit(spectra, "mp_spikes", seed, settings)
    statuses = [fits.status(s.name, "mp_spikes") for s in spectra]
    assert all(st in ("ok", "flagged") for st in statuses), statuses
    mean, sd = _summary(fits, "mp_spikes", "sigma2")
    sigma_inside = np.abs(mean - sigma2) < 3 * sd
    k_mean, k_sd = _summary(fits, "mp_spikes", "K")
    k_inside = np.abs(k_mean - spikes) < np.maximum(3 * k_sd, 0.5)
    return sigma_inside, k_inside, statuses, (mean, sd, k_mean, k_sd)


def spliced_recovery(num_layers, seed, n=400, settings=SETTINGS):
    lik = rmtfit.get_likelihood("spliced_pl")
    alphas = np.array([2.5, 3.5])[np.arange(num_layers) % 2]
    xmin = 5.0
    spectra = []
    for i, alpha in enumerate(alphas):
        truth = {"alpha": alpha, "xmin": xmin, "phi": 0.2, "bulk_loc": 0.5, "bulk_scale": 0.6}
        x = np.asarray(lik.sample(jax.random.key(seed * 1000 + i), truth, {}, n))
        spectra.append(Spectrum(f"sp{i}", "matrix", n, n, np.sort(x)))
    fits = _fit(spectra, "spliced_pl", seed, settings)
    statuses = [fits.status(s.name, "spliced_pl") for s in spectra]
    assert all(st in ("ok", "flagged") for st in statuses), statuses
    x_mean, x_sd = _summary(fits, "spliced_pl", "xmin")
    a_mean, a_sd = _summary(fits, "spliced_pl", "alpha")
    xmin_inside = np.abs(x_mean - xmin) < 3 * x_sd
    alpha_inside = np.abs(a_mean - alphas) < 3 * a_sd
    return xmin_inside, alpha_inside, statuses, (x_mean, x_sd, a_mean, a_sd)


def test_mp_spikes_recovery_reduced():
    sigma_inside, k_inside, statuses, values = mp_spikes_recovery(4, seed=500, settings=REDUCED)
    assert sigma_inside.mean() >= 0.95, (sigma_inside, statuses, values)
    assert k_inside.mean() >= 0.95, (k_inside, statuses, values)


@pytest.mark.slow
def test_mp_spikes_recovery_full():
    sigma_inside, k_inside, statuses, values = mp_spikes_recovery(40, seed=600)
    assert sigma_inside.mean() >= 0.95, (sigma_inside, statuses, values)
    assert k_inside.mean() >= 0.95, (k_inside, statuses, values)


def test_spliced_pl_recovery_reduced():
    xmin_inside, alpha_inside, statuses, values = spliced_recovery(4, seed=700, settings=REDUCED)
    assert xmin_inside.mean() >= 0.95, (xmin_inside, statuses, values)
    assert alpha_inside.mean() >= 0.95, (alpha_inside, statuses, values)


@pytest.mark.slow
def test_spliced_pl_recovery_full():
    xmin_inside, alpha_inside, statuses, values = spliced_recovery(40, seed=800)
    assert xmin_inside.mean() >= 0.95, (xmin_inside, statuses, values)
    assert alpha_inside.mean() >= 0.95, (alpha_inside, statuses, values)
