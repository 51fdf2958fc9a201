"""The full mode of :func:`rmtfit.pipeline.analyze`: Bayesian fits, comparison, phases, network.

Split from :mod:`rmtfit.pipeline._analyze` (the fast stages and the entry point) to keep each file
readable; like it, this module is an adapter: every call into :mod:`rmtfit.inference`,
:mod:`rmtfit.comparison`, :mod:`rmtfit.phases` and :mod:`rmtfit.network` made by the main job is
here, and what it returns is already in the shape the report needs
(:mod:`rmtfit.pipeline._results`). Which fit each posterior column comes from is decided by the
likelihoods' declared roles (:func:`rmtfit.posterior.preferred_likelihoods`), never by name.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from rmtfit.comparison import compare
from rmtfit.inference import fit, predictive_draws
from rmtfit.network import network_metrics
from rmtfit.phases import THRESHOLDS, phase_probabilities
from rmtfit.pipeline._parts import Fitted, FullResults, LayerBase
from rmtfit.pipeline._results import Estimate, Predictive
from rmtfit.posterior import (
    USABLE_STATUSES,
    likelihood_family,
    likelihood_roles,
    preferred_likelihoods,
)
from rmtfit.spectra import numerically_zero

__all__ = ["collect_full", "POSTERIOR_ROLES", "PREDICTIVE_DRAWS"]


def collect_full(
    spectra: Any,
    per_layer: Mapping[str, LayerBase],
    chosen: Sequence[tuple[str, Any]],
    *,
    seed: int,
    draws: int | None,
    chains: int | None,
    ci_prob: float,
    bar: Any,
    timings: dict[str, float],
) -> FullResults:
    """Bayesian fits, comparison, phases and the network summary of the layers that are ok."""
    ok = [s for s in spectra if per_layer[s.name].status == "ok"]
    if not ok:
        return FullResults()
    classical = {
        s.name: per_layer[s.name].classical
        for s in ok
        if per_layer[s.name].classical is not None and per_layer[s.name].classical.ok
    }
    fitted_spectra, zero_notes = _nonzero_parts(ok)
    options: dict[str, Any] = {}
    if draws is not None:
        options["draws"] = draws
    if chains is not None:
        options["chains"] = chains
    start = time.perf_counter()
    with bar.task("Bayesian fits", total=len(fitted_spectra) * len(chosen)) as advance:
        fits = fit(
            fitted_spectra,
            [lik for _, lik in chosen],
            classical=classical,
            seed=seed,
            ci_prob=ci_prob,
            progress=advance,
            min_evals=_full_model_sizes(chosen),
            **options,
        )
    timings["fits"] = time.perf_counter() - start

    start = time.perf_counter()
    layers: dict[str, Fitted] = {}
    comparisons: dict[str, Any] = {}
    phases: dict[str, Any] = {}
    with bar.task("comparison and phases", total=len(ok)) as advance:
        for spectrum in ok:
            fitted, comparison, phase = _full_one(
                fits, spectrum, per_layer[spectrum.name].classical, chosen, seed, ci_prob
            )
            if spectrum.name in zero_notes:
                joined = "; ".join(n for n in (zero_notes[spectrum.name], fitted.note) if n)
                fitted = replace(fitted, note=joined)
            layers[spectrum.name] = fitted
            comparisons[spectrum.name] = comparison
            if phase is not None:
                phases[spectrum.name] = phase
            advance()
    timings["comparison"] = time.perf_counter() - start
    start = time.perf_counter()
    predictive = _predictive(fits, ok, [name for name, _ in chosen], seed)
    timings["predictive"] = time.perf_counter() - start

    network, network_summary = _network(fits, ok, classical, seed, ci_prob)
    return FullResults(
        fits=fits,
        comparison=comparisons,
        phases=phases,
        network=network,
        network_summary=network_summary,
        layers=layers,
        predictive=predictive,
    )


def _nonzero_parts(spectra: Sequence[Any]) -> tuple[list[Any], dict[str, str]]:
    """The spectra the likelihoods are fitted to: numerically zero eigenvalues left out.

    A rank-collapsed layer's zeros are the Rank-collapse phase's evidence (read from the whole
    spectrum by :func:`rmtfit.phases.rank_collapse_probability`, with the same tolerance); the
    densities describe the non-zero part, which is what the likelihoods are fitted to. Each layer
    that lost eigenvalues gets a note saying how many.
    """
    eps = THRESHOLDS["rank_zero_eps"].value
    out, notes = [], {}
    for spectrum in spectra:
        zero = numerically_zero(spectrum, eps=eps)
        if zero.any():
            out.append(replace(spectrum, eigenvalues=spectrum.eigenvalues[~zero]))
            notes[spectrum.name] = (
                f"{int(zero.sum())} of {zero.size} eigenvalues are numerically zero (rank "
                "collapse) and were left out of the Bayesian fits"
            )
        else:
            out.append(spectrum)
    return out, notes


def _full_model_sizes(chosen: Sequence[tuple[str, Any]]) -> dict[str, int]:
    """The full-spectrum likelihoods are fitted only on layers that can get a phase: below
    ``min_phase_evals`` (48) eigenvalues their posteriors would feed no phase, while a
    many-small-layer CNN (17 of mobilenet_v2's 53 layers have 9 eigenvalues) spent most of its
    sampling time on them. Tail likelihoods (alpha) are fitted on every layer."""
    least = int(THRESHOLDS["min_phase_evals"].value)
    return {name: least for name, lik in chosen if lik.family == "full"}


PREDICTIVE_DRAWS = 100
"""Posterior predictive spectra drawn per (layer, likelihood) for the ESD plots."""


def _full_one(
    fits: Any,
    spectrum: Any,
    classical: Any,
    chosen: Sequence[tuple[str, Any]],
    seed: int,
    ci_prob: float,
) -> tuple[Fitted, dict[str, Any], Any]:
    """Comparison per family, phase probabilities and posterior summaries of one layer."""
    name = spectrum.name
    notes: list[str] = []
    usable = [lik for lik, _ in chosen if fits.status(name, lik) in USABLE_STATUSES]
    for lik, _ in chosen:
        if lik not in usable:
            notes.append(f"{lik}: {fits.status(name, lik)} ({fits.reason(name, lik)})")
    idatas = {lik: fits.idata(name, lik) for lik in usable}
    families = {lik: likelihood_family(lik, idatas[lik]) for lik in usable}

    comparisons: dict[str, Any] = {}
    weights: dict[str, float] = {}
    scores: dict[str, Any] = {}
    for family in sorted(set(families.values())):
        group = {lik: d for lik, d in idatas.items() if families[lik] == family}
        try:
            comparison = compare(group, layer=name, family=family, seed=seed)
        except (ValueError, KeyError) as exc:
            notes.append(f"{family}-family comparison failed: {exc}")
            continue
        comparisons[family] = comparison
        for score in comparison.models:
            weights[score.name] = float(score.weight)
            scores[score.name] = score

    phase = None
    phase_dict = None
    try:
        full_idatas = {lik: d for lik, d in idatas.items() if families[lik] == "full"}
        phase = phase_probabilities(
            full_idatas, spectrum, classical=classical, comparison=comparisons.get("full")
        )
        phase_dict = {"probabilities": dict(phase.probabilities), "map": phase.map_phase}
    except (ValueError, KeyError) as exc:
        notes.append(f"phases not assigned: {exc}")

    models = {
        lik: _model_record(
            fits, name, lik, families.get(lik, ""), scores.get(lik), weights.get(lik)
        )
        for lik, _ in chosen
    }
    posterior = _posterior_estimates(fits, name, usable, ci_prob)
    if phase is not None and phase.num_spikes:
        # the count the phase label rests on: eigenvalues beyond the bulk edge plus its
        # Tracy-Widom band, per posterior draw (mp_spikes' own K counts members of its spike
        # component, which can sit inside the bulk: 42 on a MiniLM layer labelled Bulk+Spikes)
        previous = posterior.get("num_spikes")
        posterior["num_spikes"] = Estimate.from_distribution(
            phase.num_spikes, ci_prob, previous.likelihood if previous is not None else None
        )
    fitted = Fitted(
        posterior=posterior,
        models=models,
        phase=phase_dict,
        note="; ".join(notes),
    )
    return fitted, comparisons, phase


def _model_record(
    fits: Any, layer: str, lik: str, family: str, score: Any, weight: float | None
) -> dict[str, Any]:
    status = fits.status(layer, lik)
    record: dict[str, Any] = {
        "family": family,
        "status": status,
        "reason": fits.reason(layer, lik),
        "weight": weight,
        "elpd_loo": None if score is None else score.elpd_loo,
        "se": None if score is None else score.se,
        "max_pareto_k": None if score is None else score.pareto_k_max,
        "r_hat_max": None,
        "ess_bulk_min": None,
        "divergences": None,
    }
    if status in USABLE_STATUSES:
        summary = fits.summary.sel(layer=layer, likelihood=lik)
        r_hat = np.asarray(summary["r_hat"].values, dtype=np.float64)
        ess = np.asarray(summary["ess_bulk"].values, dtype=np.float64)
        record["r_hat_max"] = float(np.nanmax(r_hat)) if np.isfinite(r_hat).any() else None
        record["ess_bulk_min"] = float(np.nanmin(ess)) if np.isfinite(ess).any() else None
        record["divergences"] = int(summary["divergences"].values)
    return record


POSTERIOR_ROLES: dict[str, str] = {
    # report quantity -> the declared role (a field of rmtfit.Roles) its draws come from
    "alpha": "tail_exponent",
    "xmin": "xmin",
    "sigma_mp": "bulk_scale",
    "lambda_plus": "bulk_edge",
    "num_spikes": "spike_count",
}
"""Which declared role each posterior column of the report reads. The fit it is read from is the
first usable likelihood that declares the role, full-spectrum ones first, in the order the
likelihoods were given (:func:`rmtfit.posterior.preferred_likelihoods`); ``sigma_mp`` is the square
root of the ``bulk_scale`` (sigma^2) draws. Where the layer gets a phase, ``num_spikes`` is replaced
by the count its label rests on (eigenvalues beyond the bulk edge and its Tracy-Widom band,
``PhaseResult.num_spikes``). A tail likelihood's ``xmin`` is fixed at the classical
value and declares no ``xmin`` role, so it has no posterior."""


def _posterior_estimates(
    fits: Any, layer: str, usable: Sequence[str], ci_prob: float
) -> dict[str, Estimate | None]:
    idatas = {lik: fits.idata(layer, lik) for lik in usable}
    out: dict[str, Estimate | None] = {}
    for quantity, role in POSTERIOR_ROLES.items():
        out[quantity] = None
        for lik in preferred_likelihoods(idatas, role):
            variable = likelihood_roles(lik, idatas[lik]).variable(role)
            try:
                values = np.asarray(fits.draws(layer, lik, variable), dtype=np.float64)
            except KeyError:
                continue
            if quantity == "sigma_mp":
                values = np.sqrt(values)
            out[quantity] = Estimate.from_draws(values, ci_prob, likelihood=lik)
            break
    return out


def _predictive(
    fits: Any, spectra: Sequence[Any], likelihoods: Sequence[str], seed: int
) -> dict[str, tuple[Predictive, ...]]:
    """Posterior predictive spectra of every (layer, likelihood) with draws, for the ESD plots
    (:func:`rmtfit.inference.predictive_draws`: one compiled sampler per likelihood)."""
    draws: dict[tuple[str, str], np.ndarray] = {}
    for lik in likelihoods:
        layers = [s.name for s in spectra if fits.status(s.name, lik) in USABLE_STATUSES]
        found = predictive_draws(fits, lik, layers, PREDICTIVE_DRAWS, seed=seed)
        draws.update({(name, lik): values for name, values in found.items()})
    out: dict[str, tuple[Predictive, ...]] = {}
    for s in spectra:
        items = []
        for lik in likelihoods:
            if (s.name, lik) not in draws:
                continue  # no draws, or no sampler: no band, and the plot's legend says so
            family = likelihood_family(lik, fits.idata(s.name, lik))
            n_obs = int(fits[s.name, lik].observed.size)
            mass = 1.0 if family == "full" else n_obs / max(int(s.num_evals), 1)
            items.append(Predictive(lik, family, draws[s.name, lik], mass))
        out[s.name] = tuple(items)
    return out


def _network(
    fits: Any, ok: Sequence[Any], classical: Mapping[str, Any], seed: int, ci_prob: float
) -> tuple[Any, dict[str, Estimate | None] | None]:
    """Network-level metrics as posterior draws, summarised; ``(None, None)`` when no layer has alpha."""
    try:
        network = network_metrics(fits, spectra=ok, seed=seed)
    except (ValueError, TypeError) as exc:
        warnings.warn(f"network metrics not computed: {exc}", RuntimeWarning, stacklevel=4)
        return None, None
    summary: dict[str, Estimate | None] = {
        metric: Estimate.from_draws(values, ci_prob) for metric, values in network.network.items()
    }
    return network, summary
