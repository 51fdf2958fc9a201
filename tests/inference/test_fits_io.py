"""Fits.to_netcdf / Fits.from_netcdf: an exact round trip, statuses and summary included."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from conftest import SETTINGS, power_law_layers, tail_layer

import rmtfit
from rmtfit.inference import Fits


@pytest.fixture(scope="module")
def mixed_fits():
    """Three fitted layers plus one with a single tail eigenvalue (not fitted)."""
    spectra, classical = power_law_layers([2.5, 3.0, 4.0], [60, 200, 400], seed=1)
    tiny, tiny_cl = tail_layer("tiny", np.array([0.5, 0.7, 2.0]), xmin=1.5)
    spectra.append(tiny)
    classical["tiny"] = tiny_cl
    return rmtfit.fit(spectra, ["power_law"], classical=classical, seed=7, **SETTINGS)


def test_round_trip_is_exact(mixed_fits, tmp_path):
    path = tmp_path / "fits.nc"
    mixed_fits.to_netcdf(path)
    back = Fits.from_netcdf(path)
    assert back.layers == mixed_fits.layers
    assert back.likelihoods == mixed_fits.likelihoods
    assert dict(back.settings) == dict(mixed_fits.settings)
    assert back.pairs() == mixed_fits.pairs()
    for layer, lik in mixed_fits.pairs():
        assert back.status(layer, lik) == mixed_fits.status(layer, lik)
        assert back.reason(layer, lik) == mixed_fits.reason(layer, lik)
        assert back.has(layer, lik) == mixed_fits.has(layer, lik)
        if not mixed_fits.has(layer, lik):
            continue
        a, b = mixed_fits[layer, lik], back[layer, lik]
        assert list(b.posterior) == list(a.posterior)
        for name in a.posterior:
            np.testing.assert_array_equal(b.posterior[name], a.posterior[name])
            assert b.posterior[name].dtype == a.posterior[name].dtype
        for name in a.sample_stats:
            np.testing.assert_array_equal(b.sample_stats[name], a.sample_stats[name])
            assert b.sample_stats[name].dtype == a.sample_stats[name].dtype, name
        np.testing.assert_array_equal(b.log_likelihood, a.log_likelihood)
        np.testing.assert_array_equal(b.observed, a.observed)
        assert dict(b.context) == dict(a.context)
        assert dict(b.attrs) == dict(a.attrs)
        assert b.parameters == a.parameters
    xr.testing.assert_identical(back.summary, mixed_fits.summary)


def test_reloaded_fits_give_the_same_inference_data(mixed_fits, tmp_path):
    path = tmp_path / "fits.nc"
    mixed_fits.to_netcdf(path)
    back = Fits.from_netcdf(path)
    a, b = mixed_fits.idata("l0", "power_law"), back.idata("l0", "power_law")
    for group in a.groups():
        xr.testing.assert_equal(a[group], b[group])
    assert b.posterior.attrs["status"] == "ok"


def test_not_fitted_pair_says_why_and_has_no_draws(mixed_fits):
    assert mixed_fits.status("tiny", "power_law") == "not_fitted"
    assert mixed_fits.reason("tiny", "power_law") == "needs >= 2 eigenvalues, got 1"
    assert not mixed_fits.has("tiny", "power_law")
    with pytest.raises(KeyError, match="not_fitted: needs >= 2 eigenvalues, got 1"):
        mixed_fits["tiny", "power_law"]
    s = mixed_fits.summary.sel(layer="tiny", likelihood="power_law")
    assert str(s["status"].item()) == "not_fitted"
    assert np.isnan(float(s["mean"].sel(parameter="alpha")))
    assert int(s["divergences"]) == -1


def test_reading_a_foreign_file_is_a_clear_error(tmp_path):
    path = tmp_path / "other.nc"
    xr.Dataset({"a": ("x", np.arange(3.0))}).to_netcdf(path, engine="h5netcdf")
    with pytest.raises(ValueError, match="not an rmtfit fits file"):
        Fits.from_netcdf(path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        Fits.from_netcdf(tmp_path / "missing.nc")
