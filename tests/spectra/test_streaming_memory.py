"""A sharded bf16 checkpoint is streamed: memory is bounded by the largest matrix, not the file."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest

from rmtfit.spectra import load_spectra, plan_layers

torch = pytest.importorskip("torch")


def _sharded_bf16(folder, n_matrices=12, shape=(512, 256), shards=3):
    from safetensors.torch import save_file

    rng = np.random.default_rng(0)
    weight_map = {}
    per = n_matrices // shards
    for s in range(shards):
        file = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        tensors = {
            f"layers.{i}.weight": torch.from_numpy(rng.standard_normal(shape, dtype=np.float32)).to(
                torch.bfloat16
            )
            for i in range(s * per, (s + 1) * per)
        }
        save_file(tensors, str(folder / file))
        weight_map.update(dict.fromkeys(tensors, file))
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    return folder


def test_sharded_bf16_memory_is_bounded_by_the_largest_matrix(tmp_path):
    folder = _sharded_bf16(tmp_path)
    largest = 512 * 256 * 8  # one matrix widened to float64: 1 MiB
    everything = 12 * largest
    budget = 2 * 2**20  # the eigensolver's batch budget
    tracemalloc.start()
    try:
        spectra = load_spectra(folder, batch_bytes=budget)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(spectra) == 12 and not spectra.failed
    # numpy reports its buffers to tracemalloc; the memory-mapped shards are not counted
    assert peak < budget + 4 * largest < everything, (peak, everything)


def test_sharded_bf16_eigenvalues_are_those_of_the_exact_float32_weights(tmp_path):
    folder = _sharded_bf16(tmp_path, n_matrices=3, shape=(64, 32), shards=3)
    spectra = load_spectra(folder)
    from safetensors.torch import load_file

    for shard in sorted(folder.glob("*.safetensors")):
        for name, tensor in load_file(str(shard)).items():
            w = tensor.to(torch.float64).numpy()
            expected = np.sort(np.linalg.eigvalsh(w.T @ w))
            np.testing.assert_allclose(spectra[name].eigenvalues, expected, rtol=1e-10, atol=1e-9)


def test_plan_layers_reads_headers_only(tmp_path):
    folder = _sharded_bf16(tmp_path, n_matrices=3, shape=(64, 32), shards=3)
    plan = plan_layers(folder, include=r"layers\.[12]\.")
    assert plan.names == ("layers.1.weight", "layers.2.weight")
    assert [s.name for s in plan.skipped] == ["layers.0.weight"]
    assert plan.order == ("layers.0.weight", "layers.1.weight", "layers.2.weight")
