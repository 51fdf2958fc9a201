"""Layer rules: which tensors are weight matrices, of what kind, and how to slice them.

A tensor becomes one or more *targets* (one target = one spectrum):

* 2-D tensors are matrices: ``linear`` (a ``*.weight`` or a ``torch.nn.Linear``), ``embedding``
  (an ``nn.Embedding`` or a name such as ``word_embeddings``, ``embed_tokens``, ``wte``),
  ``conv1d_gpt2`` (GPT-2's ``Conv1D``, stored ``(in, out)``: ``c_fc``, ``c_proj``), ``qkv`` (fused
  attention projections: ``in_proj_weight``, ``c_attn``, ``qkv``, ``query_key_value``, ...;
  analysed whole, or split into ``[q]``, ``[k]``, ``[v]`` thirds with ``split_qkv=True``), and
  ``matrix`` for any other 2-D array.
* 3-D and 4-D tensors are Conv1d / Conv2d kernels. PyTorch's layout ``(out, in, *kernel)`` gives
  ``prod(kernel)`` slices of shape ``out x in``; the channels-last layout ``(*kernel, in, out)``
  is recognised as WeightWatcher does: when the two leading dims sum to less than the two
  trailing ones. Slices are pooled into one spectrum (``conv="pooled"``, kind ``conv1d`` /
  ``conv2d``) or analysed one by one (``conv="slices"``, kind ``conv_slice``, named
  ``weight[i,j]``). No rescaling is applied (``scaling=1.0``).
* Everything else is listed as not analysed, with the reason: scalars and 1-D tensors (biases,
  norms), empty tensors, 5-D and larger tensors, 3-D/4-D tensors owned by a module that is not
  a convolution, names filtered out by ``include``/``exclude``, and matrices whose smaller
  dimension M is outside ``[min_size, max_size]``.
* A tensor whose dtype is not float16/bfloat16/float32/float64 is not analysed. It counts as a
  *failure* (``Skipped.failed=True``) when it looks like a weight matrix (at least 2-D and named
  ``*weight``), e.g. quantized int8 weights; otherwise (index buffers such as ``position_ids``,
  masks) it is listed as not analysed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from rmtfit.spectra._types import Skipped
from rmtfit.spectra.sources import FLOAT_DTYPES, TensorRef

__all__ = ["LayerOptions", "LayerPlan", "Target", "plan_tensor", "make_targets"]

CONV_MODES = ("pooled", "slices")
QKV_NAMES = frozenset({"c_attn", "qkv", "qkv_proj", "query_key_value", "Wqkv", "W_pack"})
GPT2_CONV1D_NAMES = frozenset({"c_fc", "c_proj"})
_EMBEDDING = re.compile(r"embed|^wte$|^wpe$|^tok_embeddings$", flags=re.IGNORECASE)


@dataclass(frozen=True)
class LayerOptions:
    """The user's choices about which tensors to analyse and how (validated on creation)."""

    include: str | None = None
    exclude: str | None = None
    min_size: int = 1
    max_size: int | None = None
    conv: str = "pooled"
    split_qkv: bool = False

    def __post_init__(self) -> None:
        for label in ("include", "exclude"):
            pattern = getattr(self, label)
            if pattern is None:
                continue
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"The value of `{label}` ({pattern!r}) is not a valid regular expression: {exc}."
                ) from None
        if not isinstance(self.min_size, int) or self.min_size < 1:
            raise ValueError(
                f"The value of `min_size` must be an integer >= 1, got {self.min_size!r}."
            )
        if self.max_size is not None and (
            not isinstance(self.max_size, int) or self.max_size < self.min_size
        ):
            raise ValueError(
                f"The value of `max_size` must be None or an integer >= min_size={self.min_size}, "
                f"got {self.max_size!r}."
            )
        if self.conv not in CONV_MODES:
            raise ValueError(f"The value of `conv` must be one of {CONV_MODES}, got {self.conv!r}.")


@dataclass(frozen=True)
class LayerPlan:
    """How one tensor will be turned into matrices.

    ``layout`` is ``matrix`` (2-D), ``kernel_last`` (``(out, in, *kernel)``) or ``kernel_first``
    (``(*kernel, in, out)``); ``split_axis`` is the axis cut in three for a split QKV; ``note`` is
    something worth telling the user (for example a QKV that could not be split).
    """

    name: str
    shape: tuple[int, ...]
    kind: str
    layout: str = "matrix"
    split_axis: int | None = None
    note: str | None = None

    @property
    def slice_shape(self) -> tuple[int, int]:
        """Shape of one matrix cut from the tensor."""
        if self.layout == "kernel_last":
            rows, cols = self.shape[0], self.shape[1]
        elif self.layout == "kernel_first":
            rows, cols = self.shape[-2], self.shape[-1]
        else:
            rows, cols = self.shape
        if self.split_axis == 0:
            rows //= 3
        elif self.split_axis == 1:
            cols //= 3
        return rows, cols

    @property
    def num_slices(self) -> int:
        """Number of matrices in the tensor (kernel positions for a conv, else 1)."""
        if self.layout == "kernel_last":
            return math.prod(self.shape[2:])
        if self.layout == "kernel_first":
            return math.prod(self.shape[:-2])
        return 1


@dataclass(frozen=True, eq=False)
class Target:
    """One spectrum to compute: ``slices`` is a float64 stack ``(S, rows, cols)``."""

    name: str
    kind: str
    slices: np.ndarray

    @property
    def N(self) -> int:  # noqa: N802 - the papers' name
        return max(self.slices.shape[1:])

    @property
    def M(self) -> int:  # noqa: N802
        return min(self.slices.shape[1:])


def plan_tensor(ref: TensorRef, options: LayerOptions) -> LayerPlan | Skipped:
    """Decide whether ``ref`` is analysed, as what kind and how; or why not."""
    name, shape = ref.name, ref.shape
    if options.include is not None and not re.search(options.include, name):
        return Skipped(name, shape, f"name does not match include={options.include!r}")
    if options.exclude is not None and re.search(options.exclude, name):
        return Skipped(name, shape, f"name matches exclude={options.exclude!r}")
    if len(shape) == 0:
        return Skipped(name, shape, "scalar, not a matrix")
    if len(shape) == 1:
        return Skipped(name, shape, "1-D tensor (bias, norm or buffer), not a matrix")
    if min(shape) == 0:
        return Skipped(name, shape, "empty tensor (a dimension is 0), nothing to analyse")
    if ref.dtype not in FLOAT_DTYPES:
        return _unsupported_dtype(ref)
    plan = _plan_by_kind(ref, options)
    if isinstance(plan, Skipped):
        return plan
    m = min(plan.slice_shape)
    if m < options.min_size:
        return Skipped(name, shape, f"M={m} is below min_size={options.min_size}")
    if options.max_size is not None and m > options.max_size:
        return Skipped(name, shape, f"M={m} is above max_size={options.max_size}")
    return plan


def _unsupported_dtype(ref: TensorRef) -> Skipped:
    looks_like_weight = len(ref.shape) >= 2 and ref.name.lower().endswith("weight")
    reason = f"dtype {ref.dtype} is not supported (float16, bfloat16, float32 and float64 are)"
    if looks_like_weight:
        reason += "; quantized weights must be dequantized to float first"
    return Skipped(ref.name, ref.shape, reason, failed=looks_like_weight)


def _leaf(name: str) -> str:
    """The owning module's short name: ``encoder.attn.c_attn.weight`` -> ``c_attn``."""
    stem = re.sub(r"[._]?weight$", "", name)
    return stem.rsplit(".", 1)[-1]


def _plan_by_kind(ref: TensorRef, options: LayerOptions) -> LayerPlan | Skipped:
    name, shape, module = ref.name, ref.shape, ref.module_type
    if len(shape) == 2:
        return _plan_matrix(ref, options)
    if len(shape) > 4:
        return Skipped(
            name, shape, f"{len(shape)}-D tensor: only Conv1d/Conv2d kernels (3-D/4-D) are sliced"
        )
    if module is not None and module != "Conv":
        return Skipped(
            name, shape, f"{len(shape)}-D tensor of a {module} module, not a convolution kernel"
        )
    kind = "conv1d" if len(shape) == 3 else "conv2d"
    channels, kernel = shape[:2], shape[2:]
    layout = "kernel_last" if sum(channels) >= sum(kernel) else "kernel_first"
    return LayerPlan(name, shape, kind, layout=layout)


def _plan_matrix(ref: TensorRef, options: LayerOptions) -> LayerPlan:
    name, shape, module = ref.name, ref.shape, ref.module_type
    leaf = _leaf(name)
    gpt2_style = module == "Conv1D" or (module is None and leaf in GPT2_CONV1D_NAMES | {"c_attn"})
    if (
        name.endswith("in_proj_weight")
        or (module is None and leaf in QKV_NAMES)
        or (module == "Conv1D" and leaf == "c_attn")
    ):
        if not options.split_qkv:
            return LayerPlan(name, shape, "qkv")
        axis = 1 if gpt2_style else 0
        if shape[axis] % 3:
            note = f"fused QKV {shape} cannot be split in equal thirds along axis {axis}; analysed whole"
            return LayerPlan(name, shape, "qkv", note=note)
        return LayerPlan(name, shape, "qkv", split_axis=axis)
    if module == "Embedding" or (module is None and _EMBEDDING.search(leaf)):
        return LayerPlan(name, shape, "embedding")
    if gpt2_style:
        return LayerPlan(name, shape, "conv1d_gpt2")
    if module == "Linear" or (module is None and name.lower().endswith("weight")):
        return LayerPlan(name, shape, "linear")
    return LayerPlan(name, shape, "matrix")


def make_targets(array: np.ndarray, plan: LayerPlan, conv: str = "pooled") -> list[Target]:
    """Cut a tensor that was read into the float64 matrix stacks its spectra are computed from."""
    if plan.layout == "matrix":
        if plan.split_axis is None:
            return [Target(plan.name, plan.kind, _float64(array)[None])]
        parts = np.split(array, 3, axis=plan.split_axis)
        return [
            Target(f"{plan.name}[{label}]", plan.kind, _float64(part)[None])
            for label, part in zip("qkv", parts, strict=True)
        ]
    stack, kernel = _conv_stack(array, plan)
    if conv == "pooled":
        return [Target(plan.name, plan.kind, stack)]
    return [
        Target(f"{plan.name}[{','.join(map(str, index))}]", "conv_slice", stack[i : i + 1])
        for i, index in enumerate(np.ndindex(*kernel))
    ]


def _conv_stack(array: np.ndarray, plan: LayerPlan) -> tuple[np.ndarray, tuple[int, ...]]:
    """The kernel slices of a conv tensor as a contiguous float64 ``(K, rows, cols)`` stack."""
    shape = array.shape
    if plan.layout == "kernel_last":
        kernel = shape[2:]
        flat = array.reshape(shape[0], shape[1], -1)
        return _float64(np.moveaxis(flat, -1, 0)), kernel
    kernel = shape[:-2]
    return _float64(array.reshape(-1, shape[-2], shape[-1])), kernel


def _float64(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.float64)
