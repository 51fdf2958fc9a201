"""``rmtfit compare A B``: the table, ``--out FILE.json`` with the network and layer rows, options.

A and B are tiny ``.npz`` checkpoints (two 40 x 20 matrices each; B's ``l1`` is scaled by 1.5)
fitted with short chains (``--draws 50 --chains 2``): the tests check the command, not the
statistics, so the sampler's diagnostics warnings are expected and ignored. ``compare`` fits the
default likelihoods (it has no ``--likelihoods``); compiling all of them takes half a minute on a
cold cache, so the quick tests set the default to ``power_law`` alone and one slow test runs the
real defaults.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from rmtfit.cli import main

SHORT = ["--draws", "50", "--chains", "2"]
METRICS = {"alpha", "alpha_weighted", "log_alpha_norm", "log_spectral_norm", "log_norm"}
pytestmark = [
    pytest.mark.filterwarnings("ignore::rmtfit.inference.DiagnosticsWarning"),
    pytest.mark.filterwarnings("ignore::rmtfit.comparison.HighParetoKWarning"),
]


@contextlib.contextmanager
def power_law_by_default() -> Iterator[None]:
    """Make ``power_law`` the only default likelihood (what ``compare`` fits) for a while."""
    import rmtfit.likelihoods

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rmtfit.likelihoods, "DEFAULT_LIKELIHOODS", ("power_law",))
        yield


def run_compare(argv: list[str]) -> tuple[int, str]:
    """``main(argv)``: its exit code and what it printed on stdout."""
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
        code = main(argv)
    return code, stdout.getvalue()


def tiny_checkpoint(path: Path, seed: int, scale: float = 1.0) -> Path:
    rng = np.random.default_rng(seed)
    arrays = {
        "l1.weight": scale * rng.standard_normal((40, 20)),
        "l2.weight": rng.standard_normal((40, 20)),
    }
    np.savez(path, **arrays)
    return str(path)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pair")
    return tiny_checkpoint(folder / "a.npz", 0), tiny_checkpoint(folder / "b.npz", 1, scale=1.5)


@pytest.fixture(scope="module")
def compared(tmp_path_factory, pair):
    """``rmtfit compare A B --out cmp.json``: the exit code, the JSON and what it printed."""
    out = tmp_path_factory.mktemp("compare") / "cmp.json"
    with power_law_by_default():
        code, printed = run_compare(["compare", *pair, *SHORT, "--out", str(out)])
    return code, json.loads(out.read_text()), printed


def test_compare_prints_the_table_and_writes_every_row(compared, pair):
    code, result, printed = compared
    assert code == 0
    rows = result["rows"]
    network = {r["metric"] for r in rows if r["layer_a"] == r["layer_b"] == "<network>"}
    assert network == METRICS
    for layer in ("l1.weight", "l2.weight"):
        assert {r["metric"] for r in rows if r["layer_a"] == r["layer_b"] == layer} == METRICS
    assert [m[:2] for m in result["matches"]] == [["l1.weight"] * 2, ["l2.weight"] * 2]
    assert result["unmatched_a"] == result["unmatched_b"] == []
    # the log norms are fixed numbers per layer: B - A is known from numpy's singular values
    # (the eigenvalues of W^T W are their squares), with no spread and a certain sign
    weights = [np.load(path) for path in pair]
    for layer in ("l1.weight", "l2.weight"):
        sv = [np.linalg.svd(w[layer], compute_uv=False) for w in weights]
        expected = {
            "log_spectral_norm": np.log10(sv[1].max() ** 2 / sv[0].max() ** 2),
            "log_norm": np.log10(np.sum(sv[1] ** 2) / np.sum(sv[0] ** 2)),
        }
        for metric, diff in expected.items():
            (row,) = [r for r in rows if r["metric"] == metric and r["layer_a"] == layer]
            for key in ("diff_low", "diff_mean", "diff_high"):
                assert row[key] == pytest.approx(diff, rel=1e-9, abs=1e-12), (layer, metric, key)
            assert row["p_a_below_b"] == (1.0 if diff > 0 else 0.0)
    # B's l1 is A's scaled by 1.5: its log spectral norm is larger for certain
    (norm,) = [
        r for r in rows if r["metric"] == "log_spectral_norm" and r["layer_a"] == "l1.weight"
    ]
    assert norm["p_a_below_b"] == 1.0
    assert "P(A < B)" in printed and f"A = {pair[0]}" in printed.replace("\n", "")


def test_layers_seed_and_quiet(capsys, tmp_path, pair):
    first, again = tmp_path / "first.json", tmp_path / "again.json"
    argv = ["compare", *pair, *SHORT, "--layers", "l1", "--seed", "5", "-q"]
    with power_law_by_default():
        assert main([*argv, "--out", str(first)]) == 0
        assert main([*argv, "--out", str(again)]) == 0
    assert capsys.readouterr().out == ""
    result = json.loads(first.read_text())
    assert {r["layer_a"] for r in result["rows"]} == {"<network>", "l1.weight"}
    assert first.read_bytes() == again.read_bytes()  # same seed, same comparison


def test_layers_that_match_nothing_is_exit_2(capsys, pair):
    assert main(["compare", *pair, *SHORT, "--layers", "nothing"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rmtfit compare: error: ")
    assert "no weight matrix matches layers='nothing'" in err


@pytest.mark.parametrize("where", ["folder", "under-a-file"])
def test_an_unusable_out_is_refused_before_any_work(capsys, tmp_path, pair, monkeypatch, where):
    import rmtfit.pipeline

    def must_not_run(*args, **kwargs):
        raise AssertionError("the analyses ran although --out is unusable")

    monkeypatch.setattr(rmtfit.pipeline, "analyze", must_not_run)
    if where == "folder":
        out = tmp_path / "results"
        out.mkdir()
        expected = f"--out {out}: is a folder; pass a file name, such as {out / 'comparison.json'}"
    else:
        (tmp_path / "results").write_text("x")
        out = tmp_path / "results" / "cmp.json"
        expected = f"--out {out}: {tmp_path / 'results'} is a file, not a folder"
    assert main(["compare", *pair, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


@pytest.mark.parametrize("option", [["--draws", "0"], ["--chains", "-1"], ["--seed", "-3"]])
def test_out_of_range_numbers_are_usage_errors(capsys, pair, option):
    with pytest.raises(SystemExit) as info:
        main(["compare", *pair, *option])
    assert info.value.code == 2 and "must be >= " in capsys.readouterr().err


@pytest.mark.slow
def test_compare_with_the_default_likelihoods(tmp_path, pair):
    """The real defaults (about 35 s on two cores with a cold compilation cache)."""
    out = tmp_path / "cmp.json"
    code, printed = run_compare(["compare", *pair, *SHORT, "--out", str(out)])
    assert code == 0 and "P(A < B)" in printed
    rows = json.loads(out.read_text())["rows"]
    assert {r["layer_a"] for r in rows} == {"<network>", "l1.weight", "l2.weight"}
    assert {r["metric"] for r in rows} == METRICS
