"""Tier 3 oracle: with xmin fixed and the Jeffreys prior, alpha - 1 ~ Gamma(n, sum ln(x/xmin)).

The sampler is run (not the exact shortcut) on 21 replicate layers (7 each of 30, 120 and 400
eigenvalues) and its draws, thinned to about one per effective sample, are compared with the
exact law by KS tests: per layer (each a 1%-level test, so about 0.2 of 21 layers fail by
chance; at most 2 may, P(>= 3 | calibrated) = 0.001), and pooled over layers through the exact
posterior CDF (a test with power against a bias of a fraction of a posterior sd).

The exact law is derived here, not taken from rmtfit (whose ``power_law_exact_posterior_cdf`` is
what the exact shortcut samples from): the likelihood (alpha - 1)^n xmin^-n prod (x/xmin)^-alpha
times the prior 1/(alpha - 1) is, in e = alpha - 1, e^(n-1) exp(-e S) with S = sum ln(x/xmin),
a Gamma(shape n, rate S) kernel, truncated to the prior's range.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SETTINGS, power_law_layers
from scipy import stats

import rmtfit
from rmtfit.inference import arviz_adapter as _arviz

SIZES = [30, 120, 400] * 7
ALPHAS = [2.2, 3.0, 5.0] * 7
CONTEXT = {"xmin": 1.0}


@pytest.fixture(scope="module")
def layers_and_fits():
    spectra, classical = power_law_layers(ALPHAS, SIZES, seed=11)
    nuts = rmtfit.fit(spectra, "power_law", classical=classical, seed=3, **SETTINGS)
    exact = rmtfit.fit(
        spectra, "power_law", classical=classical, seed=3, **{**SETTINGS, "exact": True}
    )
    return spectra, nuts, exact


def exact_posterior_cdf(alpha: np.ndarray, x: np.ndarray, xmin: float = 1.0) -> np.ndarray:
    """The CDF of alpha: Gamma(n, rate sum ln(x/xmin)) for alpha - 1, truncated to the prior."""
    constraint = rmtfit.get_likelihood("power_law").parameter("alpha").constraint
    low, high = float(constraint.lower_bound) - 1.0, float(constraint.upper_bound) - 1.0
    law = stats.gamma(a=x.size, scale=1.0 / np.sum(np.log(x / xmin)))
    return (law.cdf(np.asarray(alpha) - 1.0) - law.cdf(low)) / (law.cdf(high) - law.cdf(low))


def _thinned(draws: np.ndarray) -> np.ndarray:
    ess = float(_arviz.ess_bulk(draws))
    step = max(1, int(np.ceil(draws.size / ess)))
    return draws[:, ::step].ravel()


def test_nuts_draws_follow_the_exact_gamma_posterior(layers_and_fits):
    spectra, nuts, _ = layers_and_fits
    p_values, pit = [], []
    for s in spectra:
        assert nuts.status(s.name, "power_law") == "ok", nuts.reason(s.name, "power_law")
        assert nuts[s.name, "power_law"].attrs.get("sampler", "nuts") != "exact"
        sample = _thinned(nuts.draws(s.name, "power_law", "alpha"))
        assert sample.size >= 400
        u = exact_posterior_cdf(sample, s.eigenvalues)
        p_values.append(stats.kstest(u, "uniform").pvalue)
        pit.append(u)
    p_values = np.asarray(p_values)
    assert np.sum(p_values <= 0.01) <= 2, p_values
    pooled = stats.kstest(np.concatenate(pit), "uniform")
    assert pooled.pvalue > 0.01, pooled


def test_nuts_posterior_mean_is_within_3_mcse_of_the_exact_mean(layers_and_fits):
    spectra, nuts, _ = layers_and_fits
    z = []
    for s in spectra:
        draws = nuts.draws(s.name, "power_law", "alpha")
        # E[alpha] = 1 + n / sum ln(x/xmin); the truncation to (1.01, 12) is negligible here
        exact_mean = 1.0 + s.eigenvalues.size / np.sum(np.log(s.eigenvalues))
        z.append((draws.mean() - exact_mean) / float(_arviz.mcse_mean(draws)))
    z = np.asarray(z)
    assert np.all(np.abs(z) < 3.5), z  # 21 normal scores: P(any |z| > 3.5) = 0.01
    assert np.mean(np.abs(z) < 3) >= 0.9, z


def test_exact_shortcut_draws_are_exact_and_complete(layers_and_fits):
    spectra, _, exact = layers_and_fits
    lik = rmtfit.get_likelihood("power_law")
    p_values = []
    for s in spectra:
        assert exact.status(s.name, "power_law") == "ok"
        f = exact[s.name, "power_law"]
        assert f.attrs["sampler"] == "exact"
        draws = f.posterior["alpha"]
        assert draws.shape == (SETTINGS["chains"], SETTINGS["draws"])
        u = exact_posterior_cdf(draws.ravel(), s.eigenvalues)
        p_values.append(stats.kstest(u, "uniform").pvalue)
        expected = np.asarray(lik.logpdf(s.eigenvalues, {"alpha": draws[1, 5]}, CONTEXT))
        np.testing.assert_allclose(f.log_likelihood[1, 5], expected, rtol=1e-12)
    assert np.sum(np.asarray(p_values) <= 0.01) <= 2, p_values
