"""Clauset-Shalizi-Newman power-law fit (MLE alpha, KS-minimising xmin) and the Hill estimator.

References: A. Clauset, C. R. Shalizi, M. E. J. Newman, *Power-law distributions in empirical
data*, SIAM Review 51 (2009) 661-703; B. M. Hill, *A simple general approach to inference about
the tail of a distribution*, Ann. Statist. 3 (1975) 1163-1174.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rmtfit.classical import _scan

__all__ = ["PowerLawFit", "fit_power_law", "hill_estimator", "power_law_logpdf"]


@dataclass(frozen=True, eq=False)
class PowerLawFit:
    """A power law :math:`p(x) = (\\alpha-1)/x_{min}\\,(x/x_{min})^{-\\alpha}` fitted to a tail.

    Attributes
    ----------
    alpha
        MLE exponent at ``xmin``: :math:`1 + n_{tail} / \\sum \\ln(x_i/x_{min})` (untruncated), or
        the root of the score equation of the law truncated to [xmin, xmax].
    xmin, xmax
        Lower cut (a data value) and upper truncation (``inf`` when none).
    D
        KS distance at ``xmin`` in the definition ``ks``.
    n_tail, n
        Values in the tail, and values the scan saw (positive, at most ``xmax``).
    alpha_se
        Asymptotic standard error :math:`(\\alpha - 1)/\\sqrt{n_{tail}}`.
    alpha_unbiased
        :math:`1 + (n_{tail} - 1)/\\sum \\ln(x_i/x_{min})`: since
        :math:`\\sum \\ln(x_i/x_{min}) \\sim \\mathrm{Gamma}(n, \\alpha - 1)` exactly, this makes
        :math:`\\alpha - 1` unbiased at any n (the MLE is biased up by a factor n/(n-1)). NaN under
        truncation, where no such exact form exists.
    ks, min_tail
        The settings used (so a bootstrap can repeat the same procedure).
    xmin_fixed
        True when ``xmin`` was given rather than scanned.
    num_candidates, num_exact
        Candidate xmins scanned, and how many of them needed their KS distance in full (the
        others were pruned by lower bounds; see :mod:`rmtfit.classical._scan`).
    candidate_xmins, ks_curve
        Every candidate and its KS distance, when asked for (``return_curve=True``), else None.
    """

    alpha: float
    xmin: float
    D: float
    n_tail: int
    n: int
    alpha_se: float
    alpha_unbiased: float
    xmax: float = float("inf")
    ks: str = "standard"
    min_tail: int = 10
    xmin_fixed: bool = False
    num_candidates: int = 1
    num_exact: int = 1
    candidate_xmins: np.ndarray | None = field(default=None, repr=False)
    ks_curve: np.ndarray | None = field(default=None, repr=False)

    def tail(self, x: np.ndarray) -> np.ndarray:
        """The values of ``x`` this fit describes: ``xmin <= x <= xmax``, ascending."""
        x = np.sort(np.asarray(x, dtype=np.float64))
        return x[(x >= self.xmin) & (x <= self.xmax)]

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        """Pointwise log-density of the fitted law (``-inf`` outside [xmin, xmax])."""
        return power_law_logpdf(x, self.alpha, self.xmin, self.xmax)


def fit_power_law(
    x: np.ndarray,
    *,
    xmin: float | None = None,
    xmax: float | None = None,
    ks: str = "standard",
    min_tail: int = 10,
    return_curve: bool = False,
) -> PowerLawFit:
    """Fit a power-law tail by maximum likelihood, choosing xmin by the minimum KS distance.

    Every distinct value of ``x`` but the largest whose tail holds at least ``min_tail`` values
    is a candidate xmin; for each the MLE exponent is exact (closed form) and the KS distance is
    computed exactly; the minimiser is found by a vectorised, pruned scan that returns the same
    answer as evaluating every candidate (:mod:`rmtfit.classical._scan`). Unlike ``powerlaw`` 2.0
    the exponent is not capped (its default range is alpha in (0, 3)), and the KS distance is
    two-sided.

    Parameters
    ----------
    x
        Positive observations (eigenvalues), any order. Non-positive or non-finite values are an
        error: drop them first (:func:`rmtfit.classical.fit_classical` does, with a note).
    xmin
        Fix xmin instead of scanning (the tail is ``x >= xmin``).
    xmax
        Upper truncation: values above it are dropped and the doubly truncated law is fitted.
    ks
        ``"standard"`` (two-sided KS), ``"reweighted"`` (deviations over
        :math:`\\sqrt{F(1-F)}`, more sensitive in the far tail) or ``"powerlaw"`` (the one-sided
        variant of the ``powerlaw`` package, for comparisons); see :func:`ks_distance`.
    min_tail
        Smallest admissible tail (>= 2).
    return_curve
        Also return the KS distance of every candidate (a brute-force scan: O(n^2) time, memory
        bounded).

    Returns
    -------
    PowerLawFit

    Raises
    ------
    ValueError
        On bad values or too few of them (the message says how many are needed and given).
    """
    if ks not in _scan.KS_METHODS:
        raise ValueError(f"The value of `ks` must be one of {_scan.KS_METHODS}, got {ks!r}.")
    if int(min_tail) < 2:
        raise ValueError(f"The value of `min_tail` must be at least 2, got {min_tail}.")
    x = _positive(x, "x")
    if xmax is not None and not xmax > 0:
        raise ValueError(f"The value of `xmax` must be positive, got {xmax}.")
    d = _scan.prepare(x, xmax)
    if xmin is not None:
        if not (np.isfinite(xmin) and xmin > 0):
            raise ValueError(f"The value of `xmin` must be positive and finite, got {xmin}.")
        return _fit_fixed_xmin(x, float(xmin), xmax, ks, int(min_tail))
    c = _scan.candidates(d, int(min_tail))
    if c.k.size == 0:
        raise ValueError(
            f"power-law fit needs at least {int(min_tail)} values in a tail with 2 or more "
            f"distinct values (min_tail={int(min_tail)}); got {d.n} values, "
            f"{d.u.size} distinct" + (f", at most xmax={xmax}" if xmax is not None else "")
        )
    i, D, curve, num_exact = _scan.scan(d, c, ks, full=return_curve)
    xmin_hat = float(d.u[c.k[i]])
    tail = x[(x >= xmin_hat) & (x <= d.xmax)]
    alpha = _alpha_at(tail, xmin_hat, d.xmax, float(c.b[i]))
    if np.isinf(d.xmax):  # the distance at the reported alpha (the scan's differs in rounding)
        k = c.k[i : i + 1]
        final = _scan.Candidates(
            k=k, m=c.m[i : i + 1], b=np.array([alpha - 1.0]), log_span=c.log_span[i : i + 1]
        )
        D = float(_scan._exact(d, final, np.zeros(1, dtype=np.intp), ks)[0][0])
    return _result(
        tail,
        alpha,
        xmin_hat,
        d.xmax,
        D,
        d.n,
        ks,
        int(min_tail),
        xmin_fixed=False,
        num_candidates=int(c.k.size),
        num_exact=num_exact,
        candidate_xmins=d.u[c.k] if return_curve else None,
        ks_curve=curve,
    )


def _fit_fixed_xmin(x, xmin, xmax, ks, min_tail) -> PowerLawFit:
    hi = np.inf if xmax is None else float(xmax)
    tail = x[(x >= xmin) & (x <= hi)]
    if tail.size < 2 or np.all(tail == tail[0]):
        raise ValueError(
            f"power-law fit at xmin={xmin} needs at least 2 distinct values in [xmin, xmax]; "
            f"got {tail.size} values"
        )
    d = _scan.prepare(tail, xmax)
    if np.isinf(hi):
        b0 = float("nan")  # closed form below
    else:
        span = np.log(hi / xmin)
        b0 = float(_scan.truncated_exponent(np.mean(np.log(tail / xmin)), span))
    alpha = _alpha_at(tail, xmin, hi, b0)
    D = _scan.ks_distance(tail, alpha, xmin, xmax=xmax, ks=ks)
    return _result(tail, alpha, xmin, hi, D, d.n, ks, min_tail, xmin_fixed=True)


def _alpha_at(tail: np.ndarray, xmin: float, xmax: float, b_scan: float) -> float:
    """The closed-form MLE, computed directly from the tail (untruncated) or the scan's root."""
    if np.isinf(xmax):
        return float(1 + tail.size / np.sum(np.log(tail / xmin)))
    return 1.0 + b_scan


def _result(tail, alpha, xmin, xmax, D, n, ks, min_tail, **extra) -> PowerLawFit:
    n_tail = int(tail.size)
    if np.isinf(xmax):
        log_sum = float(np.sum(np.log(tail / xmin)))
        unbiased = 1.0 + (n_tail - 1) / log_sum
    else:
        unbiased = float("nan")
    return PowerLawFit(
        alpha=float(alpha),
        xmin=float(xmin),
        D=float(D),
        n_tail=n_tail,
        n=int(n),
        alpha_se=float((alpha - 1.0) / np.sqrt(n_tail)),
        alpha_unbiased=float(unbiased),
        xmax=float(xmax),
        ks=ks,
        min_tail=min_tail,
        **extra,
    )


def power_law_logpdf(
    x: np.ndarray, alpha: float, xmin: float, xmax: float | None = None
) -> np.ndarray:
    """Log-density of the power law on [xmin, inf) or, with ``xmax``, on [xmin, xmax].

    .. math::

        \\ln p(x) = -\\alpha \\ln(x/x_{min}) - \\ln\\big(x_{min} L\\, \\mathrm{exprel}(-u)\\big),
        \\qquad L = \\ln(x_{max}/x_{min}),\\; u = (\\alpha - 1) L,

    which is stable through alpha = 1 and reduces to
    :math:`\\ln(\\alpha-1) - \\ln x_{min} - \\alpha \\ln(x/x_{min})` as :math:`x_{max} \\to \\infty`.
    """
    from scipy.special import exprel

    x = np.asarray(x, dtype=np.float64)
    hi = np.inf if xmax is None else float(xmax)
    y = np.log(np.where(x > 0, x, 1.0) / xmin)
    if np.isinf(hi):
        if not alpha > 1:
            raise ValueError(f"An untruncated power law needs alpha > 1, got alpha={alpha}.")
        log_norm = np.log(alpha - 1.0) - np.log(xmin)
    else:
        span = np.log(hi / xmin)
        log_norm = -np.log(xmin * span * exprel(-(alpha - 1.0) * span))
    inside = (x >= xmin) & (x <= hi)
    return np.where(inside, log_norm - alpha * y, -np.inf)


def hill_estimator(x: np.ndarray, k: int | np.ndarray) -> float | np.ndarray:
    """Hill's estimator of the density exponent from the ``k`` largest values.

    With :math:`x_{(1)} \\ge x_{(2)} \\ge \\dots` the values in decreasing order,

    .. math::

        H_k = \\frac{1}{k}\\sum_{i=1}^{k} \\ln\\frac{x_{(i)}}{x_{(k+1)}}, \\qquad
        \\hat\\alpha_k = 1 + 1/H_k,

    the tail index :math:`1/H_k` of the survival function turned into the exponent of the
    density, as the Clauset alpha is. It is the Clauset MLE with the threshold at the (k+1)-th
    largest value, which is left out of the sum. ``k`` may be an array (a Hill plot).

    Raises
    ------
    ValueError
        If any ``k`` is outside ``1 <= k < len(x)``.
    """
    x = _positive(x, "x")
    logs = np.sort(np.log(x))[::-1]
    kk = np.asarray(k)
    if np.any(kk < 1) or np.any(kk >= logs.size) or not np.issubdtype(kk.dtype, np.integer):
        raise ValueError(
            f"The value of `k` must be an integer in [1, {logs.size - 1}] for {logs.size} values, "
            f"got {k!r}."
        )
    top_sums = np.cumsum(logs)
    with np.errstate(divide="ignore"):
        h = top_sums[kk - 1] / kk - logs[kk]
        alpha = 1.0 + 1.0 / h
    return float(alpha) if alpha.ndim == 0 else alpha


def _positive(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64).ravel()
    bad = ~np.isfinite(x) | (x <= 0)
    if np.any(bad):
        first = x[bad][0]
        raise ValueError(
            f"`{name}` must hold positive finite values; {int(bad.sum())} of {x.size} are not "
            f"(first: {first}). Drop zeros and non-finite values before fitting."
        )
    return x
