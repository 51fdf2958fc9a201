"""Tier 3 for the phases: real fits of synthetic matrices land in the phase they were built for.

Issue "Model comparison and phase classification", done-when: Gaussian matrices are Random-like
with probability >= 0.9; planted spikes above the BBP threshold give Bulk+Spikes with the right K;
matrices with Pareto entries of tail exponent mu = 1 are Heavy-tailed; a low-rank product is
Rank-collapse. Everything runs through :func:`rmtfit.analyze` with the default likelihoods and the
default sampler settings, as a user would.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import rmtfit
from rmtfit.comparison import HighParetoKWarning

N, M = 400, 200
SPIKES = 3


def _matrices(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    gauss = rng.normal(size=(N, M))
    # population spikes of strength l = 2.5 x the BBP threshold 1 + sqrt(M/N) (DESIGN.md "BBP")
    threshold = 1.0 + np.sqrt(M / N)
    strengths = 2.5 * threshold * np.array([1.0, 1.4, 1.9])
    v = np.linalg.qr(rng.normal(size=(M, SPIKES)))[0]
    root = np.eye(M) + v @ np.diag(np.sqrt(strengths) - 1.0) @ v.T
    spiked = rng.normal(size=(N, M)) @ root
    # symmetric Pareto entries with tail exponent mu = 1: P(|w| > t) = t^-1 for t >= 1
    pareto = rng.pareto(1.0, size=(N, M)) + 1.0
    heavy = pareto * rng.choice([-1.0, 1.0], size=(N, M))
    low_rank = rng.normal(size=(N, 10)) @ rng.normal(size=(10, M))
    return {"gauss": gauss, "spiked": spiked, "heavy": heavy, "low_rank": low_rank}


@pytest.fixture(scope="module")
def analysis():
    # the low-rank layer has 10 non-zero eigenvalues and the Pareto layer a few huge ones: PSIS
    # may find a high Pareto k there and say so (HighParetoKWarning, also in the report); that
    # warning is part of the honest output here, not a failure
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HighParetoKWarning)
        return rmtfit.analyze(_matrices(0), seed=0, quiet=True)


def _probabilities(analysis, name: str) -> dict[str, float]:
    layer = analysis.layer(name)
    assert layer.ok, layer.reason
    assert layer.phase is not None, layer.reason
    return layer.phase["probabilities"]


def test_gaussian_matrix_is_random_like(analysis):
    assert _probabilities(analysis, "gauss")["random_like"] >= 0.9


def test_planted_spikes_are_bulk_spikes_with_the_right_count(analysis):
    assert _probabilities(analysis, "spiked")["bulk_spikes"] >= 0.9
    # K as the phase rule counts it: eigenvalues beyond the Tracy-Widom band above lambda_+, per
    # posterior draw; its most probable value is the planted count
    assert analysis.phases["spiked"].num_spikes_map == SPIKES
    # the mixture's membership count K (skewed upwards by edge eigenvalues) covers it too
    spikes = analysis.layer("spiked").posterior["num_spikes"]
    assert spikes.ci_low <= SPIKES <= spikes.ci_high


def test_pareto_entries_with_mu_one_are_heavy_tailed(analysis):
    probabilities = _probabilities(analysis, "heavy")
    assert probabilities["heavy_tailed"] >= 0.9
    assert max(probabilities, key=probabilities.get) == "heavy_tailed"


def test_low_rank_product_is_rank_collapse(analysis):
    probabilities = _probabilities(analysis, "low_rank")
    assert probabilities["rank_collapse"] >= 0.9
