"""The containers of the spectra stage: :class:`Spectrum`, :class:`Spectra`, :class:`Skipped`.

Conventions (see DESIGN.md, "Conventions of the spectrum"): a weight matrix W is oriented N x M
with N >= M, Q = N / M >= 1, and the eigenvalues are the squared singular values of W, with no
1/N factor, stored ascending in float64.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Spectrum", "Spectra", "Skipped"]

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

        See :mod:`rmtfit.spectra._netcdf` for the layout.
        """
        from rmtfit.spectra._netcdf import to_xarray

        return to_xarray(self)

    @classmethod
    def from_xarray(cls, ds) -> Spectra:
        """Rebuild spectra from a Dataset made by :meth:`to_xarray`."""
        from rmtfit.spectra._netcdf import from_xarray

        return from_xarray(ds)

    def to_netcdf(self, path):
        """Write the spectra to a netCDF file, atomically (temp file + ``os.replace``)."""
        from rmtfit.spectra._netcdf import save_spectra

        return save_spectra(self, path)

    @classmethod
    def from_netcdf(cls, path) -> Spectra:
        """Read spectra written by :meth:`to_netcdf`; they compare equal to the ones written."""
        from rmtfit.spectra._netcdf import read_spectra

        return read_spectra(path)

    def __repr__(self) -> str:
        return (
            f"Spectra({len(self.spectra)} layers, {len(self.skipped)} tensors not analysed"
            f" ({len(self.failed)} failed), source={self.source!r})"
        )
