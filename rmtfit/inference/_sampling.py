"""Running the sampler over batches: NUTS per layer group, then the pointwise pass per batch.

Each (likelihood, bucket) batch is sampled by one compiled NUTS program whose lanes are the
chains of :data:`LAYERS_PER_CALL` layers; the program is called once per group of layers, the
groups run on a small thread pool (compiling and running release the GIL, so two groups use
both cores), and one vmapped pass per batch then computes the pointwise log-likelihood and the
derived quantities of every draw.

Why not every layer of a bucket in one call: the lanes of a vmapped NUTS program move in
lockstep, and every iteration costs as many leapfrog steps as the *deepest* tree of any lane.
Layers differ (a heavy-tailed layer's ``mp_spikes`` posterior needs 30-60 steps per iteration,
a clean one 7), so on all-MiniLM-L6-v2 (39 layers x 4 chains, 400 iterations, 2 cores) the
all-layers call made every iteration cost 61 steps where the average lane needed 13: 122 s for
``mp_spikes``; one layer (4 chains) per call on two threads took 28 s, and ``spliced_pl`` 9 s
instead of 14 s. On a GPU, where a call's fixed cost dominates, a larger
:data:`LAYERS_PER_CALL` may pay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from rmtfit.inference import _batch, _diagnostics, _nuts, arviz_adapter
from rmtfit.inference._fits import LayerFit

__all__ = ["LAYERS_PER_CALL", "layer_fit_from_draws", "sample_batches"]

LAYERS_PER_CALL = 1
"""Layers whose chains share one call of the compiled NUTS program (see the module docstring)."""

_STAT_NAMES = ("diverging", "tree_depth", "n_steps", "acceptance_rate", "lp", "energy")


def _fmt_params(names: Sequence[str], values: np.ndarray) -> str:
    return ", ".join(f"{n}={float(v):.6g}" for n, v in zip(names, values, strict=True))


def _layer_outcome(
    lik: Any,
    batch: _batch.Batch,
    i: int,
    out: _nuts.NutsOutput,
    pointwise: Mapping[str, np.ndarray],
    attrs: Mapping[str, Any],
) -> LayerFit | tuple[str, str]:
    layer = batch.layers[i]
    names = lik.parameter_names
    where = f"layer {layer!r}, likelihood {lik.name!r}"
    if out.init_loglik_nan[i].any():
        c = int(np.argmax(out.init_loglik_nan[i]))
        how = (
            " (the centre of the parameter space: the log density was not finite at the "
            "classical start either)"
            if out.init_fallback[i, c]
            else ""
        )
        return "failed", (
            f"{where}: the log-likelihood is NaN at the starting values "
            f"{_fmt_params(names, out.init_params[i, c])} (chain {c}){how}; check logpdf there."
        )
    if not np.all(np.isfinite(out.init_potential[i])):
        c = int(np.argmin(np.isfinite(out.init_potential[i])))
        return "failed", (
            f"{where}: the log density is not finite at the starting values "
            f"{_fmt_params(names, out.init_params[i, c])} (chain {c}), neither at the classical "
            "estimates nor at the centre of the parameter space."
        )
    if out.nan_found[i].any():
        c = int(np.argmax(out.nan_found[i]))
        return "failed", (
            f"{where}: the log-likelihood is NaN at {_fmt_params(names, out.nan_params[i, c])} "
            f"(found next to a divergent transition of chain {c}; NUTS rejects NaN as a "
            "divergence); check logpdf there."
        )
    stats = {k: out.stats[k][i].copy() for k in _STAT_NAMES}
    stats["step_size"] = np.broadcast_to(out.step_size[i][:, None], stats["lp"].shape).copy()
    attrs = {
        **attrs,
        "sampler": "nuts",
        "bucket": batch.size,
        "fallback_chains": int(out.init_fallback[i].sum()),
        "warmup_divergences": int(out.warmup_divergences[i].sum()),
        "warmup_steps": int(out.warmup_steps[i].sum()),
    }
    return layer_fit_from_draws(lik, batch, i, out.params[i], stats, pointwise, attrs)


def layer_fit_from_draws(
    lik: Any,
    batch: _batch.Batch,
    i: int,
    params: np.ndarray,
    stats: Mapping[str, np.ndarray],
    pointwise: Mapping[str, np.ndarray],
    attrs: Mapping[str, Any],
) -> LayerFit | tuple[str, str]:
    """The :class:`LayerFit` of layer ``i`` from its ``(C, D, P)`` draws, or ``("failed", why)``
    when a draw or its pointwise log-likelihood is NaN (any sampler)."""
    layer, n = batch.layers[i], int(batch.n_obs[i])
    names = lik.parameter_names
    loglik = pointwise["loglik"][i, :, :, :n]
    bad = np.isnan(loglik).any(axis=-1) | ~np.isfinite(params).all(axis=-1)
    if bad.any():
        c, d = np.argwhere(bad)[0]
        return "failed", (
            f"layer {layer!r}, likelihood {lik.name!r}: the log-likelihood is NaN at "
            f"{_fmt_params(names, params[c, d])} (chain {c}, draw {d}); check logpdf there."
        )
    posterior = {name: params[..., j].copy() for j, name in enumerate(names)}
    for key, value in pointwise.items():
        if not key.startswith("derived:"):
            continue
        name = key.split(":", 1)[1]
        name = f"{name}_derived" if name in posterior else name
        v = value[i]
        if v.ndim == 3 and v.shape[2] == batch.size:
            v = v[:, :, :n]
        posterior[name] = np.array(v)
    return LayerFit(
        layer=layer,
        likelihood=lik.name,
        posterior=posterior,
        parameters=tuple(names),
        sample_stats=dict(stats),
        log_likelihood=np.array(loglik),
        observed=batch.x[i, :n].copy(),
        context={k: float(v[i]) for k, v in batch.context.items()},
        attrs=dict(attrs),
    )


def _attrs(lik: Any, settings: _nuts.SamplerSettings, attempt: int) -> dict[str, Any]:
    return {
        "warmup": settings.warmup,
        "draws": settings.draws,
        "target_accept": max(settings.target_accept, lik.target_accept or 0.0),
        "max_tree_depth": settings.max_tree_depth,
        "dense_mass": int(settings.dense_mass),
        "attempt": attempt,
        "family": lik.family,
        **lik.roles.to_attrs(),
    }


def _groups(n_layers: int, size: int) -> list[tuple[list[int], list[int]]]:
    """``(layers, padded)`` index lists per call: the last group is padded with its first layer
    so that every call has the same number of lanes (one compiled program)."""
    out = []
    for start in range(0, n_layers, size):
        group = list(range(start, min(start + size, n_layers)))
        out.append((group, group + [group[0]] * (size - len(group))))
    return out


def _sample_group(
    lik: Any,
    batch: _batch.Batch,
    group: list[int],
    settings: _nuts.SamplerSettings,
    seed: int,
    attempt: int,
    extensions: int = 0,
) -> list[_nuts.NutsOutput]:
    """One call of the NUTS program for the layers ``group`` of ``batch``, then up to
    ``extensions`` continuations (each ``settings.draws`` more draws per chain) of the layers
    that fail the diagnostics only for want of draws (:func:`_extendable`). One output per
    entry of ``group``; a layer's draws never depend on the other layers of its call."""
    sub = batch.subset(group)
    keys = _nuts.lane_keys(seed, lik.name, sub.layers, settings.chains, attempt)
    out = _nuts.run_nuts(lik, sub, settings, keys)
    layers = [_nuts.take_layers(out, [i]) for i in range(len(sub))]
    for k in range(int(extensions)):
        todo = [i for i in range(len(sub)) if _extendable(layers[i])]
        if not todo:
            break
        more_keys = _nuts.lane_keys(
            seed, f"{lik.name}/more{k}", sub.layers, settings.chains, attempt
        )
        longer = _nuts.continue_nuts(lik, sub, settings, more_keys, _nuts.concat_outputs(layers))
        for i in todo:
            layers[i] = _nuts.take_layers(longer, [i])
    return layers


EXTEND_RHAT_MAX = 1.05
"""A first pass whose worst R-hat is at most this (and has no divergence) is extended, not
restarted: such R-hats come from too few effective draws, which more draws of the same adapted
chains fix; beyond it the chains disagree (modes, stuck chains), which only the retry can fix."""
EXTEND_ESS_MIN = 100.0
"""A first pass with less bulk ESS than this is restarted rather than extended (the extensions
could not reach :data:`rmtfit.inference._diagnostics.ESS_BULK_MIN`)."""


def _extendable(out: _nuts.NutsOutput, i: int = 0) -> bool:
    """Whether layer ``i`` of ``out`` fails the diagnostics only for want of draws (see
    :data:`EXTEND_RHAT_MAX`): no divergence, every R-hat <= 1.05, every bulk ESS >= 100, and
    some R-hat above 1.01 or some bulk ESS below 400."""
    if out.stats["diverging"][i].any() or out.nan_found[i].any():
        return False
    draws = np.moveaxis(out.params[i], -1, 0)  # (P, C, D)
    d = arviz_adapter.diagnostics(draws)
    r_hat, ess = np.asarray(d["r_hat"]), np.asarray(d["ess_bulk"])
    if not (np.all(np.isfinite(r_hat)) and np.all(np.isfinite(ess))):
        return False
    if r_hat.max() > EXTEND_RHAT_MAX or ess.min() < EXTEND_ESS_MIN:
        return False
    return bool(r_hat.max() > _diagnostics.RHAT_MAX or ess.min() < _diagnostics.ESS_BULK_MIN)


def _failed(lik: Any, layers: Sequence[str], exc: BaseException) -> dict[str, tuple[str, str]]:
    return {
        layer: (
            "failed",
            f"layer {layer!r}, likelihood {lik.name!r}: sampling raised "
            f"{type(exc).__name__}: {exc}",
        )
        for layer in layers
    }


def _finish_batch(
    lik: Any,
    batch: _batch.Batch,
    outputs: list[tuple[list[int], list[_nuts.NutsOutput]]],  # (layers, one output per layer)
    settings: _nuts.SamplerSettings,
    seed: int,
    attempt: int,
) -> dict[str, LayerFit | tuple[str, str]]:
    """The pointwise pass over the sampled layers of a batch (one call per draw count: an
    extended layer has more draws) and their outcomes."""
    by_draws: dict[int, list[tuple[int, _nuts.NutsOutput]]] = {}
    for group, outs in outputs:
        for layer_index, out in zip(group, outs, strict=False):  # drops the padding
            by_draws.setdefault(out.params.shape[2], []).append((layer_index, out))
    attrs = _attrs(lik, settings, attempt)
    results: dict[str, LayerFit | tuple[str, str]] = {}
    for members in by_draws.values():
        index = [i for i, _ in members]
        sub = batch.subset(index) if index != list(range(len(batch))) else batch
        out = _nuts.concat_outputs([o for _, o in members])
        derived_keys = _nuts.lane_keys(
            seed, lik.name + "/derived", sub.layers, settings.chains, attempt
        )
        pointwise = _nuts.run_pointwise(lik, sub, out.params, derived_keys, settings.draws)
        n = int(out.params.shape[2])
        draws = {**attrs, "draws": n, "extensions": n // settings.draws - 1}
        for i in range(len(sub)):
            results[sub.layers[i]] = _layer_outcome(lik, sub, i, out, pointwise, draws)
    return {layer: results[layer] for layer in batch.layers if layer in results}


def sample_batches(
    jobs: Sequence[tuple[Any, _batch.Batch]],
    settings: _nuts.SamplerSettings,
    *,
    seed: int,
    attempt: int = 0,
    workers: int = 1,
    advance: Any = None,
    layers_per_call: int = LAYERS_PER_CALL,
    extensions: int = 0,
) -> dict[tuple[str, str], LayerFit | tuple[str, str]]:
    """Run every (likelihood, batch) job; (layer, likelihood) -> LayerFit or (status, reason).

    ``extensions``: continuations of ``settings.draws`` draws per chain allowed for a layer that
    fails the diagnostics only for want of draws (see :func:`_extendable`). A group whose
    sampling raises marks its layers ``failed`` and the rest go on.
    """
    results: dict[tuple[str, str], LayerFit | tuple[str, str]] = {}
    order = sorted(range(len(jobs)), key=lambda j: -jobs[j][1].x.size)  # big buckets first
    size = max(1, int(layers_per_call))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        submitted: dict[int, list[tuple[list[int], Future]]] = {}
        for j in order:
            lik, batch = jobs[j]
            submitted[j] = [
                (
                    group,
                    pool.submit(
                        _sample_group, lik, batch, padded, settings, seed, attempt, extensions
                    ),
                )
                for group, padded in _groups(len(batch), size)
            ]
        finishing: list[tuple[Any, _batch.Batch, Future]] = []
        for j in order:
            lik, batch = jobs[j]
            done: list[tuple[list[int], list[_nuts.NutsOutput]]] = []
            for group, future in submitted[j]:
                try:
                    done.append((group, future.result()))
                except Exception as exc:  # one bad group never kills the run
                    failed = _failed(lik, [batch.layers[i] for i in group], exc)
                    results.update({(layer, lik.name): v for layer, v in failed.items()})
                if advance is not None:
                    advance(len(group))
            finishing.append(
                (lik, batch, pool.submit(_finish_batch, lik, batch, done, settings, seed, attempt))
            )
        for lik, batch, future in finishing:
            try:
                outcome = future.result()
            except Exception as exc:
                sampled = [layer for layer in batch.layers if (layer, lik.name) not in results]
                outcome = _failed(lik, sampled, exc)
            results.update({(layer, lik.name): v for layer, v in outcome.items()})
    return results
