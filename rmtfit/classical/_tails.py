"""Maximum-likelihood fits of alternative laws to a given tail ``xmin <= x (<= xmax)``.

Every law is normalised on the tail's range, so log-likelihoods of different laws on the same
tail are comparable (:func:`rmtfit.classical.vuong_test`, :func:`rmtfit.classical.nested_lr_test`).
Each fit returns a :class:`TailFit` with the pointwise log-likelihoods.

The laws (densities on :math:`x \\ge x_{min}`):

* ``power_law``: :math:`(\\alpha-1) x_{min}^{\\alpha-1} x^{-\\alpha}` (closed-form MLE);
* ``truncated_power_law``: the power law on :math:`[x_{min}, x_{max}]` (1-D root);
* ``cutoff_power_law``: :math:`x^{-\\alpha} e^{-\\lambda x} / Z`, with
  :math:`Z = x_{min}^{1-\\alpha} E_\\alpha(\\lambda x_{min})` and
  :math:`E_p(z) = \\int_1^\\infty t^{-p} e^{-zt}\\,dt` (2-D numerical MLE);
* ``lognormal``: the log-normal density over :math:`1 - \\Phi((\\ln x_{min} - \\mu)/\\sigma)`;
* ``exponential``: :math:`\\lambda e^{-\\lambda (x - x_{min})}` (closed form);
* ``stretched_exponential``: :math:`\\beta\\lambda x^{\\beta-1} e^{-\\lambda (x^\\beta - x_{min}^\\beta)}`
  (profile likelihood in beta).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from rmtfit.classical import _scan
from rmtfit.classical._powerlaw import _positive, power_law_logpdf

__all__ = [
    "TailFit",
    "fit_tail_power_law",
    "fit_truncated_power_law",
    "fit_cutoff_power_law",
    "fit_lognormal",
    "fit_exponential",
    "fit_stretched_exponential",
    "log_exp_integral",
]


@dataclass(frozen=True, eq=False)
class TailFit:
    """One law fitted by maximum likelihood to a tail.

    Attributes
    ----------
    model
        The law's name (see the module docstring).
    params
        Fitted parameters by name.
    loglik
        Total log-likelihood; ``logliks`` holds the pointwise values (same order as ``tail``).
    xmin, xmax
        The tail's range (``xmax`` is ``inf`` when untruncated).
    num_params
        Free parameters (for information criteria).
    converged, message
        Optimiser outcome (always True for closed forms).
    """

    model: str
    params: dict[str, float]
    loglik: float
    xmin: float
    xmax: float
    num_params: int
    converged: bool = True
    message: str = ""
    tail: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    logliks: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)

    @property
    def n(self) -> int:
        """Number of values in the tail."""
        return int(self.tail.size)


def _tail(x, xmin: float, xmax: float | None, need: int = 2) -> np.ndarray:
    x = _positive(x, "x")
    if not xmin > 0:
        raise ValueError(f"The value of `xmin` must be positive, got {xmin}.")
    hi = np.inf if xmax is None else float(xmax)
    t = np.sort(x[(x >= xmin) & (x <= hi)])
    if t.size < need or np.all(t == t[0]):
        raise ValueError(
            f"a tail fit needs at least {need} distinct values in [xmin, xmax] = [{xmin}, {hi}]; "
            f"got {t.size} values"
        )
    return t


def _result(model, params, logliks, tail, xmin, xmax, k, converged=True, message=""):
    logliks = np.asarray(logliks, dtype=np.float64)
    return TailFit(
        model=model,
        params={name: float(v) for name, v in params.items()},
        loglik=float(np.sum(logliks)),
        xmin=float(xmin),
        xmax=float(xmax),
        num_params=k,
        converged=bool(converged),
        message=message,
        tail=tail,
        logliks=logliks,
    )


def fit_tail_power_law(x: np.ndarray, *, xmin: float) -> TailFit:
    """Power law on :math:`[x_{min}, \\infty)`: :math:`\\hat\\alpha = 1 + n/\\sum\\ln(x_i/x_{min})`."""
    t = _tail(x, xmin, None)
    alpha = 1.0 + t.size / np.sum(np.log(t / xmin))
    return _result(
        "power_law", {"alpha": alpha}, power_law_logpdf(t, alpha, xmin), t, xmin, np.inf, 1
    )


def fit_truncated_power_law(x: np.ndarray, *, xmin: float, xmax: float | None = None) -> TailFit:
    """Power law on :math:`[x_{min}, x_{max}]` (doubly truncated); alpha may be <= 1.

    ``xmax=None`` truncates at the largest value (the MLE of an unknown upper bound). The
    exponent solves the score equation exactly (see :func:`rmtfit.classical._scan.truncated_exponent`).
    """
    hi = float(np.max(_positive(x, "x"))) if xmax is None else float(xmax)
    t = _tail(x, xmin, hi)
    span = np.log(hi / xmin)
    b = float(_scan.truncated_exponent(np.asarray(np.mean(np.log(t / xmin))), np.asarray(span)))
    alpha = 1.0 + b
    logliks = power_law_logpdf(t, alpha, xmin, hi)
    return _result("truncated_power_law", {"alpha": alpha, "xmax": hi}, logliks, t, xmin, hi, 1)


def log_exp_integral(p: float, z: float) -> float:
    """:math:`\\ln E_p(z)`, :math:`E_p(z) = \\int_1^\\infty t^{-p} e^{-zt}\\,dt`, for z > 0 and any real p.

    For p < 1, through :math:`E_p(z) = z^{p-1}\\Gamma(1-p, z)` (scipy's regularised
    ``gammaincc``) wherever that does not underflow; else, for z >= 1, by Gauss-Laguerre
    quadrature of a bounded, smooth integrand,
    :math:`E_p(z) = e^{-z} z^{-1} \\int_0^\\infty e^{-v} (1 + v/z)^{-p} dv`; for z < 1 and p >= 1,
    the upward recurrence :math:`E_{q+1}(z) = (e^{-z} - zE_q(z))/q` from the fractional part of
    p (stable for z < 1). This sidesteps ``gammaincc`` being undefined
    for a non-positive first argument (the cutoff power law needs 1 - alpha <= 0). The
    quadrature is not used for p < 1 where ``gammaincc`` works: with p far below 0 (a tail
    rising steeply before its cutoff) its integrand grows like v^{-p} and the 150-point rule
    overflowed (p = -300, z = 50) or lost accuracy.
    """
    from scipy import special

    if not z > 0:
        raise ValueError(f"The value of `z` must be positive, got {z}.")
    if p < 1.0:
        s = 1.0 - p
        upper = float(special.gammaincc(s, z))
        if upper > 0.0 or z < 1.0:
            return float((p - 1.0) * np.log(z) + np.log(upper) + special.gammaln(s))
    if z >= 1.0:  # 150-point Gauss-Laguerre: relative error < 1e-11 for z >= 1, p >= 0 (vs mpmath)
        nodes, weights = _laguerre()
        val = float(np.sum(weights * np.exp(-p * np.log1p(nodes / z))))
        return float(-z - np.log(z) + np.log(val))
    # z < 1, p >= 1: upward recurrence E_{q+1} = (e^-z - z E_q) / q, stable for z < 1 (each
    # step multiplies the error by z/q < 1), from E_{q0}, q0 = p - floor(p) (or E_1 = exp1).
    steps = int(np.floor(p))
    q = p - steps
    if q == 0.0:
        e, q, steps = float(special.exp1(z)), 1.0, steps - 1
    else:
        e = float(z ** (q - 1.0) * special.gammaincc(1.0 - q, z) * special.gamma(1.0 - q))
    for _ in range(steps):
        e, q = (np.exp(-z) - z * e) / q, q + 1.0
    return float(np.log(e))


@functools.cache
def _laguerre() -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.laguerre.laggauss(150)


def _cutoff_logliks(t, xmin, alpha, lam):
    z = lam * xmin
    log_norm = (1.0 - alpha) * np.log(xmin) + log_exp_integral(alpha, z)
    return -alpha * np.log(t) - lam * t - log_norm


def fit_cutoff_power_law(x: np.ndarray, *, xmin: float) -> TailFit:
    """Power law with exponential cutoff :math:`x^{-\\alpha}e^{-\\lambda x}` on :math:`[x_{min}, \\infty)`.

    Numerical MLE in (alpha, log lambda) from a few starting points (the power-law MLE with a
    small cutoff, and cutoffs at the tail's scale). The power law is the boundary lambda -> 0 of
    this law; when no lambda > 0 does better than the power law, the fit reports lambda = 0 and
    the power law's likelihood (so the nested test's statistic is never negative).
    """
    from scipy import optimize

    t = _tail(x, xmin, None, need=3)
    pl = fit_tail_power_law(t, xmin=xmin)

    def nll(theta):
        alpha, lam = theta[0], np.exp(theta[1])
        val = -np.sum(_cutoff_logliks(t, xmin, alpha, lam))
        return val if np.isfinite(val) else 1e300

    scale = float(np.mean(t))
    starts = ((pl.params["alpha"], 1e-3 / scale), (1.0, 1.0 / scale), (0.5, 3.0 / scale))
    best = min(
        (
            optimize.minimize(
                nll,
                [alpha0, np.log(lam0)],
                method="Nelder-Mead",
                options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000},
            )
            for alpha0, lam0 in starts
        ),
        key=lambda res: res.fun,
    )
    alpha, lam = float(best.x[0]), float(np.exp(best.x[1]))
    if -best.fun <= pl.loglik + 1e-9:  # boundary (up to rounding): the power law itself
        return _result(
            "cutoff_power_law",
            {"alpha": pl.params["alpha"], "lambda": 0.0},
            pl.logliks,
            t,
            xmin,
            np.inf,
            2,
            True,
            "lambda at its boundary 0",
        )
    logliks = _cutoff_logliks(t, xmin, alpha, lam)
    return _result(
        "cutoff_power_law",
        {"alpha": alpha, "lambda": lam},
        logliks,
        t,
        xmin,
        np.inf,
        2,
        bool(best.success),
        str(best.message),
    )


def _lognormal_logliks(t, xmin, mu, sigma):
    from scipy.special import log_ndtr

    z = (np.log(t) - mu) / sigma
    tail_mass = log_ndtr(-(np.log(xmin) - mu) / sigma)
    return -np.log(t) - np.log(sigma) - 0.5 * np.log(2 * np.pi) - 0.5 * z * z - tail_mass


def fit_lognormal(x: np.ndarray, *, xmin: float) -> TailFit:
    """Log-normal truncated to :math:`[x_{min}, \\infty)`, numerical MLE in (mu, log sigma).

    Started at the moments of ``log x`` over the tail and, as heavy tails often want, at a
    wide law centred below xmin; the better optimum is kept.
    """
    from scipy import optimize

    t = _tail(x, xmin, None, need=3)
    logs = np.log(t)

    def nll(theta):
        val = -np.sum(_lognormal_logliks(t, xmin, theta[0], np.exp(theta[1])))
        return val if np.isfinite(val) else 1e300

    starts = (
        (logs.mean(), np.log(logs.std() + 1e-12)),
        (np.log(xmin) - 2 * logs.std(), np.log(2 * logs.std() + 1e-12)),
    )
    best = min(
        (
            optimize.minimize(
                nll,
                start,
                method="Nelder-Mead",
                options={"xatol": 1e-9, "fatol": 1e-10, "maxiter": 4000},
            )
            for start in starts
        ),
        key=lambda res: res.fun,
    )
    mu, sigma = float(best.x[0]), float(np.exp(best.x[1]))
    return _result(
        "lognormal",
        {"mu": mu, "sigma": sigma},
        _lognormal_logliks(t, xmin, mu, sigma),
        t,
        xmin,
        np.inf,
        2,
        bool(best.success),
        str(best.message),
    )


def fit_exponential(x: np.ndarray, *, xmin: float) -> TailFit:
    """Exponential :math:`\\lambda e^{-\\lambda(x - x_{min})}`: :math:`\\hat\\lambda = 1/\\overline{x - x_{min}}`."""
    t = _tail(x, xmin, None)
    lam = 1.0 / np.mean(t - xmin)
    return _result(
        "exponential", {"lambda": lam}, np.log(lam) - lam * (t - xmin), t, xmin, np.inf, 1
    )


_LOG_BETA_RANGE = (-9.0, 4.0)


def fit_stretched_exponential(x: np.ndarray, *, xmin: float) -> TailFit:
    """Stretched exponential (Weibull tail) on :math:`[x_{min}, \\infty)`.

    With :math:`t = x/x_{min}` and :math:`\\lambda' = \\lambda x_{min}^\\beta`, the log-density is
    :math:`\\ln\\beta + \\ln\\lambda' + (\\beta-1)\\ln t - \\ln x_{min} - \\lambda'(t^\\beta - 1)`; for
    fixed beta, :math:`\\hat\\lambda' = n/\\sum (t_i^\\beta - 1)`, and the profile likelihood is
    maximised over :math:`\\ln\\beta \\in [-9, 4]` (bounded scalar search). A search that ends
    at a bound is not an optimum: ``converged`` is then False and ``message`` says which bound.
    """
    from scipy import optimize

    t = _tail(x, xmin, None)
    log_t = np.log(t / xmin)

    def parts(beta):
        excess = np.expm1(beta * log_t)
        lam = t.size / np.sum(excess)
        return lam, np.log(beta) + np.log(lam) + (beta - 1.0) * log_t - np.log(xmin) - lam * excess

    res = optimize.minimize_scalar(
        lambda lb: -np.sum(parts(np.exp(lb))[1]),
        bounds=_LOG_BETA_RANGE,
        method="bounded",
        options={"xatol": 1e-10},
    )
    beta = float(np.exp(res.x))
    lam_scaled, logliks = parts(beta)
    lam = lam_scaled / xmin**beta
    converged, message = bool(res.success), str(res.get("message", ""))
    at_bound = min(abs(res.x - bound) for bound in _LOG_BETA_RANGE) < 1e-6
    if at_bound:  # the profile likelihood still rises at the end of the search
        converged = False
        message = (
            f"beta stopped at the bound {beta:.4g} of its search (ln beta in "
            f"{list(_LOG_BETA_RANGE)}): the maximum likelihood lies beyond it"
        )
    return _result(
        "stretched_exponential",
        {"beta": beta, "lambda": lam},
        logliks,
        t,
        xmin,
        np.inf,
        2,
        converged,
        message,
    )
