"""The pipeline: the one place where the stages are wired together.

:func:`analyze` reads a network's spectra (:mod:`rmtfit.spectra`), computes their metrics and
classical fits (:mod:`rmtfit.classical`) and, in full mode, fits the likelihoods
(:mod:`rmtfit.inference`), compares them (:mod:`rmtfit.comparison`), assigns phases
(:mod:`rmtfit.phases`) and summarises the network (:mod:`rmtfit.network`). It returns an
:class:`Analysis`, defined here where it is built; :mod:`rmtfit.report` reads it and writes the
files. The pipeline never imports the report or the command line (``docs/architecture.md``).
"""

from rmtfit.pipeline._analyze import analyze
from rmtfit.pipeline._results import LAYER_STATUSES, Analysis, Estimate, LayerResult, Predictive

__all__ = ["analyze", "Analysis", "Estimate", "LayerResult", "Predictive", "LAYER_STATUSES"]
