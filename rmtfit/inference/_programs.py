"""Compiled sampler programs: built once, reused in this process and across processes.

Programs are reused three ways:

* in this process, by a fingerprint of the likelihood's traced log density (cheap to trace) plus
  the program's static settings;
* across processes, through JAX's persistent compilation cache (:func:`enable_compilation_cache`)
  and, because tracing a vmapped NUTS program takes about a second of Python, through exported
  programs (``jax.export``) saved under the cache directory: a warm process loads the program
  and never traces the sampler. The fingerprint covers the likelihood's jaxpr and constants,
  the sampler modules' sources, and the JAX, jaxlib and NumPyro versions, so a changed
  likelihood or library never reuses a stale program.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rmtfit.inference import _model
from rmtfit.inference._batch import Batch

__all__ = [
    "cache_dir",
    "enable_compilation_cache",
    "load_or_build",
    "program_key",
    "jaxpr_digest",
    "example_lane",
    "LOCK",
    "PROGRAMS",
    "MAX_PROGRAMS",
    "lookup",
    "remember",
]

_ENV_CACHE = "RMTFIT_JAX_CACHE"
LOCK = threading.Lock()
PROGRAMS: OrderedDict[str, Callable[..., Any]] = OrderedDict()
"""Compiled programs by key, least recently used first; at most :data:`MAX_PROGRAMS` (see
:func:`remember`)."""
MAX_PROGRAMS = 32
"""Programs kept in the process. Each compiled program maps its machine code into memory, about
3 mappings per kernel: a NUTS program of ``mp_spikes`` takes about 600 of the kernel's 65,530
(``vm.max_map_count``), and the demo network's 9 programs 5,400. Kept forever, the programs of a
long process (a notebook, a Dask worker, the test suite) ran into that limit: ``mmap`` failed
and XLA aborted the process while compiling the next one (twice in the full test suite)."""
_MAP_SHARE = 0.5
"""Share of ``vm.max_map_count`` beyond which the least recently used programs are dropped
(down to half of them), and then JAX's own caches, whatever the number of programs."""
_BUILDLOCKS: dict[str, threading.Lock] = {}
_COMPILE = threading.RLock()
"""Held while a program is lowered and compiled: one compilation at a time in the process. JAX's
lowering and compilation are not safe to run in several Python threads at once (jax-ml/jax#32354).
(The crashes of the test suite that first pointed here came from memory mappings, see
:data:`MAX_PROGRAMS`; the lock stays as the precaution that issue asks for.) Compiling in turn
costs little on few cores."""
_DIGESTS: dict[tuple[int, int, tuple[str, ...]], tuple[Any, str]] = {}


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

    here = Path(__file__).parent  # the sampler's sources, read without importing them
    sources = b"".join((here / f"{m}.py").read_bytes() for m in ("_model", "_laplace", "_nuts"))
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


def jaxpr_digest(fn: Callable[..., Any], *args: Any) -> str:
    closed = jax.make_jaxpr(fn)(*args)
    h = hashlib.sha256(str(closed.jaxpr).encode())
    for c in closed.consts:
        a = np.asarray(c)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def example_lane(lik: Any, batch: Batch) -> tuple[Any, ...]:
    p = len(lik.parameters)
    ctx = {k: jnp.asarray(v[0]) for k, v in batch.context.items()}
    return (jnp.zeros(p), jnp.asarray(batch.x[0]), jnp.asarray(batch.mask[0]), ctx)


def _density_digest(lik: Any, batch: Batch) -> str:
    """Digest of the likelihood's traced log density, memoised per (likelihood object, bucket
    size, context keys): tracing costs tens of milliseconds and runs once per layer call."""
    memo = (id(lik), batch.size, tuple(sorted(batch.context)))
    with LOCK:
        hit = _DIGESTS.get(memo)
    if hit is not None and hit[0] is lik:
        return hit[1]
    digest = _traced_density_digest(lik, batch)
    with LOCK:
        _DIGESTS[memo] = (lik, digest)  # holding lik keeps its id from being reused
    return digest


def _traced_density_digest(lik: Any, batch: Batch) -> str:
    def fn(z: Any, x: Any, mask: Any, ctx: Any) -> Any:
        params, _, _ = _model.constrain(lik, z, ctx)
        stats = _model.data_statistics(lik, x, mask)
        value = _model.log_density(lik, z, x, mask, ctx, stats)
        return value, _model.unconstrain(lik, params, ctx)

    return jaxpr_digest(fn, *example_lane(lik, batch))


def _export_available() -> bool:
    try:
        import flatbuffers  # noqa: F401  (needed by jax.export serialisation)
    except ImportError:
        return False
    return True


def lookup(key: str) -> Callable[..., Any] | None:
    """The program stored under ``key`` (now the most recently used), or None."""
    with LOCK:
        fn = PROGRAMS.get(key)
        if fn is not None:
            PROGRAMS.move_to_end(key)
        return fn


def remember(key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """Store ``fn`` under ``key`` (unless a program is there already, which is returned) and
    drop the least recently used programs beyond :data:`MAX_PROGRAMS`, or while the process's
    memory mappings exceed :data:`_MAP_SHARE` of the kernel's limit. A dropped program is
    compiled again (or read from the persistent cache) if it is needed again."""
    with LOCK:
        if key in PROGRAMS:
            PROGRAMS.move_to_end(key)
            return PROGRAMS[key]
        PROGRAMS[key] = fn
        while len(PROGRAMS) > MAX_PROGRAMS:
            PROGRAMS.popitem(last=False)
        budget = _map_budget()
        if budget is not None and _maps_in_use() > budget:
            while len(PROGRAMS) > max(1, MAX_PROGRAMS // 2):
                PROGRAMS.popitem(last=False)
            gc.collect()  # a compiled program frees its mappings when it is collected
            if _maps_in_use() > budget:
                jax.clear_caches()
                gc.collect()
        return fn


def _maps_in_use() -> int:
    """Memory mappings of this process (0 where ``/proc`` is not available)."""
    try:
        with open("/proc/self/maps", "rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


@functools.cache
def _map_budget() -> int | None:
    try:
        limit = int(Path("/proc/sys/vm/max_map_count").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return int(_MAP_SHARE * limit)


def load_or_build(key: str, build: Callable[[], Callable[..., Any]], specs: tuple[Any, ...]) -> Any:
    """An in-process cached, compiled program; exported to / loaded from disk when possible.

    The program is compiled here, ahead of its first call, under a lock of its own: when the
    thread pool starts several layers of one likelihood at once, one thread compiles and the
    others wait for it instead of compiling the same program again; programs of different keys
    are compiled one at a time (``_COMPILE``).
    """
    fn = lookup(key)
    if fn is not None:
        return fn
    with LOCK:
        key_lock = _BUILDLOCKS.setdefault(key, threading.Lock())
    with key_lock:
        fn = lookup(key)
        if fn is not None:
            return fn
        with _COMPILE:
            fn = _jitted(key, build, specs)
            try:
                fn = fn.lower(*specs).compile()
            except Exception:  # compile on first call instead (same program, compiled lazily)
                pass
        return remember(key, fn)


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


def program_key(kind: str, lik: Any, batch: Batch, lanes: int, static: str) -> str:
    return hashlib.sha256(
        "|".join(
            [
                kind,
                _versions(),
                _density_digest(lik, batch),
                static,
                str(lanes),
                str(batch.size),
                ",".join(sorted(batch.context)),
            ]
        ).encode()
    ).hexdigest()[:40]
