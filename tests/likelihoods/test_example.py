"""Smoke run of examples/custom_likelihood.py --small (it fits with NUTS: marked slow)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_likelihood.py"


@pytest.mark.slow
# short chains (--small): flagged diagnostics are expected, the fit still returns draws
@pytest.mark.filterwarnings("ignore::rmtfit.inference._diagnostics.DiagnosticsWarning")
def test_custom_likelihood_example_runs_end_to_end(capsys):
    from rmtfit.likelihoods import api

    # the conformance test may have executed the example already in this process, registering
    # its lomax_tail; executing it again would (rightly) refuse a second, different lomax_tail
    api._REGISTRY.pop("lomax_tail", None)
    spec = importlib.util.spec_from_file_location("rmtfit_example_custom_likelihood_run", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--small"]) == 0
    out = capsys.readouterr().out
    assert "[pass] normalisation" in out and "FAIL" not in out
    assert "lomax_tail: alpha =" in out and "power_law: alpha =" in out
    assert "Comparison(" in out
