"""A folder of finished parts of a run, written one by one, read back to resume."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rmtfit.common import __version__, atomic_path, dumps_json, jsonable

__all__ = ["PartStore"]

FORMAT = "rmtfit.parts/1"
_MANIFEST = "manifest.json"


class PartStore:
    """Finished parts of one run, one file per part, in a folder.

    Each part is pickled to ``<folder>/<sha1 of its name>.pkl`` atomically, so a run that stops
    (killed, out of memory, a node lost) leaves whole parts or none. ``manifest.json`` holds a
    fingerprint of everything that determines a part (the settings, rmtfit's version); a store
    opened with ``resume=True`` and another fingerprint refuses to mix the two runs.

    The files are pickles: open only stores that this or another rmtfit run of yours wrote.

    Parameters
    ----------
    folder
        Where the parts live (created when missing).
    fingerprint
        JSON-able description of the run's settings.
    resume
        Keep the parts already in ``folder`` (they must have the same fingerprint); with
        ``False`` any earlier parts are removed first.
    """

    def __init__(self, folder: str | Path, fingerprint: Mapping[str, Any], *, resume: bool) -> None:
        self.folder = Path(folder)
        self.fingerprint = jsonable({"format": FORMAT, "rmtfit": __version__, **fingerprint})
        manifest = self.folder / _MANIFEST
        if self.folder.exists() and any(self.folder.iterdir()) and not _is_store(manifest):
            raise ValueError(
                f"{self.folder}: exists and is not a folder of rmtfit parts (no {_MANIFEST} of "
                f"format {FORMAT}); it is left alone: choose another output folder."
            )
        if resume and manifest.is_file():
            found = json.loads(manifest.read_text(encoding="utf-8"))
            if found != self.fingerprint:
                changed = sorted(
                    k
                    for k in set(found) | set(self.fingerprint)
                    if found.get(k) != self.fingerprint.get(k)
                )
                raise ValueError(
                    f"{self.folder}: the finished parts there come from a run with other "
                    f"settings ({', '.join(changed)} differ); rerun without --resume to start "
                    "afresh, or use the same settings."
                )
        elif self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(manifest) as tmp:
            tmp.write_text(dumps_json(self.fingerprint), encoding="utf-8")

    def path_of(self, name: str) -> Path:
        """The file that holds the part ``name``."""
        return self.folder / f"{hashlib.sha1(name.encode('utf-8')).hexdigest()}.pkl"

    def put(self, name: str, value: Any) -> None:
        """Write one finished part, atomically."""
        with atomic_path(self.path_of(name)) as tmp:
            with open(tmp, "wb") as f:
                pickle.dump((name, value), f, protocol=pickle.HIGHEST_PROTOCOL)

    def load(self) -> dict[str, Any]:
        """Every finished part: name -> value. A part that cannot be read is left out (redone)."""
        out: dict[str, Any] = {}
        for path in sorted(self.folder.glob("*.pkl")):
            try:
                with open(path, "rb") as f:
                    name, value = pickle.load(f)
            except Exception:  # a part from another version of rmtfit: it is computed again
                continue
            if path == self.path_of(name):
                out[name] = value
        return out

    def remove(self) -> None:
        """Delete the folder (after the run's outputs are written)."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def __repr__(self) -> str:
        return f"PartStore({str(self.folder)!r}, {len(list(self.folder.glob('*.pkl')))} parts)"


def _is_store(manifest: Path) -> bool:
    try:
        return json.loads(manifest.read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False
