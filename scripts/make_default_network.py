"""Build the network embedded in rmtfit (``rmtfit demo``) from the subject-network zoo.

The demo should show what rmtfit is for: layers in different phases of training, with alphas
that spread and intervals that say how sure each one is. One small network trained once has
layers that all look alike, so the demo network is a *panel* of real trained layers from
``models/checkpoints`` (small CNNs trained deterministically on scikit-learn's digits,
``models/README.md``), chosen where the zoo's phases differ:

- ``sweep.init.fc2.weight``: MiniAlexNet's fc2 before training (random-like);
- ``sweep.bs1024.fc2.weight``, ``sweep.bs0032.fc2.weight``, ``sweep.bs0002.fc2.weight``: the same
  layer after 100 epochs of SGD at batch size 1024, 32 and 2 (the batch-size sweep of
  ``docs/examples.md``: smaller batches give heavier tails and smaller alphas; batch size 2 at
  lr 0.01 diverged late in training);
- ``conv2.weight``/``conv2.bias``: MiniAlexNet's second convolution at batch size 32 (3x3 slices
  of 64 x 32, pooled: 288 eigenvalues);
- ``fc1.weight``/``fc1.bias``: LeNet5's fc1 at batch size 4, the zoo's heaviest tail.

Every layer has at least 48 eigenvalues (``rmtfit.phases`` gives no phase below that). The
tensors are copied bit for bit; each source file's sha256 is checked against
``models/manifest.json`` and written, with the tensor it gave, into the file's metadata.
Tensors and metadata are sorted, so the same zoo gives the same bytes.

Usage::

    python scripts/make_default_network.py                 # writes rmtfit/data/default_network.safetensors
    python scripts/make_default_network.py --out /tmp/net.safetensors
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import struct
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "rmtfit" / "data" / "default_network.safetensors"
ZOO = ROOT / "models"

# demo tensor name -> (zoo checkpoint, tensor in it)
PANEL = {
    "sweep.init.fc2.weight": ("minialexnet_init", "fc2.weight"),
    "sweep.bs1024.fc2.weight": ("minialexnet_bs1024", "fc2.weight"),
    "sweep.bs0032.fc2.weight": ("minialexnet_bs0032", "fc2.weight"),
    "sweep.bs0002.fc2.weight": ("minialexnet_bs0002", "fc2.weight"),
    "conv2.weight": ("minialexnet_bs0032", "conv2.weight"),
    "conv2.bias": ("minialexnet_bs0032", "conv2.bias"),
    "fc1.weight": ("lenet5_bs0004", "fc1.weight"),
    "fc1.bias": ("lenet5_bs0004", "fc1.bias"),
}


def _manifest() -> dict[str, dict]:
    records = json.loads((ZOO / "manifest.json").read_text())["checkpoints"]
    return {r["name"]: r for r in records}


def collect() -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The panel's tensors and the metadata naming each one's source (sha256-checked)."""
    from safetensors import safe_open

    manifest = _manifest()
    arrays: dict[str, np.ndarray] = {}
    sources: dict[str, str] = {}
    for name, (checkpoint, tensor) in PANEL.items():
        record = manifest[checkpoint]
        path = ZOO / record["file"]
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != record["sha256"]:
            raise RuntimeError(
                f"{path}: sha256 {digest[:12]}... is not the manifest's {record['sha256'][:12]}...; "
                "regenerate the zoo (models/README.md) before building the demo network."
            )
        with safe_open(str(path), framework="numpy") as f:
            arrays[name] = f.get_tensor(tensor)
        sources[name] = (
            f"{record['file']}:{tensor} (sha256 {digest[:16]}, batch size {record['batch_size']}, "
            f"{record['epochs']} epochs, test accuracy {record['test_accuracy']:.3f})"
        )
    metadata = {
        "network": "a panel of trained layers from rmtfit's subject-network zoo (models/)",
        "sources": json.dumps(sources, sort_keys=True),
        "dataset": "sklearn.datasets.load_digits (models/README.md)",
        "made_by": "scripts/make_default_network.py",
    }
    return arrays, metadata


def save(arrays: dict[str, np.ndarray], metadata: dict[str, str], out: Path) -> None:
    """Write the tensors as safetensors, atomically, and check that they read back."""
    blob = safetensors_bytes(arrays, metadata)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        _check_readable(Path(tmp), arrays)
        os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp makes 0600 files
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def safetensors_bytes(arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    """Serialise float32 arrays in the safetensors format, deterministically."""
    header: dict = {"__metadata__": dict(sorted(metadata.items()))}
    chunks, offset = [], 0
    for name in sorted(arrays):
        data = np.ascontiguousarray(arrays[name], dtype="<f4").tobytes()
        header[name] = {
            "dtype": "F32",
            "shape": list(arrays[name].shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data block starts 8-byte aligned
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def _check_readable(path: Path, arrays: dict[str, np.ndarray]) -> None:
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        for name, tensor in arrays.items():
            if not np.array_equal(f.get_tensor(name), tensor):
                raise RuntimeError(f"{path}: tensor {name} did not round-trip")


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    arrays, metadata = collect()
    save(arrays, metadata, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KB), {len(arrays)} tensors")


if __name__ == "__main__":
    main()
