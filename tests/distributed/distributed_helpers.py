"""Helpers of the distributed tests: a small synthetic network and an exact (NaN-aware)
comparison of two analyses (a module of its own: every tests folder has a conftest.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

FIT = {"draws": 200, "chains": 2, "likelihoods": "power_law,mp_spikes", "quiet": True}
"""Few draws and two quick likelihoods: each layer fits in about a second once compiled."""


def synthetic_weights(n_layers: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    """Layers of 200 x 100: Gaussian ones (random-like) and a Student-t one (heavy tail)."""
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(n_layers):
        w = rng.standard_t(2.5, (200, 100)) if i % 3 == 2 else rng.standard_normal((200, 100))
        out[f"block{i}.weight"] = w.astype(np.float32)
        out[f"block{i}.bias"] = np.zeros(100, np.float32)
    return out


def write_checkpoint(path: Path, n_layers: int = 4) -> Path:
    from safetensors.numpy import save_file

    save_file(synthetic_weights(n_layers), str(path))
    return path


def same(x, y) -> bool:
    """Exact equality of nested results; NaN equals NaN (ClassicalFit has NaN fields)."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return type(x) is type(y) and all(
            same(getattr(x, f.name), getattr(y, f.name)) for f in dataclasses.fields(x)
        )
    if isinstance(x, dict):
        return isinstance(y, dict) and x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
    if isinstance(x, list | tuple):
        return len(x) == len(y) and all(same(a, b) for a, b in zip(x, y, strict=True))
    if isinstance(x, float) and isinstance(y, float):
        return x == y or (np.isnan(x) and np.isnan(y))
    if isinstance(x, np.ndarray):
        return np.array_equal(x, y, equal_nan=True)
    return x == y


def assert_same_analysis(a, b) -> None:
    """Every layer record, every posterior draw and the network summary are identical."""
    assert [r.name for r in a.layers] == [r.name for r in b.layers]
    for ra, rb in zip(a.layers, b.layers, strict=True):
        assert same(ra, rb), f"layer {ra.name} differs"
    assert a.fits.layers == b.fits.layers
    for layer in a.fits.layers:
        for lik in a.fits.likelihoods:
            assert a.fits.status(layer, lik) == b.fits.status(layer, lik)
            if a.fits.has(layer, lik):
                fa, fb = a.fits[layer, lik], b.fits[layer, lik]
                for name in fa.posterior:
                    assert np.array_equal(fa.posterior[name], fb.posterior[name]), (layer, name)
    assert same(a.network_summary, b.network_summary)
    assert same(dict(a.phases), dict(b.phases))
