"""Atomic writes: a file appears whole (written to a temporary name, then renamed) or not at all."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["jsonable", "dumps_json", "write_text_atomic", "write_json_atomic"]


def jsonable(value: Any) -> Any:
    """``value`` with tuples as lists, keys as strings and non-finite floats as ``None``."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


def dumps_json(payload: Any) -> str:
    """Strict JSON (no NaN), indented, UTF-8 names kept, with a final newline."""
    return json.dumps(payload, indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | os.PathLike[str], payload: Any) -> Path:
    """Write ``payload`` as strict JSON (NaN -> null) to ``path``, atomically."""
    return write_text_atomic(path, dumps_json(jsonable(payload)))
