"""Model weights from a pointwise elpd matrix (n observations x K models): stacking, pseudo-BMA
and pseudo-BMA+ (Yao, Vehtari, Simpson & Gelman 2018). Pure functions of the matrix, used by
:func:`rmtfit.comparison.compare` (and importable from :mod:`rmtfit.comparison`)."""

from __future__ import annotations

import numpy as np

__all__ = [
    "BOOTSTRAP_SAMPLES",
    "model_weights",
    "stacking_weights",
    "pseudo_bma_weights",
    "pseudo_bma_plus_weights",
]

BOOTSTRAP_SAMPLES = 1000


def model_weights(elpd_matrix: np.ndarray, method: str, seed: int) -> np.ndarray:
    """Weights of the models (columns of ``elpd_matrix``) by ``method``: ``"stacking"``,
    ``"pseudo-BMA+"`` (Bayesian bootstrap seeded by ``seed``) or ``"pseudo-BMA"``."""
    if elpd_matrix.shape[1] == 1:
        return np.ones(1)
    if method == "stacking":
        return stacking_weights(elpd_matrix)
    if method == "pseudo-BMA+":
        return pseudo_bma_plus_weights(elpd_matrix, seed=seed)
    return pseudo_bma_weights(elpd_matrix)


def stacking_weights(elpd_matrix: np.ndarray) -> np.ndarray:
    """Stacking weights: maximise ``sum_i log sum_k w_k exp(elpd_ik)`` over the simplex.

    Each row is shifted by its maximum before exponentiating (the shift does not move the
    optimum), so very negative log densities do not underflow.
    """
    from scipy.optimize import Bounds, LinearConstraint, minimize

    shifted = elpd_matrix - np.max(elpd_matrix, axis=1, keepdims=True)
    dens = np.exp(shifted)
    k = dens.shape[1]

    def negative_score(w: np.ndarray) -> float:
        return -float(np.sum(np.log(dens @ w)))

    def gradient(w: np.ndarray) -> np.ndarray:
        return -np.sum(dens / (dens @ w)[:, None], axis=0)

    result = minimize(
        negative_score,
        np.full(k, 1.0 / k),
        jac=gradient,
        bounds=Bounds(np.zeros(k), np.ones(k)),
        constraints=LinearConstraint(np.ones((1, k)), 1.0, 1.0),
        method="SLSQP",
        options={"ftol": 1e-12, "maxiter": 1000},
    )
    w = np.clip(result.x, 0.0, None)
    return w / np.sum(w)


def pseudo_bma_weights(elpd_matrix: np.ndarray) -> np.ndarray:
    """Pseudo-BMA weights: ``softmax(elpd_k)``."""
    totals = np.sum(elpd_matrix, axis=0)
    z = np.exp(totals - np.max(totals))
    return z / np.sum(z)


def pseudo_bma_plus_weights(
    elpd_matrix: np.ndarray, *, seed: int = 0, num_samples: int = BOOTSTRAP_SAMPLES
) -> np.ndarray:
    """Pseudo-BMA+ weights: softmax of Bayesian-bootstrap replicates of elpd, averaged.

    Replicate ``b`` reweights the observations by Dirichlet(1, ..., 1) weights ``u_b``:
    ``z_bk = n sum_i u_bi elpd_ik`` and ``w = mean_b softmax(z_b)`` (Yao et al. 2018, eq. 9).
    """
    n = elpd_matrix.shape[0]
    rng = np.random.default_rng(seed)
    u = rng.dirichlet(np.ones(n), size=num_samples)
    z = n * (u @ elpd_matrix)
    z = np.exp(z - np.max(z, axis=1, keepdims=True))
    return np.mean(z / np.sum(z, axis=1, keepdims=True), axis=0)
