"""The ``rmtfit`` command itself: version, help, exit codes, ``--debug``, Ctrl-C, interrupted writes.

Every test calls :func:`rmtfit.cli.main` in this process (one subprocess test checks what a
user sees in a shell). The checkpoints are tiny ``.npz`` files of two 40 x 20 matrices.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rmtfit
from rmtfit.cli import main

REPORT_FILES = ("report.json", "layers.csv", "report.html", "fits.nc")


def tiny_checkpoint(path: Path, seed: int = 0) -> Path:
    """Two 40 x 20 Gaussian matrices and a bias, saved with ``np.savez``."""
    rng = np.random.default_rng(seed)
    arrays = {
        "l1.weight": rng.standard_normal((40, 20)),
        "l2.weight": rng.standard_normal((40, 20)),
        "l1.bias": rng.standard_normal(40),
    }
    np.savez(path, **arrays)
    return path


def one_error_line(err: str, command: str) -> str:
    """The single ``rmtfit <command>: error: ...`` line of ``err`` (no traceback)."""
    assert err.count("\n") == 1, err
    assert err.startswith(f"rmtfit {command}: error: "), err
    assert "Traceback" not in err
    return err.strip()


def leftovers(folder: Path) -> list[str]:
    """Report files and temporary files or folders in ``folder`` (nothing when it is missing)."""
    if not folder.exists():
        return []
    return sorted(
        p.name for p in folder.iterdir() if p.name in REPORT_FILES or p.name.startswith(".")
    )


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"rmtfit {rmtfit.__version__}\n"


def test_no_command_prints_the_help_on_stderr_and_exits_2(capsys):
    assert main([]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("usage: rmtfit")
    for command in ("spectra", "analyze", "demo", "compare"):
        assert command in captured.err


def test_an_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["spectra", "{missing}"],
        ["analyze", "{missing}", "--fast"],
        ["compare", "{missing}", "{good}"],
        ["compare", "{good}", "{missing}"],
    ],
    ids=["spectra", "analyze", "compare-a", "compare-b"],
)
def test_a_missing_path_is_one_line_and_exit_2(capsys, tmp_path, argv):
    good = tiny_checkpoint(tmp_path / "good.npz")
    missing = tmp_path / "missing.npz"
    argv = [a.format(missing=missing, good=good) for a in argv]
    assert main(argv) == 2
    line = one_error_line(capsys.readouterr().err, argv[0])
    assert f"{missing}: no such file" in line and "check the path" in line
    with pytest.raises(FileNotFoundError, match="missing.npz: no such file"):
        main(["--debug", *argv])  # --debug re-raises, so Python prints the traceback


def test_debug_shows_the_traceback_in_a_shell(tmp_path):
    """What a user sees: without --debug one line and exit 2; with it Python's traceback."""
    code = "import sys; from rmtfit.cli import main; sys.exit(main())"
    missing = str(tmp_path / "missing.npz")
    plain = subprocess.run(
        [sys.executable, "-c", code, "analyze", missing, "--fast"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert plain.returncode == 2 and plain.stdout == ""
    one_error_line(plain.stderr, "analyze")
    debug = subprocess.run(
        [sys.executable, "-c", code, "--debug", "analyze", missing, "--fast"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert debug.returncode == 1  # an uncaught exception
    assert "Traceback (most recent call last)" in debug.stderr
    assert "FileNotFoundError: " in debug.stderr and "missing.npz: no such file" in debug.stderr


def test_ctrl_c_exits_130_and_leaves_no_report(capsys, tmp_path, monkeypatch):
    import rmtfit.pipeline

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(rmtfit.pipeline, "analyze", interrupted)
    out = tmp_path / "out"
    path = tiny_checkpoint(tmp_path / "tiny.npz")
    assert main(["analyze", str(path), "--fast", "--out", str(out)]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert leftovers(out) == []


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize("where", ["plots", "moves"])
def test_ctrl_c_while_writing_leaves_only_whole_files(capsys, tmp_path, monkeypatch, where):
    """Interrupted halfway through a rewrite (while drawing the figures, or between two of the
    final renames): every report file is whole, the old one or the new one, and no staging
    folder or temporary file is left behind."""
    import rmtfit.report._plots as plots_module
    import rmtfit.report._write as write_module

    path = tiny_checkpoint(tmp_path / "tiny.npz")
    out, complete = tmp_path / "out", tmp_path / "complete"
    argv = ["analyze", str(path), "--fast", "-q", "--plots"]
    assert main([*argv, "--layers", "l1", "--out", str(out)]) == 0  # the old report
    assert main([*argv, "--out", str(complete)]) == 0  # what the new one looks like
    old, new = _snapshot(out), _snapshot(complete)
    assert old["report.json"] != new["report.json"]

    if where == "plots":
        real = plots_module.all_figures

        def figures(analysis):
            for count, item in enumerate(real(analysis)):
                if count == 2:
                    raise KeyboardInterrupt
                yield item

        monkeypatch.setattr(plots_module, "all_figures", figures)
    else:
        real_replace = write_module.os.replace

        def replace(src, dst):
            if Path(dst).name == "report.json":  # plots/ and layers.csv are already in place
                raise KeyboardInterrupt
            real_replace(src, dst)

        monkeypatch.setattr(write_module.os, "replace", replace)
    assert main([*argv, "--out", str(out)]) == 130
    assert "interrupted" in capsys.readouterr().err
    monkeypatch.undo()

    now = _snapshot(out)
    assert not [name for name in now if Path(name).name.startswith(".")]  # no temp files
    assert not [p for p in out.iterdir() if p.name.startswith(".rmtfit-tmp-")]
    if where == "plots":
        assert now == old  # nothing was moved yet
    else:
        assert now["layers.csv"] == new["layers.csv"] and now["report.json"] == old["report.json"]
    for name in ("report.json", "layers.csv", "report.html"):
        assert now[name] in (old[name], new[name]), name
    json.loads(now["report.json"])
