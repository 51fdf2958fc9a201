"""Reference computations shared by the spectra tests."""

from __future__ import annotations

import numpy as np


def svd_eigenvalues(w: np.ndarray) -> np.ndarray:
    """Reference: squared singular values of ``w`` in float64, ascending."""
    s = np.linalg.svd(np.asarray(w, dtype=np.float64), compute_uv=False)
    return np.sort(s * s)


def assert_close_to_max(actual: np.ndarray, expected: np.ndarray, rel: float = 1e-10) -> None:
    """Every eigenvalue within ``rel * lambda_max`` of the reference (the Gram-path criterion)."""
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    scale = float(np.max(expected))
    err = float(np.max(np.abs(actual - expected))) if actual.size else 0.0
    assert err <= rel * scale, f"max abs error {err:.3g} > {rel} * lambda_max ({scale:.3g})"
