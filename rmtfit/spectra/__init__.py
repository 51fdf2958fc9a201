"""Weights -> eigenvalue spectra.

>>> import rmtfit.spectra as rs
>>> spectra = rs.load_spectra(rs.default_network_path())
>>> spectra["classifier.0.weight"].eigenvalues[-1] > 0
np.True_

:func:`load_spectra` reads a checkpoint tensor by tensor (:mod:`~rmtfit.spectra.sources`),
decides which tensors are weight matrices (:mod:`~rmtfit.spectra.layers`) and computes their
eigenvalues in float64, batched by shape (:mod:`~rmtfit.spectra.eigen`). The result, a
:class:`Spectra`, saves to and loads from netCDF exactly (:meth:`Spectra.to_netcdf`,
:meth:`Spectra.from_netcdf`, :func:`save_spectra`; :func:`load_spectra` also reads ``.nc`` files).
:func:`spectral_metrics` gives the HT-SR scalar metrics of one spectrum.
"""

from rmtfit.spectra._load import LayerPlanList, default_network_path, load_spectra, plan_layers
from rmtfit.spectra._types import Skipped, Spectra, Spectrum, save_spectra
from rmtfit.spectra.eigen import eigenvalues
from rmtfit.spectra.metrics import SpectralMetrics, numerically_zero, spectral_metrics

__all__ = [
    "LayerPlanList",
    "Skipped",
    "Spectra",
    "Spectrum",
    "SpectralMetrics",
    "default_network_path",
    "eigenvalues",
    "load_spectra",
    "numerically_zero",
    "plan_layers",
    "save_spectra",
    "spectral_metrics",
]
