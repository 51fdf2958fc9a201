"""Bad input: clear one-line errors for unreadable sources; one bad layer never stops a run."""

from __future__ import annotations

import json
import os
import struct

import numpy as np
import pytest
from spectra_helpers import assert_close_to_max, svd_eigenvalues

from rmtfit.spectra import load_spectra


def save_safetensors(path, arrays):
    from safetensors.numpy import save_file

    save_file(arrays, str(path))
    return path


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.safetensors: no such file"):
        load_spectra(tmp_path / "nope.safetensors")


def test_truncated_safetensors(tmp_path, rng):
    path = save_safetensors(tmp_path / "t.safetensors", {"w": rng.standard_normal((50, 40))})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        ValueError, match=r"t\.safetensors: not a valid safetensors file .*truncated"
    ):
        load_spectra(path)


def safetensors_bytes(header: dict, data: bytes) -> bytes:
    """A safetensors file by hand: the exact 8-byte header length, the JSON header, the data."""
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "0 bytes, too short for a header"),
        (b"\x01\x02", "2 bytes, too short for a header"),
        (b"\xff" * 8 + os.urandom(4088), "does not fit in a 4096-byte file"),
        (struct.pack("<Q", 12) + b"not json!!!!", "header is not JSON"),
        (struct.pack("<Q", 2) + b"[]", "header is not a JSON object"),
        # a valid header whose byte range (8 bytes, all present) disagrees with F32 x [4, 4]
        (
            safetensors_bytes(
                {"w": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 8]}}, bytes(8)
            ),
            "tensor 'w': 8 bytes do not match shape [4, 4] F32",
        ),
    ],
    ids=["empty", "tiny", "random", "bad-json", "not-object", "size-mismatch"],
)
def test_garbage_safetensors(tmp_path, content, why):
    path = tmp_path / "garbage.safetensors"
    path.write_bytes(content)
    with pytest.raises(
        ValueError, match="garbage.safetensors: not a valid safetensors file"
    ) as info:
        load_spectra(path)
    assert why in str(info.value)


class _RunsCode:
    """Unpickling this calls ``open(marker, "w")``: it would create the marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize(
    ("suffix", "writer"),
    [(".pt", "zip"), (".bin", "zip"), (".pkl", "zip"), (".pth", "legacy"), (".ckpt", "pickle")],
)
def test_pickle_that_would_run_code_is_refused(tmp_path, suffix, writer):
    """torch.save's zip and legacy formats, and a bare pickle: torch.load(weights_only=True)
    refuses the payload before it runs, and the message says why and suggests safetensors."""
    import pickle

    torch = pytest.importorskip("torch")
    marker = tmp_path / "code_ran"
    path = tmp_path / f"evil{suffix}"
    state = {"w.weight": torch.ones(3, 3), "payload": _RunsCode(str(marker))}
    if writer == "pickle":
        path.write_bytes(pickle.dumps(state, protocol=2))
    else:
        torch.save(state, path, _use_new_zipfile_serialization=writer == "zip")
    # the control: a plain unpickle does run the payload, so the test below can fail
    pickle.loads(pickle.dumps(_RunsCode(str(tmp_path / "control")))).close()
    assert (tmp_path / "control").exists()
    with pytest.raises(ValueError) as info:
        load_spectra(path)
    message = str(info.value)
    assert not marker.exists(), "unpickling ran code"
    assert str(path) in message and "weights_only" in message and "safetensors" in message
    assert "\n" not in message


def test_garbage_torch_file(tmp_path):
    pytest.importorskip("torch")
    path = tmp_path / "broken.pt"
    path.write_bytes(b"PK\x03\x04" + os.urandom(300))
    with pytest.raises(ValueError, match="broken.pt: not a readable torch checkpoint"):
        load_spectra(path)


def test_unknown_format(tmp_path):
    path = tmp_path / "weights.dat"
    path.write_bytes(b"hello world, not weights")
    with pytest.raises(ValueError, match="weights.dat: unknown file format"):
        load_spectra(path)


def test_object_npy_is_refused(tmp_path):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(
        ValueError, match=r"obj.npy: obj: an object array \(dtype=object\).*refused"
    ):
        load_spectra(path)


def test_nan_and_inf_layers_fail_alone(tmp_path, rng):
    good = rng.standard_normal((12, 5)).astype(np.float32)
    with_nan = rng.standard_normal((12, 5)).astype(np.float32)
    with_nan[3, 2] = np.nan
    with_inf = rng.standard_normal((9, 9)).astype(np.float32)
    with_inf[0, 0], with_inf[1, 1] = np.inf, -np.inf
    path = save_safetensors(
        tmp_path / "m.safetensors", {"a.weight": with_nan, "b.weight": good, "c.weight": with_inf}
    )
    spectra = load_spectra(path)
    assert spectra.names == ["b.weight"]
    assert_close_to_max(spectra["b.weight"].eigenvalues, svd_eigenvalues(good))
    failed = {k.name: k.reason for k in spectra.failed}
    assert failed == {
        "a.weight": "contains 1 NaN and 0 Inf values; the layer was not analysed",
        "c.weight": "contains 0 NaN and 2 Inf values; the layer was not analysed",
    }


def test_huge_values_fail_with_an_overflow_reason_not_as_inf(rng):
    huge = np.full((4, 3), 1e300)
    huge[0, 0] = -1e300
    spectra = load_spectra({"huge.weight": huge, "ok.weight": rng.standard_normal((4, 3))})
    assert spectra.names == ["ok.weight"]
    (failed,) = spectra.failed
    assert failed.name == "huge.weight" and "overflow float64" in failed.reason


def test_finite_check_survives_an_overflowing_sum():
    from rmtfit.spectra._load import _non_finite

    assert _non_finite(np.full(10, 1e308)) == ""
    assert _non_finite(np.array([1e308, 1e308, np.nan])) == "contains 1 NaN and 0 Inf values"
    # the sum runs in the array's own precision (float16 in float32): overflow is not a NaN/Inf
    assert _non_finite(np.full((300, 3), 3e38, dtype=np.float32)) == ""
    assert _non_finite(np.full((300, 3), 6e4, dtype=np.float16)) == ""
    half = np.full((300, 3), 6e4, dtype=np.float16)
    half[5, 1], half[7, 2] = np.inf, -np.inf
    assert _non_finite(half) == "contains 0 NaN and 2 Inf values"


@pytest.mark.parametrize("shape", [(1, 17), (17, 1)])
def test_one_by_m_matrix(shape, rng):
    w = rng.standard_normal(shape)
    s = load_spectra({"row.weight": w})["row.weight"]
    assert (s.N, s.M, s.Q, s.num_evals) == (17, 1, 17.0, 1)
    np.testing.assert_allclose(s.eigenvalues, [np.sum(w * w)], rtol=1e-13)


def test_empty_checkpoints(tmp_path):
    torch = pytest.importorskip("torch")
    save_safetensors(tmp_path / "empty.safetensors", {})
    with pytest.raises(ValueError, match="empty.safetensors: the checkpoint holds no tensors"):
        load_spectra(tmp_path / "empty.safetensors")
    torch.save({}, tmp_path / "empty.pt")
    with pytest.raises(ValueError, match="empty.pt: the checkpoint holds no tensors"):
        load_spectra(tmp_path / "empty.pt")
    with pytest.raises(ValueError, match="holds no tensors"):
        load_spectra({})
    (tmp_path / "dir").mkdir()
    with pytest.raises(FileNotFoundError, match="no weight files"):
        load_spectra(tmp_path / "dir")


def test_unsupported_dtypes_are_reported_not_crashed_on(tmp_path, rng):
    path = save_safetensors(
        tmp_path / "q.safetensors",
        {
            "q.weight": rng.integers(-128, 127, size=(8, 8)).astype(np.int8),
            "position_ids": np.arange(16, dtype=np.int64)[None],
            "mask": np.ones((4, 4), dtype=bool),
            "ok.weight": rng.standard_normal((8, 8)),
        },
    )
    spectra = load_spectra(path)
    assert spectra.names == ["ok.weight"]
    skipped = {k.name: k for k in spectra.skipped}
    assert (
        skipped["q.weight"].failed and "dtype int8 is not supported" in skipped["q.weight"].reason
    )
    assert "dequantized" in skipped["q.weight"].reason
    assert not skipped["position_ids"].failed and "int64" in skipped["position_ids"].reason
    assert not skipped["mask"].failed and "bool" in skipped["mask"].reason


def test_torch_float8_weight_fails_with_reason():
    torch = pytest.importorskip("torch")
    state = {"f8.weight": torch.ones(4, 4).to(torch.float8_e4m3fn), "ok.weight": torch.eye(4)}
    spectra = load_spectra(state)
    assert spectra.names == ["ok.weight"]
    assert spectra.failed[0].name == "f8.weight" and "float8_e4m3fn" in spectra.failed[0].reason


def test_unreadable_tensor_fails_alone(tmp_path, rng):
    path = save_safetensors(
        tmp_path / "m.safetensors",
        {"a.weight": rng.standard_normal((6, 6)), "b.weight": rng.standard_normal((6, 6))},
    )
    from rmtfit.spectra import sources

    original = sources._safetensors_reader

    def flaky(path, offset, shape, dtype):
        read = original(path, offset, shape, dtype)
        return read if offset > 200 else lambda: (_ for _ in ()).throw(OSError("disk error"))

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sources, "_safetensors_reader", flaky)
        spectra = load_spectra(path)
    assert spectra.names == ["b.weight"]
    assert spectra.failed[0].name == "a.weight" and "disk error" in spectra.failed[0].reason
