"""The likelihood zoo and the public extension API (see :mod:`rmtfit.likelihoods._api`)."""

from rmtfit.likelihoods._api import (
    FAMILIES,
    Likelihood,
    Parameter,
    get_likelihood,
    likelihood,
    list_likelihoods,
    register,
)

__all__ = [
    "FAMILIES",
    "Likelihood",
    "Parameter",
    "get_likelihood",
    "likelihood",
    "list_likelihoods",
    "register",
]
