"""Reading fitted posteriors by what they mean, not by what they are called.

The stage between :mod:`rmtfit.inference` (which produces one ``InferenceData`` per layer and
likelihood) and the stages that read them (:mod:`rmtfit.comparison`, :mod:`rmtfit.phases`,
:mod:`rmtfit.network`, the pipeline). It holds:

- :class:`LayerPosteriors` and :func:`layer_posteriors`: every usable fit of one layer, as plain
  values;
- :func:`likelihood_family` and :func:`likelihood_roles`: what a likelihood explains (``full`` or
  ``tail``) and what its variables mean (:class:`rmtfit.Roles`), read from the likelihood's own
  declaration (or, for fits read back from a file, the attributes the sampler stored), never from
  a table of built-in names, so a user's likelihood reaches every output as a built-in does;
- :func:`posterior_draws` and :func:`role_draws`: the draws of one variable, or of one role such
  as the tail exponent, flattened over chains; :func:`preferred_likelihoods`: the one rule for
  which fit a single-valued output (the report's alpha column, a layer's alpha in the network
  metrics) is read from.
"""

from rmtfit.posterior._layers import (
    LOG_LIKELIHOOD_VARIABLE,
    USABLE_STATUSES,
    LayerPosteriors,
    fits_layers,
    layer_posteriors,
    likelihood_family,
    likelihood_roles,
    posterior_draws,
    preferred_likelihoods,
    role_draws,
    usable_likelihoods,
)

__all__ = [
    "LOG_LIKELIHOOD_VARIABLE",
    "USABLE_STATUSES",
    "LayerPosteriors",
    "layer_posteriors",
    "likelihood_family",
    "likelihood_roles",
    "posterior_draws",
    "preferred_likelihoods",
    "role_draws",
    "usable_likelihoods",
    "fits_layers",
]
