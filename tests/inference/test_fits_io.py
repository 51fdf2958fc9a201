"""Fits.to_netcdf / Fits.from_netcdf on real fits: lean by default, pointwise on request.

Statuses, reasons, the summary, settings, observations, constants, attributes and integer or
boolean statistics come back exactly; float draws come back as float64 to the precision they
were stored with (float32 where that moves no draw by more than 0.1% of its posterior sd).
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from conftest import SETTINGS, power_law_layers, tail_layer

import rmtfit
from rmtfit.inference import Fits
from rmtfit.inference._io import FLOAT32_TOLERANCE


@pytest.fixture(scope="module")
def mixed_fits():
    """Three fitted layers plus one with a single tail eigenvalue (not fitted)."""
    spectra, classical = power_law_layers([2.5, 3.0, 4.0], [60, 200, 400], seed=1)
    tiny, tiny_cl = tail_layer("tiny", np.array([0.5, 0.7, 2.0]), xmin=1.5)
    spectra.append(tiny)
    classical["tiny"] = tiny_cl
    return rmtfit.fit(spectra, ["power_law"], classical=classical, seed=7, **SETTINGS)


def assert_stored_draws_equal(back: np.ndarray, original: np.ndarray) -> None:
    """Same dtype and shape; values exact, or float32-rounded within the precision rule."""
    assert back.dtype == original.dtype and back.shape == original.shape
    if np.array_equal(back, original):
        return
    np.testing.assert_array_equal(back, original.astype(np.float32).astype(original.dtype))
    sd = np.std(original, axis=(0, 1))
    assert np.all(np.abs(back - original) <= FLOAT32_TOLERANCE * sd)


def assert_same_pairs(back: Fits, original: Fits, *, pointwise: bool) -> None:
    assert back.layers == original.layers
    assert back.likelihoods == original.likelihoods
    assert dict(back.settings) == dict(original.settings)
    assert back.pairs() == original.pairs()
    for layer, lik in original.pairs():
        assert back.status(layer, lik) == original.status(layer, lik)
        assert back.reason(layer, lik) == original.reason(layer, lik)
        assert back.has(layer, lik) == original.has(layer, lik)
        if not original.has(layer, lik):
            continue
        a, b = original[layer, lik], back[layer, lik]
        assert list(b.posterior) == list(a.posterior)  # power_law has no per-eigenvalue draws
        for name in a.posterior:
            assert_stored_draws_equal(b.posterior[name], a.posterior[name])
        assert list(b.sample_stats) == list(a.sample_stats)
        for name in a.sample_stats:
            assert_stored_draws_equal(b.sample_stats[name], a.sample_stats[name])
        if pointwise:
            assert_stored_draws_equal(b.log_likelihood, a.log_likelihood)
        else:
            assert b.log_likelihood is None
        np.testing.assert_array_equal(b.observed, a.observed)
        assert b.observed.dtype == np.float64
        assert dict(b.context) == dict(a.context)
        assert dict(b.attrs) == dict(a.attrs)
        assert b.parameters == a.parameters
        assert (b.num_chains, b.num_draws) == (a.num_chains, a.num_draws)
    xr.testing.assert_identical(back.summary, original.summary)


def test_lean_round_trip(mixed_fits, tmp_path):
    path = tmp_path / "fits.nc"
    mixed_fits.to_netcdf(path)
    back = Fits.from_netcdf(path)
    assert_same_pairs(back, mixed_fits, pointwise=False)
    assert mixed_fits.pointwise and not back.pointwise


def test_pointwise_round_trip(mixed_fits, tmp_path):
    path = tmp_path / "fits.nc"
    mixed_fits.to_netcdf(path, pointwise=True)
    back = Fits.from_netcdf(path)
    assert_same_pairs(back, mixed_fits, pointwise=True)
    assert back.pointwise


def test_the_lean_file_is_much_smaller(mixed_fits, tmp_path):
    mixed_fits.to_netcdf(tmp_path / "lean.nc")
    mixed_fits.to_netcdf(tmp_path / "full.nc", pointwise=True)
    lean, full = (tmp_path / "lean.nc").stat().st_size, (tmp_path / "full.nc").stat().st_size
    assert lean * 5 < full, (lean, full)


def test_reloaded_fits_give_the_same_inference_data(mixed_fits, tmp_path):
    path = tmp_path / "fits.nc"
    mixed_fits.to_netcdf(path, pointwise=True)
    back = Fits.from_netcdf(path)
    a, b = mixed_fits.idata("l0", "power_law"), back.idata("l0", "power_law")
    assert a.groups() == b.groups()
    for group in ("observed_data", "constant_data"):
        xr.testing.assert_equal(a[group], b[group])
    for group in ("posterior", "sample_stats", "log_likelihood"):
        xr.testing.assert_allclose(a[group], b[group], rtol=1e-6)
    assert b.posterior.attrs["status"] == "ok"
    lean = tmp_path / "lean.nc"
    mixed_fits.to_netcdf(lean)
    assert "log_likelihood" not in Fits.from_netcdf(lean).idata("l0", "power_law").groups()


def test_writing_pointwise_values_that_were_not_read_is_a_clear_error(mixed_fits, tmp_path):
    mixed_fits.to_netcdf(tmp_path / "lean.nc")
    back = Fits.from_netcdf(tmp_path / "lean.nc")
    with pytest.raises(ValueError, match="hold no pointwise log-likelihood"):
        back.to_netcdf(tmp_path / "again.nc", pointwise=True)
    assert not (tmp_path / "again.nc").exists()
    back.to_netcdf(tmp_path / "again.nc")  # a lean file rewritten lean is the same fits
    assert_same_pairs(Fits.from_netcdf(tmp_path / "again.nc"), back, pointwise=False)


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
    junk = tmp_path / "junk.nc"
    junk.write_bytes(b"not HDF5 at all")
    with pytest.raises(ValueError, match="junk.nc: not an rmtfit fits file"):
        Fits.from_netcdf(junk)


def test_a_file_of_the_old_format_names_the_file_and_the_fix(tmp_path):
    path = tmp_path / "fits.nc"
    old = xr.Dataset(
        {"summary__mean": (("layer",), np.zeros(1))},
        coords={"layer": ["l0"]},
        attrs={"format": "rmtfit.fits/1", "layers": '["l0"]'},
    )
    old.to_netcdf(path, engine="h5netcdf")
    with pytest.raises(ValueError, match="old format 'rmtfit.fits/1'") as info:
        Fits.from_netcdf(path)
    assert str(path) in str(info.value) and "Re-run the analysis" in str(info.value)


def test_a_fresh_process_draws_predictive_spectra_from_a_lean_file(mixed_fits, tmp_path):
    """Nothing has switched JAX to float64 in a process that only reads the file."""
    import subprocess
    import sys

    path = tmp_path / "fits.nc"
    mixed_fits.to_netcdf(path)
    code = (
        "import sys; from rmtfit.inference import Fits; "
        "x = Fits.from_netcdf(sys.argv[1]).posterior_predictive('l1', 'power_law', 7, seed=2); "
        "print(x.shape, x.dtype)"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(7, 200) float64"
