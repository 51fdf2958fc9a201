"""Eigensolvers: agreement with numpy's SVD, batching, backends, option checks."""

from __future__ import annotations

import numpy as np
import pytest
from spectra_helpers import assert_close_to_max, svd_eigenvalues

from rmtfit.spectra import eigenvalues, load_spectra
from rmtfit.spectra.eigen import BatchQueue, make_solver

SHAPES = [(60, 25), (25, 60), (40, 40), (1, 7), (7, 1), (150, 150)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_gram_path_matches_svd_to_1e10_of_max(shape, backend, rng):
    if backend == "torch":
        pytest.importorskip("torch")
    w = rng.standard_normal(shape) * rng.uniform(0.1, 3.0, size=shape[1])
    got = eigenvalues(w, backend=backend, device="cpu")
    assert got.dtype == np.float64
    assert np.all(np.diff(got) >= 0), "eigenvalues must be ascending"
    assert_close_to_max(got, svd_eigenvalues(w))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_svd_path_matches_each_eigenvalue_to_rtol_1e10(shape, backend, rng):
    if backend == "torch":
        pytest.importorskip("torch")
    w = rng.standard_normal(shape)
    got = eigenvalues(w, backend=backend, device="cpu", method="svd")
    np.testing.assert_allclose(got, svd_eigenvalues(w), rtol=1e-10, atol=0)


def test_svd_path_resolves_rank_collapse_that_gram_cannot(rng):
    """Near zero the Gram path is limited to ~eps * lambda_max; the SVD path is not."""
    w = rng.standard_normal((80, 3)) @ rng.standard_normal((3, 30))  # rank 3
    svd = eigenvalues(w, method="svd")
    gram = eigenvalues(w, method="gram")
    assert np.all(gram >= 0), "Gram rounding below zero must be clipped"
    assert np.max(svd[:-3]) < 1e-25 * svd[-1]
    assert np.max(gram[:-3]) < 1e-12 * gram[-1]
    np.testing.assert_allclose(gram[-3:], svd[-3:], rtol=1e-12)


def test_stack_is_solved_per_matrix(rng):
    stack = rng.standard_normal((6, 30, 12))
    together = eigenvalues(stack)
    assert together.shape == (6, 12)
    for w, row in zip(stack, together, strict=True):
        assert_close_to_max(row, svd_eigenvalues(w), rel=1e-12)
        np.testing.assert_array_equal(row, eigenvalues(w))


def test_batches_under_a_small_memory_budget_give_the_same_spectra(rng):
    weights = {f"l{i}.weight": rng.standard_normal((50, 20)) for i in range(7)}
    weights["big.weight"] = rng.standard_normal((200, 90))
    default = load_spectra(weights)
    # the default path queues 20 x 20 Gram matrices (3200 bytes): a 3000-byte budget forces a
    # flush after every matrix and one matrix per batch
    tiny = load_spectra(weights, batch_bytes=3000)
    assert tiny == default
    solver = make_solver(batch_bytes=3000)
    assert solver.prepare(weights["l0.weight"]).shape == (20, 20)
    assert solver.batch_size((20, 20)) == 1
    assert make_solver().batch_size((50, 20)) > 7
    for backend in ("torch", "jax"):  # these queue the matrices themselves, moved in batches
        if backend == "torch":
            pytest.importorskip("torch")
        per_matrix = load_spectra(weights, backend=backend, device="cpu", batch_bytes=8000)
        assert make_solver(backend, "cpu", batch_bytes=8000).batch_size((50, 20)) == 1
        for a, b in zip(per_matrix, default, strict=True):
            assert a.name == b.name
            assert_close_to_max(a.eigenvalues, b.eigenvalues, rel=1e-12)


def test_default_path_holds_gram_matrices_not_weights(rng):
    """numpy + gram reduces each queued matrix to its float64 Gram matrix on the smaller side."""
    solver = make_solver()
    assert solver.queues_gram
    tall, wide = rng.standard_normal((40, 6)), rng.standard_normal((6, 40))
    np.testing.assert_allclose(solver.prepare(tall), tall.T @ tall, rtol=1e-14)
    np.testing.assert_allclose(solver.prepare(wide), wide @ wide.T, rtol=1e-14)
    for other in (make_solver(method="svd"), make_solver("torch", "cpu")):
        assert not other.queues_gram and other.prepare(tall) is tall
    queue = BatchQueue(solver)
    queue.add("tall", tall[None])
    queue.add("wide", wide[None])
    queue.flush()
    assert_close_to_max(queue.results["tall"][0], svd_eigenvalues(tall), rel=1e-12)
    assert_close_to_max(queue.results["wide"][0], svd_eigenvalues(wide), rel=1e-12)


def test_queue_reports_a_failing_matrix_and_solves_the_rest(rng):
    """A matrix the solver chokes on is failed alone; the others of its batch are solved."""
    queue = BatchQueue(make_solver())
    good = rng.standard_normal((1, 10, 4))
    bad = np.full((1, 10, 4), np.nan)
    queue.add("good", good)
    queue.add("bad", bad)
    queue.flush()
    assert_close_to_max(queue.results["good"][0], svd_eigenvalues(good[0]))
    # the Gram matrix of "bad" is NaN: it is never handed to LAPACK, and "good" is solved
    assert queue.errors["bad"] == "contains 40 NaN and 0 Inf values; the eigensolver was not run"
    assert "good" not in queue.errors


@pytest.mark.parametrize("backend", ["torch", "jax", "svd"])
def test_queue_reports_nan_input_on_the_other_paths(backend, rng):
    """Paths that queue the matrices themselves report NaN input after the solve, per matrix."""
    if backend == "torch":
        pytest.importorskip("torch")
    solver = make_solver(method="svd") if backend == "svd" else make_solver(backend, "cpu")
    queue = BatchQueue(solver)
    good = rng.standard_normal((1, 10, 4))
    bad = good.copy()
    bad[0, 2, 1] = np.nan
    queue.add("bad", bad)
    queue.add("good", good)
    queue.flush()
    assert queue.errors["bad"].startswith("contains 1 NaN and 0 Inf values; eigensolver")
    assert "good" not in queue.errors
    assert_close_to_max(queue.results["good"][0], svd_eigenvalues(good[0]))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"backend": "cupy"}, "backend"),
        ({"device": "tpu"}, "device"),
        ({"method": "qr"}, "method"),
        ({"backend": "numpy", "device": "cuda"}, "CPU only"),
    ],
)
def test_invalid_solver_options_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_solver(**kwargs)


def test_cuda_without_a_gpu_is_a_clear_error():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    with pytest.raises(ValueError, match="sees no CUDA GPU"):
        make_solver(backend="torch", device="cuda")
    assert make_solver(backend="torch", device="auto").device == "cpu"


def test_memory_stays_bounded_by_one_tensor_not_the_checkpoint(tmp_path, rng):
    """Twelve 0.64 MB (as float64) matrices: the default path never holds more than about one
    float64 weight copy plus the small Gram matrices; the SVD path holds at most one batch."""
    import tracemalloc

    from safetensors.numpy import save_file

    weights = {
        f"l{i}.weight": rng.standard_normal((1000, 80)).astype(np.float32) for i in range(12)
    }
    path = tmp_path / "m.safetensors"
    save_file(weights, str(path))
    float64_bytes = 1000 * 80 * 8
    for kwargs, limit in [
        ({}, 2.5 * float64_bytes),
        ({"method": "svd", "batch_bytes": 2 * float64_bytes}, 6 * float64_bytes),
    ]:
        load_spectra(path, **kwargs)  # warm-up: imports and caches are not what is measured
        tracemalloc.start()
        spectra = load_spectra(path, **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert len(spectra) == 12
        assert peak < limit, f"{kwargs}: peak {peak / 1e6:.1f} MB, all weights are 7.7 MB"
