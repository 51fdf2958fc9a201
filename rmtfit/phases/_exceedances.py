"""Which model speaks for a layer's phase: the eigenvalues above the shared MP edge decide.

The phase hypotheses differ only in what lies above the bulk: nothing (Random-like), a few
separated spikes (Bulk+Spikes), a continuum of outliers or a power-law tail (Bulk-decay,
Heavy-tailed). A leave-one-out comparison over *every* eigenvalue is decided by the bulk, where
most eigenvalues are (an MP bulk against a log-normal one), so the phase weights are computed
from the eigenvalues above one threshold shared by every model: the posterior median ``t`` of
the MP edge ``lambda_+`` of the MP-kind fit. This is the peaks-over-threshold comparison of
extreme-value statistics (Davison & Smith 1990; Coles 2001, ch. 4): each model is scored by its
*conditional* leave-one-out predictive density of each exceedance,

.. math:: \\operatorname{elpd}_{k,i} = \\log \\int p_k(x_i \\mid \\theta)\\,/\\,S_k(t \\mid \\theta)
          \\; p_k(\\theta \\mid x_{-i})\\, d\\theta, \\qquad x_i > t,

with ``S_k(t | theta) = 1 - F_k(t | theta)`` from the likelihood's ``cdf``, estimated by PSIS
with the full-data ratios ``1 / p_k(x_i | theta)`` (Vehtari, Gelman & Gabry 2017) and turned
into stacking weights (Yao et al. 2018). The bulk, which every model fits in its own way,
cancels out of the conditional density. Derivation: ``docs/derivations/exceedance_weights.md``.

With no eigenvalue above ``t`` there is no tail to compare: the MP-kind fit alone describes the
layer (a tail-kind model's alpha then describes the upper part of the bulk, not a tail), and the
weights go to the MP-kind models in the proportion of their full-data weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from rmtfit.comparison import psis_log_weights, stacking_weights
from rmtfit.posterior import LOG_LIKELIHOOD_VARIABLE, posterior_draws

__all__ = ["exceedance_weights", "ExceedanceWeights"]


class ExceedanceWeights:
    """The phase weights of one layer and how they were found."""

    def __init__(
        self,
        weights: Mapping[str, float],
        threshold: float,
        num_exceedances: int,
        elpd: Mapping[str, float],
        note: str,
    ) -> None:
        self.weights = dict(weights)
        self.threshold = float(threshold)
        self.num_exceedances = int(num_exceedances)
        self.elpd = dict(elpd)
        self.note = note


def exceedance_weights(
    full: Mapping[str, Any],
    kinds: Mapping[str, str],
    full_weights: Mapping[str, float],
    lambda_plus: Mapping[str, np.ndarray],
    likelihoods: Mapping[str, Any],
    layer: str,
) -> ExceedanceWeights:
    """Stacking weights of the ``full`` fits on the eigenvalues above the shared MP edge.

    Parameters
    ----------
    full
        Likelihood name -> ``InferenceData`` (posterior, log_likelihood, observed_data,
        constant_data) of the layer's full-spectrum fits.
    kinds
        Likelihood name -> role kind (``mp``, ``tail``).
    full_weights
        The full-data comparison weights (they order the MP-kind fits and split the weight
        between them when nothing lies above the edge).
    lambda_plus
        MP-kind likelihood name -> its per-draw MP edge (raw eigenvalue units).
    likelihoods
        Likelihood name -> :class:`rmtfit.Likelihood` (its ``cdf`` gives ``S_k(t)``).
    layer
        For messages.

    Raises
    ------
    ValueError
        When a fit lacks what the comparison needs (pointwise log-likelihood, observations, a
        ``cdf``); the caller falls back to the full-data weights with a note.
    """
    mp_names = sorted(lambda_plus, key=lambda n: -full_weights.get(n, 0.0))
    if not mp_names:
        raise ValueError(f"layer {layer!r}: no MP-kind fit gives the shared edge")
    threshold = float(np.median(lambda_plus[mp_names[0]]))
    observed = {name: _observed(idata, name, layer) for name, idata in full.items()}
    names = list(full)
    x = observed[names[0]]
    for name in names[1:]:
        if observed[name].shape != x.shape or not np.allclose(
            observed[name], x, rtol=1e-12, atol=0.0
        ):
            raise ValueError(
                f"layer {layer!r}: {names[0]!r} and {name!r} explain different eigenvalues; "
                "the exceedance comparison needs the same observations"
            )
    above = x > threshold
    count = int(np.sum(above))
    if count == 0:
        mp_total = sum(full_weights.get(n, 0.0) for n in mp_names)
        weights = {
            n: (full_weights.get(n, 0.0) / mp_total if mp_total > 0 else 1.0 / len(mp_names))
            if n in lambda_plus
            else 0.0
            for n in names
        }
        note = (
            f"no eigenvalue above the MP edge {threshold:.4g}: the MP-kind fit describes the "
            "layer (weights to the MP-kind models)"
        )
        return ExceedanceWeights(weights, threshold, 0, {}, note)
    columns = []
    for name in names:
        columns.append(
            _conditional_elpd(full[name], likelihoods[name], x, above, threshold, name, layer)
        )
    matrix = np.stack(columns, axis=1)
    stacked = stacking_weights(matrix)
    weights = {n: float(w) for n, w in zip(names, stacked, strict=True)}
    elpd = {n: float(np.sum(c)) for n, c in zip(names, columns, strict=True)}
    note = (
        f"phase weights by stacking on the {count} eigenvalues above the MP edge {threshold:.4g} "
        "(conditional leave-one-out densities)"
    )
    return ExceedanceWeights(weights, threshold, count, elpd, note)


def _observed(idata: Any, name: str, layer: str) -> np.ndarray:
    group = getattr(idata, "observed_data", None)
    if group is None or "obs" not in getattr(group, "data_vars", {}):
        raise ValueError(f"layer {layer!r}: the fit of {name!r} has no observed_data['obs']")
    return np.asarray(group["obs"].values, dtype=np.float64).ravel()


def _conditional_elpd(
    idata: Any,
    lik: Any,
    x: np.ndarray,
    above: np.ndarray,
    threshold: float,
    name: str,
    layer: str,
) -> np.ndarray:
    """PSIS-LOO estimate of ``log p_k(x_i | x_i > t, x_{-i})`` for each exceedance."""
    group = getattr(idata, "log_likelihood", None)
    if group is None or LOG_LIKELIHOOD_VARIABLE not in getattr(group, "data_vars", {}):
        raise ValueError(
            f"layer {layer!r}: the fit of {name!r} has no pointwise log-likelihood "
            "(a fits.nc written without --save-pointwise)"
        )
    if lik is None or lik.cdf is None:
        raise ValueError(f"layer {layer!r}: likelihood {name!r} declares no cdf")
    loglik = np.asarray(group[LOG_LIKELIHOOD_VARIABLE].values, dtype=np.float64)
    loglik = loglik.reshape(-1, loglik.shape[-1])[:, above]
    log_sf = _log_survival(idata, lik, threshold, name, layer)
    log_w, _ = psis_log_weights(-loglik)
    conditional = loglik - log_sf[:, None]
    total = log_w + conditional
    peak = np.max(total, axis=0)
    return peak + np.log(np.sum(np.exp(total - peak), axis=0))


def _log_survival(idata: Any, lik: Any, threshold: float, name: str, layer: str) -> np.ndarray:
    """``log S_k(t | theta_s)`` per posterior draw, from the likelihood's ``cdf``."""
    import jax.numpy as jnp

    params = {}
    for p in lik.parameters:
        draws = posterior_draws(idata, p.name)
        if draws is None:
            raise ValueError(f"layer {layer!r}: the fit of {name!r} has no draws of {p.name!r}")
        params[p.name] = jnp.asarray(np.asarray(draws, dtype=np.float64).ravel())
    constants = getattr(idata, "constant_data", None)
    context = {}
    for k in getattr(constants, "data_vars", {}):
        value = np.asarray(constants[k].values, dtype=np.float64)
        if value.size != 1:  # ArviZ's from_dict stores a scalar with a length-1 axis
            raise ValueError(
                f"layer {layer!r}: the fit of {name!r} has constant_data[{str(k)!r}] of shape "
                f"{value.shape}; a likelihood's constants are single numbers"
            )
        context[str(k)] = jnp.asarray(value.reshape(()))
    point = jnp.asarray([threshold], dtype=jnp.float64)
    cdf = _cdf_program(lik)(params, context, point)
    survival = 1.0 - np.asarray(cdf, dtype=np.float64)
    return np.log(np.clip(survival, 1e-300, None))


_CDF_PROGRAMS: dict[int, tuple[Any, Any]] = {}


def _cdf_program(lik: Any) -> Any:
    """``cdf(point | theta_s)`` for every draw, compiled once per likelihood (the draws, the
    constants and the point are arguments). Evaluated op by op under ``vmap`` instead, it took
    0.35 s per layer and likelihood warm (``mp_soft_cdf``'s quadrature is a few hundred
    operations) and several seconds cold, each operation compiled on its own."""
    import jax

    hit = _CDF_PROGRAMS.get(id(lik))
    if hit is not None and hit[0] is lik:
        return hit[1]
    if len(_CDF_PROGRAMS) >= 16:  # likelihood objects are few; never let the table grow
        _CDF_PROGRAMS.clear()
    program = jax.jit(
        jax.vmap(lambda p, context, point: lik.cdf(point, p, context)[0], in_axes=(0, None, None))
    )
    _CDF_PROGRAMS[id(lik)] = (lik, program)  # holding lik keeps its id from being reused
    return program
