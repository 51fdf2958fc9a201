"""Every public name of ``rmtfit.spectra`` has a docstring and is described in docs/spectra.md."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import rmtfit.spectra as rs

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "spectra.md"


@pytest.mark.parametrize("name", rs.__all__)
def test_public_name_is_documented(name):
    obj = getattr(rs, name)
    assert inspect.getdoc(obj), f"rmtfit.spectra.{name} has no docstring"
    if not GUIDE.is_file():
        pytest.skip(f"{GUIDE} is not in this checkout")
    assert f"`{name}" in GUIDE.read_text(), f"docs/spectra.md does not mention `{name}`"
