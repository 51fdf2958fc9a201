"""Readers: every source format gives the same, exact spectra."""

from __future__ import annotations

import json

import numpy as np
import pytest
from spectra_helpers import assert_close_to_max, svd_eigenvalues

from rmtfit.spectra import Spectra, load_spectra
from rmtfit.spectra.sources import bfloat16_bits_to_float32, open_source


@pytest.fixture
def weights(rng) -> dict[str, np.ndarray]:
    """A small state dict: two linear layers, a conv kernel, biases, an index buffer."""
    return {
        "layers.2.weight": rng.standard_normal((30, 12)).astype(np.float32),
        "layers.2.bias": rng.standard_normal(30).astype(np.float32),
        "layers.10.weight": rng.standard_normal((12, 40)).astype(np.float32),
        "conv.weight": rng.standard_normal((8, 4, 3, 3)).astype(np.float32),
        "position_ids": np.arange(10, dtype=np.int64)[None, :],
    }


def check_against_reference(spectra: Spectra, weights: dict[str, np.ndarray]) -> None:
    assert set(spectra.names) == {"conv.weight", "layers.2.weight", "layers.10.weight"}
    for s in spectra:
        w = weights[s.name].astype(np.float64)
        if w.ndim == 4:
            ref = np.sort(
                np.concatenate([svd_eigenvalues(w[:, :, i, j]) for i in range(3) for j in range(3)])
            )
        else:
            ref = svd_eigenvalues(w)
        assert_close_to_max(s.eigenvalues, ref)
    skipped = {k.name: k for k in spectra.skipped}
    assert set(skipped) == {"layers.2.bias", "position_ids"}
    assert not spectra.failed


def test_safetensors_file(tmp_path, weights):
    from safetensors.numpy import save_file

    path = tmp_path / "model.safetensors"
    save_file(weights, str(path))
    spectra = load_spectra(path)
    check_against_reference(spectra, weights)
    # natural order: layers.2 before layers.10 (the file's header is sorted as text)
    assert spectra.names == ["conv.weight", "layers.2.weight", "layers.10.weight"]
    assert all(s.source == str(path) for s in spectra)
    assert spectra.source == str(path)


@pytest.mark.parametrize("dtype", ["float16", "float64"])
def test_safetensors_other_float_dtypes(tmp_path, rng, dtype):
    from safetensors.numpy import save_file

    w = rng.standard_normal((20, 9)).astype(dtype)
    save_file({"w.weight": w}, str(tmp_path / "m.safetensors"))
    spectrum = load_spectra(tmp_path / "m.safetensors")["w.weight"]
    assert_close_to_max(spectrum.eigenvalues, svd_eigenvalues(w))


def test_bfloat16_is_decoded_exactly(tmp_path, torch):
    from safetensors.torch import save_file

    t = torch.randn(24, 10, generator=torch.Generator().manual_seed(3)).to(torch.bfloat16)
    t[0, 0], t[0, 1] = float("inf"), -0.0
    path = tmp_path / "bf16.safetensors"
    save_file({"w.weight": t}, str(path))
    (ref,) = open_source(path).entries
    assert ref.dtype == "bfloat16"
    decoded = ref.read()
    np.testing.assert_array_equal(decoded, t.to(torch.float32).numpy())
    bits = t.view(torch.int16).numpy().view(np.uint16)
    np.testing.assert_array_equal(bfloat16_bits_to_float32(bits), t.to(torch.float32).numpy())
    t[0, 0] = 1.0
    save_file({"w.weight": t}, str(path))
    spectrum = load_spectra(path)["w.weight"]
    assert_close_to_max(spectrum.eigenvalues, svd_eigenvalues(t.to(torch.float64).numpy()))


def test_sharded_directory_with_index(tmp_path, weights):
    from safetensors.numpy import save_file

    names = list(weights)
    shards = {
        "model-00001-of-00002.safetensors": names[:2],
        "model-00002-of-00002.safetensors": names[2:],
    }
    weight_map = {}
    for shard, keys in shards.items():
        save_file({k: weights[k] for k in keys}, str(tmp_path / shard))
        weight_map.update(dict.fromkeys(keys, shard))
    index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    spectra = load_spectra(tmp_path)
    check_against_reference(spectra, weights)
    assert spectra["conv.weight"].source.endswith("model-00002-of-00002.safetensors")
    assert spectra.source == str(tmp_path)

    (tmp_path / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="model-00002-of-00002.safetensors"):
        load_spectra(tmp_path)


def test_directory_without_index(tmp_path, weights):
    from safetensors.numpy import save_file

    save_file({k: v for k, v in weights.items() if "layers" in k}, str(tmp_path / "a.safetensors"))
    save_file(
        {k: v for k, v in weights.items() if "layers" not in k}, str(tmp_path / "b.safetensors")
    )
    check_against_reference(load_spectra(tmp_path), weights)


def test_torch_state_dict_file_and_nested_state_dict(tmp_path, weights, torch):
    state = {k: torch.from_numpy(v) for k, v in weights.items()}
    torch.save(state, tmp_path / "plain.pt")
    check_against_reference(load_spectra(tmp_path / "plain.pt"), weights)

    torch.save({"epoch": 7, "state_dict": state, "optimizer": {"lr": 0.1}}, tmp_path / "ckpt.pth")
    spectra = load_spectra(tmp_path / "ckpt.pth")
    extra = {k.name: k.reason for k in spectra.skipped if k.name in ("epoch", "optimizer")}
    assert set(extra) == {"epoch", "optimizer"}
    assert all("state_dict" in reason for reason in extra.values())
    assert [s.name for s in spectra] == [s.name for s in load_spectra(tmp_path / "plain.pt")]

    torch.save({"model": {"module": state}}, tmp_path / "wrapped.bin")
    wrapped, plain = load_spectra(tmp_path / "wrapped.bin"), load_spectra(tmp_path / "plain.pt")
    assert wrapped.names == plain.names
    for a, b in zip(wrapped, plain, strict=True):
        np.testing.assert_array_equal(a.eigenvalues, b.eigenvalues)


def test_legacy_torch_format_without_mmap(tmp_path, weights, torch):
    state = {k: torch.from_numpy(v) for k, v in weights.items()}
    torch.save(state, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    check_against_reference(load_spectra(tmp_path / "legacy.pt"), weights)


def test_live_module_uses_module_types(torch):
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Embedding(50, 8),
        torch.nn.Conv1d(8, 6, kernel_size=3),
        torch.nn.Linear(6, 6),
        torch.nn.LayerNorm(6),
        torch.nn.BatchNorm1d(6),
    )
    spectra = load_spectra(net)
    assert spectra.source == "<module Sequential>"
    kinds = {s.name: s.kind for s in spectra}
    assert kinds == {"0.weight": "embedding", "1.weight": "conv1d", "2.weight": "linear"}
    w = net[1].weight.detach().double().numpy()
    ref = np.sort(np.concatenate([svd_eigenvalues(w[:, :, k]) for k in range(3)]))
    assert_close_to_max(spectra["1.weight"].eigenvalues, ref)
    skipped = {k.name: k for k in spectra.skipped}
    assert skipped["4.num_batches_tracked"].reason.startswith("scalar")
    assert "1-D" in skipped["3.weight"].reason


def test_npz_and_npy(tmp_path, weights):
    np.savez(tmp_path / "w.npz", **weights)
    check_against_reference(load_spectra(tmp_path / "w.npz"), weights)
    np.save(tmp_path / "single.npy", weights["layers.2.weight"])
    spectra = load_spectra(tmp_path / "single.npy")
    assert spectra.names == ["single"]
    assert spectra["single"].kind == "matrix"
    assert_close_to_max(spectra["single"].eigenvalues, svd_eigenvalues(weights["layers.2.weight"]))


def test_mapping_of_arrays_and_tensors(weights, torch):
    mixed = {k: (torch.from_numpy(v) if "layers" in k else v) for k, v in weights.items()}
    spectra = load_spectra(mixed)
    assert spectra.source == "<mapping>"
    check_against_reference(spectra, weights)
    nested = load_spectra({"block": {"w.weight": weights["layers.2.weight"]}, "note": "hello"})
    assert nested.names == ["block.w.weight"]
    assert nested.skipped[0].name == "note" and "not a tensor" in nested.skipped[0].reason


def test_spectra_pass_through_with_filters(weights, tmp_path):
    spectra = load_spectra(weights)
    assert load_spectra(spectra) == spectra
    filtered = load_spectra(spectra, include="layers", max_size=12)
    assert filtered.names == ["layers.2.weight", "layers.10.weight"]
    assert {k.name for k in filtered.skipped} >= {"conv.weight"}
    spectra.to_netcdf(tmp_path / "s.nc")
    assert load_spectra(tmp_path / "s.nc") == spectra


def test_unsupported_source_type():
    with pytest.raises(TypeError, match="cannot read a int"):
        load_spectra(3)
