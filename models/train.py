"""Train the subject networks of rmtfit, deterministically, on the CPU.

Regenerate every checkpoint and the manifest (under 10 minutes on one uncontended core,
22 minutes measured on a shared 2-core machine; a batch-size-2 recipe takes 95 to 280 s)::

    python models/train.py --all

Train one recipe, list the recipes, or make a quick run somewhere else::

    python models/train.py --config minialexnet_bs0032
    python models/train.py --list
    python models/train.py --config mlp_bs0512 --max-steps 5 --out /tmp/zoo

Every run is a pure function of its recipe: the network's initial weights come from
``torch.manual_seed(seed)``, the data order from a ``torch.Generator`` seeded with the
same seed, torch runs single-threaded with deterministic algorithms, so the same recipe
on the same machine and library versions writes a byte-identical safetensors file.

The data are scikit-learn's digits (1797 images of 8x8 pixels, 10 classes), pixels
divided by 16, split once by ``train_test_split(test_size=360, stratify=y,
random_state=0)`` into 1437 training and 360 test images.

The teacher-student recipes (``student_*``) train the ``student`` MLP on the synthetic task
of ``teacher_student.py`` (20000 Gaussian training inputs labelled by a fixed random tanh
teacher). Their sweep runs batch sizes 1, 2, 4, ..., 1024 at one learning rate (0.001, with
momentum 0.9) and one number of epochs (8); beside it, batch size 32 at 4 times the learning
rate and batch size 1024 for 16 times the epochs. The whole teacher-student sweep took 206 s
of CPU (553 s of wall time on a shared, loaded 2-core machine); batch size 1 is the slowest,
89 s of CPU.

The batch-size sweep follows Martin & Mahoney (ICML 2019): the same network, the same
optimizer (SGD with momentum, no weight decay, no dropout), the same learning rate and
the same number of epochs at every batch size, so smaller batches take more and noisier
steps. Two extra MiniAlexNet recipes sit beside the sweep, each marked in its ``note``:
batch size 2 at half the learning rate (at lr = 0.01 batch size 2 diverges and ends at
chance accuracy), and batch size 1024 stopped after 65 of the 100 epochs (an early
snapshot whose top eigenvalues are only just leaving the bulk).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import networks
import teacher_student

MODELS_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = MODELS_DIR
CHECKPOINT_DIR_NAME = "checkpoints"
MANIFEST_NAME = "manifest.json"
MANIFEST_SCHEMA = 1

TEST_SIZE = 360
SPLIT_SEED = 0
DATA_NAME = "sklearn digits"
SPLIT_TEXT = (
    f"sklearn.model_selection.train_test_split(test_size={TEST_SIZE}, stratify=y, "
    f"random_state={SPLIT_SEED})"
)
PREPROCESSING = "pixels / 16 as float32 in [0, 1]; images 1 x 8 x 8"

SWEEP_BATCH_SIZES = (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
STUDENT_BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
STUDENT_EPOCHS = 8
STUDENT_LR = 0.001

DIGITS = "digits"
TEACHER_STUDENT = "teacher_student"
DATASETS = {
    DIGITS: {"name": DATA_NAME, "split": SPLIT_TEXT, "preprocessing": PREPROCESSING},
    TEACHER_STUDENT: {
        "name": teacher_student.DATA_NAME,
        "split": teacher_student.SPLIT_TEXT,
        "preprocessing": teacher_student.PREPROCESSING,
    },
}


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Everything that determines one trained checkpoint.

    Attributes
    ----------
    name : str
        Checkpoint name; the file is ``checkpoints/<name>.safetensors``.
    architecture : str
        One of ``networks.ARCHITECTURES``.
    batch_size : int
        Mini-batch size; the last batch of an epoch holds the remainder.
    epochs : int
        Passes over the training set; 0 saves the untrained initial weights.
    seed : int
        Seed of the initial weights and of the data order.
    lr, momentum, weight_decay : float
        Settings of ``torch.optim.SGD``.
    note : str
        Why the recipe exists, when it departs from the sweep's protocol.
    data : str
        The training data: ``"digits"`` or ``"teacher_student"`` (a key of ``DATASETS``).
    """

    name: str
    architecture: str
    batch_size: int
    epochs: int
    seed: int = 0
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0
    note: str = ""
    data: str = DIGITS


def _recipes() -> dict[str, Recipe]:
    """Return the zoo's recipes by name, in a fixed order."""
    epochs = 100
    recipes = [
        Recipe(
            "minialexnet_init",
            "minialexnet",
            batch_size=SWEEP_BATCH_SIZES[0],
            epochs=0,
            note="untrained initial weights of every MiniAlexNet recipe with seed 0",
        )
    ]
    diverged = (
        "the sweep's protocol point at batch size 2: with lr 0.01 it diverges mid-training and "
        "ends at chance accuracy (see minialexnet_bs0002_lr0005)"
    )
    recipes += [
        Recipe(
            f"minialexnet_bs{bs:04d}",
            "minialexnet",
            batch_size=bs,
            epochs=epochs,
            note=diverged if bs == 2 else "",
        )
        for bs in SWEEP_BATCH_SIZES
    ]
    recipes += [
        Recipe(
            "minialexnet_bs0002_lr0005",
            "minialexnet",
            batch_size=2,
            epochs=epochs,
            lr=0.005,
            note="off the sweep's protocol: half the learning rate, because batch size 2 at "
            "lr 0.01 diverges to chance accuracy",
        ),
        Recipe(
            "minialexnet_bs1024_ep065",
            "minialexnet",
            batch_size=1024,
            epochs=65,
            note="early snapshot of the batch-size-1024 run (65 of 100 epochs): the top "
            "eigenvalues are only just leaving the bulk",
        ),
    ]
    recipes += [
        Recipe(f"lenet5_bs{bs:04d}", "lenet5", batch_size=bs, epochs=epochs) for bs in (4, 512)
    ]
    recipes += [Recipe(f"mlp_bs{bs:04d}", "mlp", batch_size=bs, epochs=epochs) for bs in (4, 512)]
    return {recipe.name: recipe for recipe in recipes + _student_recipes()}


def _student_recipes() -> list[Recipe]:
    """The teacher-student sweep: batch sizes 1 to 1024, then one lr and one epochs variation."""
    student = {"architecture": "student", "lr": STUDENT_LR, "data": TEACHER_STUDENT}
    recipes = [
        Recipe(
            "student_init",
            batch_size=STUDENT_BATCH_SIZES[0],
            epochs=0,
            note="untrained initial weights of every student recipe with seed 0",
            **student,
        )
    ]
    recipes += [
        Recipe(f"student_bs{bs:04d}", batch_size=bs, epochs=STUDENT_EPOCHS, **student)
        for bs in STUDENT_BATCH_SIZES
    ]
    recipes += [
        Recipe(
            "student_bs0032_lr0004",
            batch_size=32,
            epochs=STUDENT_EPOCHS,
            **{**student, "lr": 4 * STUDENT_LR},
            note="off the sweep's protocol: 4 times the learning rate, the same lr / batch "
            "ratio as student_bs0008 (is it the noise scale or the batch size?)",
        ),
        Recipe(
            "student_bs1024_ep0128",
            batch_size=1024,
            epochs=16 * STUDENT_EPOCHS,
            note="off the sweep's protocol: batch size 1024 for 16 times the epochs (2560 "
            "steps, about as many as student_bs0064), to separate batch size from training",
            **student,
        ),
    ]
    return recipes


RECIPES = _recipes()


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Number of optimizer steps in one epoch (the last batch may be short)."""
    return math.ceil(n_train / batch_size)


def configure_torch(threads: int) -> None:
    """Make torch single-threaded (or ``threads``) and deterministic."""
    import torch

    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


def load_data() -> dict[str, Any]:
    """Load the digits and split them; return float32/int64 torch tensors.

    Returns
    -------
    dict
        ``x_train``, ``y_train``, ``x_test``, ``y_test`` (torch tensors) and
        ``sha256`` (hex digest of the four arrays' bytes, to detect a changed data set).
    """
    import numpy as np
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TEST_SIZE, stratify=y, random_state=SPLIT_SEED
    )
    digest = hashlib.sha256()
    for array in (x_train, y_train, x_test, y_test):
        digest.update(np.ascontiguousarray(array).tobytes())
    return {
        "x_train": torch.from_numpy(x_train),
        "y_train": torch.from_numpy(y_train),
        "x_test": torch.from_numpy(x_test),
        "y_test": torch.from_numpy(y_test),
        "sha256": digest.hexdigest(),
    }


def accuracy(model: Any, x: Any, y: Any) -> float:
    """Fraction of ``x`` that ``model`` labels as ``y``."""
    import torch

    model.eval()
    with torch.no_grad():
        predicted = model(x).argmax(dim=1)
    model.train()
    return float((predicted == y).double().mean())


def train(recipe: Recipe, data: dict[str, Any], *, max_steps: int | None = None) -> dict[str, Any]:
    """Train one recipe from scratch.

    Parameters
    ----------
    recipe : Recipe
        What to train.
    data : dict
        The output of ``load_data``.
    max_steps : int, optional
        Stop after this many optimizer steps (quick runs and tests); ``None`` runs all epochs.

    Returns
    -------
    dict
        ``state_dict`` (float32 tensors), ``steps`` (optimizer steps taken),
        ``train_accuracy``, ``test_accuracy`` and ``final_train_loss`` (mean
        cross-entropy over the training set after training).
    """
    import torch

    torch.manual_seed(recipe.seed)
    model = networks.build(recipe.architecture)
    generator = torch.Generator().manual_seed(recipe.seed)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=recipe.lr,
        momentum=recipe.momentum,
        weight_decay=recipe.weight_decay,
    )
    loss_fn = torch.nn.CrossEntropyLoss()
    x_train, y_train = data["x_train"], data["y_train"]
    n_train = x_train.shape[0]
    steps = 0
    for _ in range(recipe.epochs):
        order = torch.randperm(n_train, generator=generator)
        for start in range(0, n_train, recipe.batch_size):
            if max_steps is not None and steps >= max_steps:
                break
            batch = order[start : start + recipe.batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x_train[batch]), y_train[batch])
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"{recipe.name}: training loss became {float(loss)} at step {steps}; "
                    f"lower the learning rate (lr={recipe.lr}) or raise the batch size."
                )
            loss.backward()
            optimizer.step()
            steps += 1
    model.eval()
    with torch.no_grad():
        final_loss = float(loss_fn(model(x_train), y_train))
    state = {
        key: value.detach().to(torch.float32).contiguous()
        for key, value in model.state_dict().items()
    }
    return {
        "state_dict": state,
        "steps": steps,
        "train_accuracy": accuracy(model, x_train, y_train),
        "test_accuracy": accuracy(model, data["x_test"], data["y_test"]),
        "final_train_loss": final_loss,
    }


def sha256_file(path: Path) -> str:
    """Hex sha256 digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` through a temporary file in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def save_checkpoint(state: dict[str, Any], path: Path) -> str:
    """Save a state_dict as safetensors (atomically); return the file's sha256."""
    from safetensors.torch import save

    _atomic_write_bytes(path, save(state))
    return sha256_file(path)


def manifest_entry(
    recipe: Recipe, result: dict[str, Any], sha256: str, data_sha256: str
) -> dict[str, Any]:
    """The manifest's record of one trained checkpoint."""
    import sklearn
    import torch

    return {
        "name": recipe.name,
        "file": f"{CHECKPOINT_DIR_NAME}/{recipe.name}.safetensors",
        "architecture": recipe.architecture,
        "architecture_detail": networks.DESCRIPTIONS[recipe.architecture],
        "data": DATASETS[recipe.data]["name"],
        "split": DATASETS[recipe.data]["split"],
        "preprocessing": DATASETS[recipe.data]["preprocessing"],
        "data_sha256": data_sha256,
        "batch_size": recipe.batch_size,
        "epochs": recipe.epochs,
        "steps": result["steps"],
        "seed": recipe.seed,
        "optimizer": {
            "name": "SGD",
            "lr": recipe.lr,
            "momentum": recipe.momentum,
            "weight_decay": recipe.weight_decay,
        },
        "loss": "cross-entropy",
        "note": recipe.note,
        "train_accuracy": round(result["train_accuracy"], 6),
        "test_accuracy": round(result["test_accuracy"], 6),
        "final_train_loss": round(result["final_train_loss"], 6),
        "tensors": {key: list(value.shape) for key, value in sorted(result["state_dict"].items())},
        "dtype": "float32",
        "sha256": sha256,
        "torch_version": torch.__version__,
        "sklearn_version": sklearn.__version__,
    }


def read_manifest(out: Path) -> dict[str, Any]:
    """Read ``out/manifest.json``, or return an empty manifest if there is none."""
    path = out / MANIFEST_NAME
    if not path.exists():
        return {"schema": MANIFEST_SCHEMA, "checkpoints": []}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def write_manifest(out: Path, entries: list[dict[str, Any]]) -> None:
    """Write the manifest (entries in recipe order, unknown names last) atomically."""
    order = {name: index for index, name in enumerate(RECIPES)}
    entries = sorted(
        entries, key=lambda entry: (order.get(entry["name"], len(order)), entry["name"])
    )
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "description": "Subject networks of rmtfit; regenerate with `python models/train.py --all`.",
        "checkpoints": entries,
    }
    text = json.dumps(manifest, indent=2, sort_keys=False) + "\n"
    _atomic_write_bytes(out / MANIFEST_NAME, text.encode("utf-8"))


def run(
    names: list[str], out: Path, *, max_steps: int | None, threads: int, replace_all: bool
) -> int:
    """Train ``names`` into ``out`` and update its manifest; return an exit code."""
    configure_torch(threads)
    loaders = {DIGITS: load_data, TEACHER_STUDENT: teacher_student.load_data}
    datasets = {key: loaders[key]() for key in dict.fromkeys(RECIPES[n].data for n in names)}
    entries = {} if replace_all else {e["name"]: e for e in read_manifest(out)["checkpoints"]}
    total_start, total_cpu = time.perf_counter(), time.process_time()
    for name in names:
        recipe = RECIPES[name]
        data = datasets[recipe.data]
        start, cpu_start = time.perf_counter(), time.process_time()
        result = train(recipe, data, max_steps=max_steps)
        sha256 = save_checkpoint(
            result["state_dict"], out / CHECKPOINT_DIR_NAME / f"{name}.safetensors"
        )
        entries[name] = manifest_entry(recipe, result, sha256, data["sha256"])
        if max_steps is not None:
            entries[name]["max_steps"] = max_steps
        write_manifest(out, list(entries.values()))
        print(
            f"{name:26s} bs={recipe.batch_size:5d} steps={result['steps']:6d} "
            f"train={result['train_accuracy']:.4f} test={result['test_accuracy']:.4f} "
            f"loss={result['final_train_loss']:.4f} {time.perf_counter() - start:7.1f}s "
            f"(cpu {time.process_time() - cpu_start:6.1f}s) "
            f"sha256={sha256[:16]}",
            flush=True,
        )
    print(
        f"total {time.perf_counter() - total_start:.1f}s (cpu {time.process_time() - total_cpu:.1f}s) "
        f"for {len(names)} checkpoint(s)",
        flush=True,
    )
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--all", action="store_true", help="train every recipe and rewrite the manifest"
    )
    what.add_argument("--config", nargs="+", metavar="NAME", help="train these recipes only")
    what.add_argument("--list", action="store_true", help="list the recipes and exit")
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="folder of manifest.json and checkpoints/ (default: models/)",
    )
    parser.add_argument(
        "--max-steps", type=int, default=None, help="stop each run after this many optimizer steps"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    args = parse_args(argv)
    if args.list:
        for recipe in RECIPES.values():
            print(
                f"{recipe.name:26s} {recipe.architecture:12s} bs={recipe.batch_size:5d} epochs={recipe.epochs}"
            )
        return 0
    if args.max_steps is not None and args.max_steps < 1:
        print(f"error: --max-steps must be >= 1, got {args.max_steps}.", file=sys.stderr)
        return 2
    if args.threads < 1:
        print(f"error: --threads must be >= 1, got {args.threads}.", file=sys.stderr)
        return 2
    names = list(RECIPES) if args.all else args.config
    unknown = [name for name in names if name not in RECIPES]
    if unknown:
        print(
            f"error: unknown recipe(s) {', '.join(unknown)}; see `python models/train.py --list`.",
            file=sys.stderr,
        )
        return 2
    return run(
        names, args.out, max_steps=args.max_steps, threads=args.threads, replace_all=args.all
    )


if __name__ == "__main__":
    sys.exit(main())
