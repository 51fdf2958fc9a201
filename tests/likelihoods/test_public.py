"""Every public name of the zoo and the densities is documented."""

from __future__ import annotations

import pytest

import rmtfit.densities
import rmtfit.likelihoods

NAMES = [(m, n) for m in (rmtfit.likelihoods, rmtfit.densities) for n in m.__all__]


@pytest.mark.parametrize(("module", "name"), NAMES, ids=[n for _, n in NAMES])
def test_public_name_is_documented(module, name):
    value = getattr(module, name)
    if isinstance(value, tuple):  # constants (documented by an attribute docstring in source)
        return
    doc = getattr(value, "__doc__", None) or getattr(getattr(value, "logpdf", None), "__doc__", "")
    assert doc and doc.strip(), f"{module.__name__}.{name} has no docstring"
