"""The containers of the spectra stage: :class:`Spectrum`, :class:`Spectra`, :class:`Skipped`.

Conventions (see DESIGN.md, "Conventions of the spectrum"): a weight matrix W is oriented N x M
with N >= M, Q = N / M >= 1, and the eigenvalues are the squared singular values of W, with no
1/N factor, stored ascending in float64.

netCDF storage (exact round trip, atomic writes).

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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rmtfit.common import atomic_path

__all__ = ["Spectrum", "Spectra", "Skipped", "save_spectra", "read_spectra"]

LAYER_KINDS = (
    "linear",
    "conv1d",
    "conv2d",
    "conv_slice",
    "embedding",
    "conv1d_gpt2",
    "qkv",
    "matrix",
)


@dataclass(frozen=True, eq=False)
class Spectrum:
    """The eigenvalue spectrum of one weight matrix (or of a pooled set of conv slices).

    Parameters
    ----------
    name
        Layer name as found in the checkpoint (for example ``encoder.layer.0.attention.self.query.weight``).
    kind
        One of ``linear``, ``conv1d``, ``conv2d``, ``conv_slice``, ``embedding``, ``conv1d_gpt2``,
        ``qkv`` or ``matrix`` (a bare array given by the user).
    N, M
        The matrix shape after orienting it so that ``N >= M``. For pooled conv spectra, the
        shape of one slice.
    eigenvalues
        Ascending float64 eigenvalues, the squared singular values of W (no 1/N factor). A pooled
        conv spectrum holds ``kh * kw * M`` of them.
    scaling
        Factor the weights were multiplied by before the eigenvalues were taken (1.0 unless an
        option asked for a rescaling); recorded so results can be mapped back.
    source
        Where the weights came from (file path, ``"<module>"``, ``"<mapping>"``).
    num_slices
        Number of matrices pooled into this spectrum (``kh * kw`` for a pooled conv layer, else 1).
    """

    name: str
    kind: str
    N: int
    M: int
    eigenvalues: np.ndarray
    scaling: float = 1.0
    source: str = ""
    num_slices: int = 1

    def __post_init__(self) -> None:
        evals = np.asarray(self.eigenvalues, dtype=np.float64)
        if evals.ndim != 1:
            raise ValueError(
                f"Spectrum {self.name!r}: eigenvalues must be 1-D, got shape {evals.shape}."
            )
        if self.N < self.M:
            raise ValueError(
                f"Spectrum {self.name!r}: N={self.N} < M={self.M}; orient the matrix so N >= M."
            )
        if evals.size and np.any(np.diff(evals) < 0):
            evals = np.sort(evals)
        evals = evals.copy()
        evals.setflags(write=False)
        object.__setattr__(self, "eigenvalues", evals)

    @property
    def Q(self) -> float:  # noqa: N802 - the papers' name
        """Aspect ratio N / M (>= 1)."""
        return self.N / self.M

    @property
    def num_evals(self) -> int:
        """Number of eigenvalues held."""
        return int(self.eigenvalues.size)

    @property
    def lambda_max(self) -> float:
        """Largest eigenvalue (NaN for an empty spectrum)."""
        return float(self.eigenvalues[-1]) if self.eigenvalues.size else float("nan")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Spectrum):
            return NotImplemented
        return (
            self.name,
            self.kind,
            self.N,
            self.M,
            self.scaling,
            self.source,
            self.num_slices,
        ) == (
            other.name,
            other.kind,
            other.N,
            other.M,
            other.scaling,
            other.source,
            other.num_slices,
        ) and np.array_equal(self.eigenvalues, other.eigenvalues)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Spectrum(name={self.name!r}, kind={self.kind!r}, N={self.N}, M={self.M}, "
            f"Q={self.Q:.3g}, num_evals={self.num_evals}, lambda_max={self.lambda_max:.4g})"
        )


@dataclass(frozen=True)
class Skipped:
    """A tensor that was not analysed, with the reason (nothing is skipped silently)."""

    name: str
    shape: tuple[int, ...]
    reason: str
    failed: bool = False
    """True when the tensor should have been analysed but could not be (NaN, bad dtype, ...)."""


@dataclass(frozen=True)
class Spectra(Sequence[Spectrum]):
    """An ordered collection of :class:`Spectrum`, plus the tensors that were not analysed.

    ``skipped`` lists tensors left out by the layer rules (biases, norms, filtered by name or size);
    entries with ``failed=True`` are layers that should have been analysed but could not be.
    """

    spectra: tuple[Spectrum, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    source: str = ""
    meta: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        names = [s.name for s in self.spectra]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"Spectra: duplicate layer names {dup}; layer names must be unique.")
        object.__setattr__(self, "spectra", tuple(self.spectra))
        object.__setattr__(self, "skipped", tuple(self.skipped))

    def __len__(self) -> int:
        return len(self.spectra)

    def __iter__(self) -> Iterator[Spectrum]:
        return iter(self.spectra)

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            for s in self.spectra:
                if s.name == key:
                    return s
            raise KeyError(f"no layer named {key!r}; layers are {self.names}")
        return self.spectra[key]

    @property
    def names(self) -> list[str]:
        """Layer names in order."""
        return [s.name for s in self.spectra]

    @property
    def failed(self) -> tuple[Skipped, ...]:
        """Layers that should have been analysed but failed, with reasons."""
        return tuple(s for s in self.skipped if s.failed)

    def to_xarray(self):
        """The spectra as an ``xarray.Dataset`` (coordinate ``layer``; NaN-padded ``eigenvalues``).

        See the module docstring for the layout.
        """
        return _to_xarray(self)

    @classmethod
    def from_xarray(cls, ds) -> Spectra:
        """Rebuild spectra from a Dataset made by :meth:`to_xarray`."""
        return _from_xarray(ds)

    def to_netcdf(self, path):
        """Write the spectra to a netCDF file, atomically (temp file + ``os.replace``)."""
        return save_spectra(self, path)

    @classmethod
    def from_netcdf(cls, path) -> Spectra:
        """Read spectra written by :meth:`to_netcdf`; they compare equal to the ones written."""
        return read_spectra(path)

    def __repr__(self) -> str:
        return (
            f"Spectra({len(self.spectra)} layers, {len(self.skipped)} tensors not analysed"
            f" ({len(self.failed)} failed), source={self.source!r})"
        )


# --- netCDF storage ----------------------------------------------------------------------


FORMAT = "rmtfit-spectra-1"
_ENGINE = "h5netcdf"


def _to_xarray(spectra: Spectra) -> Any:
    """The :class:`Spectra` as an ``xarray.Dataset`` (layout in the module docstring)."""
    import xarray as xr

    from rmtfit.common import __version__

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


def _from_xarray(ds: Any) -> Spectra:
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
    ds = _to_xarray(spectra)
    with atomic_path(path) as temporary:
        ds.to_netcdf(temporary, engine=_ENGINE)
    return Path(path)


def read_spectra(path: str | os.PathLike) -> Spectra:
    """Read a :class:`Spectra` written by :func:`save_spectra`."""
    import xarray as xr

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; check the path.")
    try:
        with xr.open_dataset(path, engine=_ENGINE) as ds:
            ds.load()
            return _from_xarray(ds)
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"{path}: not an rmtfit spectra netCDF file ({exc}); write one with "
            "`rmtfit spectra CHECKPOINT --out FILE.nc`."
        ) from None
