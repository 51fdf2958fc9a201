"""A user's likelihood, written as a module outside the package, reaches every output.

The module is a built-in likelihood file copied verbatim (rmtfit/likelihoods/_spliced.py) with
the names it registers changed: it can only work if the built-ins use the public extension API
alone. It is imported in a fresh process (so the registry of this one stays as it is), registered
by its decorator, and ``rmtfit.analyze`` runs with it next to ``mp_spikes``. Its alpha must then
appear in report.json's posterior, in layers.csv, in the network metrics, and it must take part
in the phases, because every one of those reads the likelihood's declared roles.
"""

from __future__ import annotations

import ast
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILT_IN = REPO / "rmtfit" / "likelihoods" / "_spliced.py"

SCRIPT = r"""
import importlib.util, json, sys
import numpy as np

spec = importlib.util.spec_from_file_location("user_tails", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)

import rmtfit

rng = np.random.default_rng(0)
weights = {
    # very heavy entries (mu = 1.5): the phase weights are stacked on the eigenvalues above the
    # MP edge, where a power-law tail, the user's model, must explain them (mu = 2.5 is the
    # suite's ambiguous class, where mp_spikes' spikes took all the weight)
    "heavy.weight": rng.pareto(1.5, size=(300, 100)) * rng.choice([-1.0, 1.0], size=(300, 100)),
    "gauss.weight": rng.normal(size=(300, 100)),
}
analysis = rmtfit.analyze(
    weights, likelihoods=["mp_spikes", "user_spliced_pl"], out=sys.argv[2], seed=1,
    draws=300, chains=2, quiet=True,
)
print(json.dumps({
    "registered": "user_spliced_pl" in rmtfit.list_likelihoods(),
    "alpha_source": dict(analysis.network.alpha_source),
    "network_alpha": float(np.mean(analysis.network.network["alpha"])),
    "phase_kinds": {name: dict(p.model_kinds) for name, p in analysis.phases.items()},
    "phase_weights": {name: dict(p.model_weights) for name, p in analysis.phases.items()},
}))
"""


def _private_imports(source: str) -> list[str]:
    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rmtfit"):
            if any(part.startswith("_") for part in node.module.split(".")):
                bad.append(node.module)
            bad += [a.name for a in node.names if a.name.startswith("_")]
        elif isinstance(node, ast.Import):
            bad += [a.name for a in node.names if "._" in a.name and a.name.startswith("rmtfit")]
    return bad


@pytest.fixture(scope="module")
def user_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("user")
    source = BUILT_IN.read_text(encoding="utf-8").replace('"spliced_', '"user_spliced_')
    assert '"user_spliced_pl"' in source
    module = folder / "user_tails.py"
    module.write_text(source, encoding="utf-8")
    (folder / "script.py").write_text(SCRIPT, encoding="utf-8")
    out = folder / "report"
    done = subprocess.run(
        [sys.executable, str(folder / "script.py"), str(module), str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=folder,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return source, json.loads(done.stdout.strip().splitlines()[-1]), out


def test_the_copied_built_in_imports_only_public_names(user_run):
    source, _, _ = user_run
    assert _private_imports(source) == []


def test_its_alpha_is_the_report_posterior_and_the_csv_column(user_run):
    _, result, out = user_run
    assert result["registered"]
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert "user_spliced_pl" in report["likelihoods"]
    with (out / "layers.csv").open(encoding="utf-8", newline="") as stream:
        rows = {row["name"]: row for row in csv.DictReader(stream)}
    for layer in report["layers"]:
        if layer["status"] != "ok":
            continue
        alpha = layer["posterior"]["alpha"]
        assert alpha["likelihood"] == "user_spliced_pl", layer["name"]
        assert alpha["ci_low"] < alpha["mean"] < alpha["ci_high"]
        assert float(rows[layer["name"]]["alpha_mean"]) == pytest.approx(alpha["mean"], rel=1e-9)
        assert layer["posterior"]["xmin"]["likelihood"] == "user_spliced_pl"
        assert layer["models"]["user_spliced_pl"]["weight"] is not None


def test_its_alpha_feeds_the_network_metrics(user_run):
    _, result, out = user_run
    assert set(result["alpha_source"].values()) == {"user_spliced_pl"}
    assert len(result["alpha_source"]) == 2
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["summary"]["network"]["alpha"]["mean"] == pytest.approx(
        result["network_alpha"], rel=1e-9
    )


def test_it_takes_part_in_the_phases_as_a_tail_model(user_run):
    _, result, _ = user_run
    assert set(result["phase_kinds"]) == {"heavy.weight", "gauss.weight"}
    for layer, kinds in result["phase_kinds"].items():
        assert kinds.get("user_spliced_pl") == "tail", layer
        assert kinds.get("mp_spikes") == "mp", layer
    assert sum(w["user_spliced_pl"] for w in result["phase_weights"].values()) > 0
