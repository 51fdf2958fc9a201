"""Layer rules: kinds, conv slicing, fused QKV, GPT-2 Conv1D, filters."""

from __future__ import annotations

import numpy as np
import pytest
from spectra_helpers import assert_close_to_max, svd_eigenvalues

from rmtfit.spectra import load_spectra


def conv_reference(w: np.ndarray) -> list[np.ndarray]:
    """Eigenvalues of each kernel slice W[:, :, i, j] (PyTorch layout), row-major over (i, j)."""
    return [svd_eigenvalues(w[:, :, i, j]) for i in range(w.shape[2]) for j in range(w.shape[3])]


def test_conv_pooled_and_slices(rng):
    w = rng.standard_normal((8, 5, 3, 2))
    pooled = load_spectra({"conv.weight": w})["conv.weight"]
    per_slice = conv_reference(w)
    assert (pooled.kind, pooled.N, pooled.M, pooled.num_slices) == ("conv2d", 8, 5, 6)
    assert pooled.num_evals == 6 * 5
    assert_close_to_max(pooled.eigenvalues, np.sort(np.concatenate(per_slice)))
    assert pooled.scaling == 1.0

    slices = load_spectra({"conv.weight": w}, conv="slices")
    expected_names = [f"conv.weight[{i},{j}]" for i in range(3) for j in range(2)]
    assert slices.names == expected_names
    for s, ref in zip(slices, per_slice, strict=True):
        assert (s.kind, s.N, s.M, s.num_slices) == ("conv_slice", 8, 5, 1)
        assert_close_to_max(s.eigenvalues, ref)


@pytest.mark.parametrize("conv", ["pooled", "slices"])
def test_conv_slices_on_the_svd_path_to_rtol_1e10(rng, conv):
    w = rng.standard_normal((12, 12, 3, 3))  # square slices: the Gram path's worst case
    spectra = load_spectra({"conv.weight": w}, conv=conv, method="svd")
    per_slice = conv_reference(w)
    expected = [np.sort(np.concatenate(per_slice))] if conv == "pooled" else per_slice
    assert len(spectra) == len(expected)
    for s, ref in zip(spectra, expected, strict=True):
        np.testing.assert_allclose(s.eigenvalues, ref, rtol=1e-10, atol=0)


def test_channels_last_conv_layout_gives_the_same_spectrum(rng):
    w = rng.standard_normal((16, 6, 3, 3))
    keras_layout = np.transpose(w, (2, 3, 1, 0))  # (kh, kw, in, out)
    torch_spec = load_spectra({"c.weight": w})["c.weight"]
    keras_spec = load_spectra({"c.weight": keras_layout})["c.weight"]
    assert (keras_spec.N, keras_spec.M, keras_spec.num_slices) == (16, 6, 9)
    assert_close_to_max(keras_spec.eigenvalues, torch_spec.eigenvalues, rel=1e-12)


def test_conv1d_kernel(rng):
    w = rng.standard_normal((10, 4, 5))
    s = load_spectra({"tcn.weight": w})["tcn.weight"]
    assert (s.kind, s.num_slices, s.num_evals) == ("conv1d", 5, 20)
    ref = np.sort(np.concatenate([svd_eigenvalues(w[:, :, k]) for k in range(5)]))
    assert_close_to_max(s.eigenvalues, ref)


def test_multihead_attention_in_proj_whole_and_split(torch):
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.MultiheadAttention(embed_dim=12, num_heads=3))
    w = net[0].in_proj_weight.detach().double().numpy()  # (3 * 12, 12)
    whole = load_spectra(net)
    assert whole["0.in_proj_weight"].kind == "qkv"
    assert whole["0.out_proj.weight"].kind == "linear"
    assert_close_to_max(whole["0.in_proj_weight"].eigenvalues, svd_eigenvalues(w))

    split = load_spectra(net, split_qkv=True)
    for i, part in enumerate("qkv"):
        s = split[f"0.in_proj_weight[{part}]"]
        assert (s.kind, s.N, s.M) == ("qkv", 12, 12)
        assert_close_to_max(s.eigenvalues, svd_eigenvalues(w[12 * i : 12 * (i + 1)]))


def test_gpt2_conv1d_by_name_is_split_along_its_output_axis(rng):
    """GPT-2's Conv1D stores (in, out): c_attn is (d, 3d), split along axis 1."""
    d = 8
    weights = {
        "h.0.attn.c_attn.weight": rng.standard_normal((d, 3 * d)),
        "h.0.attn.c_proj.weight": rng.standard_normal((d, d)),
        "h.0.mlp.c_fc.weight": rng.standard_normal((d, 4 * d)),
        "h.0.mlp.c_proj.weight": rng.standard_normal((4 * d, d)),
    }
    spectra = load_spectra(weights)
    kinds = {s.name: s.kind for s in spectra}
    assert kinds["h.0.attn.c_attn.weight"] == "qkv"
    assert kinds["h.0.mlp.c_fc.weight"] == kinds["h.0.mlp.c_proj.weight"] == "conv1d_gpt2"
    c_fc = spectra["h.0.mlp.c_fc.weight"]
    assert (c_fc.N, c_fc.M) == (4 * d, d)  # oriented N >= M whatever the storage
    assert_close_to_max(c_fc.eigenvalues, svd_eigenvalues(weights["h.0.mlp.c_fc.weight"].T))

    split = load_spectra(weights, split_qkv=True)
    w = weights["h.0.attn.c_attn.weight"]
    for i, part in enumerate("qkv"):
        got = split[f"h.0.attn.c_attn.weight[{part}]"].eigenvalues
        assert_close_to_max(got, svd_eigenvalues(w[:, d * i : d * (i + 1)]))


def test_gpt2_conv1d_module_class_is_recognised(torch):
    class Conv1D(torch.nn.Module):  # the shape of transformers.pytorch_utils.Conv1D
        def __init__(self, nf: int, nx: int) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.randn(nx, nf))
            self.bias = torch.nn.Parameter(torch.zeros(nf))

    class Block(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c_attn = Conv1D(3 * 6, 6)
            self.up = Conv1D(24, 6)

    torch.manual_seed(2)
    block = Block()
    spectra = load_spectra(block, split_qkv=True)
    assert spectra["up.weight"].kind == "conv1d_gpt2"
    assert spectra.names[:3] == [f"c_attn.weight[{p}]" for p in "qkv"]
    w = block.c_attn.weight.detach().double().numpy()
    assert_close_to_max(spectra["c_attn.weight[v]"].eigenvalues, svd_eigenvalues(w[:, 12:]))


def test_qkv_that_cannot_be_split_is_analysed_whole_with_a_note(rng):
    spectra = load_spectra({"attn.qkv.weight": rng.standard_normal((20, 8))}, split_qkv=True)
    assert spectra.names == ["attn.qkv.weight"]
    assert "cannot be split" in spectra.meta["notes"]["attn.qkv.weight"]


def test_embedding_kinds_by_name(rng):
    weights = {
        "embeddings.word_embeddings.weight": rng.standard_normal((40, 6)),
        "transformer.wte.weight": rng.standard_normal((40, 6)),
        "some.matrix": rng.standard_normal((5, 4)),
    }
    kinds = {s.name: s.kind for s in load_spectra(weights)}
    assert kinds == {
        "embeddings.word_embeddings.weight": "embedding",
        "transformer.wte.weight": "embedding",
        "some.matrix": "matrix",
    }


def test_include_exclude_and_size_filters_are_reported(rng):
    weights = {
        "enc.0.weight": rng.standard_normal((10, 4)),
        "enc.1.weight": rng.standard_normal((10, 8)),
        "dec.0.weight": rng.standard_normal((10, 6)),
    }
    spectra = load_spectra(weights, include=r"^enc", exclude=r"\.1\.", min_size=2)
    assert spectra.names == ["enc.0.weight"]
    reasons = {k.name: k.reason for k in spectra.skipped}
    assert "include" in reasons["dec.0.weight"] and "exclude" in reasons["enc.1.weight"]
    assert not spectra.failed

    sized = load_spectra(weights, min_size=5, max_size=7)
    assert sized.names == ["dec.0.weight"]
    reasons = {k.name: k.reason for k in sized.skipped}
    assert reasons["enc.0.weight"] == "M=4 is below min_size=5"
    assert reasons["enc.1.weight"] == "M=8 is above max_size=7"


def test_tensors_that_are_not_matrices_are_listed(rng, torch):
    class Odd(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.table = torch.nn.Parameter(torch.randn(3, 4, 5))

    spectra = load_spectra(
        {
            "vol.weight": rng.standard_normal((2, 2, 2, 2, 2)),
            "ok.weight": rng.standard_normal((3, 3)),
        }
    )
    assert spectra.names == ["ok.weight"]
    assert "5-D" in spectra.skipped[0].reason
    with pytest.raises(ValueError, match="no tensors"):  # a module without any parameter
        load_spectra(torch.nn.Module())
    odd = load_spectra(torch.nn.ModuleDict({"m": Odd(), "lin": torch.nn.Linear(3, 2)}))
    assert odd.names == ["lin.weight"]
    assert "Odd module, not a convolution" in {k.name: k.reason for k in odd.skipped}["m.table"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"include": "("}, "include"),
        ({"min_size": 0}, "min_size"),
        ({"max_size": 0}, "max_size"),
        ({"conv": "mean"}, "conv"),
    ],
)
def test_invalid_layer_options(kwargs, match, rng):
    with pytest.raises(ValueError, match=match):
        load_spectra({"w": rng.standard_normal((3, 3))}, **kwargs)
