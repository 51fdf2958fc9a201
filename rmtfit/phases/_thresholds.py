"""The names of the 5+1 phases and the one table of the numbers their rules use."""

from __future__ import annotations

from dataclasses import dataclass

from rmtfit.spectra.metrics import ZERO_EPS

__all__ = ["PHASES", "PHASE_LABELS", "MAIN_PHASES", "Threshold", "THRESHOLDS", "TW1_GAMMA"]

PHASES: tuple[str, ...] = (
    "random_like",
    "bleeding_out",
    "bulk_spikes",
    "bulk_decay",
    "heavy_tailed",
    "rank_collapse",
)
"""The 5+1 phases in order of increasing self-regularization, Rank-collapse last."""

PHASE_LABELS: dict[str, str] = {
    "random_like": "Random-like",
    "bleeding_out": "Bleeding-out",
    "bulk_spikes": "Bulk+Spikes",
    "bulk_decay": "Bulk-decay",
    "heavy_tailed": "Heavy-tailed",
    "rank_collapse": "Rank-collapse",
}

MAIN_PHASES = PHASES[:5]
"""The five phases of the non-zero part of a spectrum (all but Rank-collapse)."""
# Chiani (2014) shifted-gamma approximation of TW1: TW1 ~ Gamma(k, theta) - shift.
TW1_GAMMA = (46.446, 0.186054, 9.84801)


@dataclass(frozen=True)
class Threshold:
    """One number of the phase rules, with where it comes from."""

    name: str
    value: float
    rule: str
    source: str


THRESHOLDS: dict[str, Threshold] = {
    t.name: t
    for t in (
        Threshold(
            "rank_zero_eps",
            ZERO_EPS,
            "eigenvalue i is zero when lambda_i <= max(eps^2 (sqrt N + sqrt M)^2 mean(w^2), "
            "max(N, M) eps_64 lambda_max) (rmtfit.spectra.numerically_zero)",
            "the edge of the float32 rounding noise of the stored weights (a random matrix with "
            "entries eps |w|), and the float64 Gram matrix's accuracy. Not relative to lambda_max "
            "(numpy.linalg.matrix_rank's rule): a heavy-tailed matrix's lambda_max is enormous. "
            "Calibration (tests/test_phases.py): Gaussian and Pareto mu = 1 matrices up to "
            "1000 x 500 have no zero eigenvalue; low-rank products in float32 or float64 are "
            "zero beyond their rank.",
        ),
        Threshold(
            "rank_collapse_fraction",
            0.10,
            "P_RC = P(zero fraction > 0.10) under Beta(n0 + 1/2, n - n0 + 1/2)",
            "M&M 2021 ('a large mass at 0'): chosen as 10%, far above what MP with Q = 1 puts below "
            "the zero tolerance (< 0.5% for N >= 200); to be checked on models/.",
        ),
        Threshold(
            "tw_band_prob",
            0.999,
            "T = lambda_+ + c s with c the 0.999 quantile of max of num_slices TW1 variables",
            "Tracy-Widom edge (Johnstone 2001), TW1 by Chiani's (2014) shifted gamma: c = 3.25 for "
            "one slice. Simulated Gaussian N x M (N <= 1000): P(lambda_1 > T) <= 1%.",
        ),
        Threshold(
            "edge_excess_per_slice",
            1.0,
            "Bleeding-out when #{lambda_+ < lambda_i <= T} > 1 * num_slices (and nothing beyond T)",
            "Simulated Gaussian N x M with known sigma: P(lambda_1 > lambda_+) = 0.13-0.20, "
            "P(lambda_2 > lambda_+) <= 0.003, so two eigenvalues above the edge are not TW noise.",
        ),
        Threshold(
            "spike_fraction_max",
            0.05,
            "Bulk+Spikes when 1 <= K <= max(1, 0.05 n) eigenvalues lie beyond T; more is Bulk-decay",
            "'a few spikes': the spiked covariance model has a fixed number of spikes as the size "
            "grows (Johnstone 2001; Baik, Ben Arous & Peche 2005); M&M's universality table "
            "(ICML 2019 talk) defines it as MP plus low-rank perturbations, while many outliers "
            "merging into the bulk edge are Bulk-decay. "
            "5% of the n eigenvalues (the issue's bound: never above 10%); the suite's spiked "
            "generators plant at most 4% (docs/phases.md).",
        ),
        Threshold(
            "heavy_reach",
            10.0,
            "with more than max(1, 0.05 n) eigenvalues beyond T (MP-kind fits): Heavy-tailed when "
            "lambda_max > 10 T, else Bulk-decay",
            "M&M 2021: a Heavy-tailed ESD has no clear bulk edge and extends over orders of "
            "magnitude, while in Bulk-decay the bulk's edge decays into outliers near it. One "
            "decade beyond the Tracy-Widom edge. Synthetic suite: a signal continuum of strengths "
            "up to 6 x the BBP threshold reaches about 4 T; Pareto entries with mu in [1, 2] reach "
            "tens to thousands of T (docs/phases.md).",
        ),
        Threshold(
            "min_phase_evals",
            48.0,
            "no phase for a spectrum of fewer than 48 eigenvalues (reason in the report)",
            "the synthetic suite at M = 8, 16, 24, 32, 48 (docs/phases.md, 'Tiny spectra'): MAP "
            "right for 8, 9, 10, 12, 13 of 16 unambiguous matrices, and labels stated with "
            "p > 0.8 right for 1/5, 9/15, 7/12, 7/11, 10/11: from 48 on a confident label means "
            "what it says.",
        ),
        Threshold(
            "alpha_heavy",
            4.0,
            "Heavy-tailed when alpha <= 4 (tail-kind likelihoods)",
            "M&M 2019 (seed table: 2 < mu < 4 gives fitted alpha up to about 4) and DESIGN.md: "
            "Heavy-tailed alpha about 2-4 (moderate) or below 2 (very heavy).",
        ),
        Threshold(
            "alpha_very_heavy",
            2.0,
            "reported as p_very_heavy = P(alpha < 2); not a separate phase",
            "M&M 2019: mu < 2 gives alpha = 1 + mu / 2 < 2 (very heavy-tailed universality class); "
            "WeightWatcher flags alpha < 2 as over-trained.",
        ),
        Threshold(
            "alpha_random",
            8.0,
            "Bulk-decay when 4 < alpha <= 8; alpha > 8 counts as Random-like",
            "DESIGN.md: Bulk-decay alpha 'about 4 to 6+'; WeightWatcher flags alpha > 6 as "
            "under-trained. 8 leaves the 6-8 range to Bulk-decay; to be checked on models/.",
        ),
    )
}
"""The single table of phase thresholds (override per call with ``thresholds={name: value}``)."""
