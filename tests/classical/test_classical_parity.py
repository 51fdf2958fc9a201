"""Reference tier: parity with the ``powerlaw`` package (2.0) on synthetic data and MiniLM.

``powerlaw.Fit`` scans the same candidates (every distinct value but the largest) with the same
closed-form MLE alpha, but (a) its KS distance compares the fitted CDF with the empirical CDF
just *below* each distinct value only (one-sided in the jumps), and (b) by default it only
accepts alpha in [0, 3]. With ``parameter_ranges={'alpha': [1, 20]}`` only (a) remains, so
rmtfit's xmin (the exact minimiser of the two-sided distance) can only be better in that
distance, and rmtfit's scan with ``ks="powerlaw"`` must land on powerlaw's xmin.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from rmtfit.classical import fit_power_law, ks_distance, sample_power_law

powerlaw = pytest.importorskip("powerlaw")
WIDE = {"alpha": [1, 20]}


def powerlaw_fit(x: np.ndarray, **kwargs):
    # powerlaw warns (and divides by zero) inside its own scan; that is its code, not ours.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return powerlaw.Fit(x, verbose=False, **kwargs)


def synthetic_sets() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(20240611)
    sets = []
    for i, alpha in enumerate(np.linspace(1.6, 5.0, 8)):
        sets.append((f"pareto{alpha:.2f}", sample_power_law(rng, 250 + 25 * i, alpha, 0.5 + i)))
    for sigma in (0.5, 1.0, 2.0):
        sets.append((f"lognormal{sigma}", rng.lognormal(0.0, sigma, 300)))
    sets.append(("exponential", rng.exponential(2.0, 300)))
    sets.append(("weibull0.5", rng.weibull(0.5, 300) + 1e-3))
    for alpha in (2.0, 3.0, 4.0):  # an MP-like bulk with a power-law tail above it
        bulk = rng.uniform(0.2, 1.0, 250)
        sets.append(
            (f"bulk+tail{alpha}", np.concatenate([bulk, sample_power_law(rng, 60, alpha, 1.0)]))
        )
    for q in (1, 2, 4):  # Marchenko-Pastur spectra of Gaussian matrices
        w = rng.normal(size=(300 * q // 1, 300))
        sets.append((f"mp_q{q}", np.linalg.eigvalsh(w.T @ w)))
    sets.append(("ties", np.round(sample_power_law(rng, 300, 2.5, 1.0), 2)))
    return sets


SETS = synthetic_sets()


def check_parity(x: np.ndarray, label: str) -> dict:
    theirs = powerlaw_fit(x, parameter_ranges=WIDE)
    ours = fit_power_law(x, min_tail=2)  # min_tail=2: exactly powerlaw's candidate set
    tail = x[x >= theirs.xmin]
    their_mle = 1.0 + tail.size / np.sum(np.log(tail / theirs.xmin))
    # their xmin's two-sided distance, our definition, at the MLE alpha there
    their_D = ks_distance(x, their_mle, theirs.xmin)
    # (1e-12 relative: the scan and ks_distance evaluate the same formula in different
    # order, so two distances equal in exact arithmetic can differ in the last bits)
    assert ours.D <= their_D * (1 + 1e-12), label
    # and at the alpha they report
    assert ours.D <= ks_distance(x, theirs.alpha, theirs.xmin) * (1 + 1e-12), label
    # alpha is the closed-form MLE at the chosen xmin
    ours_tail = x[x >= ours.xmin]
    assert ours.alpha == pytest.approx(
        1 + ours_tail.size / np.sum(np.log(ours_tail / ours.xmin)), rel=1e-13
    )
    if ours.xmin == theirs.xmin:
        assert ours.alpha == pytest.approx(theirs.alpha, rel=1e-12), label
    else:  # why they differ: powerlaw's one-sided KS definition
        assert ours.D < their_D * (1 + 1e-12), label
        assert ks_distance(x, theirs.alpha, theirs.xmin, ks="powerlaw") < ks_distance(
            x, theirs.alpha, theirs.xmin
        )
    # with powerlaw's KS definition, rmtfit reproduces powerlaw's choice and distance
    same = fit_power_law(x, min_tail=2, ks="powerlaw")
    assert same.xmin == theirs.xmin, label
    assert same.alpha == pytest.approx(theirs.alpha, rel=1e-12), label
    assert same.D == pytest.approx(theirs.D, rel=1e-9, abs=1e-12), label
    return {"same_xmin": ours.xmin == theirs.xmin}


@pytest.mark.parametrize("label,x", SETS, ids=[s[0] for s in SETS])
def test_parity_synthetic(label, x):
    check_parity(x, label)


def test_at_least_20_synthetic_sets_and_some_differ():
    assert len(SETS) >= 20
    outcomes = [
        fit_power_law(x, min_tail=2).xmin == powerlaw_fit(x, parameter_ranges=WIDE).xmin
        for _, x in SETS[:6]
    ]
    assert not all(outcomes), "expected the KS definitions to disagree on some sets"


def test_parity_minilm(minilm_spectra):
    same = 0
    for s in minilm_spectra:
        x = s.eigenvalues[s.eigenvalues > 0]
        if np.unique(x).size < 3:  # token_type_embeddings: 2 eigenvalues
            continue
        same += check_parity(x, s.name)["same_xmin"]
    assert same >= 1


def test_default_alpha_cap_at_3_biases_steep_tails():
    """powerlaw's default range alpha in [0, 3] cannot return the alpha = 5 of Pareto data."""
    rng = np.random.default_rng(77)
    x = sample_power_law(rng, 400, 5.0, 1.0)
    capped = powerlaw_fit(x)
    wide = powerlaw_fit(x, parameter_ranges=WIDE)
    ours = fit_power_law(x)
    assert capped.alpha <= 3.0 + 1e-9
    assert abs(ours.alpha - 5.0) < 3 * ours.alpha_se
    assert abs(capped.alpha - 5.0) > 5 * ours.alpha_se
    assert wide.alpha == pytest.approx(fit_power_law(x, min_tail=2, ks="powerlaw").alpha, rel=1e-9)


def test_one_sided_definition_misses_the_top_of_each_jump():
    """A tail of 2 points: the two-sided D includes S(x) = 1 at the top; powerlaw's does not."""
    x = np.array([1.0, 2.0])
    alpha = 1 + 2 / np.log(2.0)
    F2 = 1 - 2.0 ** (1 - alpha)
    assert ks_distance(x, alpha, 1.0, ks="powerlaw") == pytest.approx(max(0.0, abs(0.5 - F2)))
    assert ks_distance(x, alpha, 1.0) == pytest.approx(max(0.5, 1 - F2, F2 - 0.5))
