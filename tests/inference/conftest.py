"""Shared helpers of the inference tests: synthetic spectra with known parameters.

Every fit in these tests uses the same sampler settings (:data:`SETTINGS`) and layer counts
where it can, so the compiled programs are shared within a test session.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import rmtfit.likelihoods as _zoo
from rmtfit.classical import ClassicalFit
from rmtfit.spectra import Spectrum

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:  # tests/ holds stat_checks.py, the statistical criteria
    sys.path.append(_TESTS)

if "power_law" not in _zoo.list_likelihoods():  # the zoo's __init__ may not import it yet
    import rmtfit.likelihoods._tail_power_laws  # noqa: F401

SETTINGS = {"draws": 1000, "warmup": 500, "chains": 4, "exact": False}
"""The sampler settings of every test fit: 1000 draws after 500 warmup steps on 4 chains (twice
the engine's default draws, for the ESS the calibration checks need), and NUTS even where an
exact posterior exists (power_law), since the sampler is what these tests test."""


def pareto_sample(rng: np.random.Generator, alpha: float, xmin: float, n: int) -> np.ndarray:
    """``n`` draws of a power law p(x) ~ x^-alpha on [xmin, inf), ascending (inverse CDF)."""
    u = rng.uniform(size=n)
    return np.sort(xmin * u ** (-1.0 / (alpha - 1.0)))


def tail_layer(
    name: str, x: np.ndarray, xmin: float, alpha_classical: float = 3.0
) -> tuple[Spectrum, ClassicalFit]:
    """A Spectrum holding ``x`` and a ClassicalFit that puts xmin at ``xmin``."""
    x = np.sort(np.asarray(x, dtype=np.float64))
    spectrum = Spectrum(name, "matrix", x.size, x.size, x)
    classical = ClassicalFit(
        name, "ok", num_evals=x.size, N=x.size, M=x.size, alpha=alpha_classical, xmin=xmin
    )
    return spectrum, classical


def power_law_layers(
    alphas: list[float], sizes: list[int], seed: int, xmin: float = 1.0
) -> tuple[list[Spectrum], dict[str, ClassicalFit]]:
    """Layers ``l0, l1, ...`` of power-law draws with the given exponents and sizes."""
    rng = np.random.default_rng(seed)
    spectra, classical = [], {}
    for i, (alpha, n) in enumerate(zip(alphas, sizes, strict=True)):
        s, c = tail_layer(f"l{i}", pareto_sample(rng, alpha, xmin, n), xmin)
        spectra.append(s)
        classical[s.name] = c
    return spectra, classical


@pytest.fixture(scope="module")
def three_layer_fits():
    """power_law on three layers of 60, 200 and 400 eigenvalues (alpha 2.5, 3, 4)."""
    import rmtfit

    spectra, classical = power_law_layers([2.5, 3.0, 4.0], [60, 200, 400], seed=1)
    fits = rmtfit.fit(spectra, ["power_law"], classical=classical, seed=7, **SETTINGS)
    return spectra, classical, fits
