"""Model comparison: PSIS-LOO, elpd differences and stacking weights, per layer.

Only likelihoods fitted to the *same observations* can be compared. Every likelihood declares a
family (:data:`rmtfit.likelihoods.FAMILIES`): ``full`` likelihoods explain every eigenvalue of a
layer, ``tail`` likelihoods the eigenvalues above the classical xmin. :func:`compare` compares one
family at a time and checks that the observed data of the compared fits are identical; asking for
a mix raises a ``ValueError`` naming the two likelihoods.

Leave-one-out predictive accuracy is estimated with Pareto-smoothed importance sampling
(PSIS-LOO; Vehtari, Gelman & Gabry 2017; Vehtari et al. 2024) by :func:`rmtfit.comparison.psis_loo`,
ArviZ's algorithm on every observation at once. The model weights are
stacking weights (Yao, Vehtari, Simpson & Gelman 2018), which maximise the leave-one-out log score
of the weighted mixture:

.. math::

    \\hat w = \\arg\\max_{w \\in \\Delta} \\sum_{i=1}^n \\log \\sum_k w_k\\, p(y_i \\mid y_{-i}, M_k).

High Pareto k. When an observation has ``k > min(1 - 1/log10 S, 0.7)`` (``S`` draws), its PSIS
estimate is unreliable; in a spectrum these are the largest, most influential eigenvalues.
:func:`compare` then (1) warns with :class:`HighParetoKWarning`, naming the layer, likelihood
and observations; (2) replaces those terms by exact leave-one-out values when the caller passes
``refit`` (one refit per observation: costly, so never done implicitly); (3) otherwise switches the
weights from stacking to pseudo-BMA+ (Bayesian-bootstrap regularised weights, Yao et al. 2018),
which hedge between models whose elpd is uncertain instead of trusting every pointwise term, and
marks the comparison ``reliable=False``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rmtfit.comparison._psis import PsisLoo, psis_loo, relative_efficiency
from rmtfit.comparison._weights import model_weights
from rmtfit.inference.arviz_adapter import observed_values
from rmtfit.posterior import (
    LOG_LIKELIHOOD_VARIABLE,
    LayerPosteriors,
    fits_layers,
    likelihood_family,
    usable_likelihoods,
)

__all__ = [
    "compare",
    "Comparison",
    "ModelScore",
    "HighParetoKWarning",
    "METHODS",
]

METHODS = ("stacking", "pseudo-BMA+", "pseudo-BMA")


class HighParetoKWarning(UserWarning):
    """PSIS-LOO is unreliable for some observations (Pareto k above the threshold)."""


@dataclass(frozen=True)
class ModelScore:
    """PSIS-LOO of one likelihood in a :class:`Comparison` (``elpd_diff`` is to the best model)."""

    name: str
    rank: int
    elpd_loo: float
    se: float
    p_loo: float
    elpd_diff: float
    dse: float
    weight: float
    pareto_k_max: float
    num_high_k: int
    num_refit: int = 0
    elpd_i: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)
    pareto_k: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rank": self.rank,
            "elpd_loo": self.elpd_loo,
            "se": self.se,
            "p_loo": self.p_loo,
            "elpd_diff": self.elpd_diff,
            "dse": self.dse,
            "weight": self.weight,
            "pareto_k_max": self.pareto_k_max,
            "num_high_k": self.num_high_k,
            "num_refit": self.num_refit,
        }


@dataclass(frozen=True)
class Comparison:
    """The comparison of the likelihoods of one family fitted to one layer.

    ``models`` is sorted from the best (highest elpd_loo) down. ``weight_method`` says how the
    weights were computed (``stacking`` unless high Pareto k forced the ``pseudo-BMA+`` fallback);
    ``reliable`` is False when some PSIS-LOO terms stay unreliable (high k, no refit).
    """

    layer: str
    family: str
    num_observations: int
    models: tuple[ModelScore, ...]
    weight_method: str
    reliable: bool
    good_k: float
    notes: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.models)

    @property
    def weights(self) -> dict[str, float]:
        return {m.name: m.weight for m in self.models}

    @property
    def best(self) -> str:
        return self.models[0].name

    def __getitem__(self, name: str) -> ModelScore:
        for m in self.models:
            if m.name == name:
                return m
        raise KeyError(f"layer {self.layer!r}: no likelihood {name!r} compared; have {self.names}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "family": self.family,
            "num_observations": self.num_observations,
            "weight_method": self.weight_method,
            "reliable": self.reliable,
            "good_k": self.good_k,
            "models": [m.to_dict() for m in self.models],
            "notes": list(self.notes),
        }

    def to_table(self) -> Any:
        """A ``pandas.DataFrame`` indexed by likelihood, in the column order of ``arviz.compare``."""
        import pandas as pd

        rows = [m.to_dict() for m in self.models]
        return pd.DataFrame(rows).set_index("name")

    def __repr__(self) -> str:
        parts = ", ".join(f"{m.name}: elpd={m.elpd_loo:.1f} w={m.weight:.2f}" for m in self.models)
        flag = "" if self.reliable else ", UNRELIABLE (high Pareto k)"
        return f"Comparison(layer={self.layer!r}, family={self.family!r}, {parts}, {self.weight_method}{flag})"


# --- public entry points ------------------------------------------------------------------------

RefitFn = Callable[[str, np.ndarray], np.ndarray]


def compare(
    fits_or_idatas: Any,
    *,
    layer: str | None = None,
    family: str | None = None,
    method: str = "stacking",
    refit: RefitFn | None = None,
    seed: int = 0,
) -> Comparison:
    """Compare the likelihoods fitted to one layer by PSIS-LOO, with stacking weights.

    Parameters
    ----------
    fits_or_idatas
        A mapping of likelihood name to ``InferenceData`` (one layer), a :class:`rmtfit.posterior.LayerPosteriors`, or
        an :class:`rmtfit.Fits` (then ``layer`` picks the layer when it holds several).
    layer
        Layer name, required to pick one layer out of a multi-layer ``Fits``; used in messages.
    family
        ``"full"`` or ``"tail"``: compare only the likelihoods of this family. Required when the
        input holds both (they explain different observations and are never compared).
    method
        ``"stacking"`` (default), ``"pseudo-BMA+"`` or ``"pseudo-BMA"``.
    refit
        Optional ``refit(likelihood_name, indices) -> elpd`` returning the exact leave-one-out
        log predictive densities of the observations at ``indices`` (refitting without each).
        Used only for observations with high Pareto k.
    seed
        Seed of the Bayesian bootstrap (pseudo-BMA+).

    Returns
    -------
    Comparison

    Raises
    ------
    ValueError
        Mixed families, observations that differ between the fits, fits of zero observations, or an
        unknown ``method``.
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not supported; use one of {METHODS}.")
    layer_name, idatas = _resolve_layer(fits_or_idatas, layer)
    if not idatas:
        raise ValueError(f"layer {layer_name!r}: no fitted likelihoods to compare.")
    chosen_family, group = _select_family(idatas, family, layer_name)
    observed = _check_same_observations(group, layer_name)
    return _compare_group(layer_name, chosen_family, group, observed, method, refit, seed)


# --- resolving the input ------------------------------------------------------------------------


def _resolve_layer(source: Any, layer: str | None) -> tuple[str, dict[str, Any]]:
    if isinstance(source, LayerPosteriors):
        return source.name, dict(source.idatas)
    if isinstance(source, Mapping):
        name = layer or _layer_attr(source.values()) or "<layer>"
        return name, dict(source)
    if hasattr(source, "idata"):
        layers = fits_layers(source)
        if layer is None:
            if len(layers) != 1:
                raise ValueError(
                    f"these fits hold {len(layers)} layers ({layers[:5]}...); pass layer=<name>."
                )
            layer = layers[0]
        if layer not in layers:
            raise ValueError(f"no layer {layer!r} in these fits; layers are {layers}.")
        return layer, {n: source.idata(layer, n) for n in usable_likelihoods(source, layer)}
    raise TypeError(
        f"compare() takes a mapping of likelihood name -> InferenceData, a LayerPosteriors or an "
        f"rmtfit.Fits; got a {type(source).__name__}."
    )


def _layer_attr(idatas: Any) -> str | None:
    for idata in idatas:
        attrs = getattr(idata, "attrs", None) or {}
        if "layer" in attrs:
            return str(attrs["layer"])
    return None


def _select_family(
    idatas: Mapping[str, Any], family: str | None, layer: str
) -> tuple[str, dict[str, Any]]:
    families = {name: likelihood_family(name, idata) for name, idata in idatas.items()}
    if family is None:
        distinct = sorted(set(families.values()))
        if len(distinct) > 1:
            first = {f: next(n for n, g in families.items() if g == f) for f in distinct}
            pair = " and ".join(f"{first[f]!r} (family {f!r})" for f in distinct)
            raise ValueError(
                f"layer {layer!r}: cannot compare {pair}: the families explain different "
                "observations (every eigenvalue vs the tail above xmin). Pass family='full' or "
                "family='tail' to compare one family."
            )
        family = distinct[0]
    group = {n: idatas[n] for n, f in families.items() if f == family}
    if not group:
        raise ValueError(
            f"layer {layer!r}: no likelihood of family {family!r} was fitted; fitted: {families}."
        )
    return family, group


def _check_same_observations(group: Mapping[str, Any], layer: str) -> np.ndarray:
    reference_name, reference = None, None
    for name, idata in group.items():
        if not hasattr(idata, "log_likelihood"):
            raise ValueError(
                f"layer {layer!r}: the fit of {name!r} has no pointwise log-likelihood (a "
                "fits.nc is lean unless written with `rmtfit analyze --save-pointwise`); use the "
                "stored LOO results (Fits.loo_results(layer)), or rerun with --save-pointwise "
                "(rmtfit.fit keeps them in memory by default)."
            )
        values = observed_values(idata, LOG_LIKELIHOOD_VARIABLE)
        if values is None:
            raise ValueError(
                f"layer {layer!r}: the fit of {name!r} has no observed_data['{LOG_LIKELIHOOD_VARIABLE}']; "
                "the observations must be stored to check that compared fits explain the same data."
            )
        if reference is None:
            reference_name, reference = name, values
            continue
        if values.shape != reference.shape or not np.array_equal(values, reference):
            what = (
                f"{reference.size} vs {values.size} observations"
                if values.shape != reference.shape
                else f"values differ at {int(np.argmax(values != reference))} (first index)"
            )
            raise ValueError(
                f"layer {layer!r}: cannot compare {reference_name!r} with {name!r}: they were fitted "
                f"to different observations ({what}). Compare only likelihoods of one family fitted "
                "to the same spectrum."
            )
    assert reference is not None
    return reference


# --- the comparison itself ----------------------------------------------------------------------


def _compare_group(
    layer: str,
    family: str,
    group: Mapping[str, Any],
    observed: np.ndarray,
    method: str,
    refit: RefitFn | None,
    seed: int,
) -> Comparison:
    names = list(group)
    loos = {name: _loo(name, group[name], layer) for name in names}
    empty = [name for name, loo in loos.items() if loo.elpd_i.size == 0]
    if empty:
        raise ValueError(
            f"layer {layer!r}: the fit of {empty[0]!r} has no observations (its pointwise "
            "log-likelihood is empty); there is nothing to compare. Fit the layer's eigenvalues "
            "(or its tail) before comparing."
        )
    good_k = min(loo.good_k for loo in loos.values())
    notes: list[str] = []
    elpd_i: dict[str, np.ndarray] = {}
    refitted: dict[str, int] = {}
    unreliable: dict[str, np.ndarray] = {}
    for name in names:
        values, bad, count = _apply_refit(name, loos[name], good_k, refit, layer)
        elpd_i[name], refitted[name] = values, count
        if bad.size:
            unreliable[name] = bad
    weight_method = method
    if unreliable:
        weight_method = "pseudo-BMA+" if method == "stacking" else method
        _warn_high_k(layer, unreliable, loos, good_k, weight_method, refit is not None)
        notes.append(_high_k_note(unreliable, loos, good_k, weight_method))
    matrix = np.column_stack([elpd_i[n] for n in names])
    weights = model_weights(matrix, weight_method, seed)
    return Comparison(
        layer=layer,
        family=family,
        num_observations=int(observed.size),
        models=_scores(names, elpd_i, loos, weights, good_k, refitted),
        weight_method=weight_method,
        reliable=not unreliable,
        good_k=good_k,
        notes=tuple(notes),
    )


def _loo(name: str, idata: Any, layer: str) -> PsisLoo:
    """PSIS-LOO of one fit, with ArviZ's relative efficiency (from the posterior's ESS)."""
    variables = getattr(idata.log_likelihood, "data_vars", {})
    if LOG_LIKELIHOOD_VARIABLE not in variables:
        raise ValueError(
            f"layer {layer!r}: the fit of {name!r} has no log_likelihood['{LOG_LIKELIHOOD_VARIABLE}'] "
            f"(it has {sorted(variables)}); refit with pointwise log-likelihoods stored."
        )
    posterior = getattr(idata, "posterior", None)
    if posterior is None or not posterior.data_vars:
        raise ValueError(
            f"layer {layer!r}: the fit of {name!r} has no posterior draws; PSIS-LOO needs them "
            "for the relative efficiency of the draws. Pass the fit with its posterior group."
        )
    r_eff = relative_efficiency(posterior[v].values for v in posterior.data_vars)
    return psis_loo(idata.log_likelihood[LOG_LIKELIHOOD_VARIABLE].values, r_eff=r_eff)


def _apply_refit(
    name: str, loo: Any, good_k: float, refit: RefitFn | None, layer: str
) -> tuple[np.ndarray, np.ndarray, int]:
    """Pointwise elpd with high-k terms replaced by exact refits when ``refit`` is given."""
    values = loo.elpd_i.copy()
    bad = np.flatnonzero(~(loo.pareto_k <= good_k))
    if refit is None or bad.size == 0:
        return values, bad, 0
    exact = np.asarray(refit(name, bad), dtype=np.float64).ravel()
    if exact.shape != bad.shape or not np.all(np.isfinite(exact)):
        raise ValueError(
            f"layer {layer!r}: refit({name!r}, indices) must return {bad.size} finite exact "
            f"leave-one-out log densities; got {exact!r}."
        )
    values[bad] = exact
    return values, np.empty(0, dtype=int), int(bad.size)


def _scores(
    names: Sequence[str],
    elpd_i: Mapping[str, np.ndarray],
    loos: Mapping[str, Any],
    weights: np.ndarray,
    good_k: float,
    refitted: Mapping[str, int],
) -> tuple[ModelScore, ...]:
    totals = {n: float(np.sum(elpd_i[n])) for n in names}
    order = sorted(names, key=lambda n: -totals[n])
    best = elpd_i[order[0]]
    n_obs = best.size
    weight_of = dict(zip(names, weights, strict=True))
    scores = []
    for rank, name in enumerate(order):
        values = elpd_i[name]
        diff = best - values
        k = loos[name].pareto_k
        scores.append(
            ModelScore(
                name=name,
                rank=rank,
                elpd_loo=totals[name],
                se=float(np.sqrt(n_obs * np.var(values))),
                p_loo=float(np.sum(loos[name].lppd_i) - totals[name]),
                elpd_diff=float(np.sum(diff)),
                dse=float(np.sqrt(n_obs * np.var(diff))),
                weight=float(weight_of[name]),
                pareto_k_max=float(np.max(k)) if k.size else float("nan"),
                num_high_k=int(np.sum(~(k <= good_k))),
                num_refit=int(refitted[name]),
                elpd_i=values,
                pareto_k=k,
            )
        )
    return tuple(scores)


def _warn_high_k(
    layer: str,
    unreliable: Mapping[str, np.ndarray],
    loos: Mapping[str, Any],
    good_k: float,
    weight_method: str,
    had_refit: bool,
) -> None:
    detail = "; ".join(
        f"{name!r}: {bad.size} of {loos[name].pareto_k.size} observations (max k = "
        f"{np.max(loos[name].pareto_k):.2f}, indices {bad[:5].tolist()})"
        for name, bad in unreliable.items()
    )
    fix = "" if had_refit else " Pass refit=... to compute exact leave-one-out terms for them."
    warnings.warn(
        f"layer {layer!r}: PSIS-LOO is unreliable (Pareto k > {good_k:.2f}) for {detail}. These are "
        f"usually the largest eigenvalues. The weights use {weight_method} instead of trusting every "
        f"pointwise term; treat the elpd differences with caution.{fix}",
        HighParetoKWarning,
        stacklevel=4,  # _warn_high_k < _compare_group < compare < the caller
    )


def _high_k_note(
    unreliable: Mapping[str, np.ndarray], loos: Mapping[str, Any], good_k: float, method: str
) -> str:
    names = ", ".join(f"{n} ({b.size})" for n, b in unreliable.items())
    return f"Pareto k > {good_k:.2f} for {names}; weights by {method}"
