"""The subject-network zoo in models/: the manifest agrees with the files and the recipes.

The checkpoints are committed; these tests check that every file the manifest names is
there with the recorded sha256 and tensor shapes, that nothing is there that the
manifest does not name, that the records match the recipes in ``models/train.py``, that
the teacher-student data regenerate to the recorded digest, and that training is
deterministic (a short digits recipe and a short teacher-student recipe, each trained
twice in fresh processes, give byte-identical files).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"
MANIFEST = MODELS / "manifest.json"
DIGITS = "sklearn digits"
TEACHER_STUDENT = "teacher-student (Gaussian inputs, random tanh teacher)"
SIZES = {DIGITS: (1437, 360), TEACHER_STUDENT: (20_000, 5_000)}
"""Training and test set sizes of each data set, by the manifest's ``data`` name."""
DIGITS_BUDGET = 30 * 2**20
TEACHER_STUDENT_BUDGET = 8_000_000
"""Bytes of checkpoints allowed per data set: the digits zoo, then the teacher-student sweep."""


def _manifest() -> dict:
    with open(MANIFEST, encoding="utf-8") as handle:
        return json.load(handle)


def _entries() -> list[dict]:
    return _manifest()["checkpoints"]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def train_module():
    """models/train.py imported as a module (it imports its sibling networks.py).

    The module is registered in ``sys.modules`` before it runs, as ``dataclasses`` needs
    to resolve the string annotations of ``Recipe``.
    """
    sys.path.insert(0, str(MODELS))
    try:
        spec = importlib.util.spec_from_file_location("zoo_train", MODELS / "train.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(MODELS))
    return module


def test_manifest_has_checkpoints():
    manifest = _manifest()
    assert manifest["schema"] == 1
    names = [entry["name"] for entry in manifest["checkpoints"]]
    assert len(names) == len(set(names)), f"duplicate names in manifest: {names}"
    architectures = {entry["architecture"] for entry in manifest["checkpoints"]}
    assert architectures == {"minialexnet", "lenet5", "mlp", "student"}
    sweep = sorted(
        e["batch_size"]
        for e in manifest["checkpoints"]
        if e["architecture"] == "minialexnet" and e["epochs"] > 0
    )
    assert sweep[0] <= 2 and sweep[-1] >= 1000, f"MiniAlexNet sweep covers only batch sizes {sweep}"


def test_student_sweep_varies_only_the_batch_size():
    """The teacher-student sweep: every power of 2 from 1 to 1024, one lr, one epoch count."""
    sweep = [
        e
        for e in _entries()
        if e["architecture"] == "student" and e["name"] == f"student_bs{e['batch_size']:04d}"
    ]
    assert [e["batch_size"] for e in sweep] == [2**k for k in range(11)]
    assert len({e["epochs"] for e in sweep}) == 1 and sweep[0]["epochs"] > 0
    assert len({json.dumps(e["optimizer"], sort_keys=True) for e in sweep}) == 1
    assert len({e["seed"] for e in sweep}) == 1 and len({e["data_sha256"] for e in sweep}) == 1
    for e in sweep:  # the two large weight matrices carry at least 128 eigenvalues each
        assert min(e["tensors"]["fc1.weight"]) >= 128 and min(e["tensors"]["fc2.weight"]) >= 128


def test_teacher_student_data_regenerate(train_module):
    """The teacher-student data set is a pure function of its seed: same digest as recorded."""
    data = train_module.teacher_student.load_data()
    assert data["x_train"].shape == (SIZES[TEACHER_STUDENT][0], 128)
    assert data["x_test"].shape == (SIZES[TEACHER_STUDENT][1], 128)
    counts = np.bincount(data["y_train"].numpy(), minlength=10)
    assert counts.min() > 0.5 * counts.mean(), f"unbalanced teacher labels {counts}"
    recorded = {e["data_sha256"] for e in _entries() if e["data"] == TEACHER_STUDENT}
    assert recorded == {data["sha256"]}


@pytest.mark.parametrize("entry", _entries(), ids=lambda entry: entry["name"])
def test_checkpoint_file_matches_manifest(entry):
    from safetensors.numpy import load_file

    path = MODELS / entry["file"]
    assert path.is_file(), (
        f"{entry['name']}: {path} is missing; run `python models/train.py --config {entry['name']}`"
    )
    assert _sha256(path) == entry["sha256"], (
        f"{entry['name']}: sha256 of {path} differs from the manifest"
    )
    tensors = load_file(path)
    assert {key: list(value.shape) for key, value in tensors.items()} == entry["tensors"]
    for key, value in tensors.items():
        assert value.dtype == np.float32, f"{entry['name']}:{key} is {value.dtype}"
        assert np.all(np.isfinite(value)), f"{entry['name']}:{key} has non-finite values"


@pytest.mark.parametrize("entry", _entries(), ids=lambda entry: entry["name"])
def test_manifest_entry_is_consistent(entry, train_module):
    recipe = train_module.RECIPES[entry["name"]]
    assert entry["file"] == f"checkpoints/{entry['name']}.safetensors"
    assert entry["architecture"] == recipe.architecture
    assert entry["batch_size"] == recipe.batch_size
    assert entry["epochs"] == recipe.epochs
    assert entry["seed"] == recipe.seed
    assert entry["optimizer"] == {
        "name": "SGD",
        "lr": recipe.lr,
        "momentum": recipe.momentum,
        "weight_decay": recipe.weight_decay,
    }
    assert entry["note"] == recipe.note
    assert "max_steps" not in entry, f"{entry['name']} was cut short with --max-steps"
    assert entry["data"] == train_module.DATASETS[recipe.data]["name"]
    assert entry["data"] in SIZES, f"{entry['name']}: unknown data set {entry['data']!r}"
    n_train, n_test = SIZES[entry["data"]]
    assert entry["steps"] == recipe.epochs * math.ceil(n_train / recipe.batch_size)
    assert ("train_test_split" in entry["split"]) == (entry["data"] == DIGITS)
    for key in ("train_accuracy", "test_accuracy"):
        assert 0.0 <= entry[key] <= 1.0, f"{entry['name']}: {key} = {entry[key]}"
    # accuracies are fractions of the training and test set sizes
    assert abs(entry["train_accuracy"] * n_train - round(entry["train_accuracy"] * n_train)) < 1e-2
    assert abs(entry["test_accuracy"] * n_test - round(entry["test_accuracy"] * n_test)) < 1e-2
    assert entry["torch_version"]


def test_manifest_lists_every_checkpoint_present():
    present = {
        f"checkpoints/{path.name}" for path in (MODELS / "checkpoints").glob("*.safetensors")
    }
    listed = {entry["file"] for entry in _entries()}
    assert present == listed, (
        f"unlisted: {sorted(present - listed)}; missing: {sorted(listed - present)}"
    )


def test_manifest_covers_every_recipe(train_module):
    assert [entry["name"] for entry in _entries()] == list(train_module.RECIPES)


@pytest.mark.parametrize(("data", "budget"), [(DIGITS, DIGITS_BUDGET), (TEACHER_STUDENT, TEACHER_STUDENT_BUDGET)])  # fmt: skip
def test_zoo_stays_small(data, budget):
    entries = [entry for entry in _entries() if entry["data"] == data]
    assert entries, f"no {data} checkpoints in the manifest"
    total = sum((MODELS / entry["file"]).stat().st_size for entry in entries)
    assert total < budget, f"{data} checkpoints take {total} bytes; the budget is {budget}"


SHORT_RECIPES = ("minialexnet_bs0064", "student_bs0064")


def _start_short_training(out: Path) -> subprocess.Popen:
    """Start a 3-step run of the short recipes into ``out`` in a fresh process."""
    command = [
        sys.executable,
        str(MODELS / "train.py"),
        "--config",
        *SHORT_RECIPES,
        "--max-steps",
        "3",
        "--out",
        str(out),
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_training_is_reproducible(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    # two fresh processes at once: the cost is mostly importing torch, not the 3 steps
    processes = [_start_short_training(first), _start_short_training(second)]
    for process in processes:
        output, _ = process.communicate(timeout=120)
        assert process.returncode == 0, output
    written = {
        e["name"]: e for e in json.loads((first / "manifest.json").read_text())["checkpoints"]
    }
    assert sorted(written) == sorted(SHORT_RECIPES)
    recorded = {e["name"]: e for e in _entries()}
    for name, initial in zip(SHORT_RECIPES, ("minialexnet_init", "student_init"), strict=True):
        file_a = first / "checkpoints" / f"{name}.safetensors"
        file_b = second / "checkpoints" / f"{name}.safetensors"
        assert file_a.read_bytes() == file_b.read_bytes(), name
        entry = written[name]
        assert entry["sha256"] == _sha256(file_a)
        assert entry["steps"] == 3 and entry["max_steps"] == 3
        # three steps moved the weights away from the untrained initial checkpoint
        assert entry["sha256"] != recorded[initial]["sha256"], name


@pytest.fixture(scope="module")
def diagnose_module():
    """models/diagnose.py imported as a module."""
    spec = importlib.util.spec_from_file_location("zoo_diagnose", MODELS / "diagnose.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_diagnostic_sees_no_spike_in_a_gaussian_matrix(diagnose_module):
    matrix = np.random.default_rng(0).normal(scale=0.05, size=(1024, 384))
    row = diagnose_module.layer_diagnostic(matrix)
    assert row["shape"] == (1024, 384)
    assert row["spikes"] <= 2, row
    assert 0.95 < row["lmax_over_edge"] < 1.05, row
    assert row["small_fraction"] == 0.0
    # a planted rank-one signal with singular value 3x the bulk's edge is a spike
    rng = np.random.default_rng(1)
    u, v = rng.normal(size=1024), rng.normal(size=384)
    edge_singular_value = np.sqrt(1024) * 0.05 * (1 + np.sqrt(384 / 1024))
    spiked = matrix + 3 * edge_singular_value * np.outer(
        u / np.linalg.norm(u), v / np.linalg.norm(v)
    )
    spiked_row = diagnose_module.layer_diagnostic(spiked)
    assert spiked_row["spikes"] == row["spikes"] + 1, spiked_row
    assert spiked_row["lmax_over_edge"] > 5, spiked_row


def test_sweep_shows_the_batch_size_trend(diagnose_module):
    """What docs/zoo.md reports: over the trained MiniAlexNet sweep (batch size 4 to 1024),
    smaller batches give heavier tails (smaller alpha), more spikes and a top eigenvalue
    further beyond the MP edge; batch size 2 at lr 0.01 diverges to chance accuracy."""
    from safetensors.numpy import load_file
    from scipy.stats import spearmanr

    entries = {entry["name"]: entry for entry in _entries()}
    assert entries["minialexnet_bs0002"]["train_accuracy"] < 0.2
    assert entries["minialexnet_bs0002_lr0005"]["train_accuracy"] > 0.95
    sweep = [
        entry
        for entry in _entries()
        if entry["architecture"] == "minialexnet"
        and entry["epochs"] == 100
        and entry["optimizer"]["lr"] == 0.01
        and entry["batch_size"] >= 4
    ]
    assert len(sweep) == 9
    log_batch = [math.log(entry["batch_size"]) for entry in sweep]
    for layer in ("fc1.weight", "fc2.weight"):
        rows = [
            diagnose_module.layer_diagnostic(load_file(MODELS / entry["file"])[layer])
            for entry in sweep
        ]
        alpha = [row["alpha_top10"] for row in rows]
        edge_ratio = [row["lmax_over_edge"] for row in rows]
        spikes = [row["spikes"] for row in rows]
        assert spearmanr(log_batch, alpha).statistic > 0.9, (layer, alpha)
        assert spearmanr(log_batch, edge_ratio).statistic < -0.9, (layer, edge_ratio)
        assert spikes[0] > spikes[-1], (layer, spikes)


def test_student_sweep_trend_and_controls(diagnose_module):
    """What docs/zoo.md reports for the teacher-student sweep: fc1's tail gets heavier and its
    top eigenvalue moves beyond the MP edge as the batch shrinks; batch size 1024 trained for
    the steps of batch size 64 (16 times the epochs) has the spectrum of batch size 64."""
    from safetensors.numpy import load_file
    from scipy.stats import spearmanr

    entries = {entry["name"]: entry for entry in _entries()}

    def diagnostic(name: str, layer: str) -> dict:
        return diagnose_module.layer_diagnostic(load_file(MODELS / entries[name]["file"])[layer])

    sweep = [f"student_bs{2**k:04d}" for k in range(11)]
    log_batch = [math.log(entries[name]["batch_size"]) for name in sweep]
    rows = [diagnostic(name, "fc1.weight") for name in sweep]
    alpha = [row["alpha_top10"] for row in rows]
    edge_ratio = [row["lmax_over_edge"] for row in rows]
    assert spearmanr(log_batch, alpha).statistic > 0.9, alpha
    assert spearmanr(log_batch, edge_ratio).statistic < -0.9, edge_ratio
    long, short = entries["student_bs1024_ep0128"], entries["student_bs0064"]
    assert abs(long["steps"] - short["steps"]) < 0.05 * short["steps"]
    for layer in ("fc1.weight", "fc2.weight"):
        a, b = diagnostic(long["name"], layer), diagnostic(short["name"], layer)
        assert a["spikes"] == b["spikes"], (layer, a, b)
        assert a["lmax_over_edge"] == pytest.approx(b["lmax_over_edge"], rel=0.05), (layer, a, b)
