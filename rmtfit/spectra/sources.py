"""Readers: turn a checkpoint into a list of lazily read, named tensors.

:func:`open_source` inspects a source (a file, a directory of shards, a ``torch.nn.Module``, a
mapping of names to arrays) and returns a :class:`Source`: an ordered tuple of
:class:`TensorRef` (name, shape, dtype and a ``read()`` that loads that one tensor) plus the
entries that are not tensors at all, as :class:`~rmtfit.spectra.Skipped`. Nothing is read until
``read()`` is called, so a 10 GB checkpoint is never loaded whole: safetensors files are memory
mapped tensor by tensor, torch files are opened with ``mmap=True`` where their format allows.

Errors that concern the whole source (missing file, garbage, a pickle that would run code, no
tensors at all) raise :class:`FileNotFoundError` or :class:`ValueError` with one line naming the
file and the fix; problems with a single tensor are left to the caller to report per layer.
"""

from __future__ import annotations

import json
import math
import re
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rmtfit.spectra._safetensors import (
    ST_DTYPES,
    ST_STORAGE,
    bfloat16_bits_to_float32,
    read_safetensors_header,
)
from rmtfit.spectra._types import Skipped

__all__ = ["TensorRef", "Source", "open_source", "FLOAT_DTYPES", "WEIGHT_SUFFIXES"]

FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
"""The dtypes whose tensors are analysed; every other dtype is reported, not crashed on."""

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt", ".npz", ".npy")
_TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")


@dataclass(frozen=True)
class TensorRef:
    """A named tensor that has not been read yet.

    Parameters
    ----------
    name
        The tensor's name in the checkpoint.
    shape
        Its shape.
    dtype
        Its dtype as a plain name (``float32``, ``bfloat16``, ``int64``, ``float8_e4m3`` ...).
    read
        Loads the tensor and returns a numpy array of dtype float16, float32 or float64
        (bfloat16 is widened to float32 exactly). Only called for dtypes in :data:`FLOAT_DTYPES`.
    module_type
        Class of the ``torch.nn`` module that owns the tensor (``Linear``, ``Conv2d``,
        ``Embedding``, ``MultiheadAttention``, ``Conv1D`` ...) when the source is a live module.
    origin
        The file the tensor comes from (a shard path for sharded checkpoints).
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    read: Callable[[], np.ndarray] = field(repr=False, compare=False)
    module_type: str | None = None
    origin: str = ""


@dataclass(frozen=True)
class Source:
    """The tensors of one checkpoint, in order, and the entries that are not tensors."""

    label: str
    entries: tuple[TensorRef | Skipped, ...]

    def __len__(self) -> int:
        return len(self.entries)


def open_source(source: Any) -> Source:
    """Inspect ``source`` and list its tensors without reading them.

    Parameters
    ----------
    source
        A path (``.safetensors``, ``.pt``/``.pth``/``.bin``/``.ckpt``, ``.npz``, ``.npy``, or a
        directory holding those, sharded with a ``*.index.json`` or not), a ``torch.nn.Module``,
        or a mapping of names to arrays or tensors (nested mappings are flattened with ``.``).

    Raises
    ------
    FileNotFoundError
        The path does not exist, or a directory holds no weight files, or an index names a
        missing shard.
    ValueError
        The file is not a readable checkpoint, would need unsafe unpickling, or holds no tensors.
    """
    if isinstance(source, str | Path):
        src = _open_path(Path(source))
    elif _is_torch_module(source):
        src = _open_module(source)
    elif isinstance(source, Mapping):
        entries = tuple(_flatten_mapping(source, origin="<mapping>"))
        src = Source("<mapping>", entries)
    else:
        raise TypeError(
            f"load_spectra: cannot read a {type(source).__name__}; pass a file or directory path, "
            "a torch.nn.Module, a mapping of names to arrays, or a Spectra."
        )
    if not any(isinstance(e, TensorRef) for e in src.entries):
        raise ValueError(
            f"{src.label}: the checkpoint holds no tensors; check that it is the weights file "
            "(not a config or an optimizer state) and that it was saved completely."
        )
    return src


# --------------------------------------------------------------------------- paths


def _open_path(path: Path) -> Source:
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory; check the path.")
    if path.is_dir():
        return _open_directory(path)
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        return Source(str(path), tuple(_safetensors_entries(path)))
    if suffix in _TORCH_SUFFIXES:
        return Source(str(path), tuple(_torch_file_entries(path)))
    if suffix == ".npz":
        return Source(str(path), tuple(_npz_entries(path)))
    if suffix == ".npy":
        return Source(str(path), (_npy_entry(path),))
    return _open_sniffed(path)


def _open_sniffed(path: Path) -> Source:
    """Open a file whose suffix says nothing, from its first bytes."""
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(b"\x93NUMPY"):
        return Source(str(path), (_npy_entry(path),))
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":
        return Source(str(path), tuple(_torch_file_entries(path)))
    if len(head) >= 9 and head[8:9] == b"{":
        return Source(str(path), tuple(_safetensors_entries(path)))
    raise ValueError(
        f"{path}: unknown file format; rmtfit reads {', '.join(WEIGHT_SUFFIXES)} files and "
        "directories of them (save the weights with safetensors)."
    )


def _open_directory(path: Path) -> Source:
    indexes = sorted(path.glob("*.index.json"))
    if indexes:
        return Source(str(path), tuple(_sharded_entries(indexes[0])))
    files = sorted(path.glob("*.safetensors"))
    if not files:
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in _TORCH_SUFFIXES)
    if not files:
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".npz", ".npy"))
    if not files:
        raise FileNotFoundError(
            f"{path}: no weight files ({', '.join(WEIGHT_SUFFIXES)}) in this directory; "
            "pass the checkpoint file itself."
        )
    entries: list[TensorRef | Skipped] = []
    for file in files:
        entries.extend(_open_path(file).entries)
    return Source(str(path), tuple(_dedupe(entries)))


def _sharded_entries(index_path: Path) -> Iterator[TensorRef | Skipped]:
    """Tensors of a sharded checkpoint, following its ``*.index.json`` weight map."""
    try:
        weight_map = json.loads(index_path.read_text())["weight_map"]
        shards = list(dict.fromkeys(weight_map.values()))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(
            f"{index_path}: not a valid shard index ({exc}); it must be JSON with a "
            "'weight_map' of tensor name -> shard file."
        ) from exc
    found: set[str] = set()
    entries: list[TensorRef | Skipped] = []
    elsewhere: list[TensorRef] = []  # in a shard other than the one the index names
    for shard in shards:
        shard_path = index_path.parent / str(shard)
        if not shard_path.is_file():
            raise FileNotFoundError(
                f"{shard_path}: shard listed in {index_path.name} is missing; download all shards."
            )
        for entry in _open_path(shard_path).entries:
            if isinstance(entry, TensorRef) and weight_map.get(entry.name, shard) != shard:
                elsewhere.append(entry)
                continue
            found.add(entry.name)
            entries.append(entry)
    for ref in elsewhere:  # a second copy is reported; a lone copy is analysed where it is
        why = f"duplicate tensor name; {index_path.name} places it in {weight_map[ref.name]}"
        reason = f"{why}, so this copy in {ref.origin} was not read"
        entries.append(Skipped(ref.name, ref.shape, reason, True) if ref.name in found else ref)
        found.add(ref.name)
    for name in weight_map:
        if name not in found:
            reason = f"listed in {index_path.name} but missing from shard {weight_map[name]}"
            entries.append(Skipped(name, (), reason, failed=True))
    return _dedupe(entries)


def _dedupe(entries: list[TensorRef | Skipped]) -> Iterator[TensorRef | Skipped]:
    """Keep the first tensor of each name; report later duplicates (from other shards)."""
    seen: set[str] = set()
    for entry in entries:
        if isinstance(entry, TensorRef) and entry.name in seen:
            reason = f"duplicate tensor name (again in {entry.origin}); the first one was analysed"
            yield Skipped(entry.name, entry.shape, reason, failed=True)
            continue
        seen.add(entry.name)
        yield entry


def natural_key(name: str) -> list:
    """Sort key that orders ``layer.2`` before ``layer.10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


# --------------------------------------------------------------------------- safetensors


def _safetensors_entries(path: Path) -> list[TensorRef]:
    header, data_start = read_safetensors_header(path)
    entries = []
    for name in sorted(header, key=natural_key):
        info = header[name]
        dtype = ST_DTYPES.get(info["dtype"], (info["dtype"], None))[0]
        shape = tuple(int(d) for d in info["shape"])
        offset = data_start + int(info["data_offsets"][0])
        reader = _safetensors_reader(path, offset, shape, dtype)
        entries.append(TensorRef(name, shape, dtype, reader, origin=str(path)))
    return entries


def _safetensors_reader(
    path: Path, offset: int, shape: tuple[int, ...], dtype: str
) -> Callable[[], np.ndarray]:
    def read() -> np.ndarray:
        storage = ST_STORAGE[dtype]
        if math.prod(shape) == 0:
            raw = np.zeros(shape, dtype=storage)
        else:
            # a str, not a Path: numpy resolves Path objects (an lstat per path component)
            raw = np.memmap(str(path), dtype=storage, mode="r", offset=offset, shape=shape)
        if dtype == "bfloat16":
            return bfloat16_bits_to_float32(raw)
        return raw

    return read


# --------------------------------------------------------------------------- numpy files


_REFUSED_OBJECTS = (
    "an object array (dtype=object): reading it would unpickle Python objects, which can run "
    "code, so it was refused; save plain numeric arrays (np.save/np.savez) or use safetensors."
)


def _npy_entry(path: Path) -> TensorRef:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        if "allow_pickle" in str(exc) or "Python objects" in str(exc):  # numpy's two wordings
            raise ValueError(f"{path}: {path.stem}: {_REFUSED_OBJECTS}") from None
        raise ValueError(
            f"{path}: not a readable .npy array ({exc or type(exc).__name__}); the file is "
            "truncated or not a .npy file: save it again (np.save) or use safetensors."
        ) from None
    if isinstance(array, np.lib.npyio.NpzFile):
        array.close()
        raise ValueError(f"{path}: holds an .npz archive, not one array; rename it to .npz.")
    return _array_ref(path.stem, array, origin=str(path))


def _npz_entries(path: Path) -> list[TensorRef]:
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(
            f"{path}: not a readable .npz archive ({exc or type(exc).__name__}); the file is "
            "truncated or not an .npz archive: save the weights again with np.savez "
            "or with safetensors."
        ) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: holds a single array, not an archive; rename it to .npy.")
    entries = []
    for key in archive.files:
        shape, dtype = _npz_member_header(archive, key)
        if dtype == "object":  # never unpickled: the archive is opened with allow_pickle=False
            archive.close()
            raise ValueError(f"{path}: {key}: {_REFUSED_OBJECTS}")
        entries.append(TensorRef(key, shape, dtype, _npz_reader(archive, key), origin=str(path)))
    return entries


def _npz_member_header(archive: Any, key: str) -> tuple[tuple[int, ...], str]:
    """Shape and dtype of one npz member, read from its header without loading the data."""
    fmt = np.lib.format
    try:
        with archive.zip.open(key + ".npy") as fp:
            version = fmt.read_magic(fp)
            if version == (1, 0):
                shape, _, dtype = fmt.read_array_header_1_0(fp)
            else:
                shape, _, dtype = fmt.read_array_header_2_0(fp)
        dtype = np.dtype(dtype)
        return tuple(shape), "object" if dtype.hasobject else dtype.name
    except (ValueError, KeyError, OSError):  # unusual member: load it to learn its header
        try:
            array = archive[key]
        except ValueError:
            return (), "object"
        return tuple(array.shape), array.dtype.name


def _npz_reader(archive: Any, key: str) -> Callable[[], np.ndarray]:
    def read() -> np.ndarray:
        return _as_float_array(archive[key])

    return read


# --------------------------------------------------------------------------- torch


def _import_torch(what: str):
    try:
        import torch
    except ImportError:
        raise ValueError(
            f"{what}: reading torch checkpoints needs torch (pip install 'rmtfit[torch]'), "
            "or convert the weights to safetensors."
        ) from None
    return torch


def _torch_file_entries(path: Path) -> list[TensorRef | Skipped]:
    obj = _torch_load(path)
    return list(_torch_object_entries(obj, str(path)))


def _torch_load(path: Path) -> Any:
    """``torch.load`` with ``weights_only=True`` (never runs code), memory-mapped when possible."""
    import pickle

    torch = _import_torch(str(path))
    with warnings.catch_warnings():
        # legacy (non-zip) files trigger a warning about their pickle protocol: not actionable
        warnings.filterwarnings("ignore", message=".*pickle protocol.*", category=UserWarning)
        try:
            try:
                return torch.load(path, weights_only=True, map_location="cpu", mmap=True)
            except RuntimeError as exc:
                if "mmap can only be used" not in str(exc):
                    raise
                return torch.load(path, weights_only=True, map_location="cpu")
        except pickle.UnpicklingError as exc:
            if re.search("global", str(exc), flags=re.IGNORECASE):
                raise ValueError(
                    f"{path}: refused to load: the file holds Python objects beyond tensors, "
                    "and unpickling them could run arbitrary code (torch.load with "
                    "weights_only=True blocked it). Save a plain state_dict of tensors, or "
                    "convert the checkpoint to safetensors."
                ) from None
            raise ValueError(
                f"{path}: not a readable torch checkpoint (weights_only unpickling failed: "
                f"{_last_line(exc)}); check the file, or convert it to safetensors."
            ) from None
        except (RuntimeError, EOFError, OSError) as exc:
            raise ValueError(
                f"{path}: not a readable torch checkpoint ({_last_line(exc)}); the file is "
                "corrupted or truncated: save or download it again."
            ) from None


def _last_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) < 200 else text[:197] + "..."


_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "module", "network", "net")


def _torch_object_entries(obj: Any, origin: str) -> Iterator[TensorRef | Skipped]:
    """Unwrap a loaded checkpoint (``{"state_dict": ...}``, ``{"model": ...}``) and list it."""
    torch = _import_torch(origin)
    if isinstance(obj, torch.Tensor):
        yield _torch_ref(Path(origin).stem, obj, origin=origin)
        return
    if not isinstance(obj, Mapping):
        raise ValueError(
            f"{origin}: holds a {type(obj).__name__}, not a state dict; save model.state_dict()."
        )
    prefix_note = ""
    while True:
        inner = next(
            (k for k in _WRAPPER_KEYS if isinstance(obj.get(k), Mapping) and _has_tensor(obj[k])),
            None,
        )
        if inner is None:
            break
        for key, value in obj.items():
            if key != inner:
                why = f"not part of the {prefix_note + inner!r} entry that holds the weights"
                yield Skipped(str(key), tuple(getattr(value, "shape", ())), why)
        prefix_note += f"{inner}."
        obj = obj[inner]
    yield from _flatten_mapping(obj, origin=origin)


def _has_tensor(mapping: Mapping) -> bool:
    return any(
        _is_array_like(v) or (isinstance(v, Mapping) and _has_tensor(v)) for v in mapping.values()
    )


def _torch_ref(
    name: str, tensor: Any, origin: str, module_type: str | None = None
) -> TensorRef | Skipped:
    dtype = str(tensor.dtype).removeprefix("torch.")
    shape = tuple(int(d) for d in tensor.shape)
    if tensor.layout != _import_torch(origin).strided:
        return Skipped(name, shape, f"{tensor.layout} tensor: only dense tensors are read", True)

    def read() -> np.ndarray:
        torch = _import_torch(origin)
        t = tensor.detach().to("cpu")
        if t.dtype == torch.bfloat16:
            t = t.to(torch.float32)  # exact: bf16 is a truncated float32
        return t.numpy()

    return TensorRef(name, shape, dtype, read, module_type=module_type, origin=origin)


def _is_torch_module(obj: Any) -> bool:
    return any(
        cls.__module__.startswith("torch.nn") and cls.__name__ == "Module"
        for cls in type(obj).__mro__
    )


_MODULE_TYPES = (
    ("Linear", "Linear"),
    ("Conv1d", "Conv"),
    ("Conv2d", "Conv"),
    ("Conv3d", "Conv"),
    ("ConvTranspose1d", "Conv"),
    ("ConvTranspose2d", "Conv"),
    ("ConvTranspose3d", "Conv"),
    ("Embedding", "Embedding"),
    ("EmbeddingBag", "Embedding"),
    ("MultiheadAttention", "MultiheadAttention"),
)


def _module_type(module: Any) -> str:
    """A coarse class label for a module: ``Linear``, ``Conv``, ``Embedding``, ... or its name."""
    import torch.nn as nn

    for cls_name, label in _MODULE_TYPES:
        if isinstance(module, getattr(nn, cls_name)):
            return label
    return type(module).__name__  # e.g. transformers' GPT-2 ``Conv1D``


def _open_module(module: Any) -> Source:
    types = {prefix: _module_type(m) for prefix, m in module.named_modules()}
    entries: list[TensorRef | Skipped] = []
    for name, tensor in module.state_dict(keep_vars=False).items():
        owner = name.rpartition(".")[0]
        entries.append(_torch_ref(name, tensor, "<module>", module_type=types.get(owner)))
    return Source(f"<module {type(module).__name__}>", tuple(entries))


# --------------------------------------------------------------------------- mappings


def _is_array_like(value: Any) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype")


def _flatten_mapping(
    mapping: Mapping, origin: str, prefix: str = ""
) -> Iterator[TensorRef | Skipped]:
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten_mapping(value, origin, prefix=f"{name}.")
        elif type(value).__module__.startswith("torch") and hasattr(value, "detach"):
            yield _torch_ref(name, value, origin)
        elif _is_array_like(value) or isinstance(value, list | tuple):
            yield _array_ref(name, value, origin)
        else:
            yield Skipped(name, (), f"not a tensor ({type(value).__name__})")


def _array_ref(name: str, value: Any, origin: str) -> TensorRef:
    array = value if isinstance(value, np.ndarray) else np.asarray(value)
    shape = tuple(int(d) for d in array.shape)

    def read() -> np.ndarray:
        return _as_float_array(array)

    return TensorRef(name, shape, array.dtype.name, read, origin=origin)


def _as_float_array(array: Any) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype.name == "bfloat16":  # ml_dtypes (jax) bfloat16: widening is exact
        return array.astype(np.float32)
    return array
