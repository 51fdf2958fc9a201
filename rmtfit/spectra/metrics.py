"""Scalar summaries of one spectrum, as defined in the HT-SR papers (Martin & Mahoney).

All are functions of the eigenvalues ``lambda_i = s_i(W)^2`` (squared singular values, no 1/N
factor), so they apply equally to a pooled conv spectrum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rmtfit.spectra._types import Spectrum

__all__ = [
    "SpectralMetrics",
    "spectral_metrics",
    "default_rank_tol",
    "numerically_zero",
    "ZERO_EPS",
]

_EPS = float(np.finfo(np.float64).eps)

ZERO_EPS = float(np.finfo(np.float32).eps)
"""Default ``eps`` of :func:`numerically_zero`: float32 machine epsilon, the precision weights are
usually stored in (the phase rules' ``rank_zero_eps`` threshold, :data:`rmtfit.phases.THRESHOLDS`)."""


@dataclass(frozen=True)
class SpectralMetrics:
    r"""Scalar metrics of a spectrum (see :func:`spectral_metrics` for the definitions).

    Attributes
    ----------
    lambda_max
        Largest eigenvalue, :math:`\|W\|_2^2`.
    log_spectral_norm
        :math:`\log_{10}\lambda_{max}`, WeightWatcher's ``log_spectral_norm``.
    log_norm
        :math:`\log_{10}\sum_i\lambda_i = \log_{10}\|W\|_F^2`, WeightWatcher's ``log_norm``
        (the log of the *squared* Frobenius norm).
    stable_rank
        :math:`\sum_i\lambda_i/\lambda_{max} = \|W\|_F^2/\|W\|_2^2`.
    entropy
        Normalised matrix entropy in [0, 1].
    numerical_rank
        Number of eigenvalues above ``rank_tol``.
    rank_loss
        ``num_evals - numerical_rank`` (``M - rank`` for a single matrix).
    rank_tol
        The tolerance used, in eigenvalue units.
    """

    lambda_max: float
    log_spectral_norm: float
    log_norm: float
    stable_rank: float
    entropy: float
    numerical_rank: int
    rank_loss: int
    rank_tol: float


def default_rank_tol(lambda_max: float, N: int, M: int) -> float:  # noqa: N803
    r"""The default rank tolerance, in eigenvalue units: :math:`\max(N, M)\,\epsilon\,\lambda_{max}`.

    It is numpy's ``matrix_rank`` rule applied to the Gram matrix :math:`W^TW` whose eigenvalues
    the default solver computes (their absolute rounding error is of order
    :math:`M\epsilon\lambda_{max}`), i.e. singular values below
    :math:`s_{max}\sqrt{\max(N, M)\,\epsilon}` count as zero. For eigenvalues from the SVD path
    a tighter tolerance such as :math:`\lambda_{max}(\max(N, M)\epsilon)^2` is meaningful; pass
    it as ``rank_tol``.
    """
    return max(N, M) * _EPS * lambda_max


def spectral_metrics(
    spectrum: Spectrum | np.ndarray, *, rank_tol: float | None = None
) -> SpectralMetrics:
    r"""Compute the HT-SR scalar metrics of a spectrum.

    Parameters
    ----------
    spectrum
        A :class:`~rmtfit.spectra.Spectrum`, or an array of eigenvalues (then taken as an
        ``n x n`` matrix's, ``n`` = number of eigenvalues, for the default tolerance).
    rank_tol
        Eigenvalues at or below this value count as zero for ``numerical_rank``, ``rank_loss``
        and ``entropy``. Default: :func:`default_rank_tol`, ``max(N, M) * eps * lambda_max``.

    Returns
    -------
    SpectralMetrics

    Notes
    -----
    With :math:`\lambda_1 \ge \dots` the eigenvalues and :math:`r` the numerical rank, the matrix
    entropy (Martin & Mahoney 2021, JMLR 22(165), "generalized entropy") is the Shannon entropy
    of the normalised spectrum divided by its largest possible value,

    .. math::

        S(W) = -\frac{1}{\ln r}\sum_{i=1}^{r} p_i \ln p_i, \qquad
        p_i = \frac{\lambda_i}{\sum_{j=1}^{r}\lambda_j},

    taken over the :math:`r` eigenvalues above the tolerance so that :math:`0 \le S \le 1`
    exactly: 1 for a flat spectrum (all singular values equal), near 0 when one direction
    dominates. By convention :math:`S = 0` when :math:`r = 1`. For the all-zero matrix
    (:math:`r = 0`) the stable rank and entropy are NaN and the log norms are :math:`-\infty`.
    """
    if isinstance(spectrum, Spectrum):
        evals, n_rows, n_cols = spectrum.eigenvalues, spectrum.N, spectrum.M
    else:
        evals = np.sort(np.asarray(spectrum, dtype=np.float64).ravel())
        n_rows = n_cols = evals.size
    if evals.size == 0:
        raise ValueError("spectral_metrics: the spectrum has no eigenvalues.")
    if not np.all(np.isfinite(evals)) or evals[0] < 0:
        raise ValueError(
            "spectral_metrics: eigenvalues must be finite and >= 0 (squared singular values), "
            f"got min={evals.min()!r}, max={evals.max()!r}."
        )
    lambda_max = float(evals[-1])
    tol = default_rank_tol(lambda_max, n_rows, n_cols) if rank_tol is None else float(rank_tol)
    if tol < 0:
        raise ValueError(f"The value of `rank_tol` must be >= 0, got {rank_tol!r}.")
    total = float(np.sum(evals))
    kept = evals[evals > tol]
    rank = int(kept.size)
    with np.errstate(divide="ignore"):
        log_spectral_norm = float(np.log10(lambda_max))
        log_norm = float(np.log10(total))
    return SpectralMetrics(
        lambda_max=lambda_max,
        log_spectral_norm=log_spectral_norm,
        log_norm=log_norm,
        stable_rank=total / lambda_max if lambda_max > 0 else float("nan"),
        entropy=_normalised_entropy(kept),
        numerical_rank=rank,
        rank_loss=int(evals.size) - rank,
        rank_tol=tol,
    )


def _normalised_entropy(kept: np.ndarray) -> float:
    if kept.size == 0:
        return float("nan")
    if kept.size == 1:
        return 0.0
    p = kept / kept.sum()
    return float(-np.sum(p * np.log(p)) / np.log(kept.size))


def numerically_zero(spectrum: Spectrum, *, eps: float = ZERO_EPS) -> np.ndarray:
    r"""Boolean mask of the eigenvalues that are numerically zero.

    Two errors limit how small an eigenvalue can be and still be told from zero:

    * the rounding of the stored weights, ``E`` with entries of size ``eps |w_ij|``: its
      singular values reach about ``eps * rms(W) * (sqrt(N) + sqrt(M))`` (the edge of a random
      matrix with that entry scale), so eigenvalues below
      :math:`\epsilon^2 (\sqrt N + \sqrt M)^2 \sum_j \lambda_j / (N M s)` (``s`` slices) are
      rounding noise. The scale is the root-mean-square weight, not ``s_max``: a heavy-tailed
      matrix, whose largest entries make ``lambda_max`` enormous, stays full rank (a rank-one
      error in its largest entry moves each singular value at most to its neighbour);
    * the float64 Gram matrix the default solver diagonalises, accurate to about
      ``max(N, M) * eps_float64 * lambda_max`` (:func:`default_rank_tol`).

    Eigenvalue ``i`` is zero when it is below the larger of the two; every eigenvalue of an
    all-zero spectrum is zero. The pipeline leaves them out of the Bayesian fits; the phase rules
    read them as the evidence of Rank-collapse. For eigenvalues computed with the SVD path the
    second bound is pessimistic.
    """
    ev = np.asarray(spectrum.eigenvalues, dtype=np.float64)
    if ev.size == 0:
        return np.zeros(0, dtype=bool)
    top = float(np.max(ev))
    if not top > 0:
        return np.ones(ev.shape, dtype=bool)
    n, m = int(spectrum.N), int(spectrum.M)
    slices = max(int(getattr(spectrum, "num_slices", 1) or 1), 1)
    mean_square = float(np.sum(np.clip(ev, 0.0, None))) / (n * m * slices)
    rounding = (float(eps) * (np.sqrt(n) + np.sqrt(m))) ** 2 * mean_square
    return ev <= max(rounding, default_rank_tol(top, n, m))
