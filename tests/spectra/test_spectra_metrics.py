"""Scalar metrics against direct numpy computations from the singular values."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from rmtfit.spectra import Spectrum, load_spectra, spectral_metrics
from rmtfit.spectra.metrics import default_rank_tol

EPS = np.finfo(np.float64).eps


def test_metrics_match_direct_numpy(rng):
    w = rng.standard_normal((70, 30)) * np.linspace(0.1, 2.0, 30)
    m = spectral_metrics(load_spectra({"w.weight": w})["w.weight"])
    s = np.linalg.svd(w, compute_uv=False)
    fro2 = np.linalg.norm(w, "fro") ** 2
    np.testing.assert_allclose(m.lambda_max, s[0] ** 2, rtol=1e-12)
    np.testing.assert_allclose(m.log_spectral_norm, np.log10(np.linalg.norm(w, 2) ** 2), rtol=1e-12)
    np.testing.assert_allclose(m.log_norm, np.log10(fro2), rtol=1e-12)
    np.testing.assert_allclose(m.stable_rank, fro2 / s[0] ** 2, rtol=1e-12)
    p = s**2 / np.sum(s**2)
    np.testing.assert_allclose(m.entropy, -np.sum(p * np.log(p)) / np.log(30), rtol=1e-10)
    assert m.numerical_rank == np.linalg.matrix_rank(w) == 30
    assert m.rank_loss == 0
    assert m.rank_tol == 70 * EPS * m.lambda_max


def test_rank_deficient_matrix(rng):
    w = rng.standard_normal((50, 4)) @ rng.standard_normal((4, 20))
    spectrum = load_spectra({"w.weight": w})["w.weight"]
    m = spectral_metrics(spectrum)
    assert m.numerical_rank == np.linalg.matrix_rank(w) == 4
    assert m.rank_loss == 16
    assert 0 < m.entropy < 1
    # the entropy is over the 4 eigenvalues above the tolerance, normalised by ln 4
    top = np.sort(np.linalg.svd(w, compute_uv=False))[-4:] ** 2
    p = top / top.sum()
    np.testing.assert_allclose(m.entropy, -np.sum(p * np.log(p)) / np.log(4), rtol=1e-10)
    # a tolerance above the 3rd largest eigenvalue leaves rank 2
    tol = float(spectrum.eigenvalues[-3]) * 1.0001
    assert spectral_metrics(spectrum, rank_tol=tol).numerical_rank == 2


def test_entropy_limits():
    q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((40, 40)))
    flat = spectral_metrics(load_spectra({"q": q[:, :25]})["q"])
    np.testing.assert_allclose(flat.entropy, 1.0, rtol=1e-12)
    np.testing.assert_allclose(flat.stable_rank, 25.0, rtol=1e-12)
    spiked = spectral_metrics(np.r_[np.full(99, 1e-6), 1e6])
    assert spiked.entropy < 0.01
    assert spectral_metrics(np.array([0.0, 0.0, 4.0])).entropy == 0.0  # rank 1


def test_pooled_conv_metrics_use_all_slices(rng):
    w = rng.standard_normal((8, 4, 3, 3))
    m = spectral_metrics(load_spectra({"c.weight": w})["c.weight"])
    np.testing.assert_allclose(m.log_norm, np.log10(np.sum(w**2)), rtol=1e-12)
    assert m.numerical_rank + m.rank_loss == 36


def test_array_input_and_errors():
    m = spectral_metrics([3.0, 1.0, 2.0])
    assert m.lambda_max == 3.0 and m.rank_tol == default_rank_tol(3.0, 3, 3)
    assert dataclasses.is_dataclass(m) and m.__dataclass_params__.frozen
    with pytest.raises(ValueError, match="no eigenvalues"):
        spectral_metrics(Spectrum("e", "matrix", 3, 2, np.array([])))
    with pytest.raises(ValueError, match="finite and >= 0"):
        spectral_metrics(np.array([-1.0, 2.0]))
    with pytest.raises(ValueError, match="rank_tol"):
        spectral_metrics(np.array([1.0, 2.0]), rank_tol=-1.0)
