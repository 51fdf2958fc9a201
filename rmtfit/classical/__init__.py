"""Classical point estimators: Clauset power law, Hill, tail alternatives, LR tests, MP bulk.

:func:`fit_classical` runs them all on one :class:`rmtfit.Spectrum` and returns a frozen
:class:`ClassicalFit`; the building blocks work on plain arrays. Every edge, xmin and threshold
is in raw eigenvalue units (squared singular values, no 1/N).
"""

from rmtfit.classical._bootstrap import BootstrapGof, bootstrap_gof, sample_power_law
from rmtfit.classical._fit import fit_classical
from rmtfit.classical._lrtest import LRTest, nested_lr_test, vuong_test
from rmtfit.classical._mp import (
    MPFit,
    bbp_threshold,
    fit_mp,
    gavish_donoho_lambda,
    gavish_donoho_sigma2,
    mp_cdf,
    mp_edges,
    mp_median,
    mp_quantile,
    rank_collapse,
    spike_location,
    spike_strength,
    tracy_widom_quantile,
    tracy_widom_scale,
)
from rmtfit.classical._powerlaw import PowerLawFit, fit_power_law, hill_estimator, power_law_logpdf
from rmtfit.classical._result import ClassicalFit
from rmtfit.classical._scan import ks_distance
from rmtfit.classical._tails import (
    TailFit,
    fit_cutoff_power_law,
    fit_exponential,
    fit_lognormal,
    fit_stretched_exponential,
    fit_tail_power_law,
    fit_truncated_power_law,
    log_exp_integral,
)

__all__ = [
    "ClassicalFit",
    "fit_classical",
    # power law
    "PowerLawFit",
    "fit_power_law",
    "hill_estimator",
    "power_law_logpdf",
    "ks_distance",
    "BootstrapGof",
    "bootstrap_gof",
    "sample_power_law",
    # tails and tests
    "TailFit",
    "fit_tail_power_law",
    "fit_truncated_power_law",
    "fit_cutoff_power_law",
    "fit_lognormal",
    "fit_exponential",
    "fit_stretched_exponential",
    "log_exp_integral",
    "LRTest",
    "vuong_test",
    "nested_lr_test",
    # Marchenko-Pastur
    "MPFit",
    "fit_mp",
    "mp_cdf",
    "mp_quantile",
    "mp_median",
    "mp_edges",
    "gavish_donoho_lambda",
    "gavish_donoho_sigma2",
    "tracy_widom_scale",
    "tracy_widom_quantile",
    "bbp_threshold",
    "spike_location",
    "spike_strength",
    "rank_collapse",
]
