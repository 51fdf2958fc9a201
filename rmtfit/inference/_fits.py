"""`Fits`: every (layer, likelihood) posterior of one run, with its status and a tidy summary.

Arrays first, labels second: a :class:`LayerFit` holds plain numpy arrays shaped
``(chain, draw, ...)``; :meth:`Fits.idata` wraps one of them in an ArviZ ``InferenceData`` on
demand, and :attr:`Fits.summary` is an ``xarray.Dataset`` with dims ``layer``, ``likelihood`` and
``parameter``.

Status of a pair: ``"ok"``; ``"flagged"`` (convergence diagnostics still bad after the retry; the
draws are kept and reported); ``"not_fitted"`` (the layer cannot be fitted by that likelihood:
too few eigenvalues, no classical xmin); ``"failed"`` (an error, e.g. a NaN log-likelihood; the
reason names the layer, the likelihood and the parameter values).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from rmtfit.common import CI_PROB, enable_x64
from rmtfit.inference import _io, arviz_adapter

__all__ = ["LayerFit", "Fits", "STATUSES", "build_summary"]

STATUSES = ("ok", "flagged", "not_fitted", "failed")
_SUMMARY_STATS = ("mean", "sd", "ci_low", "ci_high", "r_hat", "ess_bulk", "ess_tail", "mcse_mean")


@dataclass(frozen=True, eq=False)
class LayerFit:
    """The posterior of one (layer, likelihood) pair, arrays shaped ``(chain, draw, ...)``.

    Attributes
    ----------
    posterior
        Parameter and derived-quantity draws. Declared parameters come first, in declaration
        order; derived quantities (``lik.derived``) follow.
    parameters
        Names of the declared parameters (the rest of ``posterior`` is derived).
    sample_stats
        ``diverging``, ``tree_depth``, ``n_steps``, ``acceptance_rate``, ``lp``, ``energy``,
        ``step_size``, each ``(chain, draw)``.
    log_likelihood
        Pointwise log-likelihood ``(chain, draw, n_obs)`` (for PSIS-LOO); ``None`` for a fit read
        from a file written without it (:meth:`Fits.to_netcdf` with ``pointwise=False``).
    observed
        The ``n_obs`` eigenvalues the likelihood explains.
    context
        The layer's fixed constants.
    attrs
        Sampler settings of the attempt that produced the draws (``warmup``, ``target_accept``,
        ``attempt``, ...).
    """

    layer: str
    likelihood: str
    posterior: Mapping[str, np.ndarray]
    parameters: tuple[str, ...]
    sample_stats: Mapping[str, np.ndarray]
    log_likelihood: np.ndarray | None
    observed: np.ndarray
    context: Mapping[str, float]
    attrs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def num_chains(self) -> int:
        return int(np.shape(next(iter(self.posterior.values())))[0])

    @property
    def num_draws(self) -> int:
        return int(np.shape(next(iter(self.posterior.values())))[1])

    @property
    def divergences(self) -> int:
        return int(np.sum(self.sample_stats["diverging"]))

    def scalar_names(self) -> list[str]:
        """Posterior variables with one value per draw (the ones summarised)."""
        return [k for k, v in self.posterior.items() if v.ndim == 2]

    def to_inference_data(self, status: str = "ok", reason: str = "") -> Any:
        dims = {
            k: ["obs_id"] if v.ndim == 3 and v.shape[2] == self.observed.size else []
            for k, v in self.posterior.items()
        }
        dims = {k: d for k, d in dims.items() if d}
        dims["obs"] = ["obs_id"]
        attrs: dict[str, Any] = {"layer": self.layer, "likelihood": self.likelihood}
        attrs["status"] = status
        attrs["family"] = str(self.attrs.get("family", ""))
        attrs["reason"] = reason
        attrs.update({k: v for k, v in self.attrs.items() if isinstance(v, int | float | str)})
        return arviz_adapter.to_inference_data(
            posterior=self.posterior,
            sample_stats=self.sample_stats,
            log_likelihood=None if self.log_likelihood is None else {"obs": self.log_likelihood},
            observed_data={"obs": self.observed},
            constant_data={k: np.asarray(v) for k, v in self.context.items()},
            dims=dims,
            coords={"obs_id": np.arange(self.observed.size)},
            attrs=attrs,
        )


def _series(
    fits: Sequence[LayerFit], ci_prob: float = CI_PROB
) -> tuple[list[tuple[int, str]], dict[str, np.ndarray]]:
    """Diagnostics and summary statistics of every scalar posterior variable, in one pass."""
    index: list[tuple[int, str]] = []
    groups: dict[tuple[int, int], list[int]] = {}
    arrays: list[np.ndarray] = []
    for i, f in enumerate(fits):
        for name in f.scalar_names():
            a = np.asarray(f.posterior[name], dtype=np.float64)
            groups.setdefault(a.shape, []).append(len(arrays))
            arrays.append(a)
            index.append((i, name))
    stats = {k: np.full(len(arrays), np.nan) for k in _SUMMARY_STATS}
    for members in groups.values():
        stack = np.stack([arrays[m] for m in members])
        values = {**arviz_adapter.diagnostics(stack), **arviz_adapter.summary_stats(stack, ci_prob)}
        for k in _SUMMARY_STATS:
            stats[k][members] = values[k]
    return index, stats


def series_diagnostics(fits: Sequence[LayerFit]) -> list[dict[str, dict[str, float]]]:
    """Per fit: variable name -> {r_hat, ess_bulk, ess_tail, mcse_mean, mean, sd}."""
    index, stats = _series(fits)
    out: list[dict[str, dict[str, float]]] = [{} for _ in fits]
    for s, (i, name) in enumerate(index):
        out[i][name] = {k: float(stats[k][s]) for k in stats if k not in ("ci_low", "ci_high")}
    return out


def build_summary(
    fits: Mapping[tuple[str, str], LayerFit],
    status: Mapping[tuple[str, str], tuple[str, str]],
    layers: Sequence[str],
    likelihoods: Sequence[str],
    ci_prob: float,
    attrs: Mapping[str, Any],
) -> Any:
    """The tidy summary Dataset (dims ``layer``, ``likelihood``, ``parameter``)."""
    import xarray as xr

    keys = list(fits)
    flat = [fits[k] for k in keys]
    params: list[str] = []
    for f in flat:
        params.extend(n for n in f.scalar_names() if n not in params)
    shape = (len(layers), len(likelihoods), len(params))
    data = {k: np.full(shape, np.nan) for k in _SUMMARY_STATS}
    li = {n: i for i, n in enumerate(layers)}
    ki = {n: i for i, n in enumerate(likelihoods)}
    pi = {n: i for i, n in enumerate(params)}
    index, stats = _series(flat, ci_prob)
    for s, (i, name) in enumerate(index):
        layer, lik = keys[i]
        for k in _SUMMARY_STATS:
            data[k][li[layer], ki[lik], pi[name]] = stats[k][s]
    divergences = np.full(shape[:2], -1, dtype=np.int64)
    n_obs = np.zeros(shape[:2], dtype=np.int64)
    for (layer, lik), f in fits.items():
        divergences[li[layer], ki[lik]] = f.divergences
        n_obs[li[layer], ki[lik]] = f.observed.size
    st = np.full(shape[:2], "not_fitted", dtype=object)
    reason = np.full(shape[:2], "", dtype=object)
    for (layer, lik), (s_, r_) in status.items():
        st[li[layer], ki[lik]] = s_
        reason[li[layer], ki[lik]] = r_
    dims3 = ("layer", "likelihood", "parameter")
    ds = xr.Dataset(
        {k: (dims3, v) for k, v in data.items()}
        | {
            "divergences": (dims3[:2], divergences),
            "n_obs": (dims3[:2], n_obs),
            "status": (dims3[:2], st.astype(str)),
            "reason": (dims3[:2], reason.astype(str)),
        },
        coords={
            "layer": np.asarray(list(layers), dtype=str),
            "likelihood": np.asarray(list(likelihoods), dtype=str),
            "parameter": np.asarray(params, dtype=str),
        },
        attrs={"ci_prob": float(ci_prob), "ci_kind": "equal-tailed", **dict(attrs)},
    )
    ds["divergences"].attrs["note"] = "-1 where the pair was not sampled"
    return ds


class Fits:
    """Posteriors of every (layer, likelihood) pair of one run; read-only.

    Build with :func:`rmtfit.fit`; reload with :meth:`Fits.from_netcdf`.
    """

    def __init__(
        self,
        fits: Mapping[tuple[str, str], LayerFit],
        status: Mapping[tuple[str, str], tuple[str, str]],
        layers: Sequence[str],
        likelihoods: Sequence[str],
        summary: Any,
        settings: Mapping[str, Any],
        likelihood_objects: Mapping[str, Any] | None = None,
        *,
        spectra: Sequence[Any] | None = None,
        classical: Mapping[str, Any] | None = None,
        loo: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self._fits = MappingProxyType(dict(fits))
        self._status = MappingProxyType(dict(status))
        self._layers = tuple(layers)
        self._likelihoods = tuple(likelihoods)
        self._summary = summary
        self._settings = MappingProxyType(dict(settings))
        self._objects = MappingProxyType(dict(likelihood_objects or {}))
        self._idata_cache: dict[tuple[str, str], Any] = {}
        self._loo = MappingProxyType({k: dict(v) for k, v in (loo or {}).items()})
        self.spectra = tuple(spectra) if spectra is not None else None
        """The input spectra (in memory only: not written by :meth:`to_netcdf`)."""
        self.classical = MappingProxyType(dict(classical)) if classical is not None else None
        """Layer name -> ClassicalFit used for observations and starts (in memory only)."""

    # ------------------------------------------------------------------ accessors
    @property
    def layers(self) -> tuple[str, ...]:
        """Layer names, in the order of the spectra."""
        return self._layers

    @property
    def likelihoods(self) -> tuple[str, ...]:
        """Likelihood names, in the order given to :func:`rmtfit.fit`."""
        return self._likelihoods

    @property
    def settings(self) -> Mapping[str, Any]:
        """Sampler settings of the run (seed, draws, warmup, chains, target_accept, ci_prob, ...)."""
        return self._settings

    @property
    def summary(self) -> Any:
        """Tidy ``xarray.Dataset``: dims ``layer``, ``likelihood``, ``parameter``.

        Variables: ``mean``, ``sd``, ``ci_low``, ``ci_high`` (equal-tailed, probability in
        ``attrs["ci_prob"]``), ``r_hat``, ``ess_bulk``, ``ess_tail``, ``mcse_mean`` (NaN where a
        likelihood has no such parameter or the pair was not sampled), and per pair
        ``divergences``, ``n_obs``, ``status`` and ``reason``.
        """
        return self._summary

    def _check(self, layer: str, likelihood: str) -> tuple[str, str]:
        if layer not in self._layers:
            raise KeyError(f"no layer {layer!r} in these fits; layers are {list(self._layers)}")
        if likelihood not in self._likelihoods:
            raise KeyError(
                f"no likelihood {likelihood!r} in these fits; likelihoods are {list(self._likelihoods)}"
            )
        return layer, likelihood

    def status(self, layer: str, likelihood: str) -> str:
        """``"ok"``, ``"flagged"``, ``"not_fitted"`` or ``"failed"``."""
        return self._status[self._check(layer, likelihood)][0]

    def reason(self, layer: str, likelihood: str) -> str:
        """Why a pair is flagged, not fitted or failed (empty when ok)."""
        return self._status[self._check(layer, likelihood)][1]

    def pairs(self, status: str | None = None) -> list[tuple[str, str]]:
        """(layer, likelihood) pairs, optionally only those with ``status``."""
        return [k for k, (s, _) in self._status.items() if status is None or s == status]

    def __getitem__(self, key: tuple[str, str]) -> LayerFit:
        layer, likelihood = self._check(*key)
        fit = self._fits.get((layer, likelihood))
        if fit is None:
            s, r = self._status[(layer, likelihood)]
            raise KeyError(f"layer {layer!r}, likelihood {likelihood!r} has no draws ({s}: {r})")
        return fit

    def __contains__(self, key: object) -> bool:
        return key in self._fits

    def has(self, layer: str, likelihood: str) -> bool:
        """Whether the pair has posterior draws (status ``ok`` or ``flagged``)."""
        return (layer, likelihood) in self._fits

    def fitted(self, layer: str) -> list[str]:
        """Likelihoods with posterior draws for ``layer``, in run order."""
        return [n for n in self._likelihoods if (layer, n) in self._fits]

    def draws(self, layer: str, likelihood: str, name: str) -> np.ndarray:
        """Posterior draws ``(chain, draw, ...)`` of one variable."""
        fit = self[layer, likelihood]
        if name not in fit.posterior:
            raise KeyError(
                f"likelihood {likelihood!r} has no posterior variable {name!r}; "
                f"it has {list(fit.posterior)}"
            )
        return fit.posterior[name]

    def idata(self, layer: str, likelihood: str) -> Any:
        """ArviZ ``InferenceData`` of one pair: posterior, sample_stats, log_likelihood
        (variable ``obs``), observed_data (``obs``) and constant_data (the context)."""
        key = self._check(layer, likelihood)
        if key not in self._idata_cache:
            s, r = self._status[key]
            self._idata_cache[key] = self[key].to_inference_data(s, r)
        return self._idata_cache[key]

    @property
    def pointwise(self) -> bool:
        """Whether every fit holds its pointwise log-likelihood (False for fits read from a file
        written without it: PSIS-LOO cannot be recomputed, :meth:`loo_results` has the stored one)."""
        return all(f.log_likelihood is not None for f in self._fits.values())

    def loo_results(self, layer: str) -> Mapping[str, Any]:
        """The PSIS-LOO comparison stored with ``layer`` (family -> ``Comparison.to_dict()``).

        Filled for fits read from a ``fits.nc`` that the report wrote (it stores the analysis'
        comparison); empty for fresh fits (compare them with :func:`rmtfit.compare`).
        """
        if layer not in self._layers:
            raise KeyError(f"no layer {layer!r} in these fits; layers are {list(self._layers)}")
        return MappingProxyType(dict(self._loo.get(layer, {})))

    @staticmethod
    def group_path(layer: str, likelihood: str) -> str:
        """The group ``/<layer>/<likelihood>`` of one pair in a file of :meth:`to_netcdf`
        (names percent-encoded): ``xarray.open_datatree(path)[Fits.group_path(layer, lik)]``."""
        return _io.pair_path(layer, likelihood)

    def likelihood_object(self, name: str) -> Any:
        """The :class:`~rmtfit.likelihoods.Likelihood` used (looked up by name after a reload)."""
        if name in self._objects:
            return self._objects[name]
        from rmtfit.likelihoods import get_likelihood

        return get_likelihood(name)

    # ------------------------------------------------------------------ predictive
    def posterior_predictive(
        self, layer: str, likelihood: str, n_draws: int = 100, *, seed: int = 0
    ) -> np.ndarray:
        """Replicated spectra ``(n_draws, n_obs)`` from ``lik.sample`` at random posterior draws.

        Computed on demand (not stored). Raises when the likelihood declares no sampler.
        """
        import jax

        enable_x64()  # fits read back from a file may reach here before any sampler ran
        fit = self[layer, likelihood]
        lik = self.likelihood_object(likelihood)
        if lik.sample is None:
            raise ValueError(
                f"likelihood {likelihood!r} declares no `sample` function, so it has no "
                "posterior predictive; add one with rmtfit.likelihood(..., sample=...)."
            )
        if int(n_draws) < 1:
            raise ValueError(f"The value of `n_draws` must be >= 1; got {n_draws!r}.")
        rng = np.random.default_rng(seed)
        c, d = fit.num_chains, fit.num_draws
        flat = rng.choice(c * d, size=int(n_draws), replace=c * d < int(n_draws))
        chain, draw = np.divmod(flat, d)
        params = {k: fit.posterior[k][chain, draw] for k in fit.parameters}
        ctx = {k: float(v) for k, v in fit.context.items()}
        n = fit.observed.size
        keys = jax.random.split(jax.random.PRNGKey(seed), int(n_draws))
        sample = jax.jit(jax.vmap(lambda k, p: lik.sample(k, p, ctx, n)))
        return np.asarray(sample(keys, params))

    # ------------------------------------------------------------------ io
    def to_netcdf(
        self,
        path: Any,
        *,
        pointwise: bool = False,
        loo: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """Write every posterior and the summary to one netCDF-4 group tree, atomically.

        One group ``/<layer>/<likelihood>`` per fitted pair, whose children are ArviZ
        InferenceData groups (``posterior``, ``sample_stats``, ``observed_data``,
        ``constant_data``; ``log_likelihood`` only with ``pointwise``), and ``/summary``.
        Draws are stored as float32 where that changes no value by more than 0.1% of its
        posterior sd. ``pointwise`` also stores the pointwise log-likelihood and per-eigenvalue
        derived draws (needed to recompute PSIS-LOO); ``loo`` (layer -> family -> the layer's
        :class:`rmtfit.comparison.Comparison`) stores each pair's LOO results; by default the
        ones these fits were read with (:meth:`loo_results`).
        """
        _io.write_fits(self, path, pointwise=pointwise, loo=self._loo if loo is None else loo)

    @classmethod
    def from_netcdf(cls, path: Any) -> Fits:
        """Read a file written by :meth:`to_netcdf`.

        Statuses, summary, settings, observations and constants come back exactly, draws to the
        precision they were stored with (as float64); without ``pointwise`` the fits have no
        ``log_likelihood`` (:attr:`pointwise` is False) and carry the stored LOO results.
        """
        parts = _io.read_fits(path)
        pairs = {key: LayerFit(**kwargs) for key, kwargs in parts["pairs"].items()}
        return cls(
            pairs,
            parts["status"],
            parts["layers"],
            parts["likelihoods"],
            parts["summary"],
            parts["settings"],
            loo=parts["loo"],
        )

    def __repr__(self) -> str:
        counts = {s: 0 for s in STATUSES}
        for s, _ in self._status.values():
            counts[s] = counts.get(s, 0) + 1
        tally = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
        return (
            f"Fits({len(self._layers)} layers x {len(self._likelihoods)} likelihoods: {tally}; "
            f"draws={self._settings.get('draws')}, chains={self._settings.get('chains')})"
        )
