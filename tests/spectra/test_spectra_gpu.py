"""GPU eigensolvers: torch-CUDA and JAX-GPU eigenvalues equal the CPU ones in float64.

Every test here is marked ``gpu`` and skips, with the reason, where torch sees no CUDA device or
JAX no GPU. Run them alone with ``pytest -m gpu tests/spectra``.

The matrices compared eigenvalue by eigenvalue (``rtol=1e-8``) are well conditioned on the Gram
path (aspect ratio Q >= 2, so the smallest eigenvalue is far above ``eps * lambda_max``); square
and rank-deficient ones go through the SVD path, accurate relative to each eigenvalue.
"""

from __future__ import annotations

import numpy as np
import pytest
from spectra_helpers import assert_close_to_max

from rmtfit.spectra import eigenvalues, load_spectra
from rmtfit.spectra.eigen import make_solver

pytestmark = pytest.mark.gpu

RTOL = 1e-8
TALL_SHAPES = [(200, 80), (80, 200), (1, 9), (513, 64)]
ANY_SHAPES = TALL_SHAPES + [(96, 96), (150, 150)]


def _torch_cuda() -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch sees no CUDA GPU")


def _jax_gpu() -> None:
    import jax

    try:
        if jax.devices("gpu"):
            return
    except RuntimeError:
        pass
    pytest.skip("jax sees no GPU (needs a CUDA-enabled jaxlib)")


REQUIRE = {"torch": _torch_cuda, "jax": _jax_gpu}


@pytest.fixture(params=["torch", "jax"])
def gpu_backend(request) -> str:
    REQUIRE[request.param]()
    return request.param


def test_auto_picks_the_gpu(gpu_backend):
    assert make_solver(gpu_backend, "auto").device == "cuda"
    assert make_solver(gpu_backend, "cuda").device == "cuda"


@pytest.mark.parametrize("shape", TALL_SHAPES)
def test_gram_path_equals_cpu_to_rtol_1e8(gpu_backend, shape, rng):
    w = rng.standard_normal(shape) * rng.uniform(0.5, 2.0, size=shape[1])
    cpu = eigenvalues(w)
    gpu = eigenvalues(w, backend=gpu_backend, device="cuda")
    assert gpu.dtype == np.float64 and gpu.shape == cpu.shape
    np.testing.assert_allclose(gpu, cpu, rtol=RTOL, atol=0)


@pytest.mark.parametrize("shape", ANY_SHAPES)
def test_svd_path_equals_cpu_to_rtol_1e8(gpu_backend, shape, rng):
    w = rng.standard_normal(shape)
    cpu = eigenvalues(w, method="svd")
    gpu = eigenvalues(w, backend=gpu_backend, device="cuda", method="svd")
    np.testing.assert_allclose(gpu, cpu, rtol=RTOL, atol=0)


def test_batched_stack_equals_cpu_per_matrix(gpu_backend, rng):
    stack = rng.standard_normal((16, 300, 120))
    gpu = eigenvalues(stack, backend=gpu_backend, device="cuda")
    for w, row in zip(stack, gpu, strict=True):
        np.testing.assert_allclose(row, eigenvalues(w), rtol=RTOL, atol=0)


def test_gram_is_never_formed_in_low_precision(gpu_backend, rng):
    """A float32 input must give float64-accurate eigenvalues on the GPU (no float32/TF32 Gram).

    The singular values of this matrix span 1e3 in a random basis, so its Gram matrix has
    condition number ~1e6: a Gram formed in float32 (eps 1.2e-7) gets the smallest eigenvalues
    wrong by ~3e-2 relative (measured on the CPU with numpy), a float64 one to ~1e-12.
    """
    scales = np.geomspace(1.0, 1e-3, 40)
    rotation, _ = np.linalg.qr(rng.standard_normal((40, 40)))
    w = ((rng.standard_normal((400, 40)) * scales) @ rotation.T).astype(np.float32)
    cpu = eigenvalues(w.astype(np.float64))
    spectra = load_spectra({"w.weight": w}, backend=gpu_backend, device="cuda")
    np.testing.assert_allclose(spectra["w.weight"].eigenvalues, cpu, rtol=RTOL, atol=0)
    assert spectra.meta["device"] == "cuda"


def test_checkpoint_with_conv_and_linear_equals_cpu(gpu_backend, rng):
    weights = {
        "conv.weight": rng.standard_normal((64, 16, 3, 3)).astype(np.float32),
        "fc1.weight": rng.standard_normal((256, 100)).astype(np.float32),
        "fc2.weight": rng.standard_normal((256, 100)).astype(np.float32),
        "fc3.weight": rng.standard_normal((10, 100)).astype(np.float32),
    }
    cpu = load_spectra(weights)
    gpu = load_spectra(weights, backend=gpu_backend, device="cuda")
    assert gpu.names == cpu.names
    for a, b in zip(gpu, cpu, strict=True):
        np.testing.assert_allclose(a.eigenvalues, b.eigenvalues, rtol=RTOL, atol=0)


def test_minilm_equals_cpu(gpu_backend, minilm_path):
    """The real MiniLM checkpoint: every layer within 1e-10 of its lambda_max, and to rtol 1e-8
    for every eigenvalue above 1e-6 lambda_max (the Gram path's floor is ~1e-13 lambda_max)."""
    cpu = load_spectra(minilm_path)
    gpu = load_spectra(minilm_path, backend=gpu_backend, device="cuda")
    assert gpu.names == cpu.names
    for a, b in zip(gpu, cpu, strict=True):
        assert_close_to_max(a.eigenvalues, b.eigenvalues)
        big = b.eigenvalues > 1e-6 * b.lambda_max
        np.testing.assert_allclose(a.eigenvalues[big], b.eigenvalues[big], rtol=RTOL, atol=0)
