"""Pairs that cannot be fitted are reported with their reason, and the rest of the run goes on."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest
from conftest import SETTINGS, power_law_layers, tail_layer

import rmtfit
from rmtfit.classical import ClassicalFit
from rmtfit.inference import FitFailedWarning

POWER_LAW = rmtfit.get_likelihood("power_law")


def _variant(name, logpdf=None, **changes):
    """An unregistered copy of power_law with another name (and maybe another logpdf)."""
    return dataclasses.replace(POWER_LAW, name=name, logpdf=logpdf or POWER_LAW.logpdf, **changes)


def test_too_few_eigenvalues_is_not_fitted_and_the_rest_proceed():
    spectra, classical = power_law_layers([3.0, 3.0], [200, 400], seed=1)
    small, small_cl = tail_layer("small", np.linspace(1.0, 3.0, 5), xmin=1.0)
    fits = rmtfit.fit(
        [*spectra, small],
        _variant("pl_min10", min_observations=10),
        classical={**classical, "small": small_cl},
        seed=0,
        **SETTINGS,
    )
    assert fits.status("small", "pl_min10") == "not_fitted"
    assert fits.reason("small", "pl_min10") == "needs >= 10 eigenvalues, got 5"
    assert [fits.status(n, "pl_min10") for n in ("l0", "l1")] == ["ok", "ok"]


def test_tail_likelihood_without_classical_xmin_is_not_fitted():
    spectra, classical = power_law_layers([3.0], [100], seed=1)
    no_xmin = {"l0": ClassicalFit("l0", "not_fitted", reason="too few", N=100, M=100)}
    fits = rmtfit.fit(spectra, "power_law", classical=no_xmin, seed=0, **SETTINGS)
    assert fits.status("l0", "power_law") == "not_fitted"
    assert "needs the classical xmin" in fits.reason("l0", "power_law")


def _nan_below(threshold):
    def logpdf(x, params, context):
        value = POWER_LAW.logpdf(x, params, context)
        return jnp.where(params["alpha"] < threshold, jnp.nan, value)

    return logpdf


def test_nan_log_likelihood_met_while_sampling_names_layer_likelihood_and_value():
    # data with alpha ~ 3 (posterior sd ~ 0.14): chains run into the NaN region below 2.8
    spectra, classical = power_law_layers([3.0, 3.0], [200, 400], seed=2)
    nan_lik = _variant("nan_below_2p8", _nan_below(2.8))
    with pytest.warns(FitFailedWarning) as record:
        fits = rmtfit.fit(spectra, [nan_lik, "power_law"], classical=classical, seed=0, **SETTINGS)
    assert len(record) == 2
    for layer in ("l0", "l1"):
        assert fits.status(layer, "nan_below_2p8") == "failed"
        reason = fits.reason(layer, "nan_below_2p8")
        assert reason.startswith(f"layer {layer!r}, likelihood 'nan_below_2p8': ")
        assert "log-likelihood is NaN at alpha=" in reason
        value = float(reason.split("alpha=")[1].split(" ")[0])
        assert value < 2.8  # the reported value really is in the NaN region
        assert fits.status(layer, "power_law") == "ok"  # the other likelihood proceeds
        assert not fits.has(layer, "nan_below_2p8")


def test_nan_log_likelihood_at_the_start_is_reported():
    spectra, classical = power_law_layers([3.0], [200], seed=2)
    everywhere = _variant("nan_everywhere", _nan_below(100.0))
    with pytest.warns(FitFailedWarning, match="NaN at the starting values alpha="):
        fits = rmtfit.fit(spectra, everywhere, classical=classical, seed=0, **SETTINGS)
    assert fits.status("l0", "nan_everywhere") == "failed"


def test_an_error_inside_the_likelihood_fails_that_pair_only():
    def broken(spectrum, classical):
        raise RuntimeError("boom")

    spectra, classical = power_law_layers([3.0], [200], seed=2)
    lik = _variant("broken_observations", observations=broken)
    with pytest.warns(FitFailedWarning, match="observations\\(\\) raised RuntimeError: boom"):
        fits = rmtfit.fit(spectra, [lik, "power_law"], classical=classical, **SETTINGS)
    assert fits.status("l0", "broken_observations") == "failed"
    assert fits.status("l0", "power_law") == "ok"


def test_a_classical_fit_that_raises_fails_the_layer_with_its_reason(monkeypatch):
    """fit() computes the classical fits it was not given; one that raises is not dropped
    silently: the layer stays, each of its pairs is failed with the error, the rest go on."""
    import rmtfit.classical

    spectra, _ = power_law_layers([3.0, 3.0], [200, 200], seed=3)
    real = rmtfit.classical.fit_classical

    def fit_classical(spectrum, *args, **kwargs):
        if spectrum.name == "l1":
            raise RuntimeError("boom")
        return real(spectrum, *args, **kwargs)

    monkeypatch.setattr(rmtfit.classical, "fit_classical", fit_classical)
    with pytest.warns(FitFailedWarning, match="classical fit failed: RuntimeError: boom"):
        fits = rmtfit.fit(spectra, "power_law", seed=0)  # exact posterior: no NUTS
    assert fits.layers == ("l0", "l1")
    assert fits.status("l1", "power_law") == "failed"
    reason = fits.reason("l1", "power_law")
    assert reason.startswith("layer 'l1': classical fit failed: RuntimeError: boom")
    assert "classical={'l1': None}" in reason  # the way out the reason suggests
    assert fits.status("l0", "power_law") == "ok" and fits.classical["l0"] is not None
    # the suggested way out: no classical fit for l1, so the tail likelihood says what it lacks
    again = rmtfit.fit(spectra[1:], "power_law", classical={"l1": None})
    assert again.status("l1", "power_law") == "not_fitted"
    assert "needs the classical xmin" in again.reason("l1", "power_law")
