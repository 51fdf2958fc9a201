"""The main job: :func:`analyze` runs every stage on a network and returns one :class:`Analysis`.

``analyze(path)`` reads the weights (:mod:`rmtfit.spectra`), computes the scalar metrics and the
classical point estimates of every layer (:mod:`rmtfit.classical`) and, unless ``fast=True``,
fits the Bayesian likelihoods (:mod:`rmtfit.inference`), compares them (:mod:`rmtfit.compare`),
assigns phase probabilities (:mod:`rmtfit.phases`) and summarises the network
(:mod:`rmtfit.network`). The result is one immutable :class:`Analysis`; ``Analysis.write(dir)``
writes the report files (see :mod:`rmtfit.report` and ``docs/report.md``).

Every call into another stage goes through one of the ``_collect_*`` functions below, so the
coupling to the other stages' interfaces lives in this module only. A layer that fails at any
stage is kept, marked ``failed`` with the reason, and the run goes on.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from rmtfit.report._results import CI_PROB, Analysis, Estimate, LayerResult, Predictive

__all__ = ["analyze", "Analysis", "LayerResult", "Estimate", "Predictive", "CI_PROB"]


def analyze(
    source: Any,
    *,
    fast: bool = False,
    layers: str | None = None,
    likelihoods: Sequence[Any] | str | None = None,
    out: str | Path | None = None,
    seed: int = 0,
    device: str = "auto",
    draws: int | None = None,
    chains: int | None = None,
    quiet: bool = False,
    progress: bool = True,
    ci_prob: float = CI_PROB,
) -> Analysis:
    """Analyse every weight matrix of a network; optionally write the report files.

    Parameters
    ----------
    source
        A checkpoint path (safetensors file or sharded folder, torch state_dict, ``.npz``/``.npy``),
        a ``torch.nn.Module``, a mapping of names to arrays, or an :class:`rmtfit.Spectra`.
    fast
        Classical estimators only (seconds, no posteriors, models or phases).
    layers
        Regular expression; only layers whose name matches (``re.search``) are analysed.
    likelihoods
        Likelihood names (or :class:`rmtfit.Likelihood` objects, or a comma-separated string)
        to fit; default ``rmtfit.likelihoods.DEFAULT_LIKELIHOODS``. Ignored with ``fast=True``.
    out
        Folder to write ``report.json``, ``layers.csv``, ``fits.nc``, ``plots/`` and
        ``report.html`` into; nothing is written when ``None``.
    seed
        Seed of every random choice (MCMC, posterior predictive draws).
    device
        ``"auto"``, ``"cpu"`` or ``"cuda"``: where eigenvalues are computed.
    draws, chains
        MCMC draws per chain and number of chains (defaults of :func:`rmtfit.fit`).
    quiet, progress
        ``quiet`` silences every terminal output; ``progress=False`` hides the progress bars only.
    ci_prob
        Probability of the equal-tailed credible intervals, in (0, 1).

    Returns
    -------
    Analysis
        Layers that failed are kept with ``status="failed"`` and the reason; check
        ``Analysis.exit_code``.

    Raises
    ------
    FileNotFoundError, ValueError
        The input cannot be read, no layer is left to analyse, or an argument is out of range.
    """
    from rmtfit.report._terminal import StageProgress

    settings = _check_arguments(layers, seed, draws, chains, ci_prob, device)
    chosen = () if fast else _collect_likelihoods(likelihoods)
    timings: dict[str, float] = {}
    with StageProgress(enabled=progress and not quiet) as bar:
        start = time.perf_counter()
        spectra = _collect_spectra(
            source, layers=layers, device=device, progress=progress and not quiet
        )
        timings["spectra"] = time.perf_counter() - start

        start = time.perf_counter()
        per_layer = _collect_classical(spectra, bar)
        timings["classical"] = time.perf_counter() - start

        full = _FullResults()
        if not fast:
            full = _collect_full(
                spectra,
                per_layer,
                chosen,
                seed=int(seed),
                draws=draws,
                chains=chains,
                ci_prob=float(ci_prob),
                bar=bar,
                timings=timings,
            )
    results = _layer_results(spectra, per_layer, full)
    analysis = Analysis(
        source=str(spectra.source or _describe(source)),
        mode="fast" if fast else "full",
        seed=int(seed),
        ci_prob=float(ci_prob),
        layers=results,
        spectra=spectra,
        likelihoods=tuple(name for name, _ in chosen),
        classical={
            name: lr.classical for name, lr in per_layer.items() if lr.classical is not None
        },
        fits=full.fits,
        comparison=full.comparison,
        phases=full.phases,
        network=full.network,
        network_summary=full.network_summary,
        predictive=full.predictive,
        settings={**settings, "fast": bool(fast), "draws": draws, "chains": chains},
        timings=timings,
    )
    if out is not None:
        start = time.perf_counter()
        analysis.write(out, progress=progress and not quiet)
        timings["write"] = time.perf_counter() - start
    return analysis


def _check_arguments(
    layers: str | None,
    seed: int,
    draws: int | None,
    chains: int | None,
    ci_prob: float,
    device: str,
) -> dict[str, Any]:
    if layers is not None:
        try:
            re.compile(layers)
        except re.error as exc:
            raise ValueError(
                f"layers={layers!r} is not a valid regular expression ({exc}); "
                "pass a Python regex such as 'attention|dense'."
            ) from None
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed={seed!r}: the seed must be an integer >= 0.")
    for label, value in (("draws", draws), ("chains", chains)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ValueError(
                f"{label}={value!r}: must be a positive integer (or None for the default)."
            )
    if not (isinstance(ci_prob, float | int) and 0.0 < float(ci_prob) < 1.0):
        raise ValueError(
            f"ci_prob={ci_prob!r}: the credible-interval probability must be in (0, 1)."
        )
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device={device!r}: use 'auto', 'cpu' or 'cuda'.")
    return {"layers": layers, "device": device}


def _no_layers_message(spectra: Any, layers: str | None) -> str:
    where = spectra.source or "the input"
    if layers is not None and spectra.skipped:
        return (
            f"{where}: no weight matrix matches layers={layers!r}; "
            f"tensor names look like {[s.name for s in spectra.skipped[:3]]}."
        )
    if spectra.skipped:
        reasons = sorted({s.reason for s in spectra.skipped})[:3]
        return f"{where}: no weight matrix to analyse ({len(spectra.skipped)} tensors, none a matrix: {reasons})."
    return f"{where}: no tensors found; is this an empty checkpoint?"


def _describe(source: Any) -> str:
    if isinstance(source, str | Path):
        return str(source)
    if isinstance(source, Mapping):
        return "<mapping>"
    return f"<{type(source).__name__}>"


def _layer_results(
    spectra: Any, per_layer: Mapping[str, Any], full: Any
) -> tuple[LayerResult, ...]:
    """Assemble the per-layer records: analysed matrices in order, then failed, then skipped."""
    out: list[LayerResult] = []
    for index, spectrum in enumerate(spectra):
        base = per_layer[spectrum.name]
        fitted = full.layers.get(spectrum.name)
        status, reason = base.status, base.reason
        if fitted is not None and fitted.failed_reason and status == "ok":
            status, reason = "failed", fitted.failed_reason
        elif fitted is not None and fitted.note:
            reason = "; ".join(r for r in (reason, fitted.note) if r)
        out.append(
            LayerResult(
                name=spectrum.name,
                status=status,
                reason=reason,
                kind=spectrum.kind,
                N=int(spectrum.N),
                M=int(spectrum.M),
                num_evals=int(spectrum.num_evals),
                shape=(int(spectrum.N), int(spectrum.M)),
                layer_id=index,
                metrics=base.metrics,
                classical=base.classical,
                posterior=fitted.posterior if fitted is not None else None,
                models=fitted.models if fitted is not None else None,
                phase=fitted.phase if fitted is not None else None,
            )
        )
    next_id = len(out)
    for skipped in sorted(spectra.skipped, key=lambda s: not s.failed):
        shape = tuple(int(d) for d in skipped.shape)
        matrix = len(shape) >= 2
        n, m = (
            (max(shape[0], math.prod(shape[1:])), min(shape[0], math.prod(shape[1:])))
            if matrix
            else (None, None)
        )
        out.append(
            LayerResult(
                name=skipped.name,
                status="failed" if skipped.failed else "skipped",
                reason=skipped.reason or ("failed" if skipped.failed else "not analysed"),
                N=n if skipped.failed else None,
                M=m if skipped.failed else None,
                shape=shape,
                layer_id=next_id if skipped.failed else None,
            )
        )
        next_id += bool(skipped.failed)
    return tuple(out)


# --------------------------------------------------------------------------- stage adapters
# Everything below calls another stage; nothing else in rmtfit.analysis or rmtfit.report does.

METRIC_FIELDS = (
    "lambda_max",
    "log_spectral_norm",
    "log_norm",
    "stable_rank",
    "entropy",
    "numerical_rank",
    "rank_loss",
)


@dataclass(frozen=True)
class _LayerBase:
    """The fast-stage result of one layer: metrics and classical fit, or why they failed."""

    status: str
    reason: str = ""
    metrics: Mapping[str, float] | None = None
    classical: Any = None


@dataclass(frozen=True)
class _Fitted:
    """The full-stage result of one layer."""

    posterior: Mapping[str, Estimate | None] | None = None
    models: Mapping[str, Mapping[str, Any]] | None = None
    phase: Mapping[str, Any] | None = None
    failed_reason: str = ""
    note: str = ""


@dataclass(frozen=True)
class _FullResults:
    fits: Any = None
    comparison: Any = None
    phases: Any = None
    network: Any = None
    network_summary: Mapping[str, Estimate | None] | None = None
    layers: Mapping[str, _Fitted] = field(default_factory=dict)
    predictive: Mapping[str, tuple[Predictive, ...]] = field(default_factory=dict)


def _collect_spectra(source: Any, *, layers: str | None, device: str, progress: bool) -> Any:
    """Read the spectra (a :class:`rmtfit.Spectra` is filtered as given) with the layer filter."""
    from rmtfit.spectra import load_spectra

    if isinstance(source, str | Path) and not Path(source).exists():
        raise FileNotFoundError(f"{source}: no such file or folder; check the path.")
    spectra = load_spectra(source, include=layers, device=device, progress=progress)
    if not len(spectra) and not spectra.failed:
        raise ValueError(_no_layers_message(spectra, layers))
    return spectra


def _collect_classical(spectra: Any, bar: Any) -> dict[str, _LayerBase]:
    """Scalar metrics and the classical fit of every layer; a layer that raises is failed."""
    from rmtfit.classical import fit_classical
    from rmtfit.spectra import spectral_metrics

    out: dict[str, _LayerBase] = {}
    with bar.task("classical fits", total=len(spectra)) as advance:
        for spectrum in spectra:
            out[spectrum.name] = _classical_one(spectrum, fit_classical, spectral_metrics)
            advance()
    return out


def _classical_one(spectrum: Any, fit_classical: Any, spectral_metrics: Any) -> _LayerBase:
    bad = int(np.count_nonzero(~np.isfinite(spectrum.eigenvalues)))
    if bad:
        return _LayerBase("failed", f"{bad} non-finite eigenvalues (NaN or Inf in the weights)")
    try:
        metrics = _metrics_dict(spectral_metrics(spectrum))
    except Exception as exc:  # one bad layer never kills the run
        return _LayerBase("failed", f"spectral metrics failed: {type(exc).__name__}: {exc}")
    try:
        classical = fit_classical(spectrum)
    except Exception as exc:
        return _LayerBase("failed", f"classical fit failed: {type(exc).__name__}: {exc}", metrics)
    reason = "" if classical.ok else f"classical fit not done: {classical.reason}"
    return _LayerBase("ok", reason, metrics, classical)


def _metrics_dict(metrics: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in METRIC_FIELDS:
        value = getattr(metrics, name, None)
        if value is None and isinstance(metrics, Mapping):
            value = metrics.get(name)
        out[name] = float("nan") if value is None else float(value)
    return out


def _collect_likelihoods(likelihoods: Sequence[Any] | str | None) -> tuple[tuple[str, Any], ...]:
    """``(name, Likelihood)`` pairs to fit: the default set, or the user's names/objects."""
    from rmtfit.likelihoods import get_likelihood

    if likelihoods is None:
        from rmtfit.likelihoods import DEFAULT_LIKELIHOODS

        likelihoods = DEFAULT_LIKELIHOODS
    elif isinstance(likelihoods, str):
        likelihoods = [n.strip() for n in likelihoods.split(",") if n.strip()]
    chosen = []
    for item in likelihoods:
        try:
            lik = get_likelihood(item)
        except KeyError as exc:
            raise ValueError(str(exc.args[0]) if exc.args else str(exc)) from None
        chosen.append((lik.name, lik))
    if not chosen:
        raise ValueError(
            "likelihoods: the list is empty; name at least one likelihood, or pass None for the defaults."
        )
    return tuple(chosen)


def _collect_full(
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


def compare_checkpoints(
    a: Any,
    b: Any,
    *,
    layers: str | None = None,
    seed: int = 0,
    draws: int | None = None,
    chains: int | None = None,
    out: str | Path | None = None,
    quiet: bool = False,
) -> int:
    """``rmtfit compare A B``: analyse both networks, print ``P(A < B)`` per metric; exit code.

    Each network gets the full default analysis (``seed`` for A, ``seed + 1`` for B, so their
    posteriors are independent); the comparison is :func:`rmtfit.network.compare_networks`.
    With ``out`` the comparison is also written as JSON, atomically.
    """
    from rmtfit.network import compare_networks
    from rmtfit.report._terminal import print_network_comparison
    from rmtfit.report._write import write_json_atomic

    common: dict[str, Any] = {"layers": layers, "draws": draws, "chains": chains, "quiet": quiet}
    first = analyze(a, seed=seed, **common)
    second = analyze(b, seed=seed + 1, **common)
    for label, analysis in (("A", first), ("B", second)):
        if analysis.network is None:
            raise ValueError(
                f"{label} = {analysis.source}: no layer has an alpha posterior, so there is "
                "nothing to compare; check the layer filter and the report's reasons."
            )
    comparison = compare_networks(first.network, second.network, seed=seed)
    if not quiet:
        print_network_comparison(comparison, str(a), str(b))
    if out is not None:
        write_json_atomic(Path(out), comparison.to_dict())
    return max(first.exit_code, second.exit_code)
