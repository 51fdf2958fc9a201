"""netCDF storage of :class:`~rmtfit.inference.Fits`: a group tree that ArviZ and xarray read.

Layout (format ``rmtfit.fits/2``, in the root group's ``format`` attribute)::

    /                                  attrs: format, layers, likelihoods, status, settings, pointwise
    /<layer>                           attrs: name (the real layer name), comparison (LOO, JSON)
    /<layer>/<likelihood>              attrs: layer, likelihood, status, reason, family, role_*,
                                              the sampler's scalar settings, loo_* (PSIS-LOO),
                                              rmtfit_meta (JSON: parameters, context, attrs)
    /<layer>/<likelihood>/posterior        draws (chain, draw[, ...])
    /<layer>/<likelihood>/sample_stats     NUTS statistics (chain, draw)
    /<layer>/<likelihood>/log_likelihood   ``obs`` (chain, draw, obs_id): only when ``pointwise``
    /<layer>/<likelihood>/observed_data    ``obs`` (obs_id): the eigenvalues, float64
    /<layer>/<likelihood>/constant_data    the layer's fixed constants, float64
    /summary                           the summary Dataset (dims layer, likelihood, parameter)

Each ``/<layer>/<likelihood>`` node is an ArviZ ``InferenceData`` (its children are the groups):
``xarray.open_datatree(path, engine="h5netcdf")`` opens the file and
:func:`rmtfit.inference.arviz_adapter.from_datatree` turns a node into an ``InferenceData``.

Group names are the real names percent-encoded (:func:`group_name`: every character but ASCII
letters, digits, ``_``, ``-``, ``.`` and ``~`` becomes ``%XX`` of its UTF-8 bytes; a leading ``.``,
``-`` or ``~`` and a layer called ``summary`` are escaped too), so any name is stored and
:func:`real_name` gives it back; the real names are also attributes.

Lean by default: the pointwise log-likelihood and the per-eigenvalue derived draws (a trailing
axis of ``n_obs``, e.g. ``spike_prob``) are written only with ``pointwise=True``; the LOO results
of the analysis (``loo=``) are written instead. A float64 array of draws is stored as float32 when
the rounding moves no value by more than :data:`FLOAT32_TOLERANCE` of its posterior sd (its
``source_dtype`` attribute says so, and reading restores float64); integers get the smallest type
that holds them. Observed eigenvalues, constants and attributes stay exact.

Writing goes pair by pair into the open file (no Dataset of the whole network is built), with
h5py and the netCDF-4 conventions (a coordinate variable per dimension, as an HDF5 dimension
scale attached to the variables that use it): h5netcdf's own writer costs about 40 ms a pair,
h5py about 6. Reading uses h5py too; only the summary goes through xarray.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import numpy as np

from rmtfit.common import atomic_path

__all__ = [
    "FORMAT",
    "FLOAT32_TOLERANCE",
    "write_fits",
    "read_fits",
    "group_name",
    "real_name",
    "layer_group",
    "pair_path",
]

FORMAT = "rmtfit.fits/2"
OLD_FORMATS = ("rmtfit.fits/1",)
SUMMARY_GROUP = "summary"
FLOAT32_TOLERANCE = 1e-3
"""Largest float32 rounding error allowed, as a fraction of the posterior sd of the value."""

_ENGINE = "h5netcdf"
_COMPRESSION = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
_COMPRESS_FROM = 64  # values; smaller arrays are not worth a chunk index
# the HDF5 1.10 file format: smaller chunk indexes (a fifth of a small file); HDF5 >= 1.10 reads it
_FILE_OPTIONS: dict[str, Any] = {"libver": ("v110", "v110")}
_SOURCE_DTYPE = "source_dtype"
_OBS = "obs"
_OBS_DIM = "obs_id"
_META = "rmtfit_meta"


# --------------------------------------------------------------------------- names


def group_name(name: str, *, reserved: tuple[str, ...] = ()) -> str:
    """A netCDF/HDF5 group name for ``name`` (any string); :func:`real_name` reverses it."""
    encoded = quote(str(name), safe="-_.~")
    if not encoded or encoded[0] in ".-~" or encoded in reserved:
        first = "".join(f"%{b:02X}" for b in encoded[:1].encode()) if encoded else "%"
        encoded = first + encoded[1:]
    return encoded


def real_name(group: str) -> str:
    """The name that :func:`group_name` encoded into ``group``."""
    return "" if group == "%" else unquote(group, errors="strict")


def layer_group(layer: str) -> str:
    """The group name of a layer (a layer called ``summary`` does not clash with ``/summary``)."""
    return group_name(layer, reserved=(SUMMARY_GROUP,))


def pair_path(layer: str, likelihood: str) -> str:
    """The group path ``/<layer>/<likelihood>`` of one pair in a fits file."""
    return f"/{layer_group(layer)}/{group_name(likelihood)}"


# --------------------------------------------------------------------------- encoding


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _float32_suffices(a: np.ndarray) -> bool:
    """Rounding to float32 moves no draw by more than FLOAT32_TOLERANCE of its sd over draws."""
    if a.ndim < 2 or a.size == 0:
        return False
    with np.errstate(over="ignore", invalid="ignore"):
        rounded = a.astype(np.float32)
        err = np.abs(rounded.astype(np.float64) - a)
        sd = np.std(a, axis=(0, 1))
    return bool(np.all(err <= FLOAT32_TOLERANCE * sd))  # NaN, inf and overflow keep float64


def _smallest_int(a: np.ndarray) -> np.dtype:
    if a.size == 0:
        return a.dtype
    low, high = int(a.min()), int(a.max())
    for candidate in (np.int8, np.int16, np.int32):
        info = np.iinfo(candidate)
        if info.min <= low and high <= info.max:
            return np.dtype(candidate)
    return a.dtype


def _encode(value: Any, *, exact: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
    """The array written for ``value`` and its attributes (see the module docstring)."""
    a = np.asarray(value)
    if a.dtype == np.bool_:
        return a.astype(np.int8), {"dtype": "bool"}  # xarray's own convention for booleans
    if exact:
        return a, {}
    if a.dtype == np.float64 and _float32_suffices(a):
        return a.astype(np.float32), {_SOURCE_DTYPE: "float64"}
    if np.issubdtype(a.dtype, np.signedinteger):
        small = _smallest_int(a)
        if small != a.dtype:
            return a.astype(small), {_SOURCE_DTYPE: str(a.dtype)}
    return a, {}


def _decode(variable: Any) -> np.ndarray:
    a = np.asarray(variable[()])
    attrs = variable.attrs
    if "dtype" in attrs and _text(attrs["dtype"]) == "bool":
        return a.astype(bool)
    if _SOURCE_DTYPE in attrs:
        return a.astype(np.dtype(_text(attrs[_SOURCE_DTYPE])))
    return a


# --------------------------------------------------------------------------- writing


def _is_pointwise(value: np.ndarray, n_obs: int) -> bool:
    return value.ndim == 3 and value.shape[2] == n_obs


def _groups(fit: Any, pointwise: bool) -> Iterator[tuple[str, dict[str, np.ndarray], bool]]:
    """``(group, variables, exact)`` of one pair, in the order they are written."""
    n_obs = int(np.asarray(fit.observed).size)
    posterior = {
        k: np.asarray(v)
        for k, v in fit.posterior.items()
        if pointwise or not _is_pointwise(np.asarray(v), n_obs)
    }
    yield "posterior", posterior, False
    yield "sample_stats", {k: np.asarray(v) for k, v in fit.sample_stats.items()}, False
    if pointwise:
        if fit.log_likelihood is None:
            raise ValueError(
                f"layer {fit.layer!r}, likelihood {fit.likelihood!r}: pointwise=True, but these "
                "fits hold no pointwise log-likelihood (they were read from a file written "
                "without it); refit, or write with pointwise=False."
            )
        yield "log_likelihood", {_OBS: np.asarray(fit.log_likelihood)}, False
    yield "observed_data", {_OBS: np.asarray(fit.observed, dtype=np.float64)}, True
    yield "constant_data", {k: np.float64(v) for k, v in fit.context.items()}, True


def _dims(name: str, value: np.ndarray, group: str, n_obs: int) -> tuple[str, ...]:
    if group == "constant_data":
        return ()
    if group == "observed_data":
        return (_OBS_DIM,)
    extra = tuple(
        _OBS_DIM if value.ndim == 3 and value.shape[2] == n_obs else f"{name}_dim_{k}"
        for k in range(value.ndim - 2)
    )
    return ("chain", "draw", *extra)


def _write_group(
    parent: Any,
    group: str,
    variables: Mapping[str, np.ndarray],
    exact: bool,
    n_obs: int,
) -> None:
    """One netCDF-4 group written with h5py: coordinate variables as HDF5 dimension scales."""
    node = parent.create_group(group, track_order=True)
    dims = {name: _dims(name, value, group, n_obs) for name, value in variables.items()}
    sizes: dict[str, int] = {}
    for name, value in variables.items():
        sizes.update(zip(dims[name], value.shape, strict=True))
    scales = {}
    for dim, size in sizes.items():
        options = _COMPRESSION if size >= _COMPRESS_FROM else {}
        scale = node.create_dataset(dim, data=np.arange(size, dtype=np.int32), **options)
        scale.make_scale(dim)
        scales[dim] = scale
    for name, value in variables.items():
        data, extra = _encode(value, exact=exact)
        options = _COMPRESSION if data.size >= _COMPRESS_FROM else {}
        var = node.create_dataset(name, data=data, **options)
        for axis, dim in enumerate(dims[name]):
            var.dims[axis].attach_scale(scales[dim])
        var.attrs.update(extra)


def _flat_attrs(fit: Any, status: str, reason: str) -> dict[str, Any]:
    """The attributes ArviZ readers see (scalars only), as LayerFit.to_inference_data sets them."""
    out: dict[str, Any] = {"layer": fit.layer, "likelihood": fit.likelihood}
    out.update(status=status, reason=reason, family=str(fit.attrs.get("family", "")))
    out.update({k: v for k, v in fit.attrs.items() if isinstance(v, int | float | str)})
    return out


_LOO_FIELDS = ("elpd_loo", "se", "p_loo", "pareto_k_max", "num_high_k", "weight", "rank")


def _comparison_dicts(comparisons: Any) -> dict[str, dict[str, Any]]:
    """family -> ``Comparison.to_dict()`` of one layer (Comparison objects or plain dicts)."""
    out = {}
    for family, comparison in dict(comparisons or {}).items():
        d = comparison.to_dict() if hasattr(comparison, "to_dict") else dict(comparison)
        out[str(family)] = json.loads(json.dumps(d, default=_jsonable))
    return out


def _loo_attrs(comparisons: Mapping[str, Mapping[str, Any]], likelihood: str) -> dict[str, Any]:
    for comparison in comparisons.values():
        for model in comparison.get("models", ()):
            if model.get("name") == likelihood:
                attrs = {f"loo_{k}": model[k] for k in _LOO_FIELDS if model.get(k) is not None}
                attrs["loo_weight_method"] = str(comparison.get("weight_method", ""))
                attrs["loo_reliable"] = int(bool(comparison.get("reliable", False)))
                return attrs
    return {}


def _root_attrs(fits: Any, status: list[list[str]], pointwise: bool) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "layers": json.dumps(list(fits.layers)),
        "likelihoods": json.dumps(list(fits.likelihoods)),
        "status": json.dumps(status),
        "settings": json.dumps({k: _jsonable(v) for k, v in fits.settings.items()}),
        "pointwise": int(bool(pointwise)),
    }


def _write_summary(summary: Any, path: Path) -> None:
    import xarray as xr

    attrs = {
        "rmtfit_attrs": json.dumps({k: _jsonable(v) for k, v in summary.attrs.items()}),
        "rmtfit_var_attrs": json.dumps(
            {name: dict(da.attrs) for name, da in summary.data_vars.items() if da.attrs}
        ),
    }
    plain = xr.Dataset(
        {name: (da.dims, np.asarray(da.values)) for name, da in summary.data_vars.items()},
        coords={name: np.asarray(c.values) for name, c in summary.coords.items()},
        attrs={
            **{k: v for k, v in summary.attrs.items() if isinstance(v, str | int | float)},
            **attrs,
        },
    )
    plain.to_netcdf(path, mode="w", group=SUMMARY_GROUP, engine=_ENGINE)


def write_fits(
    fits: Any,
    path: str | os.PathLike,
    *,
    pointwise: bool = False,
    loo: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """Write ``fits`` to ``path`` (the layout of the module docstring) atomically; return the path.

    ``pointwise`` also writes the pointwise log-likelihood and the per-eigenvalue derived draws;
    ``loo`` maps layer -> family -> the layer's comparison (an :class:`rmtfit.comparison.Comparison`
    or its ``to_dict()``), stored as each pair's LOO results.
    """
    import h5py

    loo = loo if loo is not None else {}
    status = [
        [layer, lik, fits.status(layer, lik), fits.reason(layer, lik)]
        for layer, lik in fits.pairs()
    ]
    with atomic_path(path) as temporary:
        # the summary first: xarray appending to a full file would scan all of it (a second)
        _write_summary(fits.summary, temporary)
        with h5py.File(temporary, "a", track_order=True, **_FILE_OPTIONS) as root:
            root.attrs.update(_root_attrs(fits, status, pointwise))
            for layer in fits.layers:
                fitted = [lik for lik in fits.likelihoods if fits.has(layer, lik)]
                comparisons = _comparison_dicts(loo.get(layer))
                if not fitted and not comparisons:
                    continue
                node = root.create_group(layer_group(layer), track_order=True)
                node.attrs.update(name=layer, comparison=json.dumps(comparisons))
                for lik in fitted:
                    _write_pair(node, fits, layer, lik, pointwise, comparisons)
    return Path(path)


def _write_pair(
    node: Any, fits: Any, layer: str, lik: str, pointwise: bool, comparisons: Any
) -> None:
    fit = fits[layer, lik]
    flat = _flat_attrs(fit, fits.status(layer, lik), fits.reason(layer, lik))
    pair = node.create_group(group_name(lik), track_order=True)
    meta = {
        "parameters": list(fit.parameters),
        "posterior_order": list(fit.posterior),
        "sample_stats_order": list(fit.sample_stats),
        "context": {str(c): float(v) for c, v in fit.context.items()},
        "attrs": {str(a): _jsonable(v) for a, v in fit.attrs.items()},
    }
    pair.attrs.update({**flat, **_loo_attrs(comparisons, lik), _META: json.dumps(meta)})
    n_obs = int(np.asarray(fit.observed).size)
    for group, variables, exact in _groups(fit, pointwise):
        _write_group(pair, group, variables, exact, n_obs)


# --------------------------------------------------------------------------- reading


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _check_format(root: Any, path: Path) -> None:
    found = _text(root.attrs["format"]) if "format" in root.attrs else None
    if found in OLD_FORMATS:
        raise ValueError(
            f"{path}: an rmtfit fits file of the old format {found!r} (a flat Dataset); this "
            f"rmtfit reads {FORMAT!r}. Re-run the analysis to rewrite it (`rmtfit analyze ... "
            "--out DIR`, adding --save-pointwise to keep pointwise log-likelihoods), or read it "
            "with the rmtfit version that wrote it."
        )
    if found != FORMAT:
        raise ValueError(
            f"{path}: not an rmtfit fits file: format attribute is {found!r}, expected "
            f"{FORMAT!r}; write one with Fits.to_netcdf."
        )


def _read_group(pair: Any, group: str, order: list[str] | None = None) -> dict[str, np.ndarray]:
    import h5py

    if group not in pair:
        return {}
    node = pair[group]
    names = [n for n in node if not h5py.h5ds.is_scale(node[n].id)]  # not the coordinates
    if order is not None:
        names = [n for n in order if n in names] + [n for n in names if n not in order]
    return {n: _decode(node[n]) for n in names}


def _read_pair(pair: Any, layer: str, lik: str) -> dict[str, Any]:
    meta = json.loads(_text(pair.attrs[_META]))
    log_likelihood = _read_group(pair, "log_likelihood").get(_OBS)
    return dict(
        layer=layer,
        likelihood=lik,
        posterior=_read_group(pair, "posterior", meta["posterior_order"]),
        parameters=tuple(meta["parameters"]),
        sample_stats=_read_group(pair, "sample_stats", meta["sample_stats_order"]),
        log_likelihood=log_likelihood,
        observed=_read_group(pair, "observed_data")[_OBS],
        context=meta["context"],
        attrs=meta["attrs"],
    )


def _read_summary(path: Path) -> Any:
    import xarray as xr

    with xr.open_dataset(path, group=SUMMARY_GROUP, engine=_ENGINE, mask_and_scale=False) as ds:
        ds.load()
        data = {name: (da.dims, da.values) for name, da in ds.data_vars.items()}
        coords = {name: ds.coords[name].values for name in ds.coords}
        out = xr.Dataset(data, coords=coords, attrs=json.loads(ds.attrs["rmtfit_attrs"]))
        var_attrs = json.loads(ds.attrs.get("rmtfit_var_attrs", "{}"))
    for name, attrs in var_attrs.items():
        out[name].attrs.update(attrs)
    for name in ("status", "reason"):
        if name in out:
            out[name] = out[name].astype(str)
    return out


def read_fits(path: str | os.PathLike) -> dict[str, Any]:
    """The parts of a :class:`~rmtfit.inference.Fits` stored by :func:`write_fits`.

    Plain values only (this module never imports the containers, which import it): ``pairs``
    maps ``(layer, likelihood)`` to the keyword arguments of a ``LayerFit`` (``log_likelihood``
    is ``None`` in a file written without ``pointwise``); ``status``, ``layers``,
    ``likelihoods``, ``summary`` and ``settings`` are the other arguments of ``Fits``, ``loo``
    maps layer -> family -> the stored comparison and ``pointwise`` says how it was written.
    :meth:`Fits.from_netcdf` assembles them.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; check the path.")
    try:
        root = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{path}: not an rmtfit fits file (not netCDF-4/HDF5: {exc}).") from None
    with root:
        _check_format(root, path)
        layers = json.loads(_text(root.attrs["layers"]))
        pairs, loo = {}, {}
        for layer in layers:
            node = root.get(layer_group(layer))
            if node is None:
                continue
            comparisons = json.loads(_text(node.attrs.get("comparison", "{}")))
            if comparisons:
                loo[layer] = comparisons
            for lik_group in node:
                lik = real_name(lik_group)
                pairs[(layer, lik)] = _read_pair(node[lik_group], layer, lik)
        status_rows = json.loads(_text(root.attrs["status"]))
        parts = {
            "pairs": pairs,
            "status": {(layer, lik): (s, reason) for layer, lik, s, reason in status_rows},
            "layers": layers,
            "likelihoods": json.loads(_text(root.attrs["likelihoods"])),
            "settings": json.loads(_text(root.attrs["settings"])),
            "loo": loo,
            "pointwise": bool(np.ravel(root.attrs.get("pointwise", 0))[0]),
        }
    parts["summary"] = _read_summary(path)
    return parts
