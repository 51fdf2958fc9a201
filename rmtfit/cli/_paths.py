"""Checks of the ``--out`` paths, run before any work so that a bad path costs nothing."""

from __future__ import annotations

from pathlib import Path

from rmtfit.cli._exit import UsageError

__all__ = ["check_out_folder", "check_out_file"]


def _file_above(path: Path) -> Path | None:
    """The nearest existing parent of ``path`` when it is a file (so nothing can go there)."""
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def check_out_folder(out: Path) -> None:
    """Raise :class:`UsageError` when the output folder ``out`` cannot be a folder."""
    if out.exists() and not out.is_dir():
        raise UsageError(
            f"--out {out}: exists and is not a folder; pass a new or existing folder to --out."
        )
    blocker = _file_above(out)
    if blocker is not None:
        raise UsageError(f"--out {out}: {blocker} is a file, not a folder; pass another --out.")


def check_out_file(out: Path, *, example: str) -> None:
    """Raise :class:`UsageError` when the output file ``out`` is a folder or lies under a file."""
    if out.is_dir():
        raise UsageError(f"--out {out}: is a folder; pass a file name, such as {out / example}.")
    blocker = _file_above(out)
    if blocker is not None:
        raise UsageError(f"--out {out}: {blocker} is a file, not a folder; pass another --out.")
