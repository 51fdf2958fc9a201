"""rmtfit: Bayesian analysis of neural-network weight spectra.

The stages (see DESIGN.md): :mod:`rmtfit.spectra` (weights -> eigenvalues),
:mod:`rmtfit.classical` (point estimates), :mod:`rmtfit.likelihoods` (the model zoo and the
extension API), :mod:`rmtfit.inference` (batched NumPyro NUTS), :mod:`rmtfit.compare` and
:mod:`rmtfit.phases` (model comparison, 5+1 phases), :mod:`rmtfit.report` (outputs).

Public names are imported lazily so that ``import rmtfit`` stays fast and works without the
optional extras (torch, pymc).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # spectra
    "Spectrum": "rmtfit.spectra",
    "Spectra": "rmtfit.spectra",
    "Skipped": "rmtfit.spectra",
    "load_spectra": "rmtfit.spectra",
    "spectral_metrics": "rmtfit.spectra",
    # classical
    "ClassicalFit": "rmtfit.classical",
    "fit_classical": "rmtfit.classical",
    # likelihoods: the extension API
    "Parameter": "rmtfit.likelihoods",
    "Likelihood": "rmtfit.likelihoods",
    "likelihood": "rmtfit.likelihoods",
    "register": "rmtfit.likelihoods",
    "get_likelihood": "rmtfit.likelihoods",
    "list_likelihoods": "rmtfit.likelihoods",
    "check_likelihood": "rmtfit.likelihoods",
    "DEFAULT_LIKELIHOODS": "rmtfit.likelihoods",
    # inference
    "fit": "rmtfit.inference",
    "Fits": "rmtfit.inference",
    # comparison and phases
    "compare": "rmtfit.compare",
    "compare_networks": "rmtfit.compare",
    "phase_probabilities": "rmtfit.phases",
    "PHASES": "rmtfit.phases",
    # the main job
    "analyze": "rmtfit.analysis",
    "Analysis": "rmtfit.analysis",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rmtfit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


# `compare` names both a submodule and a function. Importing the submodule (every later stage
# does) sets the package attribute `rmtfit.compare` to the module, which the lazy lookup above
# never sees, so `rmtfit.compare(...)` would fail with "'module' object is not callable" after
# `rmtfit.analyze(...)`. Bind the function now (rmtfit.compare imports only numpy at the top).
from rmtfit.compare import compare, compare_networks  # noqa: E402, F401
