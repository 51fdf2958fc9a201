"""The in-process cache of compiled programs is bounded: a long process never runs out of memory
mappings (every compiled program maps its kernels' machine code; at the kernel's limit,
``vm.max_map_count``, XLA aborted the test suite while compiling)."""

from __future__ import annotations

import gc

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rmtfit.inference import _programs


def _program(i: int):
    """A small compiled program of its own (a scan, so a few kernels), distinct for each i."""

    def f(x):
        def body(c, _):
            return jnp.sin(c * (i + 1.0)) + jnp.cumsum(jnp.exp(-(c**2))), None

        return jax.lax.scan(body, x, None, length=3)[0]

    spec = jax.ShapeDtypeStruct((16 + i,), jnp.float64)
    return lambda: f, (spec,)


@pytest.fixture
def empty_cache(monkeypatch):
    """A fresh, small cache (the suite's own programs stay where they are)."""
    monkeypatch.setattr(_programs, "PROGRAMS", type(_programs.PROGRAMS)())
    monkeypatch.setattr(_programs, "MAX_PROGRAMS", 4)
    monkeypatch.setenv("RMTFIT_JAX_CACHE", "")  # nothing exported to disk
    return _programs.PROGRAMS


def test_least_recently_used_programs_are_dropped_beyond_the_bound(empty_cache):
    keys = [f"test-program-{i}" for i in range(6)]
    built = {}
    for i, key in enumerate(keys[:4]):
        build, specs = _program(i)
        built[key] = _programs.load_or_build(key, build, specs)
    assert list(_programs.PROGRAMS) == keys[:4]
    # a hit returns the same compiled program and makes it the most recently used
    assert _programs.load_or_build(keys[0], *_program(0)) is built[keys[0]]
    for i, key in enumerate(keys[4:], start=4):
        _programs.load_or_build(key, *_program(i))
    assert list(_programs.PROGRAMS) == [keys[3], keys[0], keys[4], keys[5]]
    # a dropped program is built again, and computes the same values
    again = _programs.load_or_build(keys[1], *_program(1))
    x = np.linspace(0.0, 1.0, 17)
    assert again is not built[keys[1]]
    np.testing.assert_array_equal(np.asarray(again(x)), np.asarray(built[keys[1]](x)))


def test_programs_are_dropped_when_the_memory_mappings_near_the_limit(empty_cache, monkeypatch):
    for i in range(3):
        _programs.load_or_build(f"maps-{i}", *_program(i))
    assert len(_programs.PROGRAMS) == 3
    gc.collect()
    in_use = _programs._maps_in_use()
    assert in_use > 0  # Linux: /proc/self/maps
    monkeypatch.setattr(_programs, "_map_budget", lambda: in_use)  # the next program crosses it
    _programs.load_or_build("maps-3", *_program(3))
    assert list(_programs.PROGRAMS) == ["maps-2", "maps-3"]  # down to MAX_PROGRAMS // 2
    assert _programs._maps_in_use() < in_use + 10  # the dropped programs' code is unmapped


def test_the_map_budget_is_half_the_kernel_limit():
    budget = _programs._map_budget()
    with open("/proc/sys/vm/max_map_count") as f:
        assert budget == int(f.read()) // 2
