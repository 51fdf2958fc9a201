"""netCDF storage of :class:`~rmtfit.inference.Fits`: one file, one flat Dataset, exact round trip.

Layout (format ``rmtfit.fits/1``, in the file's ``format`` attribute):

* ``summary__<var>``: the summary Dataset's variables, with its dims ``layer``, ``likelihood``,
  ``parameter`` and coordinates; its attributes are kept as JSON in ``summary_attrs``;
* ``pair<k>__<group>__<name>``: the arrays of the k-th fitted pair (``group`` is ``posterior``,
  ``sample_stats``, ``log_likelihood`` or ``observed``), each axis with its own dimension
  ``pair<k>__<group>__<name>__<axis>`` so that pairs of different sizes coexist;
* ``pair<k>``: a scalar whose attributes hold the pair's layer, likelihood, declared parameter
  names, context and sampler attributes (JSON: Python floats round-trip exactly through JSON);
* file attributes: ``layers``, ``likelihoods``, ``status`` (JSON lists) and ``settings``.

Layer names never become netCDF names (they may hold any character), only attribute values.
The input spectra and classical fits are not stored (keep the spectra file next to this one).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from rmtfit.common import atomic_path

__all__ = ["write_fits", "read_fits", "FORMAT"]

FORMAT = "rmtfit.fits/1"
_ENGINE = "h5netcdf"
_GROUPS = ("posterior", "sample_stats", "log_likelihood", "observed")


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _pair_arrays(fit: Any) -> dict[str, dict[str, np.ndarray]]:
    return {
        "posterior": dict(fit.posterior),
        "sample_stats": dict(fit.sample_stats),
        "log_likelihood": {"obs": fit.log_likelihood},
        "observed": {"obs": fit.observed},
    }


def to_dataset(fits: Any) -> Any:
    """The flat ``xarray.Dataset`` written by :func:`write_fits`."""
    import xarray as xr

    variables: dict[str, Any] = {}
    summary = fits.summary
    for name, da in summary.data_vars.items():
        variables[f"summary__{name}"] = (da.dims, np.asarray(da.values))
    coords = {name: np.asarray(c.values) for name, c in summary.coords.items()}
    status = []
    for k, key in enumerate(fits.pairs()):
        layer, lik = key
        s, reason = fits.status(layer, lik), fits.reason(layer, lik)
        status.append([layer, lik, s, reason])
        if not fits.has(layer, lik):
            continue
        fit = fits[layer, lik]
        for group, arrays in _pair_arrays(fit).items():
            for name, value in arrays.items():
                a = np.asarray(value)
                base = f"pair{k}__{group}__{name}"
                dims = tuple(f"{base}__{axis}" for axis in range(a.ndim))
                variables[base] = (dims, a)
        meta = {
            "layer": layer,
            "likelihood": lik,
            "parameters": list(fit.parameters),
            "posterior_order": list(fit.posterior),
            "sample_stats_order": list(fit.sample_stats),
            "context": {str(c): float(v) for c, v in fit.context.items()},
            "attrs": {str(a): _jsonable(v) for a, v in fit.attrs.items()},
        }
        variables[f"pair{k}"] = ((), np.int8(0), {"meta": json.dumps(meta)})
    attrs = {
        "format": FORMAT,
        "layers": json.dumps(list(fits.layers)),
        "likelihoods": json.dumps(list(fits.likelihoods)),
        "status": json.dumps(status),
        "settings": json.dumps({k: _jsonable(v) for k, v in fits.settings.items()}),
        "summary_attrs": json.dumps({k: _jsonable(v) for k, v in summary.attrs.items()}),
        "summary_var_attrs": json.dumps(
            {name: dict(da.attrs) for name, da in summary.data_vars.items() if da.attrs}
        ),
    }
    return xr.Dataset(variables, coords=coords, attrs=attrs)


def write_fits(fits: Any, path: str | os.PathLike) -> Path:
    """Write ``fits`` to ``path`` (netCDF-4 via h5netcdf) atomically; return the path."""
    ds = to_dataset(fits)
    with atomic_path(path) as temporary:
        ds.to_netcdf(temporary, engine=_ENGINE)
    return Path(path)


def _summary_from(ds: Any) -> Any:
    import xarray as xr

    data = {
        name.removeprefix("summary__"): (da.dims, da.values)
        for name, da in ds.data_vars.items()
        if name.startswith("summary__")
    }
    coords = {name: ds.coords[name].values for name in ("layer", "likelihood", "parameter")}
    out = xr.Dataset(data, coords=coords, attrs=json.loads(ds.attrs["summary_attrs"]))
    for name, attrs in json.loads(ds.attrs.get("summary_var_attrs", "{}")).items():
        out[name].attrs.update(attrs)
    for name in ("status", "reason"):
        if name in out:
            out[name] = out[name].astype(str)
    return out


def from_dataset(ds: Any) -> dict[str, Any]:
    """The parts of a :class:`~rmtfit.inference.Fits` stored in a Dataset of :func:`to_dataset`.

    Plain values only (this module never imports the containers, which import it):
    ``pairs`` maps ``(layer, likelihood)`` to the keyword arguments of a ``LayerFit``;
    ``status``, ``layers``, ``likelihoods``, ``summary`` and ``settings`` are the other
    arguments of ``Fits``. :meth:`Fits.from_netcdf` assembles them.
    """
    if ds.attrs.get("format") != FORMAT:
        raise ValueError(
            f"not an rmtfit fits file: format attribute is {ds.attrs.get('format')!r}, "
            f"expected {FORMAT!r}; write one with Fits.to_netcdf."
        )
    status_rows = json.loads(ds.attrs["status"])
    status = {(layer, lik): (s, reason) for layer, lik, s, reason in status_rows}
    fits = {}
    for k, (layer, lik, _, _) in enumerate(status_rows):
        marker = f"pair{k}"
        if marker not in ds.variables:
            continue
        meta = json.loads(ds[marker].attrs["meta"])

        def group(name: str, order: list[str], k: int = k) -> dict[str, np.ndarray]:
            return {v: np.asarray(ds[f"pair{k}__{name}__{v}"].values) for v in order}

        fits[(layer, lik)] = dict(
            layer=layer,
            likelihood=lik,
            posterior=group("posterior", meta["posterior_order"]),
            parameters=tuple(meta["parameters"]),
            sample_stats=group("sample_stats", meta["sample_stats_order"]),
            log_likelihood=np.asarray(ds[f"pair{k}__log_likelihood__obs"].values),
            observed=np.asarray(ds[f"pair{k}__observed__obs"].values),
            context=meta["context"],
            attrs=meta["attrs"],
        )
    return {
        "pairs": fits,
        "status": status,
        "layers": json.loads(ds.attrs["layers"]),
        "likelihoods": json.loads(ds.attrs["likelihoods"]),
        "summary": _summary_from(ds),
        "settings": json.loads(ds.attrs["settings"]),
    }


def read_fits(path: str | os.PathLike) -> dict[str, Any]:
    """The parts (see :func:`from_dataset`) of a file written by :func:`write_fits`."""
    import xarray as xr

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; check the path.")
    with xr.open_dataset(path, engine=_ENGINE, mask_and_scale=False) as ds:
        ds.load()
        return from_dataset(ds)
