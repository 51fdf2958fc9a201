"""``rmtfit analyze`` and ``rmtfit demo``: every option, in fast and in (short) full mode.

The checkpoint is two 40 x 20 Gaussian matrices and a bias. Full-mode runs are short
(``--draws 50 --chains 2 --likelihoods power_law``): they check that the options reach the
report, not the statistics, so the sampler's diagnostics warnings are expected and ignored.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rmtfit.cli import main

SHORT = ["--draws", "50", "--chains", "2", "--likelihoods", "power_law"]
pytestmark = [
    pytest.mark.filterwarnings("ignore::rmtfit.inference.DiagnosticsWarning"),
    pytest.mark.filterwarnings("ignore::rmtfit.comparison.HighParetoKWarning"),
]


def tiny_checkpoint(path: Path, seed: int = 0, nan: bool = False) -> Path:
    """Two 40 x 20 Gaussian matrices (``l1``, ``l2``) and a bias; ``nan`` puts a NaN in l2."""
    rng = np.random.default_rng(seed)
    arrays = {
        "l1.weight": rng.standard_normal((40, 20)),
        "l2.weight": rng.standard_normal((40, 20)),
        "l1.bias": rng.standard_normal(40),
    }
    if nan:
        arrays["l2.weight"][3, 4] = np.nan
    np.savez(path, **arrays)
    return path


def one_error_line(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("rmtfit analyze: error: "), err
    assert "Traceback" not in err
    return err.strip()


def analysed(out: Path) -> dict[str, dict]:
    """Layer name -> its report.json record, for the layers that were analysed."""
    report = json.loads((out / "report.json").read_text())
    return {layer["name"]: layer for layer in report["layers"] if layer["status"] == "ok"}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.npz")


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, checkpoint):
    """One short full-mode run: its output folder and what it printed."""
    out = tmp_path_factory.mktemp("full") / "report"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["analyze", str(checkpoint), *SHORT, "--seed", "3", "--out", str(out)])
    return code, out, stdout.getvalue()


# --------------------------------------------------------------------------- modes


def test_fast_mode_writes_the_report_and_prints_the_table(capsys, tmp_path, checkpoint):
    out = tmp_path / "out"
    assert main(["analyze", str(checkpoint), "--fast", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert report["mode"] == "fast" and report["source"] == str(checkpoint)
    layers = analysed(out)
    assert sorted(layers) == ["l1.weight", "l2.weight"]
    for name, layer in layers.items():
        assert name in printed and f"{layer['classical']['alpha']:.3g}" in printed
        assert layer["posterior"] is None
    assert "fast mode" in printed  # Rich wraps at 80 columns off a terminal: join the lines
    assert f"report: {out / 'report.html'}" in printed.replace("\n", "")
    assert (out / "layers.csv").is_file()
    assert not (out / "plots").exists()  # PNG files only with --plots
    assert not (out / "fits.nc").exists()


def test_full_mode_fits_the_posteriors(full_run):
    code, out, printed = full_run
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["mode"] == "full" and report["likelihoods"] == ["power_law"]
    assert report["settings"]["draws"] == 50 and report["settings"]["chains"] == 2
    for name, layer in analysed(out).items():
        alpha = layer["posterior"]["alpha"]
        assert alpha["ci_low"] < alpha["mean"] < alpha["ci_high"]
        assert name in printed
    assert (out / "fits.nc").stat().st_size > 0


def test_a_failed_layer_exits_1_and_quiet_names_it_on_stderr(capsys, tmp_path):
    path = tiny_checkpoint(tmp_path / "nan.npz", nan=True)
    assert main(["analyze", str(path), "--fast", "-q", "--out", str(tmp_path / "out")]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("failed: l2.weight: ") and "NaN" in captured.err
    assert sorted(analysed(tmp_path / "out")) == ["l1.weight"]


def test_no_matrix_at_all_is_a_clear_error(capsys, tmp_path):
    path = tmp_path / "norms.npz"
    np.savez(path, **{"ln.weight": np.ones(20), "ln.bias": np.zeros(20)})
    out = tmp_path / "out"
    assert main(["analyze", str(path), "--fast", "--out", str(out)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"{path}: no weight matrix to analyse" in line and "1-D tensor" in line
    assert not out.exists()


# --------------------------------------------------------------------------- options


def test_layers_regex_selects_the_layers(tmp_path, checkpoint):
    out = tmp_path / "out"
    assert (
        main(["analyze", str(checkpoint), "--fast", "-q", "--layers", "l2", "--out", str(out)]) == 0
    )
    assert sorted(analysed(out)) == ["l2.weight"]
    csv = pd.read_csv(out / "layers.csv")
    assert csv.loc[csv["status"] == "ok", "name"].tolist() == ["l2.weight"]


def test_a_bad_layers_regex_is_exit_2(capsys, checkpoint):
    assert main(["analyze", str(checkpoint), "--fast", "--layers", "(l1"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "layers='(l1' is not a valid regular expression" in line


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ("power_law,nope", "unknown likelihood 'nope'"),
        ("", "--likelihoods '': give one or more comma-separated likelihood names"),
        (" , ", "give one or more comma-separated likelihood names"),
    ],
    ids=["unknown", "empty", "only-commas"],
)
def test_bad_likelihoods_are_exit_2_before_any_work(capsys, tmp_path, checkpoint, names, expected):
    out = tmp_path / "out"
    assert main(["analyze", str(checkpoint), "--likelihoods", names, "--out", str(out)]) == 2
    assert expected in one_error_line(capsys.readouterr().err)
    assert not out.exists()


def test_same_seed_same_report_other_seed_other_report(capsys, tmp_path, checkpoint, full_run):
    _, first, _ = full_run
    again, other = tmp_path / "again", tmp_path / "other"
    argv = ["analyze", str(checkpoint), *SHORT, "-q", "--no-plots"]
    assert main([*argv, "--seed", "3", "--out", str(again)]) == 0
    assert main([*argv, "--seed", "4", "--out", str(other)]) == 0
    assert capsys.readouterr().out == ""  # --quiet: nothing on stdout, in full mode too

    def without_times(path: Path) -> str:
        report = json.loads(path.read_text())
        report.get("settings", {}).pop("timings", None)
        report.pop("timings", None)
        return json.dumps(report)

    assert (again / "report.json").read_bytes() == (first / "report.json").read_bytes()
    assert without_times(other / "report.json") != without_times(first / "report.json")


@pytest.mark.parametrize(
    "option",
    [
        ["--seed", "-1"],
        ["--draws", "0"],
        ["--draws", "-5"],
        ["--chains", "0"],
        ["--chains", "-2"],
        ["--draws", "many"],
    ],
)
def test_out_of_range_numbers_are_usage_errors(capsys, checkpoint, option):
    with pytest.raises(SystemExit) as info:
        main(["analyze", str(checkpoint), *option])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option[0]}: " in err
    assert "must be >= " in err or "is not an integer" in err


def test_device_cpu(tmp_path, checkpoint):
    out = tmp_path / "out"
    assert (
        main(["analyze", str(checkpoint), "--fast", "-q", "--device", "cpu", "--out", str(out)])
        == 0
    )
    assert json.loads((out / "report.json").read_text())["settings"]["device"] == "cpu"


def test_device_cuda_uses_a_gpu_solver_or_says_there_is_no_gpu(tmp_path, checkpoint, capsys):
    """``--device cuda`` picks the torch (or JAX) solver: on a GPU machine it runs, on a CPU-only
    one it stops with the reason and the fix (it used to ask numpy for a GPU)."""
    import torch

    out = tmp_path / "out"
    code = main(["analyze", str(checkpoint), "--fast", "-q", "--device", "cuda", "--out", str(out)])
    if torch.cuda.is_available():
        assert code == 0
        report = json.loads((out / "report.json").read_text())
        assert report["settings"]["device"] == "cuda"
    else:
        assert code != 0
        err = capsys.readouterr().err
        assert "sees no CUDA GPU" in err and "device='cpu'" in err
        assert "numpy" not in err


def test_no_plots(tmp_path, checkpoint):
    out = tmp_path / "out"
    assert main(["analyze", str(checkpoint), "--fast", "-q", "--no-plots", "--out", str(out)]) == 0
    assert not (out / "plots").exists()
    assert "<img" not in (out / "report.html").read_text()


def test_quiet_prints_nothing(capsys, tmp_path, checkpoint):
    assert (
        main(["analyze", str(checkpoint), "--fast", "--quiet", "--out", str(tmp_path / "o")]) == 0
    )
    assert capsys.readouterr() == ("", "")


# --------------------------------------------------------------------------- --out


def test_default_out_is_named_after_the_input(tmp_path, checkpoint, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["analyze", str(checkpoint), "--fast", "-q"]) == 0
    assert (tmp_path / "tiny-rmtfit" / "report.json").is_file()


def test_an_existing_folder_gets_a_note_on_stderr(capsys, tmp_path, checkpoint):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["analyze", str(checkpoint), "--fast", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"note: {out} already exists and is not empty" in err
    assert (out / "notes.txt").read_text() == "mine" and (out / "report.json").is_file()
    assert main(["analyze", str(checkpoint), "--fast", "-q", "--out", str(out)]) == 0
    assert capsys.readouterr().err == ""  # --quiet: no note either


@pytest.mark.parametrize("where", ["file", "under-a-file"])
def test_out_that_cannot_be_a_folder_is_refused_before_any_work(
    capsys, tmp_path, checkpoint, monkeypatch, where
):
    import rmtfit.pipeline

    def must_not_run(*args, **kwargs):
        raise AssertionError("the analysis ran although --out is unusable")

    monkeypatch.setattr(rmtfit.pipeline, "analyze", must_not_run)
    blocker = tmp_path / "report"
    blocker.write_text("a file the user cares about")
    out = blocker if where == "file" else blocker / "sub"
    assert main(["analyze", str(checkpoint), "--fast", "--out", str(out)]) == 2
    line = one_error_line(capsys.readouterr().err)
    if where == "file":
        assert f"--out {out}: exists and is not a folder" in line
    else:
        assert f"--out {out}: {blocker} is a file, not a folder" in line
    assert blocker.read_text() == "a file the user cares about"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # nothing half-written


# --------------------------------------------------------------------------- demo


def test_demo_fast(capsys, tmp_path, monkeypatch):
    from rmtfit.spectra import default_network_path

    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--fast", "-q"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["mode"] == "fast" and report["source"] == str(default_network_path())
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--fast", "-q", "--no-plots"]) == 0
    assert (tmp_path / "rmtfit-demo" / "report.json").is_file()


@pytest.mark.slow
def test_demo_full(tmp_path):
    """The embedded network with the default likelihoods (about a minute on two cores)."""
    out = tmp_path / "demo"
    code = main(["demo", "--out", str(out), "--draws", "100", "--chains", "2", "-q"])
    assert code in (0, 1)
    report = json.loads((out / "report.json").read_text())
    assert report["mode"] == "full" and len(report["likelihoods"]) > 1
    assert any(layer["phase"] for layer in report["layers"] if layer["status"] == "ok")
    assert (out / "fits.nc").is_file() and (out / "report.html").is_file()


# --------------------------------------------------------------------------- terminal


def test_the_summary_names_every_layer_and_its_alpha(checkpoint):
    from rich.console import Console

    from rmtfit.pipeline import analyze
    from rmtfit.report import print_summary

    analysis = analyze(checkpoint, fast=True, quiet=True)
    console = Console(file=io.StringIO(), width=120)
    print_summary(analysis, console=console)
    text = console.file.getvalue()
    assert [layer.name for layer in analysis.analysed] == ["l1.weight", "l2.weight"]
    for layer in analysis.analysed:
        assert layer.name in text and f"{layer.classical.alpha:.3g}" in text
    assert "not analysed: 1 tensors" in text  # the bias
