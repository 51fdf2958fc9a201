"""rmtfit.track: the series of checkpoints, the trajectory, its files and the command."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from rmtfit.cli import main
from rmtfit.network import compare_networks
from rmtfit.track import (
    NETWORK,
    TRAJECTORY_FILES,
    checkpoint_series,
    track,
    write_trajectory,
)
from rmtfit.track._track import analyze_checkpoint

pytestmark = [
    pytest.mark.filterwarnings("ignore::rmtfit.inference.DiagnosticsWarning"),
    pytest.mark.filterwarnings("ignore::rmtfit.comparison.HighParetoKWarning"),
]

FIT = {"draws": 200, "chains": 2, "likelihoods": "power_law,mp_spikes"}


def _touch(folder: Path, *names: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")
    return [folder / n for n in names]


def test_series_from_a_folder_in_natural_order_with_steps_from_names(tmp_path):
    _touch(
        tmp_path / "run", "step-10.safetensors", "step-9.safetensors", "step-100.pt", "notes.txt"
    )
    series = checkpoint_series([tmp_path / "run"])
    assert [c.label for c in series] == ["step-9", "step-10", "step-100"]
    assert [c.step for c in series] == [9.0, 10.0, 100.0]


def test_series_steps_given_or_by_position(tmp_path):
    a, b, c = _touch(tmp_path, "init.safetensors", "early.safetensors", "final.safetensors")
    assert [s.step for s in checkpoint_series([a, b, c])] == [0.0, 1.0, 2.0]
    assert [s.step for s in checkpoint_series([a, b, c], steps=[0, 130, 200])] == [0, 130, 200]


def test_series_sorted_by_the_steps_in_their_names(tmp_path):
    late, early = _touch(tmp_path, "ckpt-2000.safetensors", "ckpt-500.safetensors")
    assert [s.label for s in checkpoint_series([late, early])] == ["ckpt-500", "ckpt-2000"]


@pytest.mark.parametrize(("steps", "match"), [([0], "2 checkpoints"), ([5, 1], "not increasing")])
def test_series_bad_steps(tmp_path, steps, match):
    paths = _touch(tmp_path, "a.safetensors", "b.safetensors")
    with pytest.raises(ValueError, match=match):
        checkpoint_series(paths, steps=steps)


def test_series_needs_two_checkpoints(tmp_path):
    (one,) = _touch(tmp_path, "only.safetensors")
    with pytest.raises(ValueError, match="two or more checkpoints"):
        checkpoint_series([one])
    with pytest.raises(FileNotFoundError, match="missing"):
        checkpoint_series([one, tmp_path / "missing.safetensors"])


def _run_checkpoints(folder: Path) -> list[Path]:
    """Three snapshots of a 'training run': the tail of the weights gets heavier each time."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(3)
    folder.mkdir()
    paths = []
    gauss = {f"fc{i}.weight": rng.standard_normal((200, 100)) for i in range(2)}
    for step, mu in ((0, None), (100, 3.0), (200, 1.5)):
        weights = {}
        for name, w in gauss.items():
            heavy = rng.standard_t(mu, w.shape) if mu else 0
            weights[name] = (w + (heavy if mu else 0)).astype(np.float32)
        weights["fc0.bias"] = np.zeros(100, np.float32)
        path = folder / f"step-{step}.safetensors"
        save_file(weights, str(path))
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    paths = _run_checkpoints(tmp_path_factory.mktemp("track") / "run")
    return paths, track([paths[0].parent], quiet=True, **FIT)


def test_trajectory_lines_up_layers_and_network(run):
    paths, trajectory = run
    assert trajectory.steps == (0.0, 100.0, 200.0)
    assert trajectory.layers == ("fc0.weight", "fc1.weight", NETWORK)
    for name in trajectory.layers:
        assert len(trajectory.alpha[name]) == 3 and len(trajectory.decreased[name]) == 2
        for phases in trajectory.phases[name]:
            assert sum(phases.values()) == pytest.approx(1.0, abs=1e-6)
    assert all(not f for f in trajectory.failed)


def test_heavier_tails_make_alpha_decrease(run):
    """The planted tails get heavier at each step: alpha falls, with high probability."""
    _, trajectory = run
    last = trajectory.decreased[NETWORK][-1]
    assert last > 0.95, trajectory.decreased
    means = [a["mean"] for a in trajectory.alpha[NETWORK]]
    assert means[2] < means[0]


def test_p_decreased_is_the_network_comparison(run):
    """P(alpha decreased) is 1 - P(A < B) of rmtfit.network.compare_networks on the same draws."""
    paths, trajectory = run
    options = {**FIT, "quiet": True, "layers": None, "device": "auto", "ci_prob": 0.9}
    a = analyze_checkpoint(trajectory.checkpoints[1], {**options, "seed": 1})
    b = analyze_checkpoint(trajectory.checkpoints[2], {**options, "seed": 2})
    rows = compare_networks(a.network, b.network, seed=1).rows
    net = next(r for r in rows if r["metric"] == "alpha" and r["layer_a"] not in a.network.layers)
    assert trajectory.decreased[NETWORK][1] == pytest.approx(1 - net["p_a_below_b"], abs=0)
    # alpha's summary at a step is the mean, sd and equal-tailed 90% interval of that
    # checkpoint's draws (a layer's and the network's)
    for name in trajectory.layers:
        draws = a.network.network["alpha"] if name == NETWORK else a.network.draws[name]["alpha"]
        summary = trajectory.alpha[name][1]
        assert summary["mean"] == pytest.approx(np.mean(draws), rel=1e-12)
        assert summary["sd"] == pytest.approx(np.std(draws, ddof=1), rel=1e-12)
        assert np.mean(draws < summary["low"]) == pytest.approx(0.05, abs=2 / draws.size)
        assert np.mean(draws > summary["high"]) == pytest.approx(0.05, abs=2 / draws.size)


def test_files_are_written_and_consistent(run, tmp_path):
    _, trajectory = run
    paths = write_trajectory(trajectory, tmp_path / "out")
    assert sorted(p.name for p in paths.values()) == sorted(TRAJECTORY_FILES)
    data = json.loads(paths["trajectory.json"].read_text())
    assert data["format"] == "rmtfit.trajectory/1"
    assert data["layers"][NETWORK]["p_alpha_decreased"] == list(trajectory.decreased[NETWORK])
    with open(paths["trajectory.csv"], newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 * len(trajectory.layers)
    assert paths["trajectory.png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = paths["trajectory.html"].read_text()
    assert "data:image/png;base64," in page and "fc1.weight" in page
    assert "http://" not in page and "https://" not in page


def test_an_unreadable_checkpoint_is_a_hole(run, tmp_path):
    paths, _ = run
    broken = tmp_path / "step-150.safetensors"
    broken.write_bytes(b"garbage, not safetensors")
    trajectory = track([paths[0], paths[1], broken], quiet=True, **FIT)
    assert "not a valid safetensors file" in trajectory.failed[2]["*"]
    assert trajectory.alpha[NETWORK][2] is None
    assert trajectory.decreased[NETWORK][1] is None
    assert trajectory.alpha[NETWORK][0] is not None


def test_cli_track(run, tmp_path, capsys):
    paths, _ = run
    out = tmp_path / "cli"
    code = main(
        [
            "track",
            *map(str, paths[:2]),
            "--out",
            str(out),
            "--draws",
            "200",
            "--chains",
            "2",
            "--likelihoods",
            "power_law,mp_spikes",
            "--no-figure",
            "--layers",
            "fc0",
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "step 100" in text and "P(alpha decreased)" in text
    data = json.loads((out / "trajectory.json").read_text())
    assert list(data["layers"]) == ["fc0.weight", NETWORK]
    assert not (out / "trajectory.png").exists()
    assert main(["track", str(paths[0])]) == 2  # one checkpoint is no trajectory
