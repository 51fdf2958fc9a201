"""The safetensors format: its dtype codes, the header (parsed and checked), bfloat16 decoding.

A safetensors file is an 8-byte little-endian header length, a JSON header naming every
tensor's dtype, shape and byte range, then the raw bytes. :func:`read_safetensors_header` checks
all of it before a byte of data is read, so a truncated or forged file fails with one line
naming the file; :mod:`rmtfit.spectra.sources` then memory-maps the tensors one by one.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np

__all__ = ["ST_DTYPES", "ST_STORAGE", "read_safetensors_header", "bfloat16_bits_to_float32"]

# safetensors dtype code -> (our dtype name, item size in bytes)
ST_DTYPES = {
    "F64": ("float64", 8),
    "F32": ("float32", 4),
    "F16": ("float16", 2),
    "BF16": ("bfloat16", 2),
    "I64": ("int64", 8),
    "I32": ("int32", 4),
    "I16": ("int16", 2),
    "I8": ("int8", 1),
    "U64": ("uint64", 8),
    "U32": ("uint32", 4),
    "U16": ("uint16", 2),
    "U8": ("uint8", 1),
    "BOOL": ("bool", 1),
    "F8_E4M3": ("float8_e4m3", 1),
    "F8_E5M2": ("float8_e5m2", 1),
}
# little-endian storage dtype used to read each analysable dtype (bf16 is read as raw bits)
ST_STORAGE = {"float64": "<f8", "float32": "<f4", "float16": "<f2", "bfloat16": "<u2"}
_MAX_HEADER_BYTES = 100 * 2**20


def read_safetensors_header(path: Path) -> tuple[dict, int]:
    """Parse and validate a safetensors header; return it and the offset of the data block.

    Checks that the header fits in the file, is a JSON object, and that every tensor's byte
    range lies inside the file and matches its shape and dtype (so truncation is caught here).
    """
    size = path.stat().st_size

    def bad(why: str) -> ValueError:
        return ValueError(
            f"{path}: not a valid safetensors file ({why}); the file is truncated or not "
            "safetensors: download or save it again."
        )

    if size < 8:
        raise bad(f"{size} bytes, too short for a header")
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        if header_len > min(size - 8, _MAX_HEADER_BYTES):
            raise bad(f"header length {header_len} does not fit in a {size}-byte file")
        raw = f.read(header_len)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad(f"header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise bad("header is not a JSON object")
    header.pop("__metadata__", None)
    data_start = 8 + header_len
    data_len = size - data_start
    for name, info in header.items():
        try:
            code, shape, (begin, end) = info["dtype"], list(info["shape"]), info["data_offsets"]
            if not isinstance(code, str) or any(type(v) is not int for v in (*shape, begin, end)):
                raise TypeError(name)  # JSON integers only: no bools, no floats such as 2.5
        except (KeyError, TypeError, ValueError):
            raise bad(f"tensor {name!r} has no valid dtype/shape/data_offsets") from None
        if not 0 <= begin <= end or min(shape, default=0) < 0:
            raise bad(f"tensor {name!r} has invalid offsets {begin}..{end} or shape {shape}")
        if end > data_len:
            raise bad(f"tensor {name!r} needs bytes up to {end} but only {data_len} are present")
        itemsize = ST_DTYPES.get(code, (None, None))[1]
        if itemsize is not None and end - begin != math.prod(shape) * itemsize:
            raise bad(f"tensor {name!r}: {end - begin} bytes do not match shape {shape} {code}")
    return header, data_start


def bfloat16_bits_to_float32(bits: np.ndarray) -> np.ndarray:
    """Decode raw bfloat16 bit patterns (uint16) exactly into float32.

    bfloat16 is the upper half of an IEEE float32, so shifting its 16 bits into the high half
    of a 32-bit word gives the same number (NaN and Inf included).
    """
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
