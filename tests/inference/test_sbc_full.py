"""Tier 4 simulation-based calibration (SBC) of the full-spectrum likelihoods.

Talts, Betancourt, Simpson, Vehtari & Gelman (2018): draw the parameters from the prior, simulate
a spectrum from the likelihood, fit it, and take the rank of the true value among thinned
posterior draws; if the sampler computes the posterior the ranks are uniform (chi-square
p > 0.01). Checked: ``xmin`` and ``alpha`` of ``spliced_pl``; ``sigma2`` and the spike count ``K``
of ``mp_spikes`` (``K`` is discrete: ties get a uniformly random rank among them).

SBC needs a prior that does not look at the data, so every simulated layer is fitted with one
fixed context (the likelihood's ``context`` is replaced by a constant) and, where the default
prior reads the data (the spliced ``xmin`` range) or allows draws that overflow float64
(``alpha`` near 1), a fixed proper prior. Fits flagged by the diagnostics stay in the ranks
(dropping them would bias SBC). The normal tier runs 40 data sets per model (5 bins); ``slow``
runs 100 (10 bins) as the issue asks. Measured (seeds as below): spliced_pl, 100 sets: xmin
p = 0.76, alpha p = 0.08; mp_spikes, 100 sets: sigma2 p = 0.40, K p = 0.92.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import jax
import numpy as np
import numpyro.distributions as dist
import pytest
from conftest import SETTINGS
from test_recovery import rank_uniformity_p_value

import rmtfit
from rmtfit.likelihoods._mp_spikes import sample_with_members
from rmtfit.spectra import Spectrum

THIN = 40  # 1000 draws per chain -> 25 per chain, 100 in all
SBC_SETTINGS = {**SETTINGS, "exact": True}


def _fixed(name: str, context: dict[str, float], **priors) -> rmtfit.Likelihood:
    lik = rmtfit.get_likelihood(name).with_priors(**priors)
    return replace(lik, context=lambda x, spectrum, classical: dict(context))


def _prior_draws(lik, context, rng_key, num):
    keys = jax.random.split(rng_key, len(lik.parameters))
    return {
        p.name: np.asarray(p.prior(context).sample(k, (num,)), dtype=np.float64)
        for p, k in zip(lik.parameters, keys, strict=True)
    }


def _fit(lik, spectra, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # flagged fits are kept; their count is asserted below
        fits = rmtfit.fit(
            spectra, lik, classical={s.name: None for s in spectra}, seed=seed, **SBC_SETTINGS
        )
    statuses = [fits.status(s.name, lik.name) for s in spectra]
    assert all(st in ("ok", "flagged") for st in statuses), [
        fits.reason(s.name, lik.name) for s in spectra if fits.status(s.name, lik.name) != "ok"
    ]
    return fits, statuses


def _rank(draws: np.ndarray, truth: float, rng: np.random.Generator) -> int:
    thinned = draws[:, ::THIN][:, :25].ravel()
    below = int(np.sum(thinned < truth))
    ties = int(np.sum(thinned == truth))
    return below + int(rng.integers(0, ties + 1))


def spliced_ranks(num_datasets: int, seed: int, n: int = 200):
    context = {
        "N": float(n), "M": float(n), "Q": 1.0, "n": float(n), "xmax": 60.0, "sigma2": 0.01,
        "log_median": 0.5, "log_sd": 0.7, "log_xmin_low": np.log(3.0), "log_xmin_high": np.log(8.0),
        "xmin_classical": 5.0, "alpha_classical": 3.0, "spike_fraction_classical": 0.05,
        "mp_log_z": 0.0,
    }  # fmt: skip
    lik = _fixed(
        "spliced_pl",
        context,
        alpha=lambda ctx: dist.Uniform(2.0, 5.0),
        xmin=lambda ctx: dist.LogUniform(3.0, 8.0),
        bulk_loc=lambda ctx: dist.Normal(0.5, 0.3),
        bulk_scale=lambda ctx: dist.LogNormal(np.log(0.6), 0.2),
    )
    truth = _prior_draws(lik, context, jax.random.key(seed), num_datasets)
    spectra = []
    for i in range(num_datasets):
        params = {k: float(v[i]) for k, v in truth.items()}
        x = np.asarray(lik.sample(jax.random.key(seed * 7919 + i), params, context, n))
        spectra.append(Spectrum(f"sbc{i}", "matrix", n, n, np.sort(x)))
    fits, statuses = _fit(lik, spectra, seed)
    rng = np.random.default_rng(seed)
    ranks = {
        name: np.array(
            [
                _rank(fits.draws(s.name, lik.name, name), truth[name][i], rng)
                for i, s in enumerate(spectra)
            ]
        )
        for name in ("xmin", "alpha")
    }
    return ranks, statuses


def mp_spikes_ranks(num_datasets: int, seed: int, n_rows: int = 200, n_cols: int = 100):
    base = rmtfit.get_likelihood("mp_spikes")
    x0 = np.linspace(0.1, 5.0, n_cols)  # only N and Q of this placeholder layer matter
    context = base.context(x0, Spectrum("ref", "matrix", n_rows, n_cols, x0), None)
    context.update(sigma2=0.01, spike_fraction_classical=0.05)
    lik = _fixed("mp_spikes", context)
    truth = _prior_draws(lik, context, jax.random.key(seed), num_datasets)
    spectra, true_k = [], []
    for i in range(num_datasets):
        params = {k: float(v[i]) for k, v in truth.items()}
        x, members = sample_with_members(jax.random.key(seed * 7919 + i), params, context, n_cols)
        spectra.append(Spectrum(f"sbc{i}", "matrix", n_rows, n_cols, np.sort(np.asarray(x))))
        true_k.append(int(np.sum(np.asarray(members))))
    fits, statuses = _fit(lik, spectra, seed)
    rng = np.random.default_rng(seed)
    ranks = {
        "sigma2": np.array(
            [
                _rank(fits.draws(s.name, lik.name, "sigma2"), truth["sigma2"][i], rng)
                for i, s in enumerate(spectra)
            ]
        ),
        "K": np.array(
            [
                _rank(fits.draws(s.name, lik.name, "K"), true_k[i], rng)
                for i, s in enumerate(spectra)
            ]
        ),
    }
    return ranks, statuses


def _check(ranks, statuses, bins):
    # prior draws whose spikes sit on the bulk edge (spike_loc near 0) give mp_spikes a bimodal
    # posterior that the diagnostics flag: 4 of 40 and 9 of 100 here; spliced_pl: none
    flagged = sum(st == "flagged" for st in statuses)
    assert flagged <= 0.15 * len(statuses), f"{flagged} of {len(statuses)} fits flagged"
    for name, r in ranks.items():
        p = rank_uniformity_p_value(r, 100, bins=bins)
        hist = np.bincount(r * bins // 101, minlength=bins)
        assert p > 0.01, f"{name}: rank histogram {hist.tolist()}, chi-square p = {p:.4f}"


def test_spliced_pl_sbc_reduced():
    _check(*spliced_ranks(40, seed=900), bins=5)


def test_mp_spikes_sbc_reduced():
    _check(*mp_spikes_ranks(40, seed=1000), bins=5)


@pytest.mark.slow
def test_spliced_pl_sbc_full():
    _check(*spliced_ranks(100, seed=1100), bins=10)


@pytest.mark.slow
def test_mp_spikes_sbc_full():
    _check(*mp_spikes_ranks(100, seed=1200), bins=10)
