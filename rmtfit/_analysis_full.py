"""The full mode of :func:`rmtfit.analyze`: Bayesian fits, comparison, phases, network summary.

Split from :mod:`rmtfit.analysis` (which holds the fast stages and the entry points) to keep each
file readable; like it, this module is an adapter: every call into :mod:`rmtfit.inference`,
:mod:`rmtfit.compare`, :mod:`rmtfit.phases` and :mod:`rmtfit.network` made by the main job is here,
and what it returns is already in the shape the report needs (:mod:`rmtfit.report._results`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from rmtfit.analysis import _Fitted, _FullResults, _LayerBase
from rmtfit.report._results import Estimate, Predictive

__all__ = ["collect_full", "POSTERIOR_SOURCES", "PREDICTIVE_DRAWS"]


def collect_full(
    spectra: Any,
    per_layer: Mapping[str, _LayerBase],
    chosen: Sequence[tuple[str, Any]],
    *,
    seed: int,
    draws: int | None,
    chains: int | None,
    ci_prob: float,
    bar: Any,
    timings: dict[str, float],
) -> _FullResults:
    """Bayesian fits, comparison, phases and the network summary of the layers that are ok."""
    from rmtfit.inference import fit

    ok = [s for s in spectra if per_layer[s.name].status == "ok"]
    if not ok:
        return _FullResults()
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
    with bar.task("Bayesian fits", total=None):
        fits = fit(
            fitted_spectra,
            [lik for _, lik in chosen],
            classical=classical,
            seed=seed,
            ci_prob=ci_prob,
            **options,
        )
    timings["fits"] = time.perf_counter() - start

    start = time.perf_counter()
    layers: dict[str, _Fitted] = {}
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
    return _FullResults(
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
    spectrum by :func:`rmtfit.phases.rank_collapse_probability`); the densities describe the
    non-zero part, which is what the likelihoods are fitted to. Each layer that lost eigenvalues
    gets a note saying how many.
    """
    from rmtfit.phases import numerically_zero

    out, notes = [], {}
    for spectrum in spectra:
        zero = numerically_zero(spectrum)
        if zero.any():
            out.append(replace(spectrum, eigenvalues=spectrum.eigenvalues[~zero]))
            notes[spectrum.name] = (
                f"{int(zero.sum())} of {zero.size} eigenvalues are numerically zero (rank "
                "collapse) and were left out of the Bayesian fits"
            )
        else:
            out.append(spectrum)
    return out, notes


_MODEL_STATUSES_WITH_DRAWS = ("ok", "flagged")
PREDICTIVE_DRAWS = 100
"""Posterior predictive spectra drawn per (layer, likelihood) for the ESD plots."""


def _full_one(
    fits: Any,
    spectrum: Any,
    classical: Any,
    chosen: Sequence[tuple[str, Any]],
    seed: int,
    ci_prob: float,
) -> tuple[_Fitted, dict[str, Any], Any]:
    """Comparison per family, phase probabilities, posterior summaries and predictive draws of one layer."""
    from rmtfit.compare import compare, likelihood_family
    from rmtfit.phases import phase_probabilities

    name = spectrum.name
    notes: list[str] = []
    usable = [lik for lik, _ in chosen if fits.status(name, lik) in _MODEL_STATUSES_WITH_DRAWS]
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
    if any(f == "full" for f in families.values()):
        try:
            full_idatas = {lik: d for lik, d in idatas.items() if families[lik] == "full"}
            phase = phase_probabilities(
                full_idatas, spectrum, classical=classical, comparison=comparisons.get("full")
            )
            phase_dict = {"probabilities": dict(phase.probabilities), "map": phase.map_phase}
        except (ValueError, KeyError) as exc:
            notes.append(f"phases not assigned: {exc}")
    else:
        notes.append("phases need a full-spectrum likelihood; none was fitted")

    models = {
        lik: _model_record(
            fits, name, lik, families.get(lik, ""), scores.get(lik), weights.get(lik)
        )
        for lik, _ in chosen
    }
    fitted = _Fitted(
        posterior=_posterior_estimates(fits, name, usable, ci_prob),
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
    if status in _MODEL_STATUSES_WITH_DRAWS:
        summary = fits.summary.sel(layer=layer, likelihood=lik)
        r_hat = np.asarray(summary["r_hat"].values, dtype=np.float64)
        ess = np.asarray(summary["ess_bulk"].values, dtype=np.float64)
        record["r_hat_max"] = float(np.nanmax(r_hat)) if np.isfinite(r_hat).any() else None
        record["ess_bulk_min"] = float(np.nanmin(ess)) if np.isfinite(ess).any() else None
        record["divergences"] = int(summary["divergences"].values)
    return record


POSTERIOR_SOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    # report quantity -> (likelihood, posterior variable) in order of preference
    "alpha": (
        ("spliced_pl", "alpha"),
        ("spliced_tpl", "alpha"),
        ("spliced_mp", "alpha"),
        ("power_law", "alpha"),
    ),
    "xmin": (("spliced_pl", "xmin"), ("spliced_tpl", "xmin"), ("spliced_mp", "xmin")),
    "sigma_mp": (("mp_spikes", "sigma2"),),
    "lambda_plus": (("mp_spikes", "lambda_plus"),),
    "num_spikes": (("mp_spikes", "K"),),
}
"""Which fitted likelihood each posterior column of the report comes from (the first one fitted;
``sigma_mp`` is the square root of the ``sigma2`` draws). A tail-only ``xmin`` is fixed at the
classical value and so has no posterior."""


def _posterior_estimates(
    fits: Any, layer: str, usable: Sequence[str], ci_prob: float
) -> dict[str, Estimate | None]:
    out: dict[str, Estimate | None] = {}
    for quantity, sources in POSTERIOR_SOURCES.items():
        out[quantity] = None
        for lik, variable in sources:
            if lik not in usable:
                continue
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
    """Posterior predictive spectra of every (layer, likelihood) with draws, for the ESD plots.

    One compiled sampler per likelihood serves every layer: the layers are stacked, each draws
    ``max n`` observations at :data:`PREDICTIVE_DRAWS` random posterior draws, and each keeps its
    first ``n``. That is exact for likelihoods whose observations are independent given the
    parameters; a joint likelihood (``extra["joint"]``, e.g. the top-k Frechet model) goes
    through :meth:`rmtfit.Fits.posterior_predictive` one layer at a time.
    """
    from rmtfit.compare import likelihood_family

    usable = {
        lik: [s for s in spectra if fits.status(s.name, lik) in _MODEL_STATUSES_WITH_DRAWS]
        for lik in likelihoods
    }
    draws: dict[tuple[str, str], np.ndarray] = {}
    for lik, layers in usable.items():
        obj = fits.likelihood_object(lik)
        if not layers or obj.sample is None:
            continue  # no draws, or no sampler: no band, and the plot's legend says so
        if obj.extra.get("joint"):
            for s in layers:
                draws[s.name, lik] = fits.posterior_predictive(
                    s.name, lik, PREDICTIVE_DRAWS, seed=seed
                )
        else:
            draws.update(_stacked_predictive(fits, obj, [s.name for s in layers], seed))
    out: dict[str, tuple[Predictive, ...]] = {}
    for s in spectra:
        items = []
        for lik in likelihoods:
            if (s.name, lik) not in draws:
                continue
            family = likelihood_family(lik, fits.idata(s.name, lik))
            n_obs = int(fits[s.name, lik].observed.size)
            mass = 1.0 if family == "full" else n_obs / max(int(s.num_evals), 1)
            items.append(Predictive(lik, family, draws[s.name, lik], mass))
        out[s.name] = tuple(items)
    return out


def _stacked_predictive(
    fits: Any, lik: Any, layers: Sequence[str], seed: int
) -> dict[tuple[str, str], np.ndarray]:
    import jax

    rng = np.random.default_rng(seed)
    per_layer = [fits[name, lik.name] for name in layers]
    n_max = max(int(f.observed.size) for f in per_layer)
    params: dict[str, list[np.ndarray]] = {k: [] for k in per_layer[0].parameters}
    context: dict[str, list[float]] = {k: [] for k in per_layer[0].context}
    for f in per_layer:
        c, d = f.num_chains, f.num_draws
        chain, draw = np.divmod(
            rng.choice(c * d, PREDICTIVE_DRAWS, replace=c * d < PREDICTIVE_DRAWS), d
        )
        for k in params:
            params[k].append(np.asarray(f.posterior[k][chain, draw], dtype=np.float64))
        for k in context:
            context[k].append(float(f.context[k]))
    stacked_params = {k: np.stack(v) for k, v in params.items()}
    stacked_context = {k: np.asarray(v, dtype=np.float64) for k, v in context.items()}
    keys = jax.random.split(jax.random.PRNGKey(seed), len(layers) * PREDICTIVE_DRAWS)
    keys = keys.reshape(len(layers), PREDICTIVE_DRAWS, *keys.shape[1:])

    def one(key: Any, p: Any, ctx: Any) -> Any:
        return lik.sample(key, p, ctx, n_max)

    per_draw = jax.vmap(one, in_axes=(0, 0, None))
    sample = jax.jit(jax.vmap(per_draw, in_axes=(0, 0, 0)))
    result = np.asarray(sample(keys, stacked_params, stacked_context))
    return {
        (name, lik.name): result[i, :, : int(f.observed.size)]
        for i, (name, f) in enumerate(zip(layers, per_layer, strict=True))
    }


def _network(
    fits: Any, ok: Sequence[Any], classical: Mapping[str, Any], seed: int, ci_prob: float
) -> tuple[Any, dict[str, Estimate | None] | None]:
    """Network-level metrics as posterior draws, summarised; ``(None, None)`` when no layer has alpha."""
    from rmtfit.network import network_metrics

    try:
        network = network_metrics(fits, spectra=ok, seed=seed)
    except (ValueError, TypeError) as exc:
        import warnings

        warnings.warn(f"network metrics not computed: {exc}", RuntimeWarning, stacklevel=4)
        return None, None
    summary: dict[str, Estimate | None] = {
        metric: Estimate.from_draws(values, ci_prob) for metric, values in network.network.items()
    }
    return network, summary


def _write_fits_netcdf(fits: Any, path: Path) -> None:
    """``fits.nc``: every posterior and the summary (:meth:`rmtfit.Fits.to_netcdf`)."""
    fits.to_netcdf(path)
