"""fit_classical: one frozen ClassicalFit per layer, bad spectra marked not fitted, speed."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from scipy import stats

import rmtfit.classical as classical
from rmtfit.classical import (
    ClassicalFit,
    bootstrap_gof,
    fit_classical,
    fit_power_law,
    sample_power_law,
)
from rmtfit.spectra import Spectrum


def spectrum(ev, N=None, M=None, name="layer"):
    ev = np.asarray(ev, dtype=np.float64)
    M = ev.size if M is None else M
    return Spectrum(name=name, kind="matrix", N=M if N is None else N, M=M, eigenvalues=ev)


def test_gaussian_layer_fields_are_consistent():
    rng = np.random.default_rng(0)
    N, M = 800, 200
    w = rng.normal(0, 0.05, (N, M))
    w[:, 0] *= 3.0  # one spike of strength 9
    fit = fit_classical(spectrum(np.linalg.eigvalsh(w.T @ w), N, M))
    assert fit.ok and fit.status == "ok" and fit.reason == ""
    assert (fit.N, fit.M, fit.num_evals) == (N, M, M)
    assert fit.sigma2 == pytest.approx(0.0025, rel=0.02) and fit.sigma_mp == pytest.approx(
        np.sqrt(fit.sigma2)
    )
    assert fit.lambda_plus == pytest.approx(N * fit.sigma2 * (1 + (N / M) ** -0.5) ** 2)
    assert fit.lambda_minus == pytest.approx(N * fit.sigma2 * (1 - (N / M) ** -0.5) ** 2)
    assert fit.lambda_plus < fit.tw_threshold < fit.gd_threshold
    assert fit.num_spikes == 1 and fit.num_spikes_gd == 1
    assert fit.rank_collapse == 0.0 and fit.num_dropped == 0
    pl = fit_power_law(np.linalg.eigvalsh(w.T @ w), min_tail=10)
    assert (fit.alpha, fit.xmin, fit.D, fit.n_tail) == (pl.alpha, pl.xmin, pl.D, pl.n_tail)
    assert np.isnan(fit.p_value) and np.isnan(fit.xmax)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fit.alpha = 3.0  # type: ignore[misc]
    d = fit.to_dict()
    assert d["name"] == "layer" and isinstance(d["notes"], list)


def test_hill_uses_the_tail_of_the_clauset_fit():
    x = sample_power_law(np.random.default_rng(1), 500, 3.0, 1.0)
    fit = fit_classical(spectrum(x))
    s = np.sort(x)[::-1]
    k = fit.n_tail
    assert fit.hill_alpha == pytest.approx(1 + k / np.sum(np.log(s[:k] / s[k])))


def test_zeros_are_dropped_with_a_note_and_counted_as_rank_collapse():
    x = np.concatenate([np.zeros(30), sample_power_law(np.random.default_rng(2), 170, 2.5, 1.0)])
    fit = fit_classical(spectrum(x))
    assert fit.ok and fit.num_dropped == 30
    assert fit.rank_collapse == pytest.approx(30 / 200)
    assert any("30 of 200 eigenvalues are zero or negative" in n for n in fit.notes)
    same = fit_power_law(x[30:])
    assert fit.alpha == same.alpha and fit.xmin == same.xmin


@pytest.mark.parametrize(
    "ev,match",
    [
        (np.array([]), "no eigenvalues"),
        (np.zeros(50), "all 50 eigenvalues are zero or negative"),
        (np.full(50, 2.0), "all 50 positive eigenvalues are equal"),
        (np.arange(1.0, 6.0), "needs at least 10 .* got 5"),
        (np.array([1.0, np.nan, 3.0] * 10), "not finite"),
    ],
)
def test_bad_spectra_are_not_fitted_with_a_reason(ev, match):
    fit = fit_classical(
        spectrum(ev, N=max(ev.size, 1), M=max(ev.size, 1)) if ev.size else spectrum(ev, 3, 0)
    )
    assert fit.status == "not_fitted" and not fit.ok
    assert fit.reason and __import__("re").search(match, fit.reason)
    assert np.isnan(fit.alpha)


def test_small_layers_fit_with_a_smaller_min_tail():
    x = np.arange(1.0, 9.0) ** 2
    assert not fit_classical(spectrum(x)).ok
    assert fit_classical(spectrum(x), min_tail=3).ok


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"min_tail": 1}, "`min_tail`"),
        ({"ks": "ad"}, "`ks`"),
        ({"bootstrap": -1}, "`bootstrap`"),
        ({"tw_level": 0.0}, "`tw_level`"),
    ],
)
def test_bad_options_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_classical(spectrum(np.arange(1.0, 30.0)), **kwargs)


def _clauset_bootstrap_distances(x, fit, replicates, seed):
    """KS distances of Clauset's semi-parametric bootstrap, written here with an RNG and a
    power-law sampler of its own: each of the n values comes, with probability n_tail / n, from
    xmin u^(-1/(alpha - 1)) (inverse CDF), else uniformly from the observed values below xmin;
    each synthetic set is refitted with the xmin scan."""
    rng = np.random.default_rng(seed)
    below = x[x < fit.xmin]
    distances = []
    for _ in range(replicates):
        tail = fit.xmin * rng.uniform(size=x.size) ** (-1.0 / (fit.alpha - 1.0))
        from_tail = rng.uniform(size=x.size) < fit.n_tail / x.size
        distances.append(fit_power_law(np.where(from_tail, tail, rng.choice(below, x.size))).D)
    return np.asarray(distances)


def test_bootstrap_p_value_equals_a_direct_monte_carlo_of_the_ks_distance():
    x = sample_power_law(np.random.default_rng(3), 300, 2.5, 1.0)
    a = fit_classical(spectrum(x), bootstrap=200, seed=7)
    b = fit_classical(spectrum(x), bootstrap=200, seed=7)
    assert a.p_value == b.p_value  # seeded
    fit = fit_power_law(x)
    gof = bootstrap_gof(x, fit, n_boot=200, seed=7)
    assert gof.p_value == a.p_value and gof.D_boot.shape == (200,) and gof.num_failed == 0
    assert gof.p_value == np.mean(gof.D_boot >= fit.D)  # the fraction at least as far
    # the same statistic by a Monte Carlo written here: the same law of D (two-sample KS, which
    # rejects a bootstrap that keeps xmin fixed at p ~ 1e-20) and the same p within 4 binomial sd
    reference = _clauset_bootstrap_distances(x, fit, 400, seed=2024)
    assert stats.ks_2samp(gof.D_boot, reference).pvalue > 1e-3
    p_ref = np.mean(reference >= fit.D)
    tol = 4.0 * np.sqrt(p_ref * (1.0 - p_ref) * (1 / 200 + 1 / 400)) + 1e-3
    assert abs(gof.p_value - p_ref) <= tol, (gof.p_value, p_ref, tol)


def test_bootstrap_rejects_an_exponential_tail():
    """With xmin fixed at the median, 1,000 exponential values are no power law (p = 0)."""
    x = np.random.default_rng(4).exponential(1.0, 2000)
    fit = fit_power_law(x, xmin=float(np.median(x)))
    gof = bootstrap_gof(x, fit, n_boot=40, seed=1)
    assert gof.p_value == 0.0 and np.nanmax(gof.D_boot) < fit.D


def test_minilm_every_layer_fast(minilm_spectra):
    fit_classical(minilm_spectra[0])  # imports
    start = time.perf_counter()
    fits = {s.name: fit_classical(s) for s in minilm_spectra}
    elapsed = time.perf_counter() - start
    assert elapsed < 5.0  # measured ~0.05 s per layer here; generous for a loaded CI machine
    assert len(fits) == 39
    tt = fits["embeddings.token_type_embeddings.weight"]
    assert tt.status == "not_fitted" and "needs at least 10" in tt.reason
    ok = [f for f in fits.values() if f.ok]
    assert len(ok) == 38
    spectra = {s.name: s for s in minilm_spectra}
    for f in ok:
        assert np.isfinite([f.alpha, f.xmin, f.D, f.sigma2, f.lambda_plus, f.tw_threshold]).all()
        # alpha is the Clauset MLE of the tail above the chosen xmin, its edge the MP formula
        tail = spectra[f.name].eigenvalues[spectra[f.name].eigenvalues >= f.xmin]
        assert f.n_tail == tail.size >= 10
        assert f.alpha == pytest.approx(1.0 + tail.size / np.sum(np.log(tail / f.xmin)), rel=1e-9)
        assert f.lambda_plus == pytest.approx(f.N * f.sigma2 * (1 + (f.N / f.M) ** -0.5) ** 2)


def test_public_names_are_exported_and_documented():
    for name in classical.__all__:
        obj = getattr(classical, name)
        assert obj.__doc__ and obj.__doc__.strip(), name
    assert ClassicalFit.__doc__


@pytest.mark.slow
def test_bootstrap_p_values_are_roughly_uniform_under_the_null():
    """Clauset's bootstrap with the xmin scan: p ~ U(0, 1) when the data are a power law."""
    rng = np.random.default_rng(11)
    p = np.array(
        [
            bootstrap_gof(x, fit_power_law(x), n_boot=50, seed=i).p_value
            for i, x in enumerate(sample_power_law(rng, (60, 200), 2.5, 1.0))
        ]
    )
    assert abs(p.mean() - 0.5) <= 3 * np.sqrt(1 / 12 / p.size)
    assert np.mean(p <= 0.1) <= 0.1 + 3 * np.sqrt(0.09 / p.size)
