"""The likelihood zoo and the public extension API.

Two public modules make the extension API: :mod:`rmtfit.likelihoods.api` (declare a likelihood:
:class:`Parameter`, :class:`Roles`, :func:`likelihood`, the registry) and
:mod:`rmtfit.likelihoods.helpers` (the toolbox: contexts, validation, default priors).
Importing this package registers the built-in likelihoods, each written with those two modules
and :mod:`rmtfit.densities` only, so any built-in file can be copied as the start of a new one:

* full family (every eigenvalue of a layer): ``mp_spikes``, ``spliced_pl``, ``spliced_tpl``,
  ``spliced_mp``;
* tail family (the eigenvalues above the classical xmin): ``power_law``,
  ``truncated_power_law``, ``cutoff_power_law``, ``lognormal``, ``exponential``,
  ``stretched_exponential``, ``frechet_topk``.

:data:`DEFAULT_LIKELIHOODS` is what ``rmtfit analyze`` and ``rmtfit.fit`` fit by default, and
:func:`check_likelihood` runs any likelihood (a user's too) through the conformance checks.
"""

from rmtfit.likelihoods import (  # noqa: F401  (importing registers the built-ins)
    _alternatives,
    _frechet,
    _mp_spikes,
    _spliced,
    _tail_power_laws,
)
from rmtfit.likelihoods._check import (
    CheckResult,
    ConformanceError,
    ConformanceReport,
    check_likelihood,
)
from rmtfit.likelihoods.api import (
    FAMILIES,
    ROLE_FIELDS,
    ROLE_KINDS,
    Likelihood,
    Parameter,
    Roles,
    get_likelihood,
    likelihood,
    list_likelihoods,
    register,
)

BUILTIN_LIKELIHOODS: tuple[str, ...] = tuple(list_likelihoods())
"""Names of the built-in likelihoods (registered at import, before any user's)."""

DEFAULT_LIKELIHOODS: tuple[str, ...] = ("mp_spikes", "spliced_pl", "power_law")
"""Fitted by default: two full-spectrum models that the phase stage compares (an MP bulk with
spikes, and a log-normal bulk spliced to a power-law tail) and the tail power law with xmin fixed
at the classical value (exact conjugate posterior, no MCMC)."""

__all__ = [
    "BUILTIN_LIKELIHOODS",
    "DEFAULT_LIKELIHOODS",
    "FAMILIES",
    "ROLE_FIELDS",
    "ROLE_KINDS",
    "CheckResult",
    "ConformanceError",
    "ConformanceReport",
    "Likelihood",
    "Parameter",
    "Roles",
    "check_likelihood",
    "get_likelihood",
    "likelihood",
    "list_likelihoods",
    "register",
]
