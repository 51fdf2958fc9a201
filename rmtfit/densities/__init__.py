"""Pure ``jax.numpy`` log-densities, CDFs, samplers and special functions (float64).

Every function here is a pure function of arrays: no I/O, no global state. Log-densities are
differentiable in their parameters and jit/vmap-able; samplers take an explicit PRNG key.
The likelihoods in :mod:`rmtfit.likelihoods` assemble these pieces.
"""

from rmtfit.densities._alternatives import (
    exponential_cdf,
    exponential_logpdf,
    exponential_logsf,
    exponential_sample,
    lognormal_cdf,
    lognormal_logpdf,
    lognormal_logsf,
    lognormal_sample,
    stretched_exponential_cdf,
    stretched_exponential_logpdf,
    stretched_exponential_logsf,
    stretched_exponential_sample,
)
from rmtfit.densities._powerlaw import (
    cutoff_power_law_cdf,
    cutoff_power_law_logpdf,
    cutoff_power_law_logsf,
    cutoff_power_law_sample,
    power_law_cdf,
    power_law_logpdf,
    power_law_logsf,
    power_law_sample,
    truncated_power_law_cdf,
    truncated_power_law_logpdf,
    truncated_power_law_sample,
)
from rmtfit.densities._quadrature import bisect_increasing, gauss_legendre_panels, integrate
from rmtfit.densities._special import (
    exprel,
    lgamma1p,
    log1mexp,
    log_exprel,
    log_softplus,
    log_upper_gamma,
    log_upper_gamma_scaled,
    upper_gamma,
)

__all__ = [
    "bisect_increasing",
    "cutoff_power_law_cdf",
    "cutoff_power_law_logpdf",
    "cutoff_power_law_logsf",
    "cutoff_power_law_sample",
    "exponential_cdf",
    "exponential_logpdf",
    "exponential_logsf",
    "exponential_sample",
    "exprel",
    "gauss_legendre_panels",
    "integrate",
    "lgamma1p",
    "log1mexp",
    "log_exprel",
    "log_softplus",
    "log_upper_gamma",
    "log_upper_gamma_scaled",
    "lognormal_cdf",
    "lognormal_logpdf",
    "lognormal_logsf",
    "lognormal_sample",
    "power_law_cdf",
    "power_law_logpdf",
    "power_law_logsf",
    "power_law_sample",
    "stretched_exponential_cdf",
    "stretched_exponential_logpdf",
    "stretched_exponential_logsf",
    "stretched_exponential_sample",
    "truncated_power_law_cdf",
    "truncated_power_law_logpdf",
    "truncated_power_law_sample",
    "upper_gamma",
]
