"""The package is layered as documented: imports run one way, no private names cross packages,
no circles, and docs/architecture.md shows the real import graph (scripts/import_graph.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def graph():
    spec = importlib.util.spec_from_file_location(
        "import_graph", REPO / "scripts" / "import_graph.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["import_graph"] = module
    spec.loader.exec_module(module)
    return module


def _planted(graph, module: str, line: str) -> dict[str, tuple[str, bool]]:
    sources = dict(graph.read_sources())
    text, is_package = sources[module]
    sources[module] = (text + "\n\ndef _planted():\n    " + line + "\n", is_package)
    return sources


def test_the_package_has_no_layering_violation(graph):
    assert graph.violations() == []


def test_every_stage_package_is_in_the_layer_table(graph):
    stages = {p.name for p in (REPO / "rmtfit").iterdir() if (p / "__init__.py").exists()}
    assert stages == set(graph.RANK) - {graph.FACADE}
    top_level_modules = [p.name for p in (REPO / "rmtfit").glob("*.py") if p.name != "__init__.py"]
    assert top_level_modules == [], "every stage lives in its own package"


def test_a_planted_upward_import_is_caught(graph):
    sources = _planted(graph, "rmtfit.spectra.metrics", "from rmtfit.report import build_report")
    found = graph.violations(sources)
    assert any(
        "rmtfit.spectra.metrics" in v and "rmtfit.report" in v and "higher stage" in v
        for v in found
    ), found


def test_a_planted_sideways_import_is_caught(graph):
    sources = _planted(graph, "rmtfit.network._network", "import rmtfit.phases")
    found = graph.violations(sources)
    assert any("same row" in v and "rmtfit.phases" in v for v in found), found


def test_a_planted_private_import_is_caught(graph):
    sources = _planted(
        graph, "rmtfit.pipeline._full", "from rmtfit.inference._nuts import cache_dir"
    )
    found = graph.violations(sources)
    assert any("private names ['_nuts']" in v for v in found), found
    sources = _planted(graph, "rmtfit.comparison._compare", "from rmtfit.posterior import _get")
    assert any("private names ['_get']" in v for v in graph.violations(sources))


def test_a_planted_circle_is_caught(graph):
    sources = _planted(graph, "rmtfit.inference._io", "from rmtfit.inference._fits import Fits")
    found = graph.violations(sources)
    assert any(
        v.startswith("import circle:")
        and "rmtfit.inference._fits" in v
        and "rmtfit.inference._io" in v
        for v in found
    ), found


def test_the_facade_is_the_top(graph):
    sources = _planted(graph, "rmtfit.cli._analyze", "from rmtfit import analyze")
    assert any("higher stage" in v for v in graph.violations(sources))


def test_the_architecture_page_shows_the_real_import_graph(graph):
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert graph.generated_block() in text, (
        "docs/architecture.md is out of date: run `python scripts/import_graph.py --write`"
    )


def test_no_file_of_the_package_is_over_600_lines():
    long = {
        str(p.relative_to(REPO)): n
        for p in (REPO / "rmtfit").rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600
    }
    assert long == {}


def test_the_report_lists_the_phases_of_the_phases_stage():
    import rmtfit.phases
    import rmtfit.report

    assert rmtfit.report.PHASES == rmtfit.phases.PHASES


def test_a_fast_report_does_not_import_jax():
    import subprocess

    code = (
        "import sys, numpy as np, rmtfit, tempfile\n"
        "w = {'a.weight': np.random.default_rng(0).normal(size=(60, 30))}\n"
        "rmtfit.analyze(w, fast=True, out=tempfile.mkdtemp(), quiet=True, plots=False)\n"
        "print('jax' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"
