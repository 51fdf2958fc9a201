""":func:`fit_classical`: every classical estimate of one layer, as one :class:`ClassicalFit`."""

from __future__ import annotations

from typing import Any

import numpy as np

from rmtfit.classical import _scan
from rmtfit.classical._bootstrap import bootstrap_gof
from rmtfit.classical._mp import fit_mp, rank_collapse
from rmtfit.classical._powerlaw import fit_power_law, hill_estimator
from rmtfit.classical._result import ClassicalFit

__all__ = ["fit_classical"]


def fit_classical(
    spectrum: Any,
    *,
    min_tail: int = 10,
    xmax: float | None = None,
    ks: str = "standard",
    bootstrap: int = 0,
    seed: int = 0,
    tw_level: float = 0.995,
    rank_tol: float | None = None,
) -> ClassicalFit:
    """Classical point estimates of one spectrum: Clauset power law, Hill, MP bulk, spikes.

    * Power law: MLE alpha with the KS-minimising xmin over every candidate whose tail holds at
      least ``min_tail`` eigenvalues (:func:`rmtfit.classical.fit_power_law`), its standard
      error and finite-size corrected value; the Hill estimate at the same tail
      (:func:`rmtfit.classical.hill_estimator` with ``k = n_tail``, i.e. the threshold at the
      largest eigenvalue below xmin; ``k = n_tail - 1`` when xmin is the smallest eigenvalue).
      Zero and negative eigenvalues (rank loss, rounding) are left out, with a note.
    * Marchenko-Pastur: :func:`rmtfit.classical.fit_mp` on the eigenvalues above the rank
      tolerance: sigma^2, lambda+-, the Tracy-Widom band, the Gavish-Donoho threshold, and the
      spike counts by both rules.
    * Rank collapse: the fraction of eigenvalues at or below ``rank_tol`` (default
      :func:`rmtfit.spectra.metrics.default_rank_tol`, numpy's ``matrix_rank`` rule).

    Bad data never raises: a spectrum with too few eigenvalues, all equal, all zero or
    non-finite gives ``status="not_fitted"`` and a ``reason`` saying what was needed and found;
    a part that fails alone (e.g. the MP fit) leaves its fields NaN with a note.

    Parameters
    ----------
    spectrum
        An :class:`rmtfit.Spectrum` (anything with ``name``, ``N``, ``M``, ``eigenvalues``;
        ``num_slices`` is read when present).
    min_tail
        Smallest tail the power-law scan may choose (>= 2).
    xmax
        Upper truncation of the power law (raw units); None for none.
    ks
        KS definition of the scan: ``"standard"``, ``"reweighted"`` or ``"powerlaw"``.
    bootstrap
        Number of bootstrap replicates for the goodness-of-fit p-value (0: not computed).
    seed
        Seed of the bootstrap.
    tw_level
        Level of the Tracy-Widom band (probability that a pure-noise spectrum shows no spike).
    rank_tol
        Eigenvalues at or below it count as zero for ``rank_collapse``.

    Returns
    -------
    ClassicalFit

    Raises
    ------
    ValueError
        Only for bad *options* (``min_tail``, ``ks``, ``bootstrap``, ``tw_level``), never for bad data.
    """
    if int(min_tail) != min_tail or int(min_tail) < 2:
        raise ValueError(
            f"The value of `min_tail` must be an integer >= 2, got {min_tail!r}; 10 is the default."
        )
    if ks not in _scan.KS_METHODS:
        raise ValueError(f"The value of `ks` must be one of {_scan.KS_METHODS}, got {ks!r}.")
    if int(bootstrap) < 0:
        raise ValueError(f"The value of `bootstrap` must be >= 0 replicates, got {bootstrap}.")
    if not 0 < tw_level < 1:
        raise ValueError(f"The value of `tw_level` must be in the (0, 1) interval, got {tw_level}.")
    name = str(getattr(spectrum, "name", ""))
    N, M = int(spectrum.N), int(spectrum.M)  # noqa: N806
    ev = np.asarray(spectrum.eigenvalues, dtype=np.float64).ravel()
    base: dict[str, Any] = {"name": name, "N": N, "M": M, "num_evals": int(ev.size)}

    def not_fitted(reason: str, **extra: Any) -> ClassicalFit:
        return ClassicalFit(status="not_fitted", reason=reason, **base, **extra)

    if ev.size == 0:
        return not_fitted(
            "no eigenvalues: the power-law fit needs at least 2 distinct positive ones"
        )
    bad = ~np.isfinite(ev)
    if bad.any():
        return not_fitted(
            f"{int(bad.sum())} of {ev.size} eigenvalues are not finite (NaN or inf): "
            "recompute the spectrum (float64) or drop the layer"
        )
    ev = np.sort(ev)
    notes: list[str] = []
    if rank_tol is None:
        from rmtfit.spectra.metrics import default_rank_tol

        rank_tol = default_rank_tol(float(ev[-1]), N, M) if ev[-1] > 0 else 0.0
    collapse = rank_collapse(ev, rank_tol)
    positive = ev[ev > 0]
    num_dropped = int(ev.size - positive.size)
    base.update(rank_collapse=collapse, num_dropped=num_dropped)
    if num_dropped:
        notes.append(
            f"{num_dropped} of {ev.size} eigenvalues are zero or negative (rank loss or rounding); "
            "left out of the power-law fit"
        )
    if positive.size == 0:
        return not_fitted(
            f"all {ev.size} eigenvalues are zero or negative: nothing to fit "
            "(rank-collapsed or all-zero weights)",
            notes=tuple(notes),
        )
    if positive[0] == positive[-1]:
        return not_fitted(
            f"all {positive.size} positive eigenvalues are equal ({positive[0]:.6g}): "
            "no tail or bulk shape to fit",
            notes=tuple(notes),
        )
    mp_fields = _mp_fields(ev[ev > rank_tol], N, M, spectrum, tw_level, notes)
    base.update(mp_fields)
    need = int(min_tail)
    if positive.size < need:
        return not_fitted(
            f"too few positive eigenvalues for a power-law fit: needs at least {need} "
            f"(min_tail={need}; lower min_tail to fit smaller layers), got {positive.size}",
            notes=tuple(notes),
        )
    try:
        pl = fit_power_law(positive, xmax=xmax, ks=ks, min_tail=need)
    except ValueError as exc:
        return not_fitted(f"power-law fit not possible: {exc}", notes=tuple(notes))
    below = int(np.count_nonzero(positive < pl.xmin))
    k = pl.n_tail if below > 0 else pl.n_tail - 1
    hill = hill_estimator(positive, k) if 1 <= k < positive.size else float("nan")
    p_value = float("nan")
    if bootstrap:
        p_value = bootstrap_gof(positive, pl, n_boot=int(bootstrap), seed=seed).p_value
    return ClassicalFit(
        status="ok",
        alpha=pl.alpha,
        alpha_se=pl.alpha_se,
        alpha_unbiased=pl.alpha_unbiased,
        xmin=pl.xmin,
        xmax=float("nan") if xmax is None else float(xmax),
        D=pl.D,
        n_tail=pl.n_tail,
        hill_alpha=float(hill),
        p_value=p_value,
        notes=tuple(notes),
        **base,
    )


def _mp_fields(bulk_ev, N, M, spectrum, tw_level, notes) -> dict[str, Any]:  # noqa: N803
    """The MP part of a :class:`ClassicalFit`, or nothing (with a note) when it cannot be fitted."""
    if bulk_ev.size < 2 or bulk_ev[0] == bulk_ev[-1]:
        notes.append(
            f"MP fit not done: needs at least 2 distinct eigenvalues above the rank tolerance, "
            f"got {bulk_ev.size}"
        )
        return {}
    num_slices = int(getattr(spectrum, "num_slices", 1) or 1)
    try:
        mp = fit_mp(bulk_ev, N, M, tw_level=tw_level, num_slices=num_slices)
    except ValueError as exc:
        notes.append(f"MP fit not done: {exc}")
        return {}
    if not mp.converged:
        notes.append(f"MP spike-removal iteration did not converge in {mp.iterations} steps")
    return {
        "sigma2": mp.sigma2,
        "sigma_mp": float(np.sqrt(mp.sigma2)),
        "mp_method": mp.method,
        "lambda_plus": mp.lambda_plus,
        "lambda_minus": mp.lambda_minus,
        "tw_scale": mp.tw_scale,
        "tw_threshold": mp.tw_threshold,
        "gd_threshold": mp.gd_threshold,
        "num_spikes": mp.num_spikes,
        "num_spikes_gd": mp.num_spikes_gd,
        "sigma2_gd": mp.sigma2_gd,
        "mp_D": mp.D,
    }
