"""Hostile checkpoints: cut, forged or pickle-bearing files fail with one line naming the file.

Each case is built from a valid file, then broken the way a download, a disk or an attacker
would break it. The readers must never unpickle, never allocate what a forged header asks for,
and never crash with an error that does not name the file (and the tensor, where there is one).
"""

from __future__ import annotations

import json
import pickle
import struct

import numpy as np
import pytest
from spectra_helpers import assert_close_to_max, svd_eigenvalues

from rmtfit.spectra import load_spectra


def save_safetensors(path, arrays):
    from safetensors.numpy import save_file

    save_file(arrays, str(path))
    return path


def safetensors_bytes(header: dict, data: bytes) -> bytes:
    """A safetensors file by hand: the exact 8-byte header length, the JSON header, the data."""
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def one_line_error(call, *args) -> str:
    with pytest.raises(ValueError) as info:
        call(*args)
    message = str(info.value)
    assert "\n" not in message, message
    return message


class _RunsCode:
    """Unpickling this calls ``open(marker, "w")``: it would create the marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


# --------------------------------------------------------------------------- torch


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.99])
def test_a_truncated_torch_zip_names_the_file(tmp_path, rng, torch, fraction):
    whole = tmp_path / "whole.pth"
    state = {"a.weight": torch.randn(40, 20), "b.weight": torch.randn(40, 20)}
    torch.save(state, whole)
    data = whole.read_bytes()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(data[: int(len(data) * fraction)])
    message = one_line_error(load_spectra, cut)
    assert message.startswith(f"{cut}: not a readable torch checkpoint")
    assert "corrupted or truncated" in message


# --------------------------------------------------------------------------- numpy


@pytest.fixture
def no_unpickling(monkeypatch):
    """Fail the test if anything unpickles, and record every ``allow_pickle`` given to np.load."""
    calls: list[object] = []
    real_load = np.load

    def load(*args, **kwargs):
        calls.append(kwargs.get("allow_pickle", "<numpy's default>"))
        return real_load(*args, **kwargs)

    def refuse(*args, **kwargs):
        raise AssertionError("something was unpickled")

    monkeypatch.setattr(np, "load", load)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    return calls


@pytest.mark.parametrize("shape", [(3, 4), (5,)])
def test_an_object_array_in_an_npz_is_refused_unread(tmp_path, rng, no_unpickling, shape):
    marker = tmp_path / "code_ran"
    payload = np.empty(shape, dtype=object)
    payload[...] = 1.5
    payload.flat[0] = _RunsCode(str(marker))
    path = tmp_path / "weights.npz"
    np.savez(path, **{"ok.weight": rng.standard_normal((40, 20)), "evil.weight": payload})
    message = one_line_error(load_spectra, path)
    assert not marker.exists(), "unpickling ran code"
    assert message.startswith(f"{path}: evil.weight: an object array (dtype=object)")
    assert "refused" in message and "safetensors" in message
    assert no_unpickling and True not in no_unpickling  # np.load ran, never with allow_pickle


def test_an_object_npy_is_refused_unread(tmp_path, no_unpickling):
    marker = tmp_path / "code_ran"
    path = tmp_path / "evil.npy"
    np.save(path, np.array([[_RunsCode(str(marker)), 1]], dtype=object), allow_pickle=True)
    message = one_line_error(load_spectra, path)
    assert not marker.exists()
    assert message.startswith(f"{path}: evil: an object array (dtype=object)")
    assert True not in no_unpickling


@pytest.mark.parametrize(
    ("name", "make", "expected"),
    [
        ("empty.npz", lambda rng: b"", "not a readable .npz archive"),
        ("empty.npy", lambda rng: b"", "not a readable .npy array"),
        ("cut.npy", lambda rng: _npy_bytes(rng.standard_normal((30, 30)))[:200], "truncated"),
    ],
    ids=["empty-npz", "empty-npy", "truncated-npy"],
)
def test_empty_and_cut_numpy_files(tmp_path, rng, name, make, expected):
    path = tmp_path / name
    path.write_bytes(make(rng))
    message = one_line_error(load_spectra, path)
    assert message.startswith(f"{path}: ") and expected in message


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_an_npz_archive_saved_as_npy_is_not_read_as_one_array(tmp_path, rng):
    path = tmp_path / "weights.npy"
    with open(path, "wb") as f:
        np.savez(f, w=rng.standard_normal((40, 20)))
    message = one_line_error(load_spectra, path)
    assert message == f"{path}: holds an .npz archive, not one array; rename it to .npz."


# --------------------------------------------------------------------------- safetensors


@pytest.mark.parametrize("length", [2**60, 2**64 - 1])
def test_an_absurd_header_length_is_refused_before_reading(tmp_path, length):
    path = tmp_path / "forged.safetensors"
    path.write_bytes(struct.pack("<Q", length) + b'{"w": {}}' + bytes(64))
    message = one_line_error(load_spectra, path)
    assert message.startswith(f"{path}: not a valid safetensors file (header length {length} ")
    assert "does not fit in a 81-byte file" in message


@pytest.mark.parametrize(
    "info",
    [
        {"dtype": ["F32"], "shape": [2, 2], "data_offsets": [0, 16]},  # unhashable dtype
        {"dtype": "F32", "shape": [True, 4], "data_offsets": [0, 16]},  # a bool is no size
        {"dtype": "F32", "shape": [2.5, 2], "data_offsets": [0, 16]},  # nor is a float
        {"dtype": "F32", "shape": 4, "data_offsets": [0, 16]},
        {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 8, 16]},
        {"dtype": "F32", "shape": [2, 2], "data_offsets": "0-16"},
        "not a tensor entry",
    ],
    ids=["dtype-list", "bool-dim", "float-dim", "int-shape", "three-offsets", "str-offsets", "str"],
)
def test_forged_tensor_entries_are_one_line_errors(tmp_path, info):
    path = tmp_path / "forged.safetensors"
    path.write_bytes(safetensors_bytes({"w": info}, bytes(16)))
    message = one_line_error(load_spectra, path)
    assert message.startswith(f"{path}: not a valid safetensors file (tensor 'w' has no valid")


# --------------------------------------------------------------------------- shards


def _shards(tmp_path, rng, index):
    """Two shards that both hold ``w.weight`` (different values), and an index.json."""
    arrays = {
        "s1": {
            "w.weight": rng.standard_normal((40, 20)),
            "x.weight": rng.standard_normal((40, 20)),
        },
        "s2": {
            "w.weight": rng.standard_normal((30, 20)),
            "y.weight": rng.standard_normal((40, 20)),
        },
    }
    for shard, tensors in arrays.items():
        save_safetensors(tmp_path / f"{shard}.safetensors", tensors)
    weight_map = {name: f"{shard}.safetensors" for name, shard in index.items()}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    return arrays


@pytest.mark.parametrize("home", ["s1", "s2"])
def test_a_name_in_two_shards_is_read_from_the_shard_the_index_names(tmp_path, rng, home):
    # with home s2, s1 comes first in the index (x.weight) yet its w.weight is the stray copy
    index = {"x.weight": "s1", "w.weight": home, "y.weight": "s2"}
    arrays = _shards(tmp_path, rng, index)
    spectra = load_spectra(tmp_path)
    assert sorted(spectra.names) == ["w.weight", "x.weight", "y.weight"]
    assert spectra["w.weight"].source == str(tmp_path / f"{home}.safetensors")
    assert_close_to_max(spectra["w.weight"].eigenvalues, svd_eigenvalues(arrays[home]["w.weight"]))
    (stray,) = spectra.failed
    other = "s2" if home == "s1" else "s1"
    assert stray.name == "w.weight"
    assert f"places it in {home}.safetensors" in stray.reason
    assert f"this copy in {tmp_path / other}.safetensors was not read" in stray.reason


def test_a_lone_copy_in_another_shard_than_listed_is_still_read(tmp_path, rng):
    arrays = _shards(tmp_path, rng, {"x.weight": "s1", "w.weight": "s1", "y.weight": "s2"})
    save_safetensors(tmp_path / "s1.safetensors", {"x.weight": arrays["s1"]["x.weight"]})
    spectra = load_spectra(tmp_path)  # w.weight is only in s2 now, though the index says s1
    assert sorted(spectra.names) == ["w.weight", "x.weight", "y.weight"] and not spectra.failed
    assert_close_to_max(spectra["w.weight"].eigenvalues, svd_eigenvalues(arrays["s2"]["w.weight"]))


# --------------------------------------------------------------------------- no matrix


def test_a_checkpoint_without_any_matrix_lists_every_tensor(tmp_path, rng):
    path = save_safetensors(
        tmp_path / "norms.safetensors",
        {"ln.weight": rng.standard_normal(20), "ln.bias": rng.standard_normal(20)},
    )
    spectra = load_spectra(path)
    assert len(spectra) == 0 and not spectra.failed
    assert {s.name for s in spectra.skipped} == {"ln.weight", "ln.bias"}
    assert all("1-D tensor" in s.reason for s in spectra.skipped)
