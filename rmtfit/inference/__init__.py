"""Bayesian inference: batched NumPyro NUTS over every (layer, likelihood) pair.

Three levels (STYLE.md, principle 4):

* :func:`log_density` - the joint log density of one layer on an unconstrained vector;
* :func:`numpyro_model` - a declared likelihood as an ordinary NumPyro model;
* :func:`fit` - every layer of a network, batched by padded size bucket, with enforced
  convergence diagnostics, returning :class:`Fits`.

Also here: :func:`predictive_draws` (posterior predictive spectra of many layers with one
compiled sampler) and :mod:`rmtfit.inference.arviz_adapter`, the one module of rmtfit that calls
ArviZ (diagnostics, InferenceData, PSIS-LOO).
"""

from rmtfit.inference._diagnostics import ESS_BULK_MIN, RHAT_MAX, DiagnosticsWarning
from rmtfit.inference._engine import FitFailedWarning, fit
from rmtfit.inference._fits import STATUSES, Fits, LayerFit
from rmtfit.inference._model import log_density, numpyro_model
from rmtfit.inference._nuts import cache_dir
from rmtfit.inference.predictive import predictive_draws

__all__ = [
    "ESS_BULK_MIN",
    "RHAT_MAX",
    "STATUSES",
    "DiagnosticsWarning",
    "FitFailedWarning",
    "Fits",
    "LayerFit",
    "cache_dir",
    "fit",
    "log_density",
    "numpyro_model",
    "predictive_draws",
]
