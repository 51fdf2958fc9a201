"""``rmtfit spectra``: each option reaches the loader, and bad values are one-line errors.

The checkpoint holds two linear layers of different sizes, a conv kernel, a fused q/k/v
projection and a bias; each option is checked against the spectra it must select or compute.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rmtfit.cli import main
from rmtfit.spectra import Spectra, default_network_path, load_spectra


def one_error_line(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("rmtfit spectra: error: "), err
    assert "Traceback" not in err
    return err.strip()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    from safetensors.numpy import save_file

    rng = np.random.default_rng(7)
    arrays = {
        "big.weight": rng.standard_normal((40, 20)),
        "small.weight": rng.standard_normal((40, 8)),
        "conv.weight": rng.standard_normal((12, 6, 3, 3)),
        "attn.qkv.weight": rng.standard_normal((3 * 12, 12)),
        "big.bias": rng.standard_normal(40),
    }
    path = tmp_path_factory.mktemp("spectra") / "net.safetensors"
    save_file(arrays, str(path))
    return path


def run(checkpoint: Path, out: Path, *options: str) -> Spectra:
    assert main(["spectra", str(checkpoint), "--out", str(out), "--quiet", *options]) == 0
    return Spectra.from_netcdf(out)


def test_default_network_table_on_stdout(capsys):
    assert main(["spectra"]) == 0
    printed = capsys.readouterr().out
    default = load_spectra(default_network_path())
    for name in default.names:
        assert name in printed
    assert f"{len(default)} spectra" in printed and "wrote" not in printed


def test_out_writes_the_spectra_and_says_so(capsys, tmp_path, checkpoint):
    out = tmp_path / "s.nc"
    assert main(["spectra", str(checkpoint), "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert Spectra.from_netcdf(out) == load_spectra(checkpoint)


def test_quiet_prints_nothing(capsys, tmp_path, checkpoint):
    run(checkpoint, tmp_path / "s.nc")
    assert capsys.readouterr() == ("", "")


def test_include_and_exclude(tmp_path, checkpoint):
    assert run(
        checkpoint, tmp_path / "a.nc", "--include", "weight$", "--exclude", "conv|qkv"
    ).names == [
        "big.weight",
        "small.weight",
    ]
    skipped = {
        s.name: s.reason for s in run(checkpoint, tmp_path / "b.nc", "--exclude", "big").skipped
    }
    assert "matches exclude='big'" in skipped["big.weight"]


def test_min_and_max_size(tmp_path, checkpoint):
    spectra = run(checkpoint, tmp_path / "s.nc", "--min-size", "9", "--max-size", "12")
    assert sorted(spectra.names) == ["attn.qkv.weight"]  # M = 12; big has M = 20, small M = 8
    reasons = {s.name: s.reason for s in spectra.skipped}
    assert reasons["small.weight"] == "M=8 is below min_size=9"
    assert reasons["big.weight"] == "M=20 is above max_size=12"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--min-size", "0"], "`min_size` must be an integer >= 1, got 0"),
        (
            ["--min-size", "5", "--max-size", "4"],
            "`max_size` must be None or an integer >= min_size=5",
        ),
        (["--include", "("], "regular expression"),
    ],
    ids=["min-size-0", "max-below-min", "bad-regex"],
)
def test_bad_option_values_are_one_line_errors(capsys, checkpoint, options, expected):
    assert main(["spectra", str(checkpoint), *options]) == 2
    assert expected in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    "options", [["--min-size", "many"], ["--conv", "diagonal"], ["--method", "qr"]]
)
def test_bad_option_types_and_choices_are_usage_errors(capsys, checkpoint, options):
    with pytest.raises(SystemExit) as info:
        main(["spectra", str(checkpoint), *options])
    assert info.value.code == 2
    assert "invalid" in capsys.readouterr().err


def test_conv_pooled_and_slices(tmp_path, checkpoint):
    pooled = run(checkpoint, tmp_path / "p.nc", "--include", "conv", "--conv", "pooled")
    slices = run(checkpoint, tmp_path / "s.nc", "--include", "conv", "--conv", "slices")
    assert pooled.names == ["conv.weight"] and pooled["conv.weight"].num_slices == 9
    assert slices.names == [f"conv.weight[{i},{j}]" for i in range(3) for j in range(3)]
    together = np.sort(np.concatenate([s.eigenvalues for s in slices]))
    np.testing.assert_allclose(pooled["conv.weight"].eigenvalues, together, rtol=1e-12)


def test_split_qkv(tmp_path, checkpoint):
    whole = run(checkpoint, tmp_path / "w.nc", "--include", "qkv")
    split = run(checkpoint, tmp_path / "s.nc", "--include", "qkv", "--split-qkv")
    assert whole.names == ["attn.qkv.weight"] and whole["attn.qkv.weight"].N == 36
    assert split.names == [f"attn.qkv.weight[{part}]" for part in "qkv"]
    assert all((s.N, s.M) == (12, 12) for s in split)


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
def test_backends_agree(tmp_path, checkpoint, backend):
    if backend == "torch":
        pytest.importorskip("torch")
    reference = load_spectra(checkpoint)
    spectra = run(checkpoint, tmp_path / "s.nc", "--backend", backend, "--device", "cpu")
    assert spectra.meta["backend"] == backend and spectra.meta["device"] == "cpu"
    assert spectra.names == reference.names
    for mine, ref in zip(spectra, reference, strict=True):
        scale = ref.eigenvalues.max()
        np.testing.assert_allclose(mine.eigenvalues, ref.eigenvalues, rtol=0, atol=1e-10 * scale)


def test_device_cuda_with_the_numpy_backend_is_a_clear_error(capsys, checkpoint):
    assert main(["spectra", str(checkpoint), "--device", "cuda"]) == 2
    assert "backend='numpy' runs on the CPU only" in one_error_line(capsys.readouterr().err)


def test_method_gram_and_svd_agree(tmp_path, checkpoint):
    gram = run(checkpoint, tmp_path / "g.nc", "--method", "gram")
    svd = run(checkpoint, tmp_path / "s.nc", "--method", "svd")
    assert gram.meta["method"] == "gram" and svd.meta["method"] == "svd"
    for a, b in zip(gram, svd, strict=True):
        np.testing.assert_allclose(a.eigenvalues, b.eigenvalues, rtol=0, atol=1e-10 * b.lambda_max)


def test_out_that_is_a_folder_is_refused_before_any_work(capsys, tmp_path, checkpoint):
    folder = tmp_path / "existing"
    folder.mkdir()
    assert main(["spectra", str(checkpoint), "--out", str(folder)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"--out {folder}: is a folder; pass a file name, such as {folder / 'spectra.nc'}" in line
    assert list(folder.iterdir()) == []
