"""Pareto-smoothed importance sampling leave-one-out cross-validation (PSIS-LOO), vectorised.

For observation ``i`` and posterior draws ``s = 1..S`` the leave-one-out importance ratios are
``r_is = 1 / p(y_i | theta_s)``. Their largest ``M`` values are replaced by the expected order
statistics of a generalized Pareto distribution fitted to them (Vehtari, Simpson, Gelman, Yao &
Gabry 2024, "Pareto smoothed importance sampling", JMLR 25(72)), capped at the largest raw ratio,
and normalised; then

.. math::

    \\widehat{\\mathrm{elpd}}_i = \\log \\sum_s w_{is}\\, p(y_i \\mid \\theta_s),
    \\qquad \\sum_s w_{is} = 1 .

The estimated shape ``k_i`` of the fitted Pareto tail says how reliable the term is (reliable
below ``min(1 - 1/log10 S, 0.7)``). The tail length is
``M = ceil(min(0.2 S, 3 sqrt(S / r_eff)))`` with ``r_eff`` the relative efficiency of the draws,
and the generalized Pareto fit is the empirical Bayes estimate of Zhang & Stephens (2009,
Technometrics 51(3)) with a weakly informative prior pulling ``k`` towards 0.5.

This computes exactly what ``arviz.loo(..., pointwise=True)`` (ArviZ 0.23) computes, to rounding
error, but on all observations at once: ArviZ fits the tails one observation at a time in Python.
Every observation's ratios are sorted in one call, and the tail fits of the observations sharing a
tail length run as one array expression. Like ArviZ, ``r_eff`` is one number per fit: the mean,
over every posterior variable, of the effective sample size of the mean divided by ``S``
(:func:`relative_efficiency`; 1 for a single chain).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from rmtfit.inference.arviz_adapter import mcse_mean

__all__ = [
    "PsisLoo",
    "good_k_threshold",
    "psis_log_weights",
    "psis_loo",
    "relative_efficiency",
    "tail_length",
]

_PRIOR_SCALE = 3.0  # Zhang & Stephens' prior on the GPD scale (ArviZ's prior_bs)
_PRIOR_K_WEIGHT = 10.0  # pseudo-observations of the prior k = 0.5 (ArviZ's prior_k)
_MIN_TAIL = 5  # fewer tail ratios than this: no fit, k = inf
_CUTOFF_MIN = float(np.log(np.finfo(float).tiny))
_CHUNK_ELEMENTS = 1 << 18  # rows x grid x tail per block of the Zhang-Stephens grid (fits a cache)


@dataclass(frozen=True)
class PsisLoo:
    """PSIS-LOO of one fit, observation by observation.

    ``elpd_i`` are the leave-one-out log predictive densities, ``lppd_i`` the in-sample ones
    (``log mean_s p(y_i | theta_s)``), ``pareto_k`` the Pareto shapes (0 for an observation whose
    log-likelihood is the same in every draw: its weights are equal and the estimate exact),
    ``good_k`` the reliability threshold for ``num_draws`` draws and ``r_eff`` the relative
    efficiency used for the tail length.
    """

    elpd_i: np.ndarray
    lppd_i: np.ndarray
    pareto_k: np.ndarray
    good_k: float
    num_draws: int
    r_eff: float

    @property
    def elpd_loo(self) -> float:
        return float(np.sum(self.elpd_i))

    @property
    def se(self) -> float:
        """Standard error of ``elpd_loo``: ``sqrt(n var(elpd_i))`` (0 for zero observations)."""
        if self.elpd_i.size == 0:  # the empty sum is exactly 0
            return 0.0
        return float(np.sqrt(self.elpd_i.size * np.var(self.elpd_i)))

    @property
    def lppd(self) -> float:
        return float(np.sum(self.lppd_i))

    @property
    def p_loo(self) -> float:
        """Effective number of parameters, ``lppd - elpd_loo``."""
        return self.lppd - self.elpd_loo

    @property
    def warning(self) -> bool:
        """True when some observation has ``k > good_k`` (ArviZ's ``warning``)."""
        return bool(np.any(self.pareto_k > self.good_k))

    def __repr__(self) -> str:
        return (
            f"PsisLoo(elpd_loo={self.elpd_loo:.2f}, se={self.se:.2f}, p_loo={self.p_loo:.2f}, "
            f"n={self.elpd_i.size}, S={self.num_draws}, max k={np.max(self.pareto_k, initial=-np.inf):.2f})"
        )


def good_k_threshold(num_draws: int) -> float:
    """ArviZ's reliability threshold for the Pareto k of ``num_draws`` draws: ``min(1 - 1/log10 S, 0.7)``."""
    return min(1.0 - 1.0 / np.log10(num_draws), 0.7)


def tail_length(num_draws: int, r_eff: float = 1.0) -> int:
    """Number of largest ratios smoothed: ``ceil(min(S/5, 3 sqrt(S / r_eff)))``.

    A NaN ``r_eff`` gives ``ceil(S/5)``, as in ArviZ.
    """
    bound = 3.0 * (num_draws / r_eff) ** 0.5
    return int(np.ceil(min(num_draws / 5.0, bound)))


def relative_efficiency(posterior: Iterable[Any]) -> float:
    """``r_eff``: the mean effective sample size of the mean over every posterior variable, over ``S``.

    ``posterior`` holds arrays of draws shaped ``(chain, draw, ...)`` (every element of every
    array counts once, as in ``arviz.loo``). One chain gives 1. The ESS is that of split chains with
    Geyer's initial monotone sequence (ArviZ's ``ess(method="mean")``), read from
    :func:`rmtfit.inference.arviz_adapter.mcse_mean` as ``(sd / mcse)**2``; a constant series
    has the ESS of all its split draws. NaN when some series is not finite.
    """
    arrays = [np.asarray(a, dtype=np.float64) for a in posterior]
    if not arrays:
        raise ValueError("relative_efficiency needs at least one posterior variable; got none.")
    for a in arrays:
        if a.ndim < 2:
            raise ValueError(
                f"posterior draws must have shape (chain, draw, ...); got shape {a.shape}."
            )
    chains, draws = arrays[0].shape[:2]
    if chains == 1:
        return 1.0
    ess = []
    for a in arrays:
        series = np.moveaxis(a.reshape(chains, draws, -1), -1, 0)  # (K, chain, draw)
        mcse = mcse_mean(series)
        sd = series.reshape(series.shape[0], -1).std(axis=-1, ddof=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ess.append(np.where(mcse == 0.0, 2 * chains * (draws // 2), (sd / mcse) ** 2))
    return float(np.mean(np.concatenate(ess))) / (chains * draws)


def psis_log_weights(log_ratios: Any, r_eff: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Pareto-smoothed, truncated, normalised log importance weights (ArviZ's ``psislw``).

    Parameters
    ----------
    log_ratios
        ``(S, n)``: the log importance ratios of ``n`` targets (for leave-one-out, minus the
        pointwise log-likelihood), draws along the first axis.
    r_eff
        Relative efficiency of the draws (sets the tail length, :func:`tail_length`).

    Returns
    -------
    log_weights, pareto_k
        ``(S, n)`` log weights (``logsumexp`` 0 down each column) and the ``n`` Pareto shapes
        (``inf`` where the tail had fewer than 5 ratios).
    """
    x, k = _smoothed(np.ascontiguousarray(_as_samples(log_ratios).T), r_eff)
    return x.T, k


def psis_loo(log_likelihood: Any, *, r_eff: float = 1.0) -> PsisLoo:
    """PSIS-LOO of every observation at once (what ``arviz.loo(..., pointwise=True)`` computes).

    Parameters
    ----------
    log_likelihood
        Pointwise log-likelihood shaped ``(chain, draw, *observations)``.
    r_eff
        Relative efficiency of the draws; :func:`relative_efficiency` of the posterior gives
        ArviZ's value.

    Returns
    -------
    PsisLoo
    """
    ll = np.asarray(log_likelihood, dtype=np.float64)
    if ll.ndim < 3:
        raise ValueError(
            f"the pointwise log-likelihood must have shape (chain, draw, observations...); got "
            f"shape {ll.shape}. Add a chain axis for a single chain."
        )
    num_draws = ll.shape[0] * ll.shape[1]
    # (n, S), draws chain-major as ArviZ stacks them; rows contiguous (sums add as in ArviZ)
    flat = np.ascontiguousarray(_as_samples(ll.reshape(num_draws, -1)).T)
    x, k = _smoothed(-flat, r_eff)
    elpd_i = _logsumexp_rows(x + flat)
    # the in-sample term as rmtfit.inference.arviz_adapter.loo_pointwise computes it
    top = np.max(flat, axis=1)
    top = np.where(np.isfinite(top), top, 0.0)
    lppd_i = top + np.log(np.sum(np.exp(flat - top[:, None]), axis=1)) - np.log(num_draws)
    # equal ratios: the estimate is exact, but a Pareto fit of constant ratios says k = inf
    k = np.where(np.ptp(flat, axis=1) == 0.0, 0.0, k)
    return PsisLoo(
        elpd_i=elpd_i,
        lppd_i=lppd_i,
        pareto_k=k,
        good_k=good_k_threshold(num_draws),
        num_draws=num_draws,
        r_eff=float(r_eff),
    )


# --- the smoothing ------------------------------------------------------------------------------


def _as_samples(ratios: Any) -> np.ndarray:
    a = np.asarray(ratios, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"log ratios must have shape (draws, targets); got shape {a.shape}.")
    if a.shape[0] < 2:
        raise ValueError(f"PSIS needs at least 2 draws; got {a.shape[0]}.")
    return a


def _smoothed(log_ratios: np.ndarray, r_eff: float) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed, truncated, normalised log weights of each row of ``(n, S)``, and the Pareto shapes.

    Only the ``M + 1`` largest ratios of a row are sorted (a partition finds them): the cut is the
    ``(M + 1)``-th largest (at least ``log(tiny)``), the tail the ratios above it, fewer than ``M``
    when ratios tie at the cut.
    """
    n, num_draws = log_ratios.shape
    with np.errstate(invalid="ignore"):  # an infinite ratio makes its row NaN, as in ArviZ
        x = log_ratios - np.max(log_ratios, axis=1, keepdims=True)
    cut_index = num_draws - tail_length(num_draws, r_eff) - 1
    top = np.argpartition(x, cut_index, axis=1)[:, cut_index:]
    top_values = np.take_along_axis(x, top, axis=1)
    order = np.argsort(top_values, axis=1)
    top = np.take_along_axis(top, order, axis=1)  # positions of the M + 1 largest, ascending
    top_values = np.take_along_axis(top_values, order, axis=1)
    cut = np.maximum(top_values[:, 0], _CUTOFF_MIN)
    tail_lengths = np.sum(top_values > cut[:, None], axis=1)
    k = np.full(n, np.inf)
    width = top.shape[1]
    for length in np.unique(tail_lengths[tail_lengths >= _MIN_TAIL]):
        rows = np.flatnonzero(tail_lengths == length)
        exp_cut = np.exp(cut[rows])[:, None]
        k[rows], sigma = _gpd_fit(np.exp(top_values[rows, width - length :]) - exp_cut)
        fitted = rows[np.isfinite(k[rows])]
        probs = np.arange(0.5, length) / length
        smooth = _gpd_quantiles(probs, k[fitted], sigma[np.isfinite(k[rows])])
        with np.errstate(invalid="ignore"):
            smooth = np.log(smooth + np.exp(cut[fitted])[:, None])
        x[fitted[:, None], top[fitted, width - length :]] = smooth
    np.minimum(x, 0.0, out=x)  # truncate at the largest raw ratio
    x -= _logsumexp_rows(x)[:, None]
    return x, k


def _gpd_fit(tail: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zhang & Stephens' (2009) posterior-mean estimate of the GPD shape ``k`` and scale ``sigma``
    of each row of ``tail`` (sorted ascending, exceedances over the cut), with ArviZ's prior."""
    rows, length = tail.shape
    grid = 30 + int(length**0.5)
    base = 1.0 - np.sqrt(grid / (np.arange(1, grid + 1, dtype=float) - 0.5))
    k = np.empty(rows)
    sigma = np.empty(rows)
    step = max(1, _CHUNK_ELEMENTS // (grid * length))
    for start in range(0, rows, step):
        block = slice(start, start + step)
        k[block], sigma[block] = _gpd_fit_block(tail[block], base)
    return k, sigma


def _gpd_fit_block(tail: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    length = tail.shape[1]
    quartile = tail[:, int(length / 4 + 0.5) - 1]
    with np.errstate(all="ignore"):  # degenerate tails give NaN weights, dropped as in ArviZ
        theta = base[None, :] / (_PRIOR_SCALE * quartile[:, None]) + 1.0 / tail[:, -1:]
        k_grid = np.log1p(-theta[:, :, None] * tail[:, None, :]).mean(axis=2)
        profile = length * (np.log(-(theta / k_grid)) - k_grid - 1.0)
        weights = 1.0 / np.exp(profile[:, None, :] - profile[:, :, None]).sum(axis=2)
        weights = np.where(weights >= 10 * np.finfo(float).eps, weights, 0.0)
        weights /= weights.sum(axis=1, keepdims=True)
        theta_post = np.sum(theta * weights, axis=1)
        k_post = np.log1p(-theta_post[:, None] * tail).mean(axis=1)
        sigma = -k_post / theta_post
    k = (length * k_post + _PRIOR_K_WEIGHT * 0.5) / (length + _PRIOR_K_WEIGHT)
    return k, sigma


def _gpd_quantiles(probs: np.ndarray, k: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Quantiles ``(rows, len(probs))`` of GPDs with shapes ``k`` and scales ``sigma`` (NaN where
    ``sigma <= 0``)."""
    kk = k[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        general = np.expm1(-kk * np.log1p(-probs)[None, :]) / kk
    exponential = -np.log1p(-probs)[None, :]
    q = np.where(np.abs(kk) < np.finfo(float).eps, exponential, general) * sigma[:, None]
    return np.where(sigma[:, None] > 0, q, np.nan)


def _logsumexp_rows(x: np.ndarray) -> np.ndarray:
    """``log sum exp`` of each row, as ArviZ forms it (shift by the row maximum)."""
    top = np.max(x, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log(np.sum(np.exp(x - top[:, None]), axis=1)) + top
