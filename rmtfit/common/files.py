"""Atomic writes: a file appears whole (written to a temporary name, then renamed) or not at all."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "jsonable", "dumps_json", "write_text_atomic", "write_json_atomic"]


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


@contextmanager
def atomic_path(path: str | os.PathLike[str], *, make_parent: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path``, else it is removed.

    Write the whole file to the yielded path (with any library: ``Dataset.to_netcdf``, ...).
    The finished file gets the permissions the umask gives a new file (``mkstemp`` makes 0600)
    and is moved over ``path`` with :func:`os.replace`, so a reader sees the old file or the new
    one, never half of one. The folder must exist unless ``make_parent``.
    """
    path = Path(path)
    if make_parent:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.parent.is_dir():
        raise FileNotFoundError(f"{path.parent}: directory does not exist; create it first.")
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, 0o666 & ~_current_umask())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`atomic_path`), making its folder."""
    with atomic_path(path, make_parent=True) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomic(path: str | os.PathLike[str], payload: Any) -> Path:
    """Write ``payload`` as strict JSON (NaN -> null) to ``path``, atomically."""
    return write_text_atomic(path, dumps_json(jsonable(payload)))
