"""Network-level HT-SR metrics as posterior distributions, and comparing two networks.

Per layer (eigenvalues ``lambda_i`` in raw units, tail exponent ``alpha`` from a fitted likelihood):

=====================  ===========================================  ======================
metric                 per layer                                    kind
=====================  ===========================================  ======================
``alpha``              ``alpha``                                    posterior draws
``alpha_weighted``     ``alpha * log10(lambda_max)``                posterior draws
``log_alpha_norm``     ``log10(sum_i lambda_i ** alpha)``           posterior draws
``log_spectral_norm``  ``log10(lambda_max)`` (= log10 ||W||_2^2)    point mass
``log_norm``           ``log10(sum_i lambda_i)`` (= log10 ||W||_F^2) point mass
=====================  ===========================================  ======================

The definitions are WeightWatcher's (``apply_norm_metrics``), so the numbers can be set side by side;
note that both norms are of the *squared* matrix norms, as there. The network value of a metric is
its mean over layers (WeightWatcher's summary), computed draw by draw: layers are fitted
independently, so pairing the ``s``-th draw of every layer is a draw from the joint posterior.
Layers without an ``alpha`` posterior are left out of the three alpha metrics (listed in
``NetworkMetrics.excluded``) and kept in the two norms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rmtfit.common import CI_PROB, check_ci_prob
from rmtfit.posterior import (
    LayerPosteriors,
    layer_posteriors,
    preferred_likelihoods,
    role_draws,
)

__all__ = [
    "METRICS",
    "POINT_MASS_METRICS",
    "NetworkMetrics",
    "NetworkComparison",
    "network_metrics",
    "compare_networks",
    "match_layers",
]

METRICS: tuple[str, ...] = (
    "alpha",
    "alpha_weighted",
    "log_alpha_norm",
    "log_spectral_norm",
    "log_norm",
)
POINT_MASS_METRICS = frozenset({"log_spectral_norm", "log_norm"})

NETWORK = "<network>"
DEFAULT_DRAWS = 1000
_CHUNK = 4_000_000  # draws x eigenvalues per block in log_alpha_norm


@dataclass(frozen=True)
class NetworkMetrics:
    """Posterior draws of the HT-SR metrics of one network.

    ``draws[layer][metric]`` and ``network[metric]`` are 1-D arrays of the same length (point-mass
    metrics are constant arrays); ``shapes[layer]`` is ``(N, M)``; ``alpha_source[layer]`` names
    the likelihood the layer's alpha came from; ``excluded[layer]`` why a layer has no alpha.
    """

    layers: tuple[str, ...]
    shapes: Mapping[str, tuple[int, int]]
    draws: Mapping[str, Mapping[str, np.ndarray]]
    network: Mapping[str, np.ndarray]
    alpha_source: Mapping[str, str] = field(default_factory=dict)
    excluded: Mapping[str, str] = field(default_factory=dict)

    @property
    def num_draws(self) -> int:
        return int(next(iter(self.network.values())).size) if self.network else 0

    def summary(self, ci_prob: float = CI_PROB) -> dict[str, dict[str, dict[str, float]]]:
        """``{NETWORK or layer: {metric: {mean, sd, low, high}}}`` with equal-tailed intervals."""
        out = {NETWORK: {m: _summary(v, ci_prob) for m, v in self.network.items()}}
        for layer in self.layers:
            out[layer] = {m: _summary(v, ci_prob) for m, v in self.draws[layer].items()}
        return out

    def to_dict(self, ci_prob: float = CI_PROB) -> dict[str, Any]:
        return {
            "num_draws": self.num_draws,
            "interval_prob": ci_prob,
            "layers": list(self.layers),
            "alpha_source": dict(self.alpha_source),
            "excluded": dict(self.excluded),
            "summary": self.summary(ci_prob),
        }

    def __repr__(self) -> str:
        text = ", ".join(f"{m}={np.mean(v):.3g}" for m, v in self.network.items())
        return f"NetworkMetrics({len(self.layers)} layers, {self.num_draws} draws, {text})"


def network_metrics(
    layers: Sequence[LayerPosteriors] | Any,
    *,
    spectra: Any = None,
    alpha_from: Sequence[str] | None = None,
    num_draws: int = DEFAULT_DRAWS,
    seed: int = 0,
) -> NetworkMetrics:
    """The HT-SR metrics of a network as posterior draws.

    Parameters
    ----------
    layers
        A sequence of :class:`rmtfit.posterior.LayerPosteriors` (or what
        :func:`rmtfit.posterior.layer_posteriors` accepts: an :class:`rmtfit.Fits` with spectra, an
        :class:`rmtfit.Analysis`).
    spectra
        The spectra the fits were made on, when ``layers`` is an :class:`rmtfit.Fits`.
    alpha_from
        Likelihood names in order of preference for each layer's ``alpha``; by default every
        fitted likelihood that declares a ``tail_exponent`` role, in the order of
        :func:`rmtfit.posterior.preferred_likelihoods` (full-spectrum ones first).
    num_draws
        Draws per metric; each layer's alpha draws are resampled to this many (seeded).
    seed
        Seed of the resampling.
    """
    if isinstance(num_draws, bool) or not isinstance(num_draws, int) or num_draws < 1:
        raise ValueError(f"num_draws={num_draws!r}: must be a positive integer.")
    items = layer_posteriors(layers, spectra=spectra)
    if not items:
        raise ValueError("network_metrics: no layers given.")
    streams = np.random.SeedSequence(seed).spawn(len(items))
    draws: dict[str, dict[str, np.ndarray]] = {}
    shapes, source, excluded = {}, {}, {}
    for item, stream in zip(items, streams, strict=True):
        ev = np.asarray(item.spectrum.eigenvalues, dtype=np.float64)
        shapes[item.name] = (int(item.spectrum.N), int(item.spectrum.M))
        metrics = _norm_metrics(ev, num_draws)
        alpha, chosen = _alpha_draws(item, alpha_from)
        if alpha is None:
            looked = list(alpha_from) if alpha_from is not None else "a tail_exponent role"
            excluded[item.name] = f"no alpha posterior (looked for {looked})"
        else:
            source[item.name] = chosen
            alpha = _resample(alpha, num_draws, np.random.default_rng(stream))
            metrics.update(_alpha_metrics(ev, alpha))
        draws[item.name] = metrics
    network = {
        m: np.mean([d[m] for d in draws.values() if m in d], axis=0)
        for m in METRICS
        if any(m in d for d in draws.values())
    }
    return NetworkMetrics(
        layers=tuple(draws),
        shapes=shapes,
        draws=draws,
        network={m: network[m] for m in METRICS if m in network},
        alpha_source=source,
        excluded=excluded,
    )


def _norm_metrics(ev: np.ndarray, n: int) -> dict[str, np.ndarray]:
    return {
        "log_spectral_norm": np.full(n, np.log10(np.max(ev))),
        "log_norm": np.full(n, np.log10(np.sum(ev))),
    }


def _alpha_metrics(ev: np.ndarray, alpha: np.ndarray) -> dict[str, np.ndarray]:
    positive = ev[ev > 0]
    log_ev = np.log(positive)
    log_max = np.max(log_ev)
    # log10 sum_i lambda_i^alpha, stably: alpha log lambda_max + log sum exp(alpha (log l - log l_max)),
    # in chunks of draws so that memory stays bounded for large layers
    step = max(1, _CHUNK // max(log_ev.size, 1))
    log_sum = np.concatenate(
        [
            a * log_max + np.log(np.sum(np.exp(np.outer(a, log_ev - log_max)), axis=1))
            for a in np.array_split(alpha, range(step, alpha.size, step))
        ]
    )
    return {
        "alpha": alpha,
        "alpha_weighted": alpha * log_max / np.log(10.0),
        "log_alpha_norm": log_sum / np.log(10.0),
    }


def _alpha_draws(
    item: LayerPosteriors, preference: Sequence[str] | None
) -> tuple[np.ndarray | None, str]:
    if preference is None:
        preference = preferred_likelihoods(item.idatas, "tail_exponent")
    for name in preference:
        idata = item.idatas.get(name)
        if idata is None:
            continue
        alpha = role_draws(name, idata, "tail_exponent")
        if alpha is not None:
            alpha = alpha.ravel()
            return alpha[np.isfinite(alpha)], name
    return None, ""


def _resample(values: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if values.size == 0:
        raise ValueError("no finite alpha draws to resample.")
    return rng.choice(values, size=n, replace=values.size < n)


def _summary(values: np.ndarray, ci_prob: float) -> dict[str, float]:
    low, high = np.quantile(values, [(1 - ci_prob) / 2, (1 + ci_prob) / 2])
    return {
        "mean": float(np.mean(values)),
        "sd": float(np.std(values, ddof=1)) if values.size > 1 else 0.0,
        "low": float(low),
        "high": float(high),
    }


# --- comparing two networks ---------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkComparison:
    """Per metric, for the network and per matched layer: ``P(A < B)`` with intervals.

    ``rows`` are dicts with keys ``metric``, ``layer_a``, ``layer_b``, ``p_a_below_b``,
    ``a_mean``/``a_low``/``a_high``, ``b_...`` and ``diff_...`` (``diff = B - A``);
    ``matches`` lists ``(layer_a, layer_b, how)`` with ``how`` in ``name``/``shape``.
    """

    rows: tuple[Mapping[str, Any], ...]
    matches: tuple[tuple[str, str, str], ...]
    unmatched_a: tuple[str, ...]
    unmatched_b: tuple[str, ...]
    interval_prob: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "interval_prob": self.interval_prob,
            "matches": [list(m) for m in self.matches],
            "unmatched_a": list(self.unmatched_a),
            "unmatched_b": list(self.unmatched_b),
            "rows": [dict(r) for r in self.rows],
        }

    def to_table(self) -> Any:
        """A ``pandas.DataFrame`` with one row per (metric, layer), network rows first."""
        import pandas as pd

        return pd.DataFrame([dict(r) for r in self.rows])

    def __repr__(self) -> str:
        net = [r for r in self.rows if r["layer_a"] == NETWORK]
        text = ", ".join(f"P({r['metric']}: A<B)={r['p_a_below_b']:.2f}" for r in net)
        return f"NetworkComparison({len(self.matches)} matched layers, {text})"


def compare_networks(
    a: Any,
    b: Any,
    *,
    ci_prob: float = CI_PROB,
    num_draws: int = DEFAULT_DRAWS,
    seed: int = 0,
) -> NetworkComparison:
    """Compare two networks: per metric and per matched layer, ``P(A's value < B's)``.

    Parameters
    ----------
    a, b
        :class:`NetworkMetrics`, or anything :func:`network_metrics` accepts (a sequence of
        :class:`rmtfit.posterior.LayerPosteriors`, an :class:`rmtfit.Analysis`, ...).
    ci_prob
        Probability of the equal-tailed intervals.
    num_draws, seed
        Used when a metric set has to be computed from fits.

    Notes
    -----
    The two networks' posteriors are independent, so ``P(A < B)`` is computed exactly over all
    pairs of draws (ties count one half; for point masses it is 0, 1/2 or 1). Layers are matched
    by :func:`match_layers`: equal names first, then the remaining layers in order among those of
    the same shape ``(N, M)``; layers left over are listed as unmatched.
    """
    ci_prob = check_ci_prob(ci_prob)
    ma = a if isinstance(a, NetworkMetrics) else network_metrics(a, num_draws=num_draws, seed=seed)
    mb = (
        b
        if isinstance(b, NetworkMetrics)
        else network_metrics(b, num_draws=num_draws, seed=seed + 1)
    )
    matches, left_a, left_b = match_layers(ma, mb)
    rng = np.random.default_rng(seed)
    rows = [
        _row(m, NETWORK, NETWORK, ma.network[m], mb.network[m], ci_prob, rng)
        for m in METRICS
        if m in ma.network and m in mb.network
    ]
    for name_a, name_b, _ in matches:
        for m in METRICS:
            if m in ma.draws[name_a] and m in mb.draws[name_b]:
                rows.append(
                    _row(m, name_a, name_b, ma.draws[name_a][m], mb.draws[name_b][m], ci_prob, rng)
                )
    return NetworkComparison(tuple(rows), tuple(matches), tuple(left_a), tuple(left_b), ci_prob)


def match_layers(
    a: NetworkMetrics, b: NetworkMetrics
) -> tuple[list[tuple[str, str, str]], list[str], list[str]]:
    """Pair the layers of two networks: by equal name, then in order among equal shapes."""
    names_b = set(b.layers)
    matches = [(n, n, "name") for n in a.layers if n in names_b]
    done_a = {m[0] for m in matches}
    rest_a = [n for n in a.layers if n not in done_a]
    rest_b = [n for n in b.layers if n not in done_a]
    left_a: list[str] = []
    for name in rest_a:
        same = next((c for c in rest_b if b.shapes[c] == a.shapes[name]), None)
        if same is None:
            left_a.append(name)
            continue
        matches.append((name, same, "shape"))
        rest_b.remove(same)
    return matches, left_a, rest_b


def _row(
    metric: str,
    layer_a: str,
    layer_b: str,
    x: np.ndarray,
    y: np.ndarray,
    ci_prob: float,
    rng: np.random.Generator,
) -> dict[str, Any]:
    n = min(x.size, y.size)
    diff = rng.permutation(y)[:n] - rng.permutation(x)[:n]
    sa, sb, sd = _summary(x, ci_prob), _summary(y, ci_prob), _summary(diff, ci_prob)
    return {
        "metric": metric,
        "layer_a": layer_a,
        "layer_b": layer_b,
        "p_a_below_b": probability_below(x, y),
        **{f"a_{k}": v for k, v in sa.items() if k != "sd"},
        **{f"b_{k}": v for k, v in sb.items() if k != "sd"},
        **{f"diff_{k}": v for k, v in sd.items() if k != "sd"},
    }


def probability_below(x: np.ndarray, y: np.ndarray) -> float:
    """``P(X < Y)`` for independent X, Y given by draws, over all pairs; ties count one half."""
    xs = np.sort(np.asarray(x, dtype=np.float64).ravel())
    ys = np.asarray(y, dtype=np.float64).ravel()
    below = np.searchsorted(xs, ys, side="left")  # draws of X strictly below each y
    ties = np.searchsorted(xs, ys, side="right") - below
    return float(np.sum(below + 0.5 * ties) / (xs.size * ys.size))
