"""The ArviZ calls of :mod:`rmtfit.compare` (private; to be merged into ``rmtfit._arviz``).

Only this module talks to ArviZ for model comparison, so that an ArviZ upgrade touches one file.
It returns plain numpy arrays: :mod:`rmtfit.compare` does the rest (differences, weights,
diagnostics) with small pure functions.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["PointwiseLoo", "loo_pointwise", "observed_values"]


@dataclass(frozen=True)
class PointwiseLoo:
    """PSIS-LOO of one InferenceData, observation by observation.

    ``elpd_i`` are the leave-one-out log predictive densities, ``lppd_i`` the in-sample log
    predictive densities (so ``p_loo = sum(lppd_i - elpd_i)``), ``pareto_k`` the estimated
    Pareto shapes and ``good_k`` the ArviZ reliability threshold ``min(1 - 1/log10(S), 0.7)``
    for ``S = num_draws`` posterior draws.
    """

    elpd_i: np.ndarray
    lppd_i: np.ndarray
    pareto_k: np.ndarray
    good_k: float
    num_draws: int


def loo_pointwise(idata: Any, var_name: str) -> PointwiseLoo:
    """PSIS-LOO with ``arviz.loo(..., pointwise=True)``; ArviZ's high-k warning is silenced.

    The caller (:func:`rmtfit.compare.compare`) reports high Pareto k itself, per layer and
    likelihood, so the anonymous ArviZ warning is suppressed here and nowhere else.
    """
    import arviz as az

    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message="Estimated shape parameter of Pareto distribution",
            category=UserWarning,
        )
        result = az.loo(idata, pointwise=True, var_name=var_name)
    log_lik = np.asarray(idata.log_likelihood[var_name].values, dtype=np.float64)
    num_draws = int(log_lik.shape[0] * log_lik.shape[1])
    flat = log_lik.reshape(num_draws, -1)
    lppd_i = _logsumexp_rows(flat) - np.log(num_draws)
    pareto_k = np.asarray(result.pareto_k.values, dtype=np.float64).ravel()
    # a log-likelihood that is the same in every draw gives equal importance weights: the PSIS term
    # is then exact, but the Pareto fit of constant ratios returns k = inf
    pareto_k = np.where(np.ptp(flat, axis=0) == 0.0, 0.0, pareto_k)
    return PointwiseLoo(
        elpd_i=np.asarray(result.loo_i.values, dtype=np.float64).ravel(),
        lppd_i=lppd_i,
        pareto_k=pareto_k,
        good_k=float(result.good_k),
        num_draws=num_draws,
    )


def observed_values(idata: Any, var_name: str) -> np.ndarray | None:
    """The observed data of ``var_name`` (or of the only observed variable) as float64, or None."""
    group = getattr(idata, "observed_data", None)
    if group is None:
        return None
    names = list(group.data_vars)
    if var_name in names:
        return np.asarray(group[var_name].values, dtype=np.float64).ravel()
    if len(names) == 1:
        return np.asarray(group[names[0]].values, dtype=np.float64).ravel()
    return None


def _logsumexp_rows(values: np.ndarray) -> np.ndarray:
    top = np.max(values, axis=0)
    top = np.where(np.isfinite(top), top, 0.0)
    return top + np.log(np.sum(np.exp(values - top), axis=0))
