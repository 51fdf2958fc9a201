"""netCDF: the issue's layout, exact round trip, atomic writes."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from rmtfit.spectra import Skipped, Spectra, Spectrum, load_spectra, save_spectra


@pytest.fixture
def spectra(rng) -> Spectra:
    weights = {
        "conv.weight": rng.standard_normal((6, 3, 2, 2)),
        "fc.weight": rng.standard_normal((40, 9)) * 1e-3,
        "tiny.weight": rng.standard_normal((1, 5)),
        "dead.weight": np.zeros((4, 4)),
        "fc.bias": rng.standard_normal(40),
        "bad.weight": np.full((3, 3), np.nan),
    }
    return load_spectra(weights)


def test_dataset_layout(spectra):
    ds = spectra.to_xarray()
    assert list(ds["layer"].values) == spectra.names
    assert ds["eigenvalues"].dims == ("layer", "eig")
    assert ds.sizes["eig"] == max(s.num_evals for s in spectra)
    for var in ("num_evals", "N", "M", "Q", "kind", "scaling", "source", "num_slices"):
        assert ds[var].dims == ("layer",)
    row = ds["eigenvalues"].sel(layer="tiny.weight").values
    assert row[0] == spectra["tiny.weight"].eigenvalues[0] and np.all(np.isnan(row[1:]))
    assert int(ds["num_evals"].sel(layer="conv.weight")) == 12
    assert float(ds["Q"].sel(layer="fc.weight")) == 40 / 9
    assert str(ds["kind"].sel(layer="conv.weight").values) == "conv2d"
    # source order; the all-zero matrix is skipped (no spectrum to fit), the NaN one failed
    assert list(ds["skipped_name"].values) == ["dead.weight", "fc.bias", "bad.weight"]
    assert list(ds["skipped_failed"].values) == [0, 0, 1]


def test_netcdf_round_trip_is_exact(spectra, tmp_path):
    path = spectra.to_netcdf(tmp_path / "s.nc")
    back = Spectra.from_netcdf(path)
    assert back == spectra  # dataclass equality: names, kinds, shapes, skipped list, source
    for a, b in zip(spectra, back, strict=True):
        assert np.array_equal(a.eigenvalues, b.eigenvalues)
        assert (a.N, a.M, a.Q, a.num_slices, a.source) == (b.N, b.M, b.Q, b.num_slices, b.source)
    assert back.skipped == spectra.skipped
    assert back.meta["notes"] == spectra.meta["notes"]
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        assert ds.attrs["rmtfit_format"] == "rmtfit-spectra-1"


def test_round_trip_of_hand_made_and_empty_spectra(tmp_path):
    made = Spectra(
        (Spectrum("x", "matrix", 5, 2, np.array([0.0, 1.0 / 3.0]), scaling=0.5, source="mine"),),
        (Skipped("odd", (2, 3, 4, 5, 6), "6-D", failed=True),),
        source="by hand",
    )
    assert Spectra.from_netcdf(save_spectra(made, tmp_path / "m.nc")) == made
    empty = Spectra()
    assert Spectra.from_netcdf(empty.to_netcdf(tmp_path / "e.nc")) == empty


def test_failed_write_leaves_no_file_and_keeps_the_old_one(spectra, tmp_path, monkeypatch):
    target = tmp_path / "out.nc"

    def explode(self, path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"half a netCDF file")
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", explode)
    with pytest.raises(OSError, match="disk full"):
        spectra.to_netcdf(target)
    assert list(tmp_path.iterdir()) == []

    monkeypatch.undo()
    spectra.to_netcdf(target)
    before = target.read_bytes()
    monkeypatch.setattr(xr.Dataset, "to_netcdf", explode)
    with pytest.raises(OSError):
        spectra.to_netcdf(target)
    assert target.read_bytes() == before
    assert list(tmp_path.iterdir()) == [target]


def test_reading_a_file_that_is_not_spectra(tmp_path):
    xr.Dataset({"x": ("a", np.arange(3))}).to_netcdf(tmp_path / "other.nc", engine="h5netcdf")
    with pytest.raises(ValueError, match="other.nc: not an rmtfit spectra netCDF file"):
        Spectra.from_netcdf(tmp_path / "other.nc")
    (tmp_path / "junk.nc").write_bytes(b"junk")
    with pytest.raises(ValueError, match="junk.nc"):
        Spectra.from_netcdf(tmp_path / "junk.nc")
    with pytest.raises(FileNotFoundError):
        save_spectra(Spectra(), tmp_path / "no" / "dir.nc")
