"""``rmtfit analyze --fast`` vs WeightWatcher ``analyze()`` on a 53-layer CNN, as whole processes.

The network is torchvision's ``mobilenet_v2`` (untrained, seeded, built offline), written once to
a temporary ``model.safetensors``. Each contender runs in a fresh interpreter, the way a user
runs it (imports, reading the file, eigenvalues, fits and every output file included):

- rmtfit: ``rmtfit analyze model.safetensors --fast --out DIR`` (report.json, layers.csv and the
  interactive report.html; no PNG files, which need ``--plots``);
- WeightWatcher: ``WeightWatcher(model=folder).analyze()`` (its default power-law fits).

Runs are interleaved (rmtfit, WeightWatcher, rmtfit, ...); the medians and their ratio are
printed; target: rmtfit at most 0.5x WeightWatcher. ``--profile`` also prints where rmtfit's
``--fast`` run spends its time (cProfile, in-process, after one warm-up run), and the import
time of the command.

Usage::

    .venv/bin/python benchmarks/report_cnn.py            # 3 interleaved runs each
    .venv/bin/python benchmarks/report_cnn.py --repeats 5 --profile
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _cnn import write_mobilenet  # benchmarks/_cnn.py (scripts run from this folder)


def commands(path: Path, out: Path) -> dict[str, list[str]]:
    rmtfit = Path(sys.executable).parent / "rmtfit"
    rmtfit_cmd = [str(rmtfit)] if rmtfit.exists() else [sys.executable, "-c", _MAIN]
    return {
        "rmtfit analyze --fast": [*rmtfit_cmd, "analyze", str(path), "--fast", "-q", "--out", str(out)],
        "weightwatcher analyze()": [
            sys.executable,
            "-c",
            f"import weightwatcher as ww; ww.WeightWatcher(model={str(path.parent)!r}).analyze()",
        ],
    }  # fmt: skip


_MAIN = "import sys; from rmtfit.cli import main; sys.exit(main(sys.argv[1:]))"


def time_interleaved(cmds: dict[str, list[str]], repeats: int) -> dict[str, list[float]]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    walls: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(repeats):
        for name, cmd in cmds.items():
            start = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
            walls[name].append(time.perf_counter() - start)
            if done.returncode not in (0, 1):
                raise SystemExit(f"{name} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return walls


def profile_fast(path: Path, out: Path, top: int = 18) -> str:
    """cProfile of ``main(['analyze', path, '--fast', ...])`` in this process, after a warm-up."""
    from rmtfit.cli import main

    argv = ["analyze", str(path), "--fast", "-q", "--out", str(out)]
    main(argv)
    profiler = cProfile.Profile()
    profiler.enable()
    main(argv)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(top)
    return text.getvalue()


def import_seconds() -> float:
    code = "import time; t = time.perf_counter(); import rmtfit.cli, rmtfit.pipeline, rmtfit.report; print(time.perf_counter() - t)"  # noqa: E501
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    load = os.getloadavg()
    print(f"cpus {os.cpu_count()}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    with tempfile.TemporaryDirectory(prefix="rmtfit-bench-") as tmp:
        folder = Path(tmp) / "mobilenet_v2"
        folder.mkdir()
        path = write_mobilenet(folder)
        print(f"{path.name}: mobilenet_v2, {path.stat().st_size / 1e6:.1f} MB")
        walls = time_interleaved(commands(path, Path(tmp) / "out"), args.repeats)
        report = Path(tmp) / "out" / "report.json"
        import json

        layers = [x for x in json.loads(report.read_text())["layers"] if x["status"] == "ok"]
        html = (Path(tmp) / "out" / "report.html").stat().st_size
        print(f"rmtfit analysed {len(layers)} layers; report.html {html / 1e6:.2f} MB")
        medians = {name: statistics.median(w) for name, w in walls.items()}
        print(f"{'contender':<26}{'median s':>10}   runs")
        for name, wall in medians.items():
            runs = ", ".join(f"{w:.2f}" for w in walls[name])
            print(f"{name:<26}{wall:>10.2f}   {runs}")
        ours, theirs = medians.values()
        verdict = "met" if ours <= 0.5 * theirs else "MISSED"
        print(f"ratio rmtfit / weightwatcher: {ours / theirs:.2f}x (target <= 0.5x: {verdict})")
        print(f"import rmtfit.cli + pipeline + report: {import_seconds():.2f} s")
        if args.profile:
            print(profile_fast(path, Path(tmp) / "profiled"))


if __name__ == "__main__":
    main()
