"""What the terminal shows: a summary that fits 80 columns, ``--wide``, ``--json``, ``--verbose``,
and no library warning, warning source line or traceback on stderr (``rmtfit demo`` included)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from rmtfit.cli import main
from rmtfit.report import HOW_TO_READ, shorten_middle

LONG_NAMES = (
    "encoder.layer.11.attention.output.dense.weight",
    "model.blocks.3.mlp.experts.17.down_proj.weight",
    "fc.weight",
    "decoder.layers.0.self_attn.q_proj.weight",
)


@pytest.fixture(scope="module")
def long_names(tmp_path_factory) -> Path:
    rng = np.random.default_rng(1)
    path = tmp_path_factory.mktemp("names") / "names.npz"
    np.savez(path, **{n: rng.standard_normal((60, 30 + 5 * i)) for i, n in enumerate(LONG_NAMES)})
    return path


def _run(*argv: str, columns: int = 80, timeout: int = 600) -> subprocess.CompletedProcess:
    """``rmtfit ARGV`` in a fresh process, off a terminal, ``columns`` wide."""
    env = {**os.environ, "COLUMNS": str(columns), "PYTHONWARNINGS": "default"}
    env.pop("TERM", None)
    code = "import sys; from rmtfit.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def _table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"^\s*\d+\s", line)]


def _assert_quiet(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr[-3000:]
    assert "FutureWarning" not in stderr and "UserWarning" not in stderr, stderr[-3000:]
    assert "DiagnosticsWarning" not in stderr, stderr[-3000:]
    assert not re.search(r"^\S+\.py:\d+: \w*Warning", stderr, re.M), stderr[-3000:]
    assert not re.search(r"^\s+\w+ = \w+\($", stderr, re.M), stderr[-3000:]  # a source line


def test_summary_fits_80_columns_with_every_name_on_one_line(long_names, tmp_path):
    done = _run("analyze", str(long_names), "--fast", "--out", str(tmp_path / "o"))
    assert done.returncode == 0, done.stderr
    assert max(len(line) for line in done.stdout.splitlines()) <= 80
    rows = _table_rows(done.stdout)
    assert len(rows) == len(LONG_NAMES)
    for name in LONG_NAMES:
        shown = [row for row in rows if name in row]
        if not shown:  # shortened in the middle: its start and its end on one line
            shown = [row for row in rows if re.search(rf"{re.escape(name[:6])}\S*…\S*{re.escape(name[-6:])}", row)]  # fmt: skip
        assert len(shown) == 1, (name, done.stdout)
    assert "fc.weight" in done.stdout  # a short name is never shortened
    _assert_quiet(done.stderr)


def test_wide_shows_every_column_and_every_name_in_full(long_names, tmp_path):
    done = _run("analyze", str(long_names), "--fast", "--wide", "--out", str(tmp_path / "o"))
    assert done.returncode == 0, done.stderr
    rows = _table_rows(done.stdout)
    for name in LONG_NAMES:
        assert sum(name in row for row in rows) == 1, name
    header = next(line for line in done.stdout.splitlines() if "layer" in line and "#" in line)
    for column in ("N x M", "alpha", "xmin", "spikes", "evals", "lambda_max"):
        assert column in header


def test_shorten_middle_keeps_both_ends():
    name = "model.blocks.3.mlp.experts.17.down_proj.weight"
    short = shorten_middle(name, 20)
    assert short == "model.blo…roj.weight"  # 9 characters before the ellipsis, 10 after
    assert len(shorten_middle(name, 7)) == 7
    assert shorten_middle("fc.weight", 20) == "fc.weight"


def test_json_prints_the_report_to_stdout_and_nothing_else(long_names, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["analyze", str(long_names), "--fast", "--json", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    printed = json.loads(captured.out)  # stdout is one JSON document
    assert printed == json.loads((out / "report.json").read_text())
    assert "rmtfit fast analysis" in captured.err  # the table went to stderr


def _warning_pipeline(monkeypatch):
    """Make the pipeline raise the warnings a real run raises (ArviZ, NumPyro, rmtfit's)."""
    import rmtfit.pipeline
    from rmtfit.inference import DiagnosticsWarning

    real = rmtfit.pipeline.analyze

    def noisy(*args, **kwargs):
        warnings.warn("ArviZ is undergoing a major refactor", FutureWarning, stacklevel=2)
        warnings.warn(
            "There are not enough devices to run parallel chains", UserWarning, stacklevel=2
        )
        warnings.warn("layer 'fc.weight', likelihood 'mp_spikes': ess_bulk 243 < 400", DiagnosticsWarning, stacklevel=2)  # fmt: skip
        return real(*args, **kwargs)

    monkeypatch.setattr(rmtfit.pipeline, "analyze", noisy)


def test_library_warnings_stop_at_the_command_line(long_names, tmp_path, capsys, monkeypatch):
    _warning_pipeline(monkeypatch)
    assert main(["analyze", str(long_names), "--fast", "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    _assert_quiet(err)
    assert "ArviZ" not in err and "ess_bulk" not in err and "parallel chains" not in err


def test_verbose_prints_each_warning_on_one_line(long_names, tmp_path, capsys, monkeypatch):
    _warning_pipeline(monkeypatch)
    argv = ["analyze", str(long_names), "--fast", "--verbose", "--out", str(tmp_path / "o")]
    assert main(argv) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("warning (")]
    assert "warning (FutureWarning): ArviZ is undergoing a major refactor" in lines
    assert "warning (UserWarning): There are not enough devices to run parallel chains" in lines
    assert any("(DiagnosticsWarning)" in line and "ess_bulk" in line for line in lines)
    assert "Traceback" not in err and not re.search(r"^\S+\.py:\d+:", err, re.M)


def test_demo_fast_is_quiet_and_ends_with_how_to_read_it(tmp_path):
    done = _run("demo", "--fast", "--out", str(tmp_path / "demo"), timeout=300)
    assert done.returncode == 0, done.stderr
    _assert_quiet(done.stderr)
    lines = done.stdout.rstrip("\n").splitlines()
    assert lines[-2:] == list(HOW_TO_READ)
    assert all(len(line) <= 80 for line in HOW_TO_READ)


@pytest.mark.slow
def test_the_real_demo_is_quiet_and_its_layers_get_phases(tmp_path):
    """The full ``rmtfit demo`` as a user runs it (a minute or more on two busy cores)."""
    out = tmp_path / "demo"
    done = _run("demo", "--out", str(out), timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    _assert_quiet(done.stderr)
    assert done.stdout.rstrip("\n").splitlines()[-2:] == list(HOW_TO_READ)
    report = json.loads((out / "report.json").read_text())
    phases = {
        layer["phase"]["map"]
        for layer in report["layers"]
        if layer["status"] == "ok" and layer["phase"] and layer["phase"]["map"]
    }
    assert len(phases) >= 2, phases  # the demo shows layers in different phases
    assert all(layer["num_evals"] >= 48 for layer in report["layers"] if layer["status"] == "ok")
