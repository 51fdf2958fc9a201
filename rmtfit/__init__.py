"""rmtfit: Bayesian analysis of neural-network weight spectra.

The stages, in the order data flows through them and imports run (``docs/architecture.md``):
:mod:`rmtfit.common` (settings, progress bar, atomic writes) < :mod:`rmtfit.densities` (pure JAX
log-densities) < :mod:`rmtfit.spectra` (weights -> eigenvalues) < :mod:`rmtfit.classical` (point
estimates) < :mod:`rmtfit.likelihoods` (the model zoo and the extension API) <
:mod:`rmtfit.inference` (batched NumPyro NUTS) < :mod:`rmtfit.posterior` (reading fits by their
declared roles) < :mod:`rmtfit.comparison` (PSIS-LOO, stacking) < :mod:`rmtfit.phases` and
:mod:`rmtfit.network` (5+1 phases, network metrics) < :mod:`rmtfit.pipeline` (``analyze``, the
one place the stages are wired) < :mod:`rmtfit.report` (formats) < :mod:`rmtfit.cli` (the
command). Each imports only the ones before it.

This module is the public surface above them all. Public names are imported lazily so that
``import rmtfit`` stays fast and works without the optional extras (torch, pymc).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from rmtfit.common import __version__

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
    "Roles": "rmtfit.likelihoods",
    "likelihood": "rmtfit.likelihoods",
    "register": "rmtfit.likelihoods",
    "get_likelihood": "rmtfit.likelihoods",
    "list_likelihoods": "rmtfit.likelihoods",
    "check_likelihood": "rmtfit.likelihoods",
    "DEFAULT_LIKELIHOODS": "rmtfit.likelihoods",
    # inference
    "fit": "rmtfit.inference",
    "Fits": "rmtfit.inference",
    # comparison, phases, network
    "compare": "rmtfit.comparison",
    "compare_networks": "rmtfit.network",
    "network_metrics": "rmtfit.network",
    "phase_probabilities": "rmtfit.phases",
    "PHASES": "rmtfit.phases",
    # the main job and its report
    "Analysis": "rmtfit.pipeline",
    "write_outputs": "rmtfit.report",
    # figures for papers: draw into a matplotlib ax, return it
    "plot_esd": "rmtfit.report",
    "plot_alpha": "rmtfit.report",
    "plot_phases": "rmtfit.report",
}

__all__ = ["__version__", "analyze", *_EXPORTS]


def analyze(
    source: Any,
    *,
    out: str | Path | None = None,
    plots: bool = False,
    save_pointwise: bool = False,
    **options: Any,
) -> Any:
    """Analyse every weight matrix of a network and, with ``out``, write the report files.

    ``rmtfit.analyze(source, **options)`` is :func:`rmtfit.pipeline.analyze` (every option is
    documented there: ``fast``, ``layers``, ``likelihoods``, ``seed``, ``device``, ``draws``,
    ``chains``, ``quiet``, ``progress``, ``ci_prob``); with ``out`` the :class:`rmtfit.Analysis`
    is then written by :func:`rmtfit.write_outputs` (``report.json``, ``layers.csv``, ``fits.nc``,
    ``plots/`` with one PNG per layer when ``plots``, off by default: the page draws every ESD itself; ``report.html``), atomically, into that folder; ``save_pointwise``
    also stores the pointwise log-likelihoods in ``fits.nc`` (``rmtfit analyze --save-pointwise``).

    Returns
    -------
    Analysis
    """
    import time
    from dataclasses import replace

    from rmtfit.pipeline import analyze as run_pipeline
    from rmtfit.report import write_outputs

    if out is not None and options.get("client") is not None:
        # finished layers of a distributed run go next to the report (as with the CLI)
        options.setdefault("staging", Path(out) / "rmtfit-parts")
    analysis = run_pipeline(source, **options)
    if out is None:
        return analysis
    start = time.perf_counter()
    quiet = options.get("quiet", False) or not options.get("progress", True)
    write_outputs(analysis, out, plots=plots, progress=not quiet, save_pointwise=save_pointwise)
    return replace(analysis, timings={**analysis.timings, "write": time.perf_counter() - start})


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rmtfit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
