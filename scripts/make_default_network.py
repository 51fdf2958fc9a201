"""Train the small network embedded in rmtfit and save it as safetensors.

The network is a small CNN (2 Conv2d + 3 Linear layers, about 80k float32 weights, ~320 KB)
trained on scikit-learn's 8x8 digits (bundled with scikit-learn, no download) with plain SGD
at a small batch size, so that its layers develop some structure beyond random initialisation.
Everything is seeded and runs single-threaded with deterministic algorithms: the same torch
build on the same CPU gives the same bytes.

Usage::

    python scripts/make_default_network.py                 # writes rmtfit/data/default_network.safetensors
    python scripts/make_default_network.py --epochs 1 --out /tmp/net.safetensors
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import tempfile
from pathlib import Path

import numpy as np

DEFAULT_OUT = (
    Path(__file__).resolve().parents[1] / "rmtfit" / "data" / "default_network.safetensors"
)
SEED = 0
EPOCHS = 40
BATCH_SIZE = 8
LEARNING_RATE = 0.02
MOMENTUM = 0.9


def build_network():
    """The DigitsCNN: conv1 (1->16, 3x3), conv2 (16->32, 3x3), 2x2 max-pool, fc 512-128-64-10."""
    import torch.nn as nn

    class DigitsCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, 16, kernel_size=3, padding=1)
            self.conv2 = nn.Conv2d(16, 32, kernel_size=3, padding=1)
            self.pool = nn.MaxPool2d(2)
            self.fc1 = nn.Linear(32 * 4 * 4, 128)
            self.fc2 = nn.Linear(128, 64)
            self.fc3 = nn.Linear(64, 10)
            self.act = nn.ReLU()

        def forward(self, x):
            x = self.act(self.conv1(x))
            x = self.pool(self.act(self.conv2(x)))
            x = x.flatten(1)
            x = self.act(self.fc1(x))
            x = self.act(self.fc2(x))
            return self.fc3(x)

    return DigitsCNN()


def load_digits_split(seed: int):
    """Digits scaled to [0, 1] as (n, 1, 8, 8) float32, split 80/20 with a fixed permutation."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_train = int(0.8 * len(y))
    train, test = order[:n_train], order[n_train:]
    return x[train], y[train], x[test], y[test]


def train(epochs: int = EPOCHS, seed: int = SEED) -> tuple[dict, float]:
    """Train the network; return its state dict (contiguous CPU tensors) and test accuracy."""
    import torch

    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    x_train, y_train, x_test, y_test = load_digits_split(seed)
    x_train, y_train = torch.from_numpy(x_train), torch.from_numpy(y_train)
    network = build_network()
    optimizer = torch.optim.SGD(network.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
    loss_fn = torch.nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        network.train()
        order = torch.randperm(len(y_train), generator=generator)
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            optimizer.zero_grad()
            loss_fn(network(x_train[batch]), y_train[batch]).backward()
            optimizer.step()
    network.eval()
    with torch.no_grad():
        predicted = network(torch.from_numpy(x_test)).argmax(dim=1).numpy()
    accuracy = float(np.mean(predicted == y_test))
    state = {k: v.detach().contiguous() for k, v in network.state_dict().items()}
    return state, accuracy


def save(state: dict, accuracy: float, out: Path, epochs: int, seed: int) -> None:
    """Write the weights as safetensors (atomically), with the recipe in the file's metadata.

    The file is written here rather than by ``safetensors.torch.save_file``, whose metadata
    order varies from run to run: tensors and metadata keys are sorted so the bytes are
    reproducible. It is checked by reading it back with ``safetensors.safe_open``.
    """
    import torch

    metadata = {
        "network": "DigitsCNN: conv1 1->16 3x3, conv2 16->32 3x3, maxpool 2, fc 512-128-64-10",
        "dataset": "sklearn.datasets.load_digits, 80/20 split",
        "recipe": f"SGD lr={LEARNING_RATE} momentum={MOMENTUM} batch_size={BATCH_SIZE} epochs={epochs}",
        "seed": str(seed),
        "test_accuracy": f"{accuracy:.4f}",
        "torch_version": torch.__version__.split("+")[0],
        "made_by": "scripts/make_default_network.py",
    }
    blob = safetensors_bytes({k: v.numpy() for k, v in state.items()}, metadata)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        _check_readable(Path(tmp), state)
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
        shape = list(arrays[name].shape)
        header[name] = {
            "dtype": "F32",
            "shape": shape,
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data block starts 8-byte aligned
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def _check_readable(path: Path, state: dict) -> None:
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        for name, tensor in state.items():
            if not np.array_equal(f.get_tensor(name), tensor.numpy()):
                raise RuntimeError(f"{path}: tensor {name} did not round-trip")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    state, accuracy = train(args.epochs, args.seed)
    save(state, accuracy, args.out, args.epochs, args.seed)
    size_kb = args.out.stat().st_size / 1024
    print(f"wrote {args.out} ({size_kb:.0f} KB), test accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
