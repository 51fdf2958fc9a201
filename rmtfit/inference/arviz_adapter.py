"""The one adapter between rmtfit and ArviZ.

Every ArviZ call in the package goes through this module, so an ArviZ upgrade touches one file.
It holds three things:

* vectorised convergence diagnostics (:func:`diagnostics`): the rank-normalised split R-hat,
  bulk and tail effective sample sizes and the Monte Carlo standard error of the mean of
  Vehtari, Gelman, Simpson, Carpenter & Buerkner (2021), "Rank-normalization, folding, and
  localization: an improved R-hat for assessing convergence of MCMC", Bayesian Analysis 16(2).
  They compute exactly what ``arviz.rhat``/``arviz.ess``/``arviz.mcse`` compute (the tests check
  agreement to rounding error), but on a whole stack of series at once: ArviZ loops over series
  in Python, which costs milliseconds per series and seconds per network;
* :func:`summary_stats`: posterior mean, sd and the central (equal-tailed) credible interval;
* thin wrappers that build and read :class:`arviz.InferenceData` (:func:`to_inference_data`,
  :func:`from_datatree` for a pair of a ``fits.nc`` group tree, :func:`loo`, :func:`compare`,
  :func:`summary`, and the reference diagnostics used by tests);
* PSIS-LOO observation by observation (:func:`loo_pointwise`, :class:`PointwiseLoo`) and the
  observed data of a fit (:func:`observed_values`), for :mod:`rmtfit.comparison`, which does the
  rest (differences, weights, diagnostics) with small pure functions on numpy arrays.

Arrays first: every function takes numpy arrays shaped ``(..., chain, draw)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import fft as _fft
from scipy import special

__all__ = [
    "diagnostics",
    "summary_stats",
    "rhat",
    "ess_bulk",
    "ess_tail",
    "mcse_mean",
    "to_inference_data",
    "from_datatree",
    "loo",
    "compare",
    "summary",
    "reference_diagnostics",
    "PointwiseLoo",
    "loo_pointwise",
    "observed_values",
]

_TAIL_PROBS = (0.05, 0.95)
_BLOM_OFFSET = 3.0 / 8.0


# --------------------------------------------------------------------------- array helpers


def _as_draws(ary: Any) -> np.ndarray:
    a = np.asarray(ary, dtype=np.float64)
    if a.ndim < 2:
        raise ValueError(
            f"draws must have shape (..., chain, draw); got shape {a.shape}. "
            "Add a chain axis for a single chain."
        )
    return a


def _split_chains(a: np.ndarray) -> np.ndarray:
    """Split each chain in two halves (dropping the middle draw when odd): (..., 2C, D//2)."""
    half = a.shape[-1] // 2
    return np.concatenate([a[..., :half], a[..., a.shape[-1] - half :]], axis=-2)


def _flat(a: np.ndarray) -> np.ndarray:
    """(..., C, D) -> (K, C, D) with K the product of the leading dims."""
    return a.reshape((-1,) + a.shape[-2:])


def _invalid(a: np.ndarray) -> np.ndarray:
    """Series (K, C, D) holding any NaN or infinity."""
    return ~np.all(np.isfinite(a), axis=(-2, -1))


def _average_ranks(flat: np.ndarray) -> np.ndarray:
    """1-based ranks of each row, ties sharing their average rank (``scipy.stats.rankdata``)."""
    k, n = flat.shape
    order = np.argsort(flat, axis=-1)
    sorted_vals = np.take_along_axis(flat, order, axis=-1)
    starts = np.ones((k, n), dtype=bool)
    starts[:, 1:] = sorted_vals[:, 1:] != sorted_vals[:, :-1]
    values = np.broadcast_to(np.arange(1.0, n + 1.0), (k, n)).copy()
    tied = ~starts.all(axis=1)
    if tied.any():
        # average rank of a run of equal values = mean of its first and last positions
        st = starts[tied].T
        en = np.ones_like(st)
        en[:-1] = st[1:]
        pos = np.arange(n)[:, None]
        first = np.maximum.accumulate(np.where(st, pos, 0), axis=0)
        last = np.minimum.accumulate(np.where(en, pos, n)[::-1], axis=0)[::-1]
        values[tied] = ((first + last) / 2.0 + 1.0).T
    ranks = np.empty((k, n))
    ranks[np.arange(k)[:, None], order] = values
    return ranks


def _z_scale(a: np.ndarray) -> np.ndarray:
    """Rank-normalise each series (K, C, D) over all its draws (Blom offsets, then normal quantiles)."""
    k, c, d = a.shape
    ranks = _average_ranks(a.reshape(k, c * d))
    u = (ranks - _BLOM_OFFSET) / (c * d - 2 * _BLOM_OFFSET + 1)
    return special.ndtri(u).reshape(a.shape)


def _rhat_plain(a: np.ndarray) -> np.ndarray:
    """Classical (non split) R-hat of each series (K, C, D)."""
    n = a.shape[-1]
    chain_mean = a.mean(axis=-1)
    chain_var = a.var(axis=-1, ddof=1)
    between = n * chain_mean.var(axis=-1, ddof=1)
    within = chain_var.mean(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt((between / within + n - 1) / n)


def _autocov(a: np.ndarray) -> np.ndarray:
    """Autocovariance at every lag along the last axis (biased, divided by n), via FFT."""
    n = a.shape[-1]
    m = _fft.next_fast_len(2 * n)
    centred = a - a.mean(axis=-1, keepdims=True)
    f = _fft.rfft(centred, n=m, axis=-1)
    return _fft.irfft(f.real**2 + f.imag**2, n=m, axis=-1)[..., :n] / n


def _ess_raw(a: np.ndarray) -> np.ndarray:
    """Effective sample size of each series (K, C, D) with Geyer's initial monotone sequence.

    Autocorrelations are combined over chains as in Vehtari et al. (2021), eq. (10); pairs of
    consecutive autocorrelations are summed while positive (initial positive sequence), then made
    monotone (running minimum) before the integrated autocorrelation time is formed.
    """
    k, c, n = a.shape
    out = np.full(k, np.nan)
    finite = ~_invalid(a)
    if not finite.any():
        return out
    constant = np.zeros(k, dtype=bool)
    constant[finite] = (a[finite].max(axis=(-2, -1)) - a[finite].min(axis=(-2, -1))) < np.finfo(
        float
    ).resolution
    out[constant] = c * n
    live = finite & ~constant
    if not live.any():
        return out
    x = a[live]
    acov = _autocov(x)
    chain_mean = x.mean(axis=-1)
    mean_var = acov[..., 0].mean(axis=-1) * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if c > 1:
        var_plus = var_plus + chain_mean.var(axis=-1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 1.0 - (mean_var[:, None] - acov.mean(axis=1)) / var_plus[:, None]
    rho[:, 0] = 1.0
    # pair sums S_j = rho_2j + rho_2j+1, j = 0..J (index 2j+1 <= n-1)
    num_pairs = n // 2
    pair = rho[:, 0 : 2 * num_pairs : 2] + rho[:, 1 : 2 * num_pairs : 2]
    j = np.arange(num_pairs)
    # the sequence is extended to pair j (j >= 1) while S_{j-1} > 0 and 2j - 1 < n - 3
    stop_len = (2 * j - 1 >= n - 3) & (j >= 1)
    stop_sign = np.zeros_like(pair, dtype=bool)
    stop_sign[:, 1:] = pair[:, :-1] <= 0
    stop = stop_sign | stop_len[None, :]
    stop[:, 0] = False
    any_stop = stop.any(axis=1)
    k_star = np.where(any_stop, np.argmax(stop, axis=1), num_pairs)
    # monotone: running minimum of the accepted pair sums j = 0..k*-2
    running = np.minimum.accumulate(pair, axis=1)
    keep = j[None, :] <= (k_star[:, None] - 2)
    pair_sum = np.where(keep, running, 0.0).sum(axis=1)
    last = k_star - 1
    even_idx = np.clip(2 * last, 0, n - 1)
    even = np.take_along_axis(rho, even_idx[:, None], axis=1)[:, 0]
    last_pair = np.take_along_axis(pair, np.clip(last, 0, num_pairs - 1)[:, None], axis=1)[:, 0]
    tail_term = np.where((last_pair >= 0) | (even > 0), even, 0.0)
    tail_term = np.where(k_star >= 2, tail_term, 1.0)
    tau = -1.0 + 2.0 * pair_sum + tail_term
    total = c * n
    tau = np.maximum(tau, 1.0 / np.log10(total))
    ess = total / tau
    ess = np.where(np.isnan(rho).any(axis=1), np.nan, ess)
    out[live] = ess
    return out


# --------------------------------------------------------------------------- diagnostics


def _per_series(draws: Any, kernel: Any, *, min_chains: int = 1) -> np.ndarray:
    """Apply ``kernel`` to the valid series of ``draws`` ``(..., chain, draw)``; NaN elsewhere.

    A series is invalid when it holds a non-finite value; every series is NaN when there are
    fewer than ``min_chains`` chains or fewer than 4 draws. ``kernel`` gets ``(series, chain,
    draw)`` and returns one value per series.
    """
    a = _as_draws(draws)
    lead = a.shape[:-2]
    if a.shape[-2] < min_chains or a.shape[-1] < 4:
        return np.full(lead, np.nan)
    f = _flat(a)
    out = np.full(f.shape[0], np.nan)
    ok = ~_invalid(f)
    if ok.any():
        out[ok] = kernel(f[ok])
    return out.reshape(lead)


def _rhat_kernel(g: np.ndarray) -> np.ndarray:
    s = _split_chains(g)
    bulk = _rhat_plain(_z_scale(s))
    med = np.median(s.reshape(s.shape[0], -1), axis=-1)[:, None, None]
    tail = _rhat_plain(_z_scale(np.abs(s - med)))
    return np.maximum(bulk, tail)


def _mcse_kernel(g: np.ndarray) -> np.ndarray:
    ess = _ess_raw(_split_chains(g))
    sd = g.reshape(g.shape[0], -1).std(axis=-1, ddof=1)
    return sd / np.sqrt(ess)


def rhat(draws: Any) -> np.ndarray:
    """Rank-normalised split R-hat (max of bulk and folded) of each series ``(..., chain, draw)``.

    NaN when a series holds a non-finite value, has fewer than 2 chains or fewer than 4 draws.
    """
    return _per_series(draws, _rhat_kernel, min_chains=2)


def ess_bulk(draws: Any) -> np.ndarray:
    """Bulk effective sample size (rank-normalised split chains) of each series."""
    return _per_series(draws, lambda g: _ess_raw(_z_scale(_split_chains(g))))


def ess_tail(draws: Any, probs: tuple[float, float] = _TAIL_PROBS) -> np.ndarray:
    """Tail effective sample size: the smaller ESS of the 5% and 95% quantile indicators."""
    return _per_series(draws, lambda g: _ess_tail_raw(g, probs))


def _ess_tail_raw(g: np.ndarray, probs: tuple[float, float] = _TAIL_PROBS) -> np.ndarray:
    pooled = g.reshape(g.shape[0], -1)
    per_prob = []
    for p in probs:
        q = np.quantile(pooled, p, axis=-1)[:, None, None]
        per_prob.append(_ess_raw(_split_chains((g <= q).astype(np.float64))))
    return np.minimum(*per_prob)


def mcse_mean(draws: Any) -> np.ndarray:
    """Monte Carlo standard error of the posterior mean: sd / sqrt(ESS of the mean)."""
    return _per_series(draws, _mcse_kernel)


def diagnostics(draws: Any) -> dict[str, np.ndarray]:
    """``r_hat``, ``ess_bulk``, ``ess_tail`` and ``mcse_mean`` of each series ``(..., chain, draw)``."""
    a = _as_draws(draws)
    lead = a.shape[:-2]
    if a.shape[-1] < 4:
        nan = np.full(lead, np.nan)
        return {
            "r_hat": nan,
            "ess_bulk": nan.copy(),
            "ess_tail": nan.copy(),
            "mcse_mean": nan.copy(),
        }
    f = _flat(a)
    out = {
        name: np.full(f.shape[0], np.nan) for name in ("r_hat", "ess_bulk", "ess_tail", "mcse_mean")
    }
    ok = ~_invalid(f)
    if ok.any():
        g = f[ok]
        split = _split_chains(g)
        z = _z_scale(split)
        out["ess_bulk"][ok] = _ess_raw(z)
        if a.shape[-2] >= 2:
            med = np.median(split.reshape(split.shape[0], -1), axis=-1)[:, None, None]
            folded = _rhat_plain(_z_scale(np.abs(split - med)))
            out["r_hat"][ok] = np.maximum(_rhat_plain(z), folded)
        out["ess_tail"][ok] = _ess_tail_raw(g)
        sd = g.reshape(g.shape[0], -1).std(axis=-1, ddof=1)
        out["mcse_mean"][ok] = sd / np.sqrt(_ess_raw(split))
    return {name: v.reshape(lead) for name, v in out.items()}


def summary_stats(draws: Any, ci_prob: float) -> dict[str, np.ndarray]:
    """Posterior ``mean``, ``sd`` (ddof=1) and central interval ``ci_low``/``ci_high`` at ``ci_prob``.

    The interval is equal-tailed (quantiles (1 - ci_prob)/2 and (1 + ci_prob)/2 of the pooled
    draws): it maps through monotone reparametrisations, unlike the HDI.
    """
    if not 0.0 < ci_prob < 1.0:
        raise ValueError(f"The value of `ci_prob` must be in the (0, 1) interval; got {ci_prob!r}.")
    a = _as_draws(draws)
    pooled = a.reshape(a.shape[:-2] + (-1,))
    probs = np.asarray([(1.0 - ci_prob) / 2.0, (1.0 + ci_prob) / 2.0])
    bounds: np.ndarray = np.quantile(pooled, probs, axis=-1)
    lo, hi = bounds[0], bounds[1]
    return {
        "mean": pooled.mean(axis=-1),
        "sd": pooled.std(axis=-1, ddof=1)
        if a.shape[-1] * a.shape[-2] > 1
        else np.full_like(lo, np.nan),
        "ci_low": lo,
        "ci_high": hi,
    }


def reference_diagnostics(draws: Any) -> dict[str, float]:
    """ArviZ's own diagnostics of one ``(chain, draw)`` series (the reference the tests use)."""
    import arviz as az

    a = np.asarray(draws, dtype=np.float64)
    return {
        "r_hat": float(az.rhat(a, method="rank")),
        "ess_bulk": float(az.ess(a, method="bulk")),
        "ess_tail": float(az.ess(a, method="tail")),
        "mcse_mean": float(np.ravel(az.mcse(a, method="mean"))[0]),
    }


# --------------------------------------------------------------------------- InferenceData


def to_inference_data(
    *,
    posterior: Mapping[str, np.ndarray],
    sample_stats: Mapping[str, np.ndarray] | None = None,
    log_likelihood: Mapping[str, np.ndarray] | None = None,
    observed_data: Mapping[str, np.ndarray] | None = None,
    constant_data: Mapping[str, Any] | None = None,
    dims: Mapping[str, list[str]] | None = None,
    coords: Mapping[str, Any] | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> Any:
    """Build an :class:`arviz.InferenceData` from dicts of ``(chain, draw, ...)`` arrays.

    ``attrs`` go on the InferenceData and on each of its groups; 0-d ``constant_data`` entries
    stay scalars.
    """
    import arviz as az
    import xarray as xr

    idata = az.from_dict(
        posterior=dict(posterior),
        sample_stats=dict(sample_stats) if sample_stats else None,
        log_likelihood=dict(log_likelihood) if log_likelihood else None,
        observed_data=dict(observed_data) if observed_data else None,
        constant_data=dict(constant_data) if constant_data else None,
        dims=dict(dims) if dims else None,
        coords=dict(coords) if coords else None,
        attrs=dict(attrs) if attrs else None,
    )
    scalars = {k: np.asarray(v) for k, v in (constant_data or {}).items() if np.ndim(v) == 0}
    if scalars:  # ArviZ gives 0-d constants a length-1 axis; keep them scalars
        group = idata.constant_data
        for name, value in scalars.items():
            group = group.drop_vars([name, *group[name].dims]).assign({name: ((), value)})
        idata.constant_data = xr.Dataset(group.data_vars, attrs=group.attrs)
    for name in idata.groups():  # the attributes on every group too (xarray readers see them)
        idata[name].attrs.update(dict(attrs or {}))
    return idata


def from_datatree(node: Any) -> Any:
    """The InferenceData of one ``/<layer>/<likelihood>`` node of a ``fits.nc`` group tree.

    ``node`` is an ``xarray.DataTree`` whose children are the groups (``posterior``,
    ``sample_stats``, ...), e.g. ``xarray.open_datatree(path, engine="h5netcdf")[path_of_pair]``.
    ArviZ 0.x builds an ``InferenceData`` from the children; ArviZ 1.x works on the DataTree
    itself, so it is returned as it is.
    """
    import arviz as az

    builder = getattr(getattr(az, "InferenceData", None), "from_datatree", None)
    return node if builder is None else builder(node)


def loo(idata: Any, *, pointwise: bool = True, var_name: str = "obs") -> Any:
    """PSIS-LOO of one InferenceData (``arviz.loo``) on the log-likelihood variable ``var_name``."""
    import arviz as az

    return az.loo(idata, pointwise=pointwise, var_name=var_name)


def compare(idatas: Mapping[str, Any], *, method: str = "stacking", var_name: str = "obs") -> Any:
    """``arviz.compare`` over named InferenceData fitted to the same observations."""
    import arviz as az

    return az.compare(dict(idatas), ic="loo", method=method, var_name=var_name)  # type: ignore[arg-type]


def summary(idata: Any, **kwargs: Any) -> Any:
    """``arviz.summary`` of one InferenceData (a pandas DataFrame)."""
    import arviz as az

    return az.summary(idata, **kwargs)


# --------------------------------------------------------------------------- PSIS-LOO


@dataclass(frozen=True)
class PointwiseLoo:
    """PSIS-LOO of one InferenceData, observation by observation.

    ``elpd_i`` are the leave-one-out log predictive densities, ``lppd_i`` the in-sample log
    predictive densities (so ``p_loo = sum(lppd_i - elpd_i)``), ``pareto_k`` the estimated
    Pareto shapes and ``good_k`` the ArviZ reliability threshold ``min(1 - 1/log10(S), 0.7)``
    for ``S = num_draws`` posterior draws.
    """

    elpd_i: np.ndarray
    lppd_i: np.ndarray
    pareto_k: np.ndarray
    good_k: float
    num_draws: int


def loo_pointwise(idata: Any, var_name: str) -> PointwiseLoo:
    """PSIS-LOO with ``arviz.loo(..., pointwise=True)``; ArviZ's high-k warning is silenced.

    The caller (:func:`rmtfit.comparison.compare`) reports high Pareto k itself, per layer and
    likelihood, so the anonymous ArviZ warning is suppressed here and nowhere else.
    """
    import arviz as az

    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message="Estimated shape parameter of Pareto distribution",
            category=UserWarning,
        )
        result = az.loo(idata, pointwise=True, var_name=var_name)
    log_lik = np.asarray(idata.log_likelihood[var_name].values, dtype=np.float64)
    num_draws = int(log_lik.shape[0] * log_lik.shape[1])
    flat = log_lik.reshape(num_draws, -1)
    lppd_i = _logsumexp_rows(flat) - np.log(num_draws)
    pareto_k = np.asarray(result.pareto_k.values, dtype=np.float64).ravel()
    # a log-likelihood that is the same in every draw gives equal importance weights: the PSIS term
    # is then exact, but the Pareto fit of constant ratios returns k = inf
    pareto_k = np.where(np.ptp(flat, axis=0) == 0.0, 0.0, pareto_k)
    return PointwiseLoo(
        elpd_i=np.asarray(result.loo_i.values, dtype=np.float64).ravel(),
        lppd_i=lppd_i,
        pareto_k=pareto_k,
        good_k=float(result.good_k),
        num_draws=num_draws,
    )


def observed_values(idata: Any, var_name: str) -> np.ndarray | None:
    """The observed data of ``var_name`` (or of the only observed variable) as float64, or None."""
    group = getattr(idata, "observed_data", None)
    if group is None:
        return None
    names = list(group.data_vars)
    if var_name in names:
        return np.asarray(group[var_name].values, dtype=np.float64).ravel()
    if len(names) == 1:
        return np.asarray(group[names[0]].values, dtype=np.float64).ravel()
    return None


def _logsumexp_rows(values: np.ndarray) -> np.ndarray:
    top = np.max(values, axis=0)
    top = np.where(np.isfinite(top), top, 0.0)
    return top + np.log(np.sum(np.exp(values - top), axis=0))
