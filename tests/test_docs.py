"""The documentation builds without a warning, and every public name is documented."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import rmtfit

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    if shutil.which("mkdocs", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("mkdocs is not installed (the `docs` extra)")
    out = tmp_path_factory.mktemp("site")
    mkdocs = str(Path(sys.executable).parent / "mkdocs")
    done = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}"
    assert "WARNING" not in done.stderr, done.stderr
    return out


def test_every_public_name_has_a_docstring():
    undocumented = [
        name
        for name in rmtfit.__all__
        if name != "__version__" and not (getattr(rmtfit, name).__doc__ or "").strip()
    ]
    assert undocumented == []


def test_api_reference_renders_every_public_name(site):
    page = (site / "api" / "index.html").read_text(encoding="utf-8")
    missing = [name for name in rmtfit.__all__ if name != "__version__" and name not in page]
    assert missing == []


def test_every_docs_page_is_built(site):
    pages = [p.relative_to(REPO / "docs") for p in (REPO / "docs").rglob("*.md")]
    assert pages
    for page in pages:
        stem = page.with_suffix("")
        built = (
            site / stem / "index.html"
            if stem.name != "index"
            else site / stem.parent / "index.html"
        )
        assert built.exists(), f"docs/{page} was not built"
