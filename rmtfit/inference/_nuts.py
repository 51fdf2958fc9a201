"""The batched sampler: NUTS vmapped over (layer, chain) lanes, two compiled programs per bucket.

Each lane runs NumPyro's functional NUTS (``numpyro.infer.hmc.hmc``) in two programs:

* the *warmup* program starts a chain at the Laplace approximation of the posterior
  (:mod:`rmtfit.inference._laplace`), whitens the coordinates by it and runs ``warmup``
  iterations of windowed step-size and dense mass-matrix adaptation; it returns the adapted
  state. The target acceptance is an input, so the retry (target 0.95) reuses the program;
* the *draws* program runs ``draws`` iterations of the adapted chain (no adaptation) from a
  state and returns the draws and the state: it makes the draws after warmup and every
  continuation of a chain short of effective draws (:func:`continue_nuts`).

``jax.vmap`` runs every lane at once and ``lax.scan`` the iterations; programs are compiled
once per (likelihood, bucket size, lanes, static settings) and cached in and across processes
(:mod:`rmtfit.inference._programs`).
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rmtfit.inference import _model
from rmtfit.inference._batch import Batch
from rmtfit.inference._laplace import laplace, nan_probe
from rmtfit.inference._programs import (
    cache_dir,
    enable_compilation_cache,
    example_lane,
    jaxpr_digest,
    load_or_build,
    lookup,
    program_key,
    remember,
)

__all__ = [
    "SamplerSettings",
    "NutsOutput",
    "enable_compilation_cache",
    "cache_dir",
    "lane_keys",
    "run_nuts",
    "run_pointwise",
    "take_layers",
    "concat_outputs",
    "continue_nuts",
]


@dataclass(frozen=True)
class SamplerSettings:
    """Static settings of one sampler program (each distinct value compiles a new program)."""

    draws: int = 500
    warmup: int = 500
    chains: int = 4
    target_accept: float = 0.8
    max_tree_depth: int = 10
    init_jitter: float = 0.1
    dense_mass: bool = True
    precondition: bool = True
    laplace_steps: int = 30
    adapt_mass: bool = True

    def __post_init__(self) -> None:
        for name in ("draws", "warmup", "chains", "max_tree_depth"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ValueError(
                    f"The value of `{name}` must be a positive integer; got {value!r}."
                )
        if not 0.0 < self.target_accept < 1.0:
            raise ValueError(
                f"The value of `target_accept` must be in the (0, 1) interval; got {self.target_accept!r}."
            )


@dataclass(frozen=True, eq=False)
class NutsOutput:
    """Raw sampler output of one batch, arrays shaped ``(layer, chain, draw, ...)``."""

    params: np.ndarray  # (L, C, D, P) constrained draws
    stats: Mapping[str, np.ndarray]  # each (L, C, D)
    step_size: np.ndarray  # (L, C)
    inverse_mass_matrix: np.ndarray  # (L, C, P)
    warmup_divergences: np.ndarray  # (L, C)
    warmup_steps: np.ndarray  # (L, C) leapfrog steps spent in warmup
    init_params: np.ndarray  # (L, C, P) where each chain started (constrained)
    init_potential: np.ndarray  # (L, C)
    init_loglik_nan: np.ndarray  # (L, C) log-likelihood NaN at the start
    init_fallback: np.ndarray  # (L, C) classical start had no finite density
    nan_found: np.ndarray  # (L, C) a NaN log-likelihood next to a divergent transition
    nan_params: np.ndarray  # (L, C, P) where (constrained)
    resume: Mapping[str, np.ndarray]  # each (L, C, ...): the state a continuation starts from


# --------------------------------------------------------------------------- keys


def lane_keys(
    seed: int, likelihood: str, layers: tuple[str, ...], chains: int, attempt: int
) -> np.ndarray:
    """Raw PRNG keys ``(L * C, 2)`` uint32, one per (layer, chain).

    A lane's key depends only on (seed, likelihood name, layer name, chain, attempt), never on
    which other layers share its batch, so results do not depend on bucketing.
    """
    lik_id = zlib.crc32(likelihood.encode())
    keys = np.empty((len(layers) * chains, 2), dtype=np.uint32)
    for i, layer in enumerate(layers):
        layer_id = zlib.crc32(layer.encode())
        for c in range(chains):
            ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, lik_id, layer_id, attempt, c])
            keys[i * chains + c] = ss.generate_state(2, dtype=np.uint32)
    return keys


# --------------------------------------------------------------------------- NUTS program


def _potential_fn_gen(lik: Any) -> Callable[..., Callable[[Any], Any]]:
    def potential_fn_gen(
        x: Any, mask: Any, ctx: Any, stats: Any, centre: Any, root: Any
    ) -> Callable[[Any], Any]:
        # NUTS runs on whitened coordinates w, z = centre + root @ w (see rmtfit.inference._laplace)
        return lambda w: -_model.log_density(lik, centre + root @ w, x, mask, ctx, stats)

    return potential_fn_gen


def _run_kernel(sample_kernel: Any, state: Any, model_args: Any, length: int) -> Any:
    def step(s: Any, _: Any) -> tuple[Any, tuple[Any, ...]]:
        s = sample_kernel(s, model_args=model_args)
        return s, (s.z, s.diverging, s.num_steps, s.accept_prob, s.potential_energy, s.energy)

    return jax.lax.scan(step, state, None, length=length)


def _probe_run(
    lik: Any, settings: SamplerSettings, final: Any, trace: Any, z_first: Any, args: Any
) -> tuple[Any, Any]:
    """:func:`_nan_probe` over the transitions of one scanned run."""
    x, mask, ctx, _, centre, root = args
    w, diverging = trace[0], trace[1]
    z = centre + w @ root.T
    mass = final.adapt_state.inverse_mass_matrix
    mass = mass if settings.dense_mass else jnp.diag(mass)
    scale = final.adapt_state.step_size * jnp.sqrt(jnp.diagonal(root @ mass @ root.T))
    z_before = jnp.concatenate([z_first[None], z[:-1]])  # where each transition started
    return nan_probe(lik, z_before, diverging, scale, x, mask, ctx)


def _warmup_lane(lik: Any, settings: SamplerSettings) -> Callable[..., dict[str, Any]]:
    """Start and adapt one chain: Laplace whitening, then ``settings.warmup`` NUTS iterations
    with step-size and mass-matrix adaptation. Returns the adapted state (``resume_*``)."""
    from numpyro.infer.hmc import hmc

    num_params = len(lik.parameters)
    potential_fn_gen = _potential_fn_gen(lik)

    def lane(key: Any, init: Any, target: Any, x: Any, mask: Any, ctx: Any) -> dict[str, Any]:
        k_jitter, k_fallback, k_run, k_start = jax.random.split(key, 4)
        stats = _model.data_statistics(lik, x, mask)  # once per lane, outside the sampler loop
        eye = jnp.eye(num_params)
        zero = jnp.zeros(num_params)
        potential_z = potential_fn_gen(x, mask, ctx, stats, zero, eye)
        params0 = {p.name: init[j] for j, p in enumerate(lik.parameters)}
        u0 = _model.unconstrain(lik, params0, ctx)
        u0 = jnp.where(jnp.isfinite(u0), u0, 0.0)
        u_init = u0 + settings.init_jitter * jax.random.normal(k_jitter, (num_params,))
        u_fallback = settings.init_jitter * jax.random.normal(k_fallback, (num_params,))
        use_init = jnp.isfinite(potential_z(u_init))
        z_start = jnp.where(use_init, u_init, u_fallback)
        if settings.precondition:
            centre, root = laplace(potential_z, z_start, settings.laplace_steps)
            w_draw = jax.random.normal(k_start, (num_params,))
            w_ok = jnp.isfinite(potential_z(centre + root @ w_draw))
            w0 = jnp.where(w_ok, w_draw, jnp.zeros(num_params))
            usable = jnp.isfinite(potential_z(centre + root @ w0))
            centre = jnp.where(usable, centre, z_start)
            root = jnp.where(usable, root, eye)
            w0 = jnp.where(usable, w0, zero)
        else:
            centre, root, w0 = zero, eye, z_start
        z0 = centre + root @ w0
        start, _, _ = _model.constrain(lik, z0, ctx)
        loglik0 = _model.masked_loglik(lik, x, mask, start, ctx).sum()
        model_args = (x, mask, ctx, stats, centre, root)

        init_kernel, sample_kernel = hmc(potential_fn_gen=potential_fn_gen, algo="NUTS")
        state = init_kernel(
            w0,
            settings.warmup,
            target_accept_prob=target,
            adapt_mass_matrix=settings.adapt_mass,
            max_tree_depth=settings.max_tree_depth,
            dense_mass=settings.dense_mass,
            model_args=model_args,
            rng_key=k_run,
        )
        final, trace = _run_kernel(sample_kernel, state, model_args, settings.warmup)
        nan_found, nan_at = _probe_run(lik, settings, final, trace, z0, model_args)
        return {
            "resume_w": final.z,
            "resume_mass": final.adapt_state.inverse_mass_matrix,
            "resume_centre": centre,
            "resume_root": root,
            "step_size": final.adapt_state.step_size,
            "warmup_divergences": trace[1].sum(),
            "warmup_steps": trace[2].sum(),
            "init_params": jnp.stack([start[p.name] for p in lik.parameters]),
            "init_potential": potential_z(z0),
            "init_loglik_nan": jnp.isnan(loglik0),
            "init_fallback": ~use_init,
            "nan_found": nan_found,
            "nan_params": nan_at,
        }

    return lane


def _draws_lane(lik: Any, settings: SamplerSettings) -> Callable[..., dict[str, Any]]:
    """``settings.draws`` iterations of an adapted chain: its step size and mass matrix, no
    adaptation, from its last state (after warmup, or after earlier draws: the same Markov
    chain, run longer)."""
    from numpyro.infer.hmc import hmc

    potential_fn_gen = _potential_fn_gen(lik)

    def lane(key: Any, resume: Any, x: Any, mask: Any, ctx: Any) -> dict[str, Any]:
        stats = _model.data_statistics(lik, x, mask)
        centre, root = resume["resume_centre"], resume["resume_root"]
        model_args = (x, mask, ctx, stats, centre, root)
        init_kernel, sample_kernel = hmc(potential_fn_gen=potential_fn_gen, algo="NUTS")
        state = init_kernel(
            resume["resume_w"],
            0,
            step_size=resume["step_size"],
            inverse_mass_matrix=resume["resume_mass"],
            adapt_step_size=False,
            adapt_mass_matrix=False,
            max_tree_depth=settings.max_tree_depth,
            dense_mass=settings.dense_mass,
            model_args=model_args,
            rng_key=key,
        )
        final, trace = _run_kernel(sample_kernel, state, model_args, settings.draws)
        w, diverging, num_steps, accept, pe, energy = trace
        z_first = centre + root @ resume["resume_w"]
        nan_found, nan_at = _probe_run(lik, settings, final, trace, z_first, model_args)
        z = centre + w @ root.T
        mass = resume["resume_mass"] if settings.dense_mass else jnp.diag(resume["resume_mass"])
        return {
            "params": jax.vmap(
                lambda zi: jnp.stack(list(_model.constrain(lik, zi, ctx)[0].values()))
            )(z),
            "diverging": diverging,
            "n_steps": num_steps,
            "acceptance_rate": accept,
            "lp": -pe,
            "energy": energy,
            "inverse_mass_matrix": jnp.diagonal(root @ mass @ root.T),  # in z coordinates
            "nan_found": nan_found,
            "nan_params": nan_at,
            "resume_w": final.z,
        }

    return lane


def _warmup_program(lik: Any, batch: Batch, settings: SamplerSettings) -> Callable[..., Any]:
    lanes = len(batch) * settings.chains
    specs = (
        jax.ShapeDtypeStruct((lanes, 2), np.uint32),
        jax.ShapeDtypeStruct((lanes, len(lik.parameters)), np.float64),
        jax.ShapeDtypeStruct((lanes,), np.float64),
        *_lane_specs(lik, batch, lanes),
    )
    # the target acceptance is an input, so the retry (a higher target) reuses the program
    static = (
        f"warmup={settings.warmup},depth={settings.max_tree_depth},jitter={settings.init_jitter},"
        f"dense={settings.dense_mass},laplace={settings.precondition}:{settings.laplace_steps},"
        f"adapt_mass={settings.adapt_mass}"
    )
    key = program_key("warmup", lik, batch, lanes, static)
    return load_or_build(key, lambda: jax.vmap(_warmup_lane(lik, settings)), specs)


def _draws_program(lik: Any, batch: Batch, settings: SamplerSettings) -> Callable[..., Any]:
    lanes = len(batch) * settings.chains
    p = len(lik.parameters)
    mass = (lanes, p, p) if settings.dense_mass else (lanes, p)
    resume = {
        "resume_w": jax.ShapeDtypeStruct((lanes, p), np.float64),
        "resume_mass": jax.ShapeDtypeStruct(mass, np.float64),
        "resume_centre": jax.ShapeDtypeStruct((lanes, p), np.float64),
        "resume_root": jax.ShapeDtypeStruct((lanes, p, p), np.float64),
        "step_size": jax.ShapeDtypeStruct((lanes,), np.float64),
    }
    specs = (jax.ShapeDtypeStruct((lanes, 2), np.uint32), resume, *_lane_specs(lik, batch, lanes))
    static = f"draws={settings.draws},depth={settings.max_tree_depth},dense={settings.dense_mass}"
    key = program_key("draws", lik, batch, lanes, static)
    return load_or_build(key, lambda: jax.vmap(_draws_lane(lik, settings)), specs)


_STATS = ("diverging", "n_steps", "acceptance_rate", "lp", "energy")
_RESUME = ("resume_w", "resume_mass", "resume_centre", "resume_root", "step_size")
_DICT_FIELDS = ("stats", "resume")


def _lane_specs(lik: Any, batch: Batch, lanes: int) -> tuple[Any, ...]:
    return (
        jax.ShapeDtypeStruct((lanes, batch.size), np.float64),
        jax.ShapeDtypeStruct((lanes, batch.size), np.bool_),
        {k: jax.ShapeDtypeStruct((lanes,), np.float64) for k in batch.context},
    )


def _data_args(batch: Batch, c: int) -> tuple[Any, ...]:
    rep = lambda a: np.repeat(np.asarray(a), c, axis=0)  # noqa: E731
    return rep(batch.x), rep(batch.mask), {k: rep(v) for k, v in batch.context.items()}


def _by_layer(out: Mapping[str, Any], n_layers: int, c: int) -> dict[str, np.ndarray]:
    return {
        k: np.asarray(v).reshape((n_layers, c) + np.shape(v)[1:])
        for k, v in jax.tree.map(np.asarray, dict(out)).items()
    }


def _stats(out: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    stats = {k: out[k] for k in _STATS}
    stats["tree_depth"] = (np.floor(np.log2(np.maximum(stats["n_steps"], 1))) + 1).astype(np.int64)
    return stats


def _run_draws(
    lik: Any, batch: Batch, settings: SamplerSettings, keys: np.ndarray, resume: Mapping[str, Any]
) -> dict[str, np.ndarray]:
    program = _draws_program(lik, batch, settings)
    flat = {k: np.asarray(v).reshape((-1,) + np.shape(v)[2:]) for k, v in resume.items()}
    return _by_layer(
        program(keys, flat, *_data_args(batch, settings.chains)), len(batch), settings.chains
    )


def run_nuts(lik: Any, batch: Batch, settings: SamplerSettings, keys: np.ndarray) -> NutsOutput:
    """Sample every layer of ``batch`` with ``settings.chains`` chains each: one call of the
    warmup program (Laplace start and adaptation), one of the draws program."""
    c = settings.chains
    lanes = len(batch) * c
    split = np.asarray(jax.vmap(jax.random.split)(jnp.asarray(keys)))  # (lanes, 2, 2)
    k_warm, k_draws = split[:, 0], split[:, 1]
    target = np.full(lanes, max(float(settings.target_accept), lik.target_accept or 0.0))
    init = np.repeat(np.asarray(batch.init), c, axis=0)
    warm = _by_layer(
        _warmup_program(lik, batch, settings)(k_warm, init, target, *_data_args(batch, c)),
        len(batch),
        c,
    )
    resume = {k: warm[k] for k in _RESUME}
    more = _run_draws(lik, batch, settings, k_draws, resume)
    return NutsOutput(
        params=more["params"],
        stats=_stats(more),
        step_size=warm["step_size"],
        inverse_mass_matrix=more["inverse_mass_matrix"],
        warmup_divergences=warm["warmup_divergences"],
        warmup_steps=warm["warmup_steps"],
        init_params=warm["init_params"],
        init_potential=warm["init_potential"],
        init_loglik_nan=warm["init_loglik_nan"],
        init_fallback=warm["init_fallback"],
        nan_found=warm["nan_found"] | more["nan_found"],
        nan_params=np.where(warm["nan_found"][..., None], warm["nan_params"], more["nan_params"]),
        resume={**resume, "resume_w": more["resume_w"]},
    )


def continue_nuts(
    lik: Any, batch: Batch, settings: SamplerSettings, keys: np.ndarray, out: NutsOutput
) -> NutsOutput:
    """``out`` with ``settings.draws`` more draws per chain: every chain of ``batch`` continues
    from its last state with its adapted step size and mass matrix (no new warmup)."""
    more = _run_draws(lik, batch, settings, keys, out.resume)
    stats = _stats(more)
    return NutsOutput(
        params=np.concatenate([out.params, more["params"]], axis=2),
        stats={k: np.concatenate([out.stats[k], stats[k]], axis=2) for k in out.stats},
        step_size=out.step_size,
        inverse_mass_matrix=out.inverse_mass_matrix,
        warmup_divergences=out.warmup_divergences,
        warmup_steps=out.warmup_steps,
        init_params=out.init_params,
        init_potential=out.init_potential,
        init_loglik_nan=out.init_loglik_nan,
        init_fallback=out.init_fallback,
        nan_found=out.nan_found | more["nan_found"],
        nan_params=np.where(out.nan_found[..., None], out.nan_params, more["nan_params"]),
        resume={**out.resume, "resume_w": more["resume_w"]},
    )


def take_layers(out: NutsOutput, index: list[int]) -> NutsOutput:
    """The layers at ``index`` of a :class:`NutsOutput`."""
    idx = np.asarray(index, dtype=int)
    return _map_output(out, lambda a: a[idx])


def concat_outputs(outputs: list[NutsOutput]) -> NutsOutput:
    """Several :class:`NutsOutput` joined along the layer axis (same chains and draws)."""
    if len(outputs) == 1:
        return outputs[0]
    first = outputs[0]
    fields: dict[str, Any] = {
        name: np.concatenate([getattr(o, name) for o in outputs])
        for name in first.__dataclass_fields__
        if name not in _DICT_FIELDS
    }
    for name in _DICT_FIELDS:
        fields[name] = {
            k: np.concatenate([getattr(o, name)[k] for o in outputs]) for k in getattr(first, name)
        }
    return NutsOutput(**fields)


def _map_output(out: NutsOutput, fn: Callable[[np.ndarray], np.ndarray]) -> NutsOutput:
    fields: dict[str, Any] = {
        name: fn(getattr(out, name))
        for name in out.__dataclass_fields__
        if name not in _DICT_FIELDS
    }
    for name in _DICT_FIELDS:
        fields[name] = {k: fn(v) for k, v in getattr(out, name).items()}
    return NutsOutput(**fields)


# --------------------------------------------------------------------------- pointwise pass


def _pointwise_lane(lik: Any) -> Callable[..., dict[str, Any]]:
    names = lik.parameter_names

    def one_draw(key: Any, theta: Any, x: Any, mask: Any, ctx: Any) -> dict[str, Any]:
        params = {n: theta[j] for j, n in enumerate(names)}
        out = {"loglik": lik.logpdf(x, params, ctx)}
        if lik.derived is not None:
            derived = lik.derived(key, x, mask, params, ctx)
            out.update({f"derived:{k}": jnp.asarray(v) for k, v in derived.items()})
        return out

    def lane(key: Any, draws: Any, x: Any, mask: Any, ctx: Any) -> dict[str, Any]:
        keys = jax.random.split(key, draws.shape[0])
        return jax.vmap(one_draw, in_axes=(0, 0, None, None, None))(keys, draws, x, mask, ctx)

    return lane


def run_pointwise(
    lik: Any, batch: Batch, params: np.ndarray, keys: np.ndarray, chunk: int | None = None
) -> dict[str, np.ndarray]:
    """Pointwise log-likelihood ``(L, C, D, B)`` and derived quantities per draw.

    ``params`` is ``(L, C, D, P)``; ``keys`` is ``(L * C, 2)``. Keys of the result: ``loglik``
    and ``derived:<name>`` for each output of ``lik.derived``. One compiled program serves
    every call with the same chains, bucket and ``chunk`` draws: it runs one layer at a time
    and, when ``D`` is a multiple of ``chunk`` (a chain extended by whole chunks), one chunk of
    draws at a time, so layers with different numbers of draws or in groups of different sizes
    need no program of their own (the first chunk uses ``keys``, chunk ``j`` the keys folded
    with ``j``).
    """
    n_layers, c, d, p = params.shape
    step = d if not chunk or d % int(chunk) else int(chunk)
    lane = _pointwise_lane(lik)
    ex = example_lane(lik, batch)
    digest = jaxpr_digest(
        lambda key, th, x, m, ctx: lane(key, th, x, m, ctx),
        jnp.zeros(2, jnp.uint32),
        jnp.zeros((2, p)),
        ex[1],
        ex[2],
        ex[3],
    )
    key = hashlib.sha256(f"pointwise|{digest}|{c}|{step}|{batch.size}".encode()).hexdigest()[:40]
    program = lookup(key)
    if program is None:
        program = remember(key, jax.jit(jax.vmap(lane)))
    keys = np.asarray(keys).reshape(n_layers, c, -1)
    fold = jax.jit(jax.vmap(jax.random.fold_in, in_axes=(0, None)))
    layers = []
    for i in range(n_layers):
        data = (
            np.repeat(batch.x[i : i + 1], c, axis=0),
            np.repeat(batch.mask[i : i + 1], c, axis=0),
            {k: np.repeat(np.asarray(v)[i : i + 1], c, axis=0) for k, v in batch.context.items()},
        )
        parts = []
        for j in range(d // step):
            lane_keys = keys[i] if j == 0 else np.asarray(fold(keys[i], j))
            theta = params[i, :, j * step : (j + 1) * step]
            parts.append(jax.tree.map(np.asarray, program(lane_keys, theta, *data)))
        layers.append({k: np.concatenate([q[k] for q in parts], axis=1) for k in parts[0]})
    return {k: np.stack([layer[k] for layer in layers]) for k in layers[0]}
