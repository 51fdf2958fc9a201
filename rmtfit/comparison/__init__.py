"""Model comparison: PSIS-LOO, elpd differences and stacking weights, per layer.

:func:`compare` compares the likelihoods of one family fitted to the same observations of one
layer (see :mod:`rmtfit.comparison._compare` for the method); the weight functions
(:func:`stacking_weights`, :func:`pseudo_bma_weights`, :func:`pseudo_bma_plus_weights`) work on
a plain ``(observations, models)`` matrix of pointwise elpd values. :func:`psis_loo` is PSIS-LOO
on a ``(chain, draw, observations)`` array of pointwise log-likelihoods, every observation at once
(ArviZ's algorithm, numpy only; :func:`relative_efficiency` gives ArviZ's ``r_eff`` of a
posterior). The ArviZ calls live in :mod:`rmtfit.inference.arviz_adapter`.
"""

from rmtfit.comparison._compare import (
    METHODS,
    Comparison,
    HighParetoKWarning,
    ModelScore,
    compare,
)
from rmtfit.comparison._psis import (
    PsisLoo,
    good_k_threshold,
    psis_log_weights,
    psis_loo,
    relative_efficiency,
    tail_length,
)
from rmtfit.comparison._weights import (
    BOOTSTRAP_SAMPLES,
    model_weights,
    pseudo_bma_plus_weights,
    pseudo_bma_weights,
    stacking_weights,
)

__all__ = [
    "BOOTSTRAP_SAMPLES",
    "METHODS",
    "Comparison",
    "HighParetoKWarning",
    "ModelScore",
    "PsisLoo",
    "compare",
    "good_k_threshold",
    "psis_log_weights",
    "psis_loo",
    "relative_efficiency",
    "tail_length",
    "model_weights",
    "pseudo_bma_plus_weights",
    "pseudo_bma_weights",
    "stacking_weights",
]
