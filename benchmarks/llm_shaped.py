"""An LLM-shaped checkpoint (sharded bf16 safetensors) through rmtfit and WeightWatcher.

Writes a checkpoint shaped like a small LLaMA-class model: ``--blocks`` transformer blocks, each
with four ``hidden x hidden`` attention projections (q, k, v, o) and three MLP projections
(``mlp x hidden`` gate and up, ``hidden x mlp`` down), in bfloat16, sharded into ``--shards``
files ``model-0000i-of-0000N.safetensors`` with a ``model.safetensors.index.json`` (the Hugging
Face layout, which both tools read). Weights are Gaussian (a random-like bulk); in every fourth
block the MLP matrices get Student-t entries (df 3, a planted heavy tail).

Then, each contender as a fresh process (imports, reading, everything), interleaved, with its
wall time and its peak resident memory (``ru_maxrss`` of that one child, from ``os.wait4``):

- ``rmtfit spectra DIR --out spectra.nc`` (eigenvalues only);
- ``rmtfit analyze DIR --fast`` (classical fits, every report file);
- ``rmtfit analyze DIR --layers <the first --full-blocks blocks>`` (full Bayesian mode, default
  likelihoods): full mode on every layer would take hours on a laptop, so it is measured on a
  few blocks and extrapolated per layer (printed as such);
- WeightWatcher ``WeightWatcher(model=DIR).analyze()`` (its eigenvalues and power-law fits).

Usage::

    .venv/bin/python benchmarks/llm_shaped.py --blocks 2 --full-blocks 1   # a quick run
    .venv/bin/python benchmarks/llm_shaped.py                             # 16 blocks of 2048/5632
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_checkpoint(folder: Path, blocks: int, hidden: int, mlp: int, shards: int) -> dict:
    """The sharded bf16 checkpoint; returns its index (weight_map) with the planted layers."""
    import torch
    from safetensors.torch import save_file

    rng = np.random.default_rng(0)
    names: list[tuple[str, tuple[int, int], bool]] = []
    for b in range(blocks):
        heavy = b % 4 == 3
        for p in ("q_proj", "k_proj", "v_proj", "o_proj"):
            names.append((f"model.layers.{b}.self_attn.{p}.weight", (hidden, hidden), False))
        for p, shape in (
            ("gate_proj", (mlp, hidden)),
            ("up_proj", (mlp, hidden)),
            ("down_proj", (hidden, mlp)),
        ):
            names.append((f"model.layers.{b}.mlp.{p}.weight", shape, heavy))
        names.append((f"model.layers.{b}.input_layernorm.weight", (hidden,), False))
    per_shard = -(-len(names) // shards)
    weight_map = {}
    for s in range(shards):
        part = names[s * per_shard : (s + 1) * per_shard]
        if not part:
            continue
        file = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        tensors = {}
        for name, shape, heavy in part:
            if len(shape) == 1:
                values = np.ones(shape, np.float32)
            elif heavy:
                values = rng.standard_t(3.0, shape).astype(np.float32) / np.sqrt(shape[1])
            else:
                values = rng.standard_normal(shape, dtype=np.float32) / np.sqrt(shape[1])
            tensors[name] = torch.from_numpy(values).to(torch.bfloat16)
            weight_map[name] = file
        save_file(tensors, str(folder / file))
        del tensors
    index = {
        "metadata": {"planted_heavy_tails": [n for n, _, h in names if h]},
        "weight_map": weight_map,
    }
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=1))
    return index


def run_measured(cmd: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MiB) and exit code of one child process."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode not in (0, 1):
        print(
            f"  ! {' '.join(cmd[:3])} ... exited {proc.returncode}: {err[-600:]}", file=sys.stderr
        )
    return wall, usage.ru_maxrss / 1024, proc.returncode


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=2048)
    parser.add_argument("--mlp", type=int, default=5632)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--full-blocks", type=int, default=1, help="blocks analysed in full mode")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--no-weightwatcher", action="store_true")
    parser.add_argument("--keep", metavar="DIR", help="write the checkpoint here and keep it")
    args = parser.parse_args(argv)

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="rmtfit-llm-"))
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="rmtfit-llm-out-"))
    try:
        start = time.perf_counter()
        index = write_checkpoint(folder, args.blocks, args.hidden, args.mlp, args.shards)
        layers = [n for n in index["weight_map"] if n.endswith("proj.weight")]
        size = sum(p.stat().st_size for p in folder.glob("*.safetensors"))
        print(f"# machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        print(
            f"# checkpoint: {args.blocks} blocks, {len(layers)} matrices ({args.hidden}x{args.hidden} "
            f"and {args.mlp}x{args.hidden}), bf16, {size / 2**30:.2f} GiB in {args.shards} shards, "
            f"written in {time.perf_counter() - start:.1f} s"
        )
        rmtfit = [
            sys.executable,
            "-c",
            "import sys; from rmtfit.cli import main; sys.exit(main(sys.argv[1:]))",
        ]
        full_regex = (
            "model\\.layers\\.(" + "|".join(str(b) for b in range(args.full_blocks)) + ")\\."
        )
        n_full = sum(
            1 for n in layers if n.split(".")[2] in {str(b) for b in range(args.full_blocks)}
        )
        cmds = {
            "rmtfit spectra": [*rmtfit, "spectra", str(folder), "--quiet", "--out", str(work / "s.nc")],
            "rmtfit analyze --fast": [*rmtfit, "analyze", str(folder), "--fast", "-q", "--out", str(work / "fast")],
            f"rmtfit analyze (full, {n_full} layers)": [
                *rmtfit, "analyze", str(folder), "--layers", full_regex, "-q", "--out", str(work / "full")
            ],
        }  # fmt: skip
        if not args.no_weightwatcher:
            cmds["weightwatcher analyze()"] = [
                sys.executable,
                "-c",
                f"import weightwatcher as ww; ww.WeightWatcher(model={str(folder)!r}).analyze()",
            ]
        results: dict[str, list[tuple[float, float, int]]] = {k: [] for k in cmds}
        for _ in range(args.repeats):
            for name, cmd in cmds.items():
                results[name].append(run_measured(cmd))
        print(f"{'contender':38s} {'wall s':>9s} {'s/layer':>9s} {'peak RSS MiB':>13s}")
        walls = {}
        for name, runs in results.items():
            wall = statistics.median(r[0] for r in runs)
            rss = max(r[1] for r in runs)
            per = wall / (n_full if "full" in name else len(layers))
            walls[name] = wall
            print(f"{name:38s} {wall:9.1f} {per:9.2f} {rss:13.0f}")
        if "weightwatcher analyze()" in walls:
            ww = walls["weightwatcher analyze()"]
            for name in ("rmtfit spectra", "rmtfit analyze --fast"):
                print(f"ratio {name} / weightwatcher: {walls[name] / ww:.2f}")
        full_name = next(k for k in walls if "full" in k)
        per_layer = walls[full_name] / max(n_full, 1)
        print(
            f"full mode, extrapolated from {n_full} layers: {per_layer:.1f} s/layer "
            f"(process start and compilation included) -> {per_layer * len(layers) / 60:.1f} min "
            f"for all {len(layers)} matrices on one process"
        )
        report = json.loads((work / "fast" / "report.json").read_text())
        planted = set(index["metadata"]["planted_heavy_tails"])
        alphas = {
            layer["name"]: (layer.get("classical") or {}).get("alpha") for layer in report["layers"]
        }
        heavy = [a for n, a in alphas.items() if n in planted and a]
        light = [a for n, a in alphas.items() if n not in planted and a]
        if heavy and light:
            print(
                f"classical alpha: planted heavy-tailed layers median {np.median(heavy):.2f}, "
                f"Gaussian layers median {np.median(light):.2f}"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
