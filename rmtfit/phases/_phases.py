"""The 5+1 phases of training (Martin & Mahoney 2019, 2021) as posterior probabilities per layer.

The papers assign phases by eye; rmtfit states each phase as a condition on the posterior of a
fitted likelihood and averages the conditions over the likelihoods with their stacking weights:

.. math::

    P(\\text{phase}) = P_{RC}\\,[\\text{phase} = RC]
      + (1 - P_{RC}) \\sum_k w_k\\, P_k(\\text{phase condition} \\mid \\text{data}),

where ``w_k`` are the weights of the full-spectrum likelihoods, stacked on the eigenvalues
above the shared MP edge (:mod:`rmtfit.phases._exceedances`: the phase hypotheses differ there,
and the bulk cancels out of the conditional densities), ``P_k`` is the fraction of posterior
draws of likelihood ``k`` that meet the phase's condition, and ``P_RC`` is the probability of Rank-collapse, read from the spectrum alone:

* **Rank-collapse (+1)** is a property of the eigenvalues, not of a fitted density: eigenvalue
  ``i`` is numerically zero when its singular value is below ``max(N, M) * eps_float32 * s_max``
  (the default tolerance of ``numpy.linalg.matrix_rank`` in the precision of the stored weights).
  With ``n0`` zeros among ``n`` eigenvalues and a Jeffreys prior, the zero fraction ``f`` has
  posterior ``Beta(n0 + 1/2, n - n0 + 1/2)`` and ``P_RC = P(f > rank_collapse_fraction)``. The other
  five phases share the remaining ``1 - P_RC`` (a collapsed layer's fits describe its non-zero part).
* **MP-kind likelihoods** (MP bulk + spikes) give, per draw, the bulk edge ``lambda_+`` and the
  Tracy-Widom scale ``s``; the TW band is ``(lambda_+, T]`` with ``T = lambda_+ + c s`` and ``c`` the
  ``tw_band_prob`` quantile of the largest of ``num_slices`` TW1 variables. With ``K`` the number
  of eigenvalues beyond ``T``, a draw is *Bulk+Spikes* when ``1 <= K <= max(1,
  spike_fraction_max * n)`` (a few separated spikes), *Bulk-decay* when ``K`` is larger (many
  outliers: a continuum leaving the bulk, not a few spikes) and the largest eigenvalue stays
  within ``heavy_reach`` times ``T``, *Heavy-tailed* when the many outliers reach beyond it (a
  tail spanning more than a decade above the edge), else *Bleeding-out* when more than
  ``edge_excess_per_slice * num_slices`` eigenvalues lie inside the band (mass just above the edge
  that is not separated: exactly the eigenvalues whose spike membership the mixture cannot
  decide), else *Random-like*.
* **Tail-kind likelihoods** (bulk + power-law tail) give, per draw, the exponent ``alpha``:
  *Heavy-tailed* when ``alpha <= alpha_heavy``, *Bulk-decay* when ``alpha_heavy < alpha <=
  alpha_random``, and *Random-like* above (a tail that steep is an MP edge, not a power law).

A spectrum of fewer than ``min_phase_evals`` eigenvalues gets no phase (a ``ValueError`` that the
pipeline reports as the layer's reason): a handful of eigenvalues cannot tell a bulk from a tail.

Every number lives in :data:`THRESHOLDS` with its source; ``docs/phases.md`` gives the table and
its calibration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from rmtfit.comparison import Comparison, compare
from rmtfit.phases._exceedances import exceedance_weights
from rmtfit.phases._results import PhaseResult, PhaseSummary
from rmtfit.phases._thresholds import MAIN_PHASES, PHASES, THRESHOLDS, TW1_GAMMA
from rmtfit.posterior import (
    LayerPosteriors,
    layer_posteriors,
    likelihood_family,
    likelihood_roles,
    role_draws,
)
from rmtfit.spectra import numerically_zero

__all__ = [
    "phase_probabilities",
    "network_phases",
    "summarize_phases",
    "rank_collapse_probability",
]

# --- entry points -------------------------------------------------------------------------------


def phase_probabilities(
    idatas: Mapping[str, Any],
    spectrum: Any,
    *,
    classical: Any = None,
    comparison: Comparison | None = None,
    weights: Mapping[str, float] | None = None,
    thresholds: Mapping[str, float] | None = None,
    weighting: str = "exceedances",
) -> PhaseResult:
    """Posterior probability of each of the 5+1 phases for one layer.

    Parameters
    ----------
    idatas
        Likelihood name -> ``InferenceData`` for this layer. Only full-spectrum likelihoods are
        used, by the kind their :class:`rmtfit.Roles` declare: MP-kind ones need the draws of
        their ``bulk_scale`` (sigma^2) or ``bulk_edge`` (lambda_+) role, tail-kind ones those of
        their ``tail_exponent`` role (alpha).
    spectrum
        The layer's :class:`rmtfit.Spectrum` (eigenvalues, N, M, num_slices).
    classical
        The layer's :class:`rmtfit.ClassicalFit`; only used for notes (may be ``None``).
    comparison
        A full-family :class:`rmtfit.comparison.Comparison` of this layer; computed when omitted.
    weights
        Explicit model weights (likelihood name -> weight), instead of the comparison's.
    thresholds
        Overrides of :data:`THRESHOLDS` values by name.
    weighting
        How the full-spectrum fits are weighted when ``weights`` is not given:
        ``"exceedances"`` (default) stacks them on the eigenvalues above the shared MP edge
        (:mod:`rmtfit.phases._exceedances`: the phase hypotheses differ there, not in the
        bulk); ``"full"`` uses the comparison over every eigenvalue. A layer whose fits lack
        what the exceedance comparison needs (pointwise log-likelihoods, a ``cdf``) falls back
        to ``"full"``, with a note.

    Returns
    -------
    PhaseResult
    """
    values = _threshold_values(thresholds)
    layer = str(spectrum.name)
    n_evals = int(np.asarray(spectrum.eigenvalues).size)
    if n_evals < values["min_phase_evals"]:
        raise ValueError(
            f"layer {layer!r}: {n_evals} eigenvalues, fewer than the "
            f"{int(values['min_phase_evals'])} a phase needs (min_phase_evals, calibrated on the "
            "synthetic phase suite); no phase is assigned"
        )
    full = {n: d for n, d in idatas.items() if likelihood_family(n, d) == "full"}
    if not full:
        collapsed = _collapsed_without_fits(spectrum, values, layer)
        if collapsed is not None:
            return collapsed
        raise ValueError(
            f"layer {layer!r}: the phases need at least one full-spectrum likelihood fit "
            f"(e.g. mp_spikes and spliced_pl); fitted here: {sorted(idatas)}."
        )
    model_weights = _model_weights(full, layer, comparison, weights)
    kinds = {n: likelihood_roles(n, full[n]).kind for n in model_weights}
    notes: list[str] = []
    usable = {n: w for n, w in model_weights.items() if kinds[n] in ("mp", "tail")}
    dropped = sorted(set(model_weights) - set(usable))
    if dropped:
        notes.append(f"likelihoods {dropped} are neither MP- nor tail-kind; left out of the phases")
    total = sum(usable.values())
    if total <= 0:
        raise ValueError(
            f"layer {layer!r}: no weight on an MP-kind or tail-kind likelihood "
            f"(weights {dict(model_weights)}, kinds {kinds}); cannot assign phases."
        )
    usable = {n: w / total for n, w in usable.items()}
    if weights is None and weighting == "exceedances" and len(usable) > 1:
        usable = _exceedance_weights(full, kinds, usable, spectrum, layer, notes)
    elif weighting not in ("exceedances", "full"):
        raise ValueError(f"weighting {weighting!r}: use 'exceedances' or 'full'.")
    if not any(kinds[n] == "tail" for n in usable):
        notes.append("no tail-kind likelihood: Bulk-decay and Heavy-tailed have probability 0")
    if not any(kinds[n] == "mp" for n in usable):
        notes.append("no MP-kind likelihood: Bleeding-out and Bulk+Spikes have probability 0")

    per_model: dict[str, dict[str, float]] = {}
    spikes: dict[int, float] = {}
    very_heavy = 0.0
    mp_total = sum(w for n, w in usable.items() if kinds[n] == "mp")
    for name, w in usable.items():
        if kinds[name] == "mp":
            probs, counts = _mp_phase_probabilities(full[name], spectrum, values, layer, name)
            for k, p in counts.items() if mp_total > 0 else ():  # all MP weight 0: no count
                spikes[k] = spikes.get(k, 0.0) + p * w / mp_total
        else:
            probs, heavy2 = _tail_phase_probabilities(full[name], values, layer, name)
            very_heavy += w * heavy2
        per_model[name] = probs
    zero_fraction, p_rc = rank_collapse_probability(spectrum, thresholds=values)
    shares = {p: sum(usable[n] * per_model[n][p] for n in usable) for p in MAIN_PHASES}
    return _result(
        layer,
        shares,
        zero_fraction,
        p_rc,
        model_weights=dict(usable),
        model_kinds={n: kinds[n] for n in usable},
        model_probabilities=per_model,
        num_spikes=dict(sorted(spikes.items())),
        p_very_heavy=(1.0 - p_rc) * very_heavy,
        notes=tuple(notes + _classical_notes(classical)),
    )


def _result(
    layer: str,
    shares: Mapping[str, float],
    zero_fraction: float,
    p_rc: float,
    **details: Any,
) -> PhaseResult:
    """A :class:`PhaseResult` whose five non-collapse phases share ``1 - P_RC`` as ``shares``
    (which sum to 1) say; ``details`` are the remaining fields."""
    probabilities = {p: (1.0 - p_rc) * shares[p] for p in MAIN_PHASES}
    probabilities["rank_collapse"] = p_rc
    return PhaseResult(
        layer=layer,
        probabilities=probabilities,
        map_phase=max(PHASES, key=lambda p: probabilities[p]),
        p_rank_collapse=p_rc,
        zero_fraction=zero_fraction,
        **details,
    )


def network_phases(
    layers: Iterable[LayerPosteriors] | Any,
    *,
    spectra: Any = None,
    comparisons: Mapping[str, Comparison] | None = None,
    thresholds: Mapping[str, float] | None = None,
    weighting: str = "exceedances",
) -> PhaseSummary:
    """Phase probabilities of every layer and their network summary.

    ``layers`` is what :func:`rmtfit.posterior.layer_posteriors` accepts (a list of
    :class:`~rmtfit.posterior.LayerPosteriors`,
    an :class:`rmtfit.Fits` with ``spectra=...``, an analysis result). A failing layer is kept in
    ``PhaseSummary.failed`` with its reason and the others go on.
    """
    results, failed = [], {}
    for item in layer_posteriors(layers, spectra=spectra):
        try:
            results.append(
                phase_probabilities(
                    item.idatas,
                    item.spectrum,
                    classical=item.classical,
                    comparison=(comparisons or {}).get(item.name),
                    thresholds=thresholds,
                    weighting=weighting,
                )
            )
        except (ValueError, KeyError) as exc:
            failed[item.name] = str(exc)
    return PhaseSummary(layers=tuple(results), failed=failed)


def _collapsed_without_fits(
    spectrum: Any, values: Mapping[str, float], layer: str
) -> PhaseResult | None:
    """The phases of a layer whose non-zero part is too small to fit, when it is rank-collapsed.

    Rank-collapse is read from the spectrum alone, so a collapsed layer needs no fit to be
    called one; the other five phases share ``1 - P_RC`` equally (nothing is known about them).
    ``None`` when the layer is not collapsed (``P_RC < 0.5``): then a fit is needed.
    """
    zero_fraction, p_rc = rank_collapse_probability(spectrum, thresholds=values)
    if p_rc < 0.5:
        return None
    return _result(
        layer,
        {p: 1.0 / len(MAIN_PHASES) for p in MAIN_PHASES},
        zero_fraction,
        p_rc,
        model_weights={},
        model_kinds={},
        model_probabilities={},
        num_spikes={},
        p_very_heavy=0.0,
        notes=("no full-spectrum fit of the non-zero part: the other phases share 1 - P_RC",),
    )


def summarize_phases(results: Iterable[PhaseResult]) -> PhaseSummary:
    """Network summary of per-layer :class:`PhaseResult` values."""
    return PhaseSummary(layers=tuple(results))


# --- Rank-collapse ------------------------------------------------------------------------------


def rank_collapse_probability(
    spectrum: Any, *, thresholds: Mapping[str, float] | None = None
) -> tuple[float, float]:
    """``(zero_fraction, P_RC)``: the observed fraction of numerically zero eigenvalues and the
    posterior probability that the zero fraction exceeds ``rank_collapse_fraction``."""
    from scipy.stats import beta

    values = _threshold_values(thresholds)
    n = np.asarray(spectrum.eigenvalues).size
    if n == 0:
        raise ValueError(f"layer {spectrum.name!r}: empty spectrum, no phase can be assigned.")
    zeros = int(np.sum(numerically_zero(spectrum, eps=values["rank_zero_eps"])))
    p = float(beta.sf(values["rank_collapse_fraction"], zeros + 0.5, n - zeros + 0.5))
    return zeros / n, p


# --- per-likelihood conditions ------------------------------------------------------------------


def _mp_phase_probabilities(
    idata: Any, spectrum: Any, values: Mapping[str, float], layer: str, name: str
) -> tuple[dict[str, float], dict[int, float]]:
    lambda_plus, tw_scale = _mp_edge_draws(idata, spectrum, layer, name)
    slices = max(int(getattr(spectrum, "num_slices", 1) or 1), 1)
    band = lambda_plus + _tw_quantile(values["tw_band_prob"] ** (1.0 / slices)) * tw_scale
    ev = np.sort(np.asarray(spectrum.eigenvalues, dtype=np.float64))
    beyond = ev.size - np.searchsorted(ev, band, side="right")
    above_edge = ev.size - np.searchsorted(ev, lambda_plus, side="right")
    in_band = above_edge - beyond
    few = max(1, int(values["spike_fraction_max"] * ev.size))
    spikes = (beyond >= 1) & (beyond <= few)
    many = beyond > few
    # many outliers that reach more than a decade beyond the band: a heavy tail, not a decay
    far = ev[-1] > values["heavy_reach"] * band
    bleeding = (beyond == 0) & (in_band > values["edge_excess_per_slice"] * slices)
    probs = {p: 0.0 for p in MAIN_PHASES}
    probs["bulk_spikes"] = float(np.mean(spikes))
    probs["bulk_decay"] = float(np.mean(many & ~far))
    probs["heavy_tailed"] = float(np.mean(many & far))
    probs["bleeding_out"] = float(np.mean(bleeding))
    probs["random_like"] = float(np.mean((beyond == 0) & ~bleeding))
    counts, freq = np.unique(beyond, return_counts=True)
    return probs, {int(k): float(f) / beyond.size for k, f in zip(counts, freq, strict=True)}


def _tail_phase_probabilities(
    idata: Any, values: Mapping[str, float], layer: str, name: str
) -> tuple[dict[str, float], float]:
    alpha = role_draws(name, idata, "tail_exponent")
    if alpha is None:
        variable = likelihood_roles(name, idata).tail_exponent
        raise ValueError(
            f"layer {layer!r}: tail-kind likelihood {name!r} has no posterior variable "
            f"{variable!r} (its declared tail_exponent role); the phase rules need the tail "
            "exponent."
        )
    alpha = alpha.ravel()
    probs = {p: 0.0 for p in MAIN_PHASES}
    probs["heavy_tailed"] = float(np.mean(alpha <= values["alpha_heavy"]))
    probs["bulk_decay"] = float(
        np.mean((alpha > values["alpha_heavy"]) & (alpha <= values["alpha_random"]))
    )
    probs["random_like"] = float(np.mean(alpha > values["alpha_random"]))
    return probs, float(np.mean(alpha < values["alpha_very_heavy"]))


def _exceedance_weights(
    full: Mapping[str, Any],
    kinds: Mapping[str, str],
    usable: Mapping[str, float],
    spectrum: Any,
    layer: str,
    notes: list[str],
) -> dict[str, float]:
    """The usable fits' weights from the eigenvalues above the shared MP edge; the full-data
    ``usable`` weights (with a note) when that comparison cannot be made."""
    edges = {n: _mp_edge_draws(full[n], spectrum, layer, n)[0] for n in usable if kinds[n] == "mp"}
    try:
        found = exceedance_weights(
            {n: full[n] for n in usable},
            kinds,
            usable,
            edges,
            {n: _registered_likelihood(n) for n in usable},
            layer,
        )
    except ValueError as exc:
        notes.append(f"phase weights from every eigenvalue: {exc}")
        return dict(usable)
    notes.append(found.note)
    return found.weights


def _registered_likelihood(name: str) -> Any:
    from rmtfit.likelihoods import get_likelihood

    try:
        return get_likelihood(name)
    except KeyError:
        return None


def _mp_edge_draws(
    idata: Any, spectrum: Any, layer: str, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per-draw MP edge ``lambda_+`` and Tracy-Widom scale, raw eigenvalue units."""
    n_rows, q = float(spectrum.N), float(spectrum.Q)
    edge_factor = (1.0 + q**-0.5) ** 2
    sigma2 = role_draws(name, idata, "bulk_scale")
    lambda_plus = role_draws(name, idata, "bulk_edge")
    if sigma2 is None and lambda_plus is None:
        roles = likelihood_roles(name, idata)
        raise ValueError(
            f"layer {layer!r}: MP-kind likelihood {name!r} has none of the draws of its "
            f"bulk_scale (sigma^2: {roles.bulk_scale!r}) or bulk_edge (lambda_+: "
            f"{roles.bulk_edge!r}) roles; the phase rules need the MP edge (declare them with "
            "roles=Roles(kind='mp', bulk_scale=..., bulk_edge=...))."
        )
    if sigma2 is None:
        sigma2 = lambda_plus / (n_rows * edge_factor)
    if lambda_plus is None:
        lambda_plus = n_rows * sigma2 * edge_factor
    tw_scale = sigma2 * n_rows ** (1.0 / 3.0) * (1.0 + q**-0.5) * (1.0 + q**0.5) ** (1.0 / 3.0)
    return lambda_plus.ravel(), tw_scale.ravel()


def _tw_quantile(prob: float) -> float:
    from scipy.stats import gamma

    shape, scale, shift = TW1_GAMMA
    return float(gamma.ppf(prob, shape, scale=scale) - shift)


# --- helpers ------------------------------------------------------------------------------------


def _threshold_values(overrides: Mapping[str, float] | None) -> dict[str, float]:
    values = {name: t.value for name, t in THRESHOLDS.items()}
    for name, value in (overrides or {}).items():
        if name not in values:
            raise ValueError(
                f"unknown phase threshold {name!r}; the thresholds are {sorted(values)}."
            )
        values[name] = float(value)
    return values


def _model_weights(
    full: Mapping[str, Any],
    layer: str,
    comparison: Comparison | None,
    weights: Mapping[str, float] | None,
) -> dict[str, float]:
    if weights is not None:
        chosen = {str(n): float(w) for n, w in weights.items()}
        unknown = sorted(set(chosen) - set(full))
        if unknown:
            raise ValueError(
                f"layer {layer!r}: weights name likelihoods {unknown} that have no full-spectrum "
                f"fit here; fitted: {sorted(full)}."
            )
        if any(not np.isfinite(w) or w < 0 for w in chosen.values()) or sum(chosen.values()) <= 0:
            raise ValueError(f"layer {layer!r}: weights {chosen} must be >= 0 with a positive sum.")
        return chosen
    if comparison is None and len(full) == 1:
        return {next(iter(full)): 1.0}
    if comparison is None:
        comparison = compare(full, layer=layer, family="full")
    if comparison.family != "full":
        raise ValueError(
            f"layer {layer!r}: the phases need the comparison of the full-spectrum likelihoods; "
            f"got family {comparison.family!r}."
        )
    missing = sorted(set(comparison.weights) - set(full))
    if missing:
        raise ValueError(
            f"layer {layer!r}: the comparison has {missing} but no fits were given for them."
        )
    return dict(comparison.weights)


def _classical_notes(classical: Any) -> list[str]:
    if classical is None or getattr(classical, "ok", True):
        return []
    return [f"classical fit: {getattr(classical, 'reason', '')}"]
