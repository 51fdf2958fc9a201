"""Spectra <-> xarray Dataset <-> netCDF file (exact round trip, atomic writes).

Layout of the Dataset (and of the netCDF4 file, written with h5netcdf):

==========================  ===================  ==========================================
variable                    dims                 meaning
==========================  ===================  ==========================================
``layer``                   (layer)              coordinate: layer names, in order
``eigenvalues``             (layer, eig)         ascending float64, padded with NaN
``num_evals``               (layer)              number of eigenvalues of each layer
``N``, ``M``                (layer)              matrix shape, N >= M (one slice for conv)
``Q``                       (layer)              N / M
``kind``                    (layer)              ``linear``, ``conv2d``, ``qkv``, ...
``scaling``                 (layer)              factor applied to the weights (1.0)
``source``                  (layer)              file each layer was read from
``num_slices``              (layer)              matrices pooled into the spectrum
``skipped_name``            (skipped)            tensors not analysed ...
``skipped_shape``           (skipped)            ... their shape, as ``"768,3072"`` ...
``skipped_reason``          (skipped)            ... why ...
``skipped_failed``          (skipped)            ... and whether it is a failure (int8 0/1)
==========================  ===================  ==========================================

Attributes: ``source`` (the checkpoint), ``meta_json`` (``Spectra.meta`` as JSON),
``rmtfit_version`` and ``rmtfit_format``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from rmtfit.spectra._types import Skipped, Spectra, Spectrum

__all__ = ["to_xarray", "from_xarray", "save_spectra", "read_spectra"]

FORMAT = "rmtfit-spectra-1"
_ENGINE = "h5netcdf"


def to_xarray(spectra: Spectra) -> Any:
    """The :class:`Spectra` as an ``xarray.Dataset`` (layout in the module docstring)."""
    import xarray as xr

    from rmtfit import __version__

    n_layers = len(spectra)
    width = max((s.num_evals for s in spectra), default=0)
    evals = np.full((n_layers, width), np.nan)
    for i, s in enumerate(spectra):
        evals[i, : s.num_evals] = s.eigenvalues

    def per_layer(values: list, dtype: Any) -> tuple:
        return ("layer", np.asarray(values, dtype=dtype))

    def per_skipped(values: list, dtype: Any) -> tuple:
        return ("skipped", np.asarray(values, dtype=dtype))

    skipped = spectra.skipped
    data_vars = {
        "eigenvalues": (("layer", "eig"), evals),
        "num_evals": per_layer([s.num_evals for s in spectra], np.int64),
        "N": per_layer([s.N for s in spectra], np.int64),
        "M": per_layer([s.M for s in spectra], np.int64),
        "Q": per_layer([s.Q for s in spectra], np.float64),
        "kind": per_layer([s.kind for s in spectra], object),
        "scaling": per_layer([s.scaling for s in spectra], np.float64),
        "source": per_layer([s.source for s in spectra], object),
        "num_slices": per_layer([s.num_slices for s in spectra], np.int64),
        "skipped_name": per_skipped([k.name for k in skipped], object),
        "skipped_shape": per_skipped([",".join(map(str, k.shape)) for k in skipped], object),
        "skipped_reason": per_skipped([k.reason for k in skipped], object),
        "skipped_failed": per_skipped([int(k.failed) for k in skipped], np.int8),
    }
    attrs = {
        "source": spectra.source,
        "meta_json": json.dumps(spectra.meta, default=str, sort_keys=True),
        "rmtfit_version": __version__,
        "rmtfit_format": FORMAT,
        "eigenvalue_convention": "squared singular values of W (no 1/N factor), ascending",
    }
    coords = {"layer": ("layer", np.asarray(spectra.names, dtype=object))}
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def from_xarray(ds: Any) -> Spectra:
    """Rebuild a :class:`Spectra` from a Dataset made by :func:`to_xarray`."""
    missing = [v for v in ("eigenvalues", "num_evals", "N", "M", "kind") if v not in ds.variables]
    if missing or "layer" not in ds.coords:
        raise ValueError(
            f"not an rmtfit spectra dataset: missing {missing or ['layer']}; "
            "write it with Spectra.to_netcdf."
        )
    n = ds.sizes.get("layer", 0)

    def column(name: str, default: Any) -> list:
        return list(ds[name].values) if name in ds.variables else [default] * n

    evals = np.asarray(ds["eigenvalues"].values, dtype=np.float64).reshape(
        n, ds.sizes.get("eig", 0)
    )
    spectra = [
        Spectrum(
            name=str(name),
            kind=str(kind),
            N=int(n_rows),
            M=int(n_cols),
            eigenvalues=row[: int(count)],
            scaling=float(scaling),
            source=str(source),
            num_slices=int(num_slices),
        )
        for name, kind, n_rows, n_cols, row, count, scaling, source, num_slices in zip(
            ds["layer"].values,
            ds["kind"].values,
            ds["N"].values,
            ds["M"].values,
            evals,
            ds["num_evals"].values,
            column("scaling", 1.0),
            column("source", ""),
            column("num_slices", 1),
            strict=True,
        )
    ]
    skipped = (
        [
            Skipped(str(name), _parse_shape(str(shape)), str(reason), bool(failed))
            for name, shape, reason, failed in zip(
                column("skipped_name", ""),
                column("skipped_shape", ""),
                column("skipped_reason", ""),
                column("skipped_failed", 0),
                strict=True,
            )
        ]
        if "skipped_name" in ds.variables
        else []
    )
    meta = json.loads(ds.attrs.get("meta_json", "{}"))
    return Spectra(
        tuple(spectra), tuple(skipped), source=str(ds.attrs.get("source", "")), meta=meta
    )


def _parse_shape(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part)


def save_spectra(spectra: Spectra, path: str | os.PathLike) -> Path:
    """Write ``spectra`` to a netCDF file atomically; return the path.

    The Dataset is written to a temporary file in the same directory, then moved over ``path``
    with :func:`os.replace`: on any failure no partial file is left and an existing ``path`` is
    untouched.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path.parent}: directory does not exist; create it first.")
    ds = to_xarray(spectra)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        ds.to_netcdf(tmp, engine=_ENGINE)
        os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp makes 0600 files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_spectra(path: str | os.PathLike) -> Spectra:
    """Read a :class:`Spectra` written by :func:`save_spectra`."""
    import xarray as xr

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; check the path.")
    try:
        with xr.open_dataset(path, engine=_ENGINE) as ds:
            ds.load()
            return from_xarray(ds)
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"{path}: not an rmtfit spectra netCDF file ({exc}); write one with "
            "`rmtfit spectra CHECKPOINT --out FILE.nc`."
        ) from None


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
