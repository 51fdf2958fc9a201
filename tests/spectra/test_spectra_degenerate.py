"""Matrices with no spectrum to fit: all-zero and constant layers are skipped with their reason."""

from __future__ import annotations

import numpy as np

import rmtfit
from rmtfit.spectra import Spectrum, load_spectra, spectral_metrics


def test_all_zero_and_constant_matrices_are_skipped_with_the_reason():
    spectra = load_spectra(
        {
            "dead.weight": np.zeros((10, 4), dtype=np.float32),
            "flat.weight": np.full((12, 6), 0.25, dtype=np.float32),
            "live.weight": np.random.default_rng(0).normal(size=(12, 6)),
        }
    )
    assert [s.name for s in spectra] == ["live.weight"]
    reasons = {s.name: s for s in spectra.skipped}
    assert "all weights are zero" in reasons["dead.weight"].reason
    assert "every weight equals 0.25" in reasons["flat.weight"].reason
    assert not reasons["dead.weight"].failed and not reasons["flat.weight"].failed


def test_a_zero_spectrum_still_has_well_defined_metrics():
    metrics = spectral_metrics(Spectrum("zero", "linear", 10, 4, np.zeros(4)))
    assert metrics.numerical_rank == 0 and metrics.rank_loss == 4
    assert np.isnan(metrics.stable_rank) and np.isnan(metrics.entropy)
    assert metrics.log_norm == -np.inf


def test_analyze_reports_a_zero_layer_as_skipped_not_ok():
    weights = {
        "dead.weight": np.zeros((30, 20)),
        "live.weight": np.random.default_rng(1).normal(size=(30, 20)),
    }
    analysis = rmtfit.analyze(weights, fast=True, quiet=True)
    dead = analysis.layer("dead.weight")
    assert dead.status == "skipped" and "all weights are zero" in dead.reason
    assert analysis.layer("live.weight").ok
