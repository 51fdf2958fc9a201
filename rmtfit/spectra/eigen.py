"""Eigensolvers: squared singular values of weight matrices, in float64, batched by shape.

For a matrix W (rows x cols) with m = min(rows, cols), the m eigenvalues are the squared singular
values of W, returned ascending. Two methods:

``gram`` (default)
    Form the m x m Gram matrix on the smaller side (``W.T @ W`` or ``W @ W.T``) in float64 and
    take its eigenvalues with a symmetric solver (``eigvalsh``). Fast; the absolute error of
    each eigenvalue is about ``m * eps * lambda_max`` (eps = 2.2e-16), so eigenvalues far below
    that are noise. The tiny negative values rounding can produce are clipped to 0.
``svd``
    Singular values of W itself, squared. Slower, but each eigenvalue is accurate relative to
    itself; use it to study rank collapse (eigenvalues near 0).

Backends: ``numpy`` (CPU), ``torch`` (CPU or CUDA) and ``jax`` (CPU or GPU, with x64 enabled).
All work in float64: the Gram matrix is never formed in float32/TF32. :class:`BatchQueue`
groups matrices of one shape and solves each group in batched calls whose size keeps memory
under a budget (512 MiB by default). On the default path (numpy, ``gram``) each matrix is reduced
to its M x M Gram matrix as soon as it is queued, and only the Gram matrices wait for their
batched ``eigvalsh``: a CPU gains nothing from holding the weights of a whole batch, and freeing
each float64 copy at once keeps memory (and page faults) low.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "BACKENDS",
    "DEVICES",
    "METHODS",
    "DEFAULT_BATCH_BYTES",
    "EigenSolver",
    "BatchQueue",
    "make_solver",
    "resolve_device",
    "eigenvalues",
]

BACKENDS = ("numpy", "torch", "jax")
DEVICES = ("auto", "cpu", "cuda")
METHODS = ("gram", "svd")
DEFAULT_BATCH_BYTES = 512 * 2**20


def resolve_device(backend: str, device: str) -> str:
    """Turn ``device="auto"`` into ``"cuda"`` or ``"cpu"`` for ``backend``; check the choice.

    ``auto`` picks a GPU when the backend sees one (torch: ``torch.cuda.is_available()``; jax:
    a ``gpu`` device), else the CPU. The numpy backend always runs on the CPU.
    """
    if backend not in BACKENDS:
        raise ValueError(f"The value of `backend` must be one of {BACKENDS}, got {backend!r}.")
    if device not in DEVICES:
        raise ValueError(f"The value of `device` must be one of {DEVICES}, got {device!r}.")
    if backend == "numpy":
        if device == "cuda":
            raise ValueError(
                "backend='numpy' runs on the CPU only; use backend='torch' or 'jax' for device='cuda'."
            )
        return "cpu"
    has_gpu = _torch_has_cuda() if backend == "torch" else _jax_has_gpu()
    if device == "cuda" and not has_gpu:
        raise ValueError(
            f"device='cuda' was asked for but {backend} sees no CUDA GPU; use device='cpu' or 'auto'."
        )
    if device == "auto":
        return "cuda" if has_gpu else "cpu"
    return device


def _torch_has_cuda() -> bool:
    try:
        import torch
    except ImportError:
        raise ValueError(
            "backend='torch' needs torch: pip install 'rmtfit[torch]', or use backend='numpy'."
        ) from None
    return bool(torch.cuda.is_available())


def _jax_has_gpu() -> bool:
    import jax

    try:
        return len(jax.devices("gpu")) > 0
    except RuntimeError:
        return False


@dataclass(frozen=True)
class EigenSolver:
    """Solves a batch of same-shape matrices. Build it with :func:`make_solver`."""

    backend: str = "numpy"
    device: str = "cpu"
    method: str = "gram"
    batch_bytes: int = DEFAULT_BATCH_BYTES

    def __call__(self, matrices: Sequence[np.ndarray]) -> np.ndarray:
        """Eigenvalues of each matrix, shape ``(len(matrices), m)``, ascending, float64."""
        if not len(matrices):
            return np.empty((0, 0))
        kernel = _KERNELS[self.backend]
        evals = kernel(matrices, self.device, self.method)
        # Gram rounding can leave -1e-17 where 0 is exact (this also copies read-only outputs)
        return np.maximum(np.asarray(evals, dtype=np.float64), 0.0)

    @property
    def queues_gram(self) -> bool:
        """Whether :meth:`prepare` reduces a matrix to its Gram matrix (numpy backend, ``gram``)."""
        return self.backend == "numpy" and self.method == "gram"

    def prepare(self, w: np.ndarray) -> np.ndarray:
        """What a :class:`BatchQueue` holds for ``w`` until its batch is solved.

        The float64 Gram matrix on the smaller side of ``w`` when :attr:`queues_gram`, else ``w``
        itself (the torch and jax backends move whole batches of matrices to their device).
        """
        if not self.queues_gram:
            return w
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported per matrix
            return _gram(w)

    def solve_prepared(self, items: Sequence[np.ndarray]) -> np.ndarray:
        """Eigenvalues of matrices returned by :meth:`prepare`, as :meth:`__call__` returns them."""
        if not self.queues_gram:
            return self(items)
        return np.maximum(np.linalg.eigvalsh(np.stack(items)), 0.0)

    def batch_size(self, shape: tuple[int, int]) -> int:
        """How many ``shape`` matrices fit in one batch under the memory budget (at least 1)."""
        rows, cols = shape
        m = min(rows, cols)
        per_matrix = 8 * (rows * cols + m * m) * (2 if self.method == "svd" else 1)
        return max(1, self.batch_bytes // per_matrix)


def make_solver(
    backend: str = "numpy",
    device: str = "auto",
    method: str = "gram",
    batch_bytes: int = DEFAULT_BATCH_BYTES,
) -> EigenSolver:
    """Validate the choices and build an :class:`EigenSolver` (resolving ``device="auto"``)."""
    if method not in METHODS:
        raise ValueError(f"The value of `method` must be one of {METHODS}, got {method!r}.")
    if not isinstance(batch_bytes, int) or batch_bytes <= 0:
        raise ValueError(
            f"The value of `batch_bytes` must be a positive integer, got {batch_bytes!r}."
        )
    return EigenSolver(backend, resolve_device(backend, device), method, batch_bytes)


def eigenvalues(
    matrices: np.ndarray | Sequence[np.ndarray],
    *,
    backend: str = "numpy",
    device: str = "auto",
    method: str = "gram",
) -> np.ndarray:
    """Squared singular values of one matrix ``(rows, cols)`` or a stack ``(B, rows, cols)``.

    Returns the ``min(rows, cols)`` eigenvalues ascending in float64, shape ``(m,)`` for one
    matrix and ``(B, m)`` for a stack. See the module docstring for the methods and backends.
    """
    solver = make_solver(backend, device, method)
    if isinstance(matrices, np.ndarray) and matrices.ndim == 2:
        return solver([np.asarray(matrices, dtype=np.float64)])[0]
    stack = [np.asarray(w, dtype=np.float64) for w in matrices]
    return solver(stack)


# --------------------------------------------------------------------------- kernels


def _gram(w: np.ndarray) -> np.ndarray:
    """The Gram matrix on the smaller side of ``w`` (BLAS syrk: numpy detects ``A.T @ A``)."""
    return w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T


def _numpy_kernel(matrices: Sequence[np.ndarray], device: str, method: str) -> np.ndarray:
    if method == "svd":
        s = np.linalg.svd(np.stack(matrices), compute_uv=False)
        return (s * s)[:, ::-1]
    rows, cols = matrices[0].shape
    m = min(rows, cols)
    gram = np.empty((len(matrices), m, m))
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported per matrix
        for i, w in enumerate(matrices):
            gram[i] = _gram(w)
    return np.linalg.eigvalsh(gram)


def _torch_kernel(matrices: Sequence[np.ndarray], device: str, method: str) -> np.ndarray:
    import torch

    x = torch.from_numpy(np.stack(matrices)).to(device=device, dtype=torch.float64)
    if method == "svd":
        s = torch.linalg.svdvals(x)
        evals = torch.flip(s * s, dims=(-1,))
    else:
        gram = x.mT @ x if x.shape[-2] >= x.shape[-1] else x @ x.mT
        evals = torch.linalg.eigvalsh(gram)
    return evals.cpu().numpy()


def _jax_kernel(matrices: Sequence[np.ndarray], device: str, method: str) -> np.ndarray:
    import jax

    from rmtfit.common import enable_x64

    enable_x64()
    target = jax.devices("gpu")[0] if device == "cuda" else jax.devices("cpu")[0]
    x = jax.device_put(np.stack(matrices).astype(np.float64), target)
    rows, cols = matrices[0].shape
    return np.asarray(_jax_function(method, rows >= cols)(x))


_JAX_FUNCTIONS: dict[tuple[str, bool], Callable] = {}


def _jax_function(method: str, tall: bool) -> Callable:
    key = (method, tall)
    if key not in _JAX_FUNCTIONS:
        import jax
        import jax.numpy as jnp

        def solve(x):
            if method == "svd":
                s = jnp.linalg.svd(x, compute_uv=False)
                return jnp.flip(s * s, axis=-1)
            xt = jnp.swapaxes(x, -1, -2)
            gram = xt @ x if tall else x @ xt
            return jnp.linalg.eigvalsh(gram)

        _JAX_FUNCTIONS[key] = jax.jit(solve)
    return _JAX_FUNCTIONS[key]


_KERNELS: dict[str, Callable[[Sequence[np.ndarray], str, str], np.ndarray]] = {
    "numpy": _numpy_kernel,
    "torch": _torch_kernel,
    "jax": _jax_kernel,
}


# --------------------------------------------------------------------------- batching


@dataclass
class BatchQueue:
    """Collects matrices, groups them by shape, and solves each group in batched calls.

    ``add(key, stack)`` queues the slices of a ``(S, rows, cols)`` stack under ``key`` (as the
    solver's :meth:`EigenSolver.prepare` makes them: their Gram matrices on the default path);
    queued matrices are solved when their total size passes the solver's memory budget and on
    :meth:`flush`. Afterwards ``results[key]`` holds the ``(S, m)`` eigenvalues, or
    ``errors[key]`` the reason the solver failed on that key's matrices.
    """

    solver: EigenSolver
    results: dict[Hashable, np.ndarray] = field(default_factory=dict)
    errors: dict[Hashable, str] = field(default_factory=dict)
    _groups: dict[tuple[int, int], list[tuple[Hashable, int, np.ndarray]]] = field(
        default_factory=dict, repr=False
    )
    _pending_bytes: int = 0

    def add(self, key: Hashable, stack: np.ndarray) -> None:
        """Queue every slice of ``stack`` (shape ``(S, rows, cols)``) under ``key``."""
        rows, cols = stack.shape[1:]
        self.results[key] = np.empty((stack.shape[0], min(rows, cols)))
        for i, w in enumerate(stack):
            item = self.solver.prepare(w)
            if item is not w and not np.all(np.isfinite(np.diagonal(item))):
                # a Gram matrix with NaN/Inf on its diagonal: never hand it to LAPACK
                self.errors[key] = _failure_reason(w, "the eigensolver was not run")
                continue
            rows_cols = (item.shape[0], item.shape[1])
            self._groups.setdefault(rows_cols, []).append((key, i, item))
            self._pending_bytes += item.nbytes
        if self._pending_bytes >= self.solver.batch_bytes:
            self.flush()

    def flush(self) -> None:
        """Solve everything queued."""
        groups, self._groups, self._pending_bytes = self._groups, {}, 0
        for shape, items in groups.items():
            size = self.solver.batch_size(shape)
            for start in range(0, len(items), size):
                self._solve(items[start : start + size])

    def _solve(self, items: list[tuple[Hashable, int, np.ndarray]]) -> None:
        try:
            evals = self.solver.solve_prepared([w for _, _, w in items])
        except Exception as exc:  # a batch that fails is retried matrix by matrix
            if len(items) > 1:
                for item in items:
                    self._solve([item])
                return
            key, _, w = items[0]
            why = f"eigensolver failed ({type(exc).__name__}: {_first_line(exc)})"
            self.errors[key] = self._reason(w, why)
            return
        for (key, i, w), row in zip(items, evals, strict=True):
            if not np.all(np.isfinite(row)):
                self.errors[key] = self._reason(w, "eigensolver returned non-finite values")
            self.results[key][i] = row

    def _reason(self, item: np.ndarray, why: str) -> str:
        # a queued Gram matrix is finite (checked in `add`), so only the solver is to blame
        return why if self.solver.queues_gram else _failure_reason(item, why)


def _failure_reason(w: np.ndarray, otherwise: str) -> str:
    """Say why ``w`` (a matrix or its Gram matrix) gave no eigenvalues: NaN/Inf, overflow, else
    ``otherwise``."""
    n_nan, n_inf = int(np.isnan(w).sum()), int(np.isinf(w).sum())
    if n_nan or n_inf:
        return f"contains {n_nan} NaN and {n_inf} Inf values; {otherwise}"
    return _overflow_reason(w) or otherwise


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _overflow_reason(w: np.ndarray) -> str:
    """Explain a failure caused by squared singular values beyond float64's range, if it is one."""
    largest = float(np.max(np.abs(w))) if w.size else 0.0
    with np.errstate(over="ignore"):
        bound = np.float64(largest) ** 2 * max(w.shape)
    if np.isfinite(bound) or not np.isfinite(largest):
        return ""
    return (
        f"squared singular values overflow float64 (largest |weight| = {largest:.3g}); "
        "rescale the weights"
    )
