"""The batched sampler: NUTS vmapped over (layer, chain) lanes, one compiled program per bucket.

Each lane runs NumPyro's functional NUTS (``numpyro.infer.hmc.hmc``): ``init_kernel`` sets up the
windowed step-size and diagonal mass-matrix adaptation, and ``sample_kernel`` adapts during its
first ``warmup`` calls and samples afterwards. One ``lax.scan`` runs ``warmup + draws`` iterations;
``jax.vmap`` runs every lane at once, and the whole thing is one ``jax.jit`` program per
(likelihood, bucket size, lanes, settings).

Compiled programs are reused three ways:

* in this process, by a fingerprint of the likelihood's traced log density (cheap to trace) plus
  the settings;
* across processes, through JAX's persistent compilation cache (:func:`enable_compilation_cache`)
  and, because tracing a vmapped NUTS program takes about a second of Python, through exported
  programs (``jax.export``) saved under the cache directory: a warm process loads the program
  and never traces the sampler. The fingerprint covers the likelihood's jaxpr and constants,
  this module's source, and the JAX, jaxlib and NumPyro versions, so a changed likelihood or
  library never reuses a stale program.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rmtfit.inference import _model
from rmtfit.inference._batch import Batch

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
]

_ENV_CACHE = "RMTFIT_JAX_CACHE"
_LOCK = threading.Lock()
_PROGRAMS: dict[str, Callable[..., Any]] = {}
_BUILD_LOCKS: dict[str, threading.Lock] = {}
_DIGESTS: dict[tuple[int, int, tuple[str, ...]], tuple[Any, str]] = {}


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
    init_params: np.ndarray  # (L, C, P) where each chain started (constrained)
    init_potential: np.ndarray  # (L, C)
    init_loglik_nan: np.ndarray  # (L, C) log-likelihood NaN at the start
    init_fallback: np.ndarray  # (L, C) classical start had no finite density
    nan_found: np.ndarray  # (L, C) a NaN log-likelihood next to a divergent transition
    nan_params: np.ndarray  # (L, C, P) where (constrained)


# --------------------------------------------------------------------------- caches


def cache_dir() -> Path | None:
    """Where compiled and exported programs are kept: ``$RMTFIT_JAX_CACHE`` or ``~/.cache/rmtfit/jax``.

    ``RMTFIT_JAX_CACHE=""`` turns both caches off.
    """
    value = os.environ.get(_ENV_CACHE)
    if value is not None:
        return Path(value).expanduser() if value.strip() else None
    return Path.home() / ".cache" / "rmtfit" / "jax"


def enable_compilation_cache() -> Path | None:
    """Point JAX's persistent compilation cache at :func:`cache_dir` (unless the user set one)."""
    path = cache_dir()
    if path is None:
        return None
    current = getattr(jax.config, "jax_compilation_cache_dir", None)
    if current:
        return Path(current)
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path


@functools.cache
def _versions() -> str:
    import jaxlib
    import numpyro

    sources = b"".join(Path(m.__file__).read_bytes() for m in (_model,) if m.__file__)
    own = Path(__file__).read_bytes()
    return "|".join(
        [
            jax.__version__,
            jaxlib.__version__,
            numpyro.__version__,
            jax.default_backend(),
            hashlib.sha256(own + sources).hexdigest()[:16],
        ]
    )


def _jaxpr_digest(fn: Callable[..., Any], *args: Any) -> str:
    closed = jax.make_jaxpr(fn)(*args)
    h = hashlib.sha256(str(closed.jaxpr).encode())
    for c in closed.consts:
        a = np.asarray(c)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _example_lane(lik: Any, batch: Batch) -> tuple[Any, ...]:
    p = len(lik.parameters)
    ctx = {k: jnp.asarray(v[0]) for k, v in batch.context.items()}
    return (jnp.zeros(p), jnp.asarray(batch.x[0]), jnp.asarray(batch.mask[0]), ctx)


def _density_digest(lik: Any, batch: Batch) -> str:
    """Digest of the likelihood's traced log density, memoised per (likelihood object, bucket
    size, context keys): tracing costs tens of milliseconds and runs once per layer call."""
    memo = (id(lik), batch.size, tuple(sorted(batch.context)))
    with _LOCK:
        hit = _DIGESTS.get(memo)
    if hit is not None and hit[0] is lik:
        return hit[1]
    digest = _traced_density_digest(lik, batch)
    with _LOCK:
        _DIGESTS[memo] = (lik, digest)  # holding lik keeps its id from being reused
    return digest


def _traced_density_digest(lik: Any, batch: Batch) -> str:
    def fn(z: Any, x: Any, mask: Any, ctx: Any) -> Any:
        params, _, _ = _model.constrain(lik, z, ctx)
        stats = _model.data_statistics(lik, x, mask)
        value = _model.log_density(lik, z, x, mask, ctx, stats)
        return value, _model.unconstrain(lik, params, ctx)

    return _jaxpr_digest(fn, *_example_lane(lik, batch))


def _export_available() -> bool:
    try:
        import flatbuffers  # noqa: F401  (needed by jax.export serialisation)
    except ImportError:
        return False
    return True


def _load_or_build(
    key: str, build: Callable[[], Callable[..., Any]], specs: tuple[Any, ...]
) -> Any:
    """An in-process cached, compiled program; exported to / loaded from disk when possible.

    The program is compiled here, ahead of its first call, under a lock of its own: when the
    thread pool starts several layers of one likelihood at once, one thread compiles and the
    others wait for it instead of compiling the same program again.
    """
    with _LOCK:
        if key in _PROGRAMS:
            return _PROGRAMS[key]
        key_lock = _BUILD_LOCKS.setdefault(key, threading.Lock())
    with key_lock:
        with _LOCK:
            if key in _PROGRAMS:
                return _PROGRAMS[key]
        fn = _jitted(key, build, specs)
        try:
            fn = fn.lower(*specs).compile()
        except Exception:  # compile on first call instead (same program, compiled lazily)
            pass
        with _LOCK:
            _PROGRAMS[key] = fn
            return fn


def _jitted(key: str, build: Callable[[], Callable[..., Any]], specs: tuple[Any, ...]) -> Any:
    root = cache_dir()
    path = root / "exported" / f"{key}.jaxexport" if root is not None else None
    fn: Callable[..., Any] | None = None
    if path is not None and path.exists() and _export_available():
        try:
            fn = jax.jit(jax.export.deserialize(bytearray(path.read_bytes())).call)
        except Exception:  # a corrupt or incompatible file: rebuild it
            fn = None
    if fn is None:
        jitted = jax.jit(build())
        fn = jitted
        if path is not None and _export_available():
            try:
                exported = jax.export.export(jitted)(*specs)
                _atomic_write(path, bytes(exported.serialize()))
                fn = jax.jit(exported.call)
            except Exception:  # not exportable (e.g. an unsupported custom call): plain jit
                fn = jitted
    return fn


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _spec(a: Any) -> jax.ShapeDtypeStruct:
    a = np.asarray(a)
    return jax.ShapeDtypeStruct(a.shape, a.dtype)


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


def _nuts_lane(lik: Any, settings: SamplerSettings) -> Callable[..., dict[str, Any]]:
    from numpyro.infer.hmc import hmc

    num_params = len(lik.parameters)
    total = settings.warmup + settings.draws

    def potential_fn_gen(x: Any, mask: Any, ctx: Any, stats: Any) -> Callable[[Any], Any]:
        return lambda z: -_model.log_density(lik, z, x, mask, ctx, stats)

    def lane(key: Any, init: Any, x: Any, mask: Any, ctx: Any) -> dict[str, Any]:
        k_jitter, k_fallback, k_run = jax.random.split(key, 3)
        stats = _model.data_statistics(lik, x, mask)  # once per lane, outside the sampler loop
        potential = potential_fn_gen(x, mask, ctx, stats)
        params0 = {p.name: init[j] for j, p in enumerate(lik.parameters)}
        u0 = _model.unconstrain(lik, params0, ctx)
        u0 = jnp.where(jnp.isfinite(u0), u0, 0.0)
        u_init = u0 + settings.init_jitter * jax.random.normal(k_jitter, (num_params,))
        u_fallback = settings.init_jitter * jax.random.normal(k_fallback, (num_params,))
        use_init = jnp.isfinite(potential(u_init))
        z0 = jnp.where(use_init, u_init, u_fallback)
        start, _, _ = _model.constrain(lik, z0, ctx)
        loglik0 = _model.masked_loglik(lik, x, mask, start, ctx).sum()

        init_kernel, sample_kernel = hmc(potential_fn_gen=potential_fn_gen, algo="NUTS")
        state = init_kernel(
            z0,
            settings.warmup,
            target_accept_prob=settings.target_accept,
            max_tree_depth=settings.max_tree_depth,
            dense_mass=settings.dense_mass,
            model_args=(x, mask, ctx, stats),
            rng_key=k_run,
        )

        def step(s: Any, _: Any) -> tuple[Any, tuple[Any, ...]]:
            s = sample_kernel(s, model_args=(x, mask, ctx, stats))
            return s, (s.z, s.diverging, s.num_steps, s.accept_prob, s.potential_energy, s.energy)

        final, trace = jax.lax.scan(step, state, None, length=total)
        z, diverging, num_steps, accept, pe, energy = trace
        w = settings.warmup
        inverse_mass = final.adapt_state.inverse_mass_matrix
        if settings.dense_mass:
            inverse_mass = jnp.diagonal(inverse_mass)
        scale = final.adapt_state.step_size * jnp.sqrt(inverse_mass)
        z_before = jnp.concatenate([z0[None], z[:-1]])  # where each transition started
        nan_found, nan_at = _nan_probe(lik, z_before, diverging, scale, x, mask, ctx)
        draws = jax.vmap(
            lambda zi: jnp.stack([v for v in _model.constrain(lik, zi, ctx)[0].values()])
        )(z[w:])
        return {
            "params": draws,
            "diverging": diverging[w:],
            "n_steps": num_steps[w:],
            "acceptance_rate": accept[w:],
            "lp": -pe[w:],
            "energy": energy[w:],
            "step_size": final.adapt_state.step_size,
            "inverse_mass_matrix": inverse_mass,
            "warmup_divergences": diverging[:w].sum(),
            "init_params": jnp.stack([start[p.name] for p in lik.parameters]),
            "init_potential": potential(z0),
            "init_loglik_nan": jnp.isnan(loglik0),
            "init_fallback": ~use_init,
            "nan_found": nan_found,
            "nan_params": nan_at,
        }

    return lane


_PROBE_POINTS = 16
_PROBE_STEPS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)


def _nan_probe(
    lik: Any, z: Any, diverging: Any, scale: Any, x: Any, mask: Any, ctx: Any
) -> tuple[Any, Any]:
    """Look for NaN log-likelihoods where NUTS diverged: ``(found, constrained params)``.

    NumPyro treats a NaN energy as a divergence and rejects it, so a region where ``logpdf`` is
    NaN would otherwise show up only as divergent transitions. From the starting point of each
    of the first :data:`_PROBE_POINTS` divergent transitions, the log-likelihood is evaluated at
    ``+-k`` adapted step sizes along every coordinate (``k`` in :data:`_PROBE_STEPS`): the
    leapfrog trajectories that diverged reached no further than that from where they started.
    """
    num_params = z.shape[-1]
    (idx,) = jnp.nonzero(diverging, size=_PROBE_POINTS, fill_value=-1)
    starts = z[jnp.maximum(idx, 0)]  # (K, P)
    steps = jnp.asarray(_PROBE_STEPS)
    offsets = jnp.concatenate([steps, -steps])[:, None, None] * jnp.eye(num_params)[None]
    offsets = (offsets * scale).reshape(-1, num_params)  # (2 * S * P, P)
    points = (starts[:, None, :] + offsets[None]).reshape(-1, num_params)
    valid = jnp.repeat(idx >= 0, offsets.shape[0])

    def raw_loglik(zi: Any) -> Any:
        params, _, log_prior = _model.constrain(lik, zi, ctx)
        total = _model.masked_loglik(lik, x, mask, params, ctx).sum()
        value = jnp.stack([params[p.name] for p in lik.parameters])
        return jnp.isnan(total) & jnp.isfinite(log_prior), value

    is_nan, values = jax.vmap(raw_loglik)(points)
    is_nan = is_nan & valid
    first = jnp.argmax(is_nan)
    return is_nan.any(), values[first]


def _nuts_program(lik: Any, batch: Batch, settings: SamplerSettings) -> Callable[..., Any]:
    lanes = len(batch) * settings.chains
    specs = (
        jax.ShapeDtypeStruct((lanes, 2), np.uint32),
        jax.ShapeDtypeStruct((lanes, len(lik.parameters)), np.float64),
        jax.ShapeDtypeStruct((lanes, batch.size), np.float64),
        jax.ShapeDtypeStruct((lanes, batch.size), np.bool_),
        {k: jax.ShapeDtypeStruct((lanes,), np.float64) for k in batch.context},
    )
    key = hashlib.sha256(
        "|".join(
            [
                "nuts",
                _versions(),
                _density_digest(lik, batch),
                repr(settings),
                str(lanes),
                str(batch.size),
                ",".join(sorted(batch.context)),
            ]
        ).encode()
    ).hexdigest()[:40]

    def build() -> Callable[..., Any]:
        return jax.vmap(_nuts_lane(lik, settings))

    return _load_or_build(key, build, specs)


def run_nuts(lik: Any, batch: Batch, settings: SamplerSettings, keys: np.ndarray) -> NutsOutput:
    """Sample every layer of ``batch`` with ``settings.chains`` chains each, in one program."""
    c = settings.chains
    program = _nuts_program(lik, batch, settings)
    rep = lambda a: np.repeat(np.asarray(a), c, axis=0)  # noqa: E731
    out = program(
        keys,
        rep(batch.init),
        rep(batch.x),
        rep(batch.mask),
        {k: rep(v) for k, v in batch.context.items()},
    )
    out = jax.tree.map(np.asarray, out)
    lc = lambda a: a.reshape((len(batch), c) + a.shape[1:])  # noqa: E731
    stats = {k: lc(out[k]) for k in ("diverging", "n_steps", "acceptance_rate", "lp", "energy")}
    stats["tree_depth"] = (np.floor(np.log2(np.maximum(stats["n_steps"], 1))) + 1).astype(np.int64)
    return NutsOutput(
        params=lc(out["params"]),
        stats=stats,
        step_size=lc(out["step_size"]),
        inverse_mass_matrix=lc(out["inverse_mass_matrix"]),
        warmup_divergences=lc(out["warmup_divergences"]),
        init_params=lc(out["init_params"]),
        init_potential=lc(out["init_potential"]),
        init_loglik_nan=lc(out["init_loglik_nan"]),
        init_fallback=lc(out["init_fallback"]),
        nan_found=lc(out["nan_found"]),
        nan_params=lc(out["nan_params"]),
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
    fields = {
        name: np.concatenate([getattr(o, name) for o in outputs])
        for name in first.__dataclass_fields__
        if name != "stats"
    }
    stats = {k: np.concatenate([o.stats[k] for o in outputs]) for k in first.stats}
    return NutsOutput(stats=stats, **fields)


def _map_output(out: NutsOutput, fn: Callable[[np.ndarray], np.ndarray]) -> NutsOutput:
    fields = {name: fn(getattr(out, name)) for name in out.__dataclass_fields__ if name != "stats"}
    return NutsOutput(stats={k: fn(v) for k, v in out.stats.items()}, **fields)


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
    lik: Any, batch: Batch, params: np.ndarray, keys: np.ndarray
) -> dict[str, np.ndarray]:
    """Pointwise log-likelihood ``(L, C, D, B)`` and derived quantities per draw, in one program.

    ``params`` is ``(L, C, D, P)``; ``keys`` is ``(L * C, 2)``. Keys of the result: ``loglik``
    and ``derived:<name>`` for each output of ``lik.derived``.
    """
    n_layers, c, d, p = params.shape
    lanes = n_layers * c
    rep = lambda a: np.repeat(np.asarray(a), c, axis=0)  # noqa: E731
    args = (
        keys,
        params.reshape(lanes, d, p),
        rep(batch.x),
        rep(batch.mask),
        {k: rep(v) for k, v in batch.context.items()},
    )
    lane = _pointwise_lane(lik)
    ex = _example_lane(lik, batch)
    digest = _jaxpr_digest(
        lambda key, th, x, m, ctx: lane(key, th, x, m, ctx),
        jnp.zeros(2, jnp.uint32),
        jnp.zeros((2, p)),
        ex[1],
        ex[2],
        ex[3],
    )
    key = hashlib.sha256(f"pointwise|{digest}|{lanes}|{d}|{batch.size}".encode()).hexdigest()[:40]
    with _LOCK:
        program = _PROGRAMS.get(key)
    if program is None:
        program = jax.jit(jax.vmap(lane))
        with _LOCK:
            program = _PROGRAMS.setdefault(key, program)
    out = jax.tree.map(np.asarray, program(*args))
    return {k: v.reshape((n_layers, c) + v.shape[1:]) for k, v in out.items()}
