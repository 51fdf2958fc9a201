"""Model comparison: PSIS-LOO, elpd differences and stacking weights, per layer.

:func:`compare` compares the likelihoods of one family fitted to the same observations of one
layer (see :mod:`rmtfit.comparison._compare` for the method); the weight functions
(:func:`stacking_weights`, :func:`pseudo_bma_weights`, :func:`pseudo_bma_plus_weights`) work on
a plain ``(observations, models)`` matrix of pointwise elpd values. The ArviZ calls live in
:mod:`rmtfit.inference.arviz_adapter`.
"""

from rmtfit.comparison._compare import (
    METHODS,
    Comparison,
    HighParetoKWarning,
    ModelScore,
    compare,
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
    "compare",
    "model_weights",
    "pseudo_bma_plus_weights",
    "pseudo_bma_weights",
    "stacking_weights",
]
