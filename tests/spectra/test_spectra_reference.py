"""Reference checks: the real all-MiniLM-L6-v2 checkpoint, and WeightWatcher's ESDs."""

from __future__ import annotations

import numpy as np
import pytest
from spectra_helpers import assert_close_to_max, svd_eigenvalues

from rmtfit.spectra import load_spectra


@pytest.fixture(scope="module")
def minilm_reference(minilm_path) -> dict[str, np.ndarray]:
    """numpy SVD eigenvalues of every 2-D float32 tensor of MiniLM."""
    from safetensors.numpy import load_file

    tensors = load_file(str(minilm_path))
    return {
        name: svd_eigenvalues(w)
        for name, w in tensors.items()
        if w.ndim == 2 and w.dtype == np.float32
    }


def test_minilm_gram_path_to_1e10_of_max(minilm_path, minilm_reference):
    spectra = load_spectra(minilm_path)
    assert len(spectra) == 40 and set(spectra.names) == set(minilm_reference)
    assert not spectra.failed
    skipped = {k.name: k for k in spectra.skipped}
    assert "int64" in skipped["embeddings.position_ids"].reason
    assert all(
        len(k.shape) == 1 for name, k in skipped.items() if name != "embeddings.position_ids"
    )
    kinds = {s.name: s.kind for s in spectra}
    assert kinds["embeddings.word_embeddings.weight"] == "embedding"
    assert kinds["encoder.layer.0.attention.self.query.weight"] == "linear"
    assert spectra.names.index("encoder.layer.2.output.dense.weight") < spectra.names.index(
        "pooler.dense.weight"
    )
    for s in spectra:
        assert_close_to_max(s.eigenvalues, minilm_reference[s.name])
    emb = spectra["embeddings.word_embeddings.weight"]
    assert (emb.N, emb.M, emb.num_evals) == (30522, 384, 384)


def test_minilm_svd_path_to_rtol_1e10(minilm_path, minilm_reference):
    spectra = load_spectra(minilm_path, method="svd", exclude="word_embeddings")
    assert len(spectra) == 39
    for s in spectra:
        np.testing.assert_allclose(s.eigenvalues, minilm_reference[s.name], rtol=1e-10, atol=0)


# WeightWatcher builds DataFrames with a call pandas 3 deprecates; that is its code, not ours.
@pytest.mark.filterwarnings("ignore:Passing a dict to DataFrame.from_records:Warning")
def test_weightwatcher_get_esd_parity():
    """rmtfit's spectra equal WeightWatcher 0.7's ``get_ESD`` for Linear and Conv2d layers.

    WeightWatcher (``pool=True``, its default) cuts a Conv2d weight (out, in, kh, kw) into kh*kw
    matrices ``W[:, :, i, j]``, takes their squared singular values and pools them into one
    sorted array, without rescaling in ``get_ESD``: the same as rmtfit's ``conv="pooled"``. Its
    ESD is computed from a full SVD (``svd_method='accurate'``) while rmtfit's default goes
    through the Gram matrix, so they agree to rounding (1e-10 of lambda_max), not bitwise.
    """
    torch = pytest.importorskip("torch")
    ww = pytest.importorskip("weightwatcher")
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 24, 3),
        torch.nn.ReLU(),
        torch.nn.Conv2d(24, 40, (5, 3)),
        torch.nn.Flatten(),
        torch.nn.Linear(160, 120),
        torch.nn.Linear(120, 30),
    )
    watcher = ww.WeightWatcher(model=net)
    details = watcher.describe()
    spectra = load_spectra(net)
    by_module = {
        name.removesuffix(".weight"): s for name, s in {s.name: s for s in spectra}.items()
    }
    assert set(details["name"]) == set(by_module) == {"0", "2", "4", "5"}
    for layer_id, name in zip(details["layer_id"], details["name"], strict=True):
        theirs = np.sort(np.asarray(watcher.get_ESD(layer=int(layer_id)), dtype=np.float64))
        ours = by_module[name]
        assert ours.num_evals == theirs.size
        assert_close_to_max(ours.eigenvalues, theirs)
