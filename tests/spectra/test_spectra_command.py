"""``rmtfit spectra``: table, netCDF output, exit codes 0 / 1 / 2, one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from rmtfit.cli import main
from rmtfit.spectra import Spectra, default_network_path, load_spectra


def save_safetensors(path, arrays):
    from safetensors.numpy import save_file

    save_file(arrays, str(path))
    return path


def test_default_network_without_arguments(capsys, tmp_path):
    out = tmp_path / "default.nc"
    assert main(["spectra", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for text in (
        "fc1.weight",
        "conv2d",
        "lambda_max",
        "stable rank",
        "Tensors not analysed",
        "fc1.bias",
    ):
        assert text in printed
    assert f"wrote {out}" in printed
    assert Spectra.from_netcdf(out) == load_spectra(default_network_path())


def test_options_reach_the_loader(capsys, tmp_path):
    out = tmp_path / "s.nc"
    args = ["spectra", str(default_network_path()), "-o", str(out), "--conv", "slices"]
    args += ["--include", "conv2", "--method", "svd", "--quiet"]
    assert main(args) == 0
    assert capsys.readouterr().out == ""
    spectra = Spectra.from_netcdf(out)
    assert spectra.names == [f"conv2.weight[{i},{j}]" for i in range(3) for j in range(3)]
    assert spectra.meta["method"] == "svd"


def test_failed_layer_exits_1_and_still_writes(capsys, tmp_path, rng):
    bad = rng.standard_normal((5, 5))
    bad[0, 0] = np.nan
    path = save_safetensors(tmp_path / "m.safetensors", {"bad.weight": bad, "ok.weight": np.eye(5)})
    out = tmp_path / "m.nc"
    assert main(["spectra", str(path), "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "FAILED: contains 1 NaN" in printed
    assert Spectra.from_netcdf(out).names == ["ok.weight"]
    assert main(["spectra", str(path), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert (
        err.strip()
        == "rmtfit spectra: layer bad.weight failed: contains 1 NaN and 0 Inf values; the layer was not analysed"
    )


@pytest.mark.parametrize(
    ("make_args", "expected"),
    [
        (
            lambda p: ["spectra", str(p / "missing.safetensors")],
            "missing.safetensors: no such file",
        ),
        (lambda p: ["spectra", str(p / "garbage.safetensors")], "not a valid safetensors file"),
        (
            lambda p: ["spectra", str(default_network_path()), "--include", "("],
            "regular expression",
        ),
        (
            lambda p: ["spectra", "--out", str(p / "no" / "such" / "dir.nc")],
            "directory does not exist",
        ),
    ],
    ids=["missing", "garbage", "bad-regex", "bad-out-dir"],
)
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, make_args, expected):
    (tmp_path / "garbage.safetensors").write_bytes(b"\x00" * 3 + b"garbage" * 10)
    assert main(make_args(tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rmtfit spectra: error: ")
    assert expected in err
    assert "Traceback" not in err


def test_bad_choice_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["spectra", "--backend", "cupy"])
    assert info.value.code == 2


def test_progress_bar_for_many_layers_on_a_terminal(capsys, monkeypatch):
    """``progress=True`` draws a bar on stderr for 20 tensors or more, and none for fewer."""
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich draws live displays only on a terminal
    many = {f"l{i}.weight": np.eye(3) * (i + 1) for i in range(25)}
    with_bar = load_spectra(many, progress=True)
    err = capsys.readouterr().err
    assert "spectra of <mapping>" in err and "25/25" in err
    assert with_bar == load_spectra(many)
    load_spectra(dict(list(many.items())[:5]), progress=True)
    assert capsys.readouterr().err == ""
