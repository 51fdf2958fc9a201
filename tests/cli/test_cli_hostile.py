"""Hostile checkpoints through the command line: exit 2 with one line naming the file, never a
traceback and never a report folder; a duplicated tensor fails alone (exit 1).

The readers' own checks are in ``tests/spectra/test_spectra_hostile.py``; these check what a
user of ``rmtfit analyze`` and ``rmtfit spectra`` sees.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from rmtfit.cli import main


def _forged_safetensors(path: Path, header: dict, data: bytes) -> None:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)


def _truncated_pth(path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.save({"a.weight": torch.randn(40, 20), "b.weight": torch.randn(40, 20)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _object_npz(path: Path) -> None:
    payload = np.empty((4, 4), dtype=object)
    payload[...] = {"not": "a number"}
    np.savez(path, **{"ok.weight": np.eye(20), "evil.weight": payload})


def _absurd_header(path: Path) -> None:
    path.write_bytes(struct.pack("<Q", 2**60) + b"{}" + bytes(32))


def _unhashable_dtype(path: Path) -> None:
    _forged_safetensors(
        path, {"w": {"dtype": ["F32"], "shape": [2, 2], "data_offsets": [0, 16]}}, bytes(16)
    )


def _empty_npz(path: Path) -> None:
    path.write_bytes(b"")


HOSTILE = {
    "cut.pth": (_truncated_pth, "not a readable torch checkpoint"),
    "objects.npz": (_object_npz, "evil.weight: an object array (dtype=object)"),
    "forged.safetensors": (_absurd_header, "header length 1152921504606846976 does not fit"),
    "dtype.safetensors": (_unhashable_dtype, "tensor 'w' has no valid dtype/shape/data_offsets"),
    "empty.npz": (_empty_npz, "not a readable .npz archive"),
}


@pytest.mark.parametrize("command", ["analyze", "spectra"])
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_file_is_one_line_and_exit_2(capsys, tmp_path, command, name):
    make, expected = HOSTILE[name]
    path = tmp_path / name
    make(path)
    out = tmp_path / "out"
    argv = [command, str(path), "--out", str(out / "s.nc" if command == "spectra" else out)]
    assert main([*argv, "--fast"] if command == "analyze" else argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"rmtfit {command}: error: {path}: "), err
    assert expected in err and "Traceback" not in err
    assert not out.exists()


def test_a_tensor_in_two_shards_fails_alone(capsys, tmp_path):
    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    save_file({"w.weight": rng.standard_normal((40, 20))}, str(tmp_path / "s1.safetensors"))
    save_file(
        {"w.weight": rng.standard_normal((40, 20)), "v.weight": rng.standard_normal((40, 20))},
        str(tmp_path / "s2.safetensors"),
    )
    weight_map = {"w.weight": "s1.safetensors", "v.weight": "s2.safetensors"}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    out = tmp_path / "out"
    assert main(["analyze", str(tmp_path), "--fast", "-q", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("failed: w.weight: duplicate tensor name; model.safetensors.index.json")
    report = json.loads((out / "report.json").read_text())
    statuses = sorted((layer["name"], layer["status"]) for layer in report["layers"])
    assert statuses == [("v.weight", "ok"), ("w.weight", "failed"), ("w.weight", "ok")]
