"""``rmtfit analyze`` (full default analysis) vs WeightWatcher ``analyze(mp_fit=True)``, one run.

The benchmark of issue 15. Every contender is a whole fresh process on the same weights:

* **rmtfit cold**: ``rmtfit analyze FILE --out DIR -q`` (the CLI, full default analysis, default
  plots setting) with ``RMTFIT_JAX_CACHE`` pointing at a new, empty folder: everything is traced
  and compiled;
* **rmtfit warm**: the same command again with that cache now filled (``--repeats`` times);
* **weightwatcher**: ``WeightWatcher(model=folder).analyze(mp_fit=True)``, where the folder holds
  only a link ``model.safetensors`` to FILE (WeightWatcher reads every ``*model*safetensors`` of
  a folder).

Order: cold, then ``--repeats`` times (weightwatcher, warm), so that load on a shared machine hits
every contender alike; medians are printed. For each run: wall time and peak resident memory,
both measured by the parent from ``os.wait4`` (the kernel's ``ru_maxrss`` of that one child, so
the child needs no cooperation and interpreter start-up and exit count); for rmtfit also the time
of each stage the pipeline records (``Analysis.timings``: spectra, classical, fits, comparison,
predictive) and of writing the outputs, the rest being start-up, imports, the phases/network step
and exit; the size of the output folder and of ``fits.nc``; and the outcome of every (layer,
likelihood) pair from ``report.json`` (ok / flagged / not fitted / failed). ``report.json``
carries no timings, so the rmtfit child is a small ``python -c`` wrapper that runs
``rmtfit.cli.main([...])`` in-process and records the ``Analysis.timings`` of that call and the
time of ``write_outputs`` in a side file. Quote the printed header with any figure::

    .venv/bin/python benchmarks/full_analysis.py                         # MiniLM
    .venv/bin/python benchmarks/full_analysis.py --model mobilenet_v2
    .venv/bin/python benchmarks/full_analysis.py --path rmtfit/data/default_network.safetensors \\
        --skip-ww --draws 100                                            # a quick check
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import _minilm  # benchmarks/_minilm.py (scripts run from this folder)

TARGETS = {"minilm": {"cold": 1.0, "warm": 0.5}, "mobilenet_v2": {"cold": 1.0}}
"""Issue 15's targets: rmtfit wall time / WeightWatcher ``analyze(mp_fit=True)`` wall time."""
STAGES = ("spectra", "classical", "tasks", "fits", "comparison", "predictive", "write")
PAIR_STATUSES = ("ok", "flagged", "not_fitted", "failed")
VERSIONS = ("rmtfit", "jax", "numpyro", "arviz", "numpy", "weightwatcher", "torch")

_RMTFIT_CHILD = """\
import json, sys, time
import rmtfit.pipeline, rmtfit.report
from rmtfit.cli import main
record = {}
analyze, write_outputs = rmtfit.pipeline.analyze, rmtfit.report.write_outputs
def timed_analyze(*args, **kwargs):
    analysis = analyze(*args, **kwargs)
    record.update(analysis.timings)
    return analysis
def timed_write(*args, **kwargs):
    start = time.perf_counter()
    outputs = write_outputs(*args, **kwargs)
    record["write"] = time.perf_counter() - start
    return outputs
rmtfit.pipeline.analyze, rmtfit.report.write_outputs = timed_analyze, timed_write
code = main(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    json.dump(record, f)
sys.exit(code)
"""
"""Runs the CLI in-process; the CLI imports ``analyze`` and ``write_outputs`` from these modules
when it runs, so it calls the timed versions."""

_WW_CHILD = """\
import contextlib, io, logging, sys, warnings
import weightwatcher as ww
logging.getLogger("weightwatcher").setLevel(logging.ERROR)
with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
    warnings.simplefilter("ignore")
    details = ww.WeightWatcher(model=sys.argv[1]).analyze(mp_fit=True)
print(len(details))
"""


def run_child(cmd: list[str], env: dict[str, str]) -> dict:
    """Wall seconds, peak RSS (MiB), exit code and output of one child process."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    if proc.returncode not in (0, 1):  # 1: the run finished, some layers failed
        raise SystemExit(f"{' '.join(cmd[:4])} ... exited {proc.returncode}:\n{stderr[-3000:]}")
    return {"wall": wall, "rss_mib": usage.ru_maxrss / 1024, "rc": proc.returncode, "out": stdout}


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def pair_counts(report: dict) -> dict[str, dict[str, int]]:
    """Per likelihood, how many (layer, likelihood) pairs ended in each status."""
    counts: dict[str, dict[str, int]] = {}
    for layer in report["layers"]:
        for likelihood, model in (layer.get("models") or {}).items():
            per = counts.setdefault(likelihood, dict.fromkeys(PAIR_STATUSES, 0))
            per[model["status"]] = per.get(model["status"], 0) + 1
    return counts


def run_rmtfit(path: Path, out: Path, env: dict[str, str], draws: int | None) -> dict:
    timings_file = out.parent / f"{out.name}.timings.json"
    cmd = [sys.executable, "-c", _RMTFIT_CHILD, str(timings_file)]
    cmd += ["analyze", str(path), "--out", str(out), "-q"]
    if draws is not None:
        cmd += ["--draws", str(draws)]
    result = run_child(cmd, env)
    report = json.loads((out / "report.json").read_text())
    fits = out / "fits.nc"
    timings = json.loads(timings_file.read_text()) if timings_file.exists() else {}
    return {
        **result,
        "stages": timings,
        "out_bytes": folder_bytes(out),
        "fits_bytes": fits.stat().st_size if fits.exists() else None,
        "pairs": pair_counts(report),
        "layers": report["summary"],
    }


def run_weightwatcher(folder: Path, env: dict[str, str]) -> dict:
    result = run_child([sys.executable, "-c", _WW_CHILD, str(folder)], env)
    result["layers"] = int(result["out"].strip().splitlines()[-1])
    return result


def header(path: Path, label: str, args: argparse.Namespace) -> list[str]:
    load = os.getloadavg()
    versions = []
    for name in VERSIONS:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} -")
    threads = [f"{k}={os.environ[k]}" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "MKL_NUM_THREADS", "XLA_FLAGS") if k in os.environ]  # fmt: skip
    return [
        f"# {platform.platform()}, python {platform.python_version()}, {os.cpu_count()} cores, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
        + (f", {' '.join(threads)}" if threads else ""),
        f"# {', '.join(versions)}",
        f"# input: {label}: {path} ({path.stat().st_size / 1e6:.1f} MB); draws "
        f"{args.draws or 'default'}, warm repeats {args.repeats}",
    ]


def summarise(runs: dict[str, list[dict]]) -> dict[str, dict]:
    """Median wall, largest peak RSS, and the stage times and sizes of the median-wall run."""
    out = {}
    for name, group in runs.items():
        if not group:
            continue
        middle = sorted(group, key=lambda r: r["wall"])[(len(group) - 1) // 2]
        out[name] = {
            **middle,
            "wall": statistics.median(r["wall"] for r in group),
            "rss_mib": max(r["rss_mib"] for r in group),
            "walls": [r["wall"] for r in group],
        }
    return out


def print_tables(summary: dict[str, dict]) -> None:
    mb = 1e6
    print(f"\n{'contender':15s} {'wall s':>9s} {'peak RSS MiB':>13s} {'out MB':>9s} "
          f"{'fits.nc MB':>11s}   runs (s)")  # fmt: skip
    for name, r in summary.items():
        out = f"{r['out_bytes'] / mb:9.2f}" if "out_bytes" in r else f"{'-':>9s}"
        fits = f"{r['fits_bytes'] / mb:11.2f}" if r.get("fits_bytes") is not None else f"{'-':>11s}"
        runs = ", ".join(f"{w:.1f}" for w in r["walls"])
        print(f"{name:15s} {r['wall']:9.1f} {r['rss_mib']:13.0f} {out} {fits}   {runs}")
    rmtfit = {k: v for k, v in summary.items() if "stages" in v}
    seen = [s for s in STAGES if any(s in r["stages"] for r in rmtfit.values())]
    extra = sorted({s for r in rmtfit.values() for s in r["stages"]} - set(STAGES))
    if not rmtfit:
        return
    columns = [*seen, *extra, "rest"]
    print("\nstage split, seconds (median-wall run; rest = wall - stages: start-up, imports, "
          "phases/network, exit)")  # fmt: skip
    print(f"{'contender':15s}" + "".join(f"{c:>12s}" for c in columns))
    for name, r in rmtfit.items():
        stages = r["stages"]
        if not stages:
            print(f"{name:15s}  (no stage times recorded: the CLI wrapper caught no Analysis)")
            continue
        cells = [stages.get(c) for c in [*seen, *extra]]
        cells.append(r["wall"] - sum(v for v in cells if v is not None))
        print(f"{name:15s}" + "".join(f"{'-':>12s}" if v is None else f"{v:12.1f}" for v in cells))


def print_outcomes(summary: dict[str, dict]) -> None:
    for name, r in summary.items():
        if "pairs" not in r:
            continue
        total = dict.fromkeys(PAIR_STATUSES, 0)
        parts = []
        for likelihood, per in r["pairs"].items():
            for status, n in per.items():
                total[status] = total.get(status, 0) + n
            parts.append(f"{likelihood} " + " / ".join(f"{per[s]}" for s in PAIR_STATUSES))
        fitted = total["ok"] + total["flagged"]
        share = f"{100 * total['flagged'] / fitted:.1f}%" if fitted else "-"
        layers = r["layers"]
        print(
            f"{name}: pairs ok {total['ok']}, flagged {total['flagged']}, not fitted "
            f"{total['not_fitted']}, failed {total['failed']}; flagged share {share} of the "
            f"fitted pairs; layers analysed {layers['num_layers']} (failed "
            f"{layers['num_failed']}, skipped {layers['num_skipped']})"
        )
        print(f"  per likelihood (ok / flagged / not fitted / failed): {'; '.join(parts)}")


def print_ratios(summary: dict[str, dict], targets: dict[str, float] | None) -> None:
    ww = summary.get("weightwatcher")
    if ww is None:
        print("\nratios: WeightWatcher skipped (--skip-ww)")
        return
    print(f"\nWeightWatcher analysed {ww['layers']} layers")
    for kind in ("cold", "warm"):
        r = summary.get(f"rmtfit {kind}")
        if r is None:
            continue
        ratio = r["wall"] / ww["wall"]
        target = (targets or {}).get(kind)
        verdict = (
            "no target for this input" if target is None
            else f"target <= {target:.1f}x: {'met' if ratio <= target else 'MISSED'}"
        )  # fmt: skip
        print(f"ratio rmtfit {kind} / weightwatcher = {ratio:.2f}x ({verdict})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", choices=("minilm", "mobilenet_v2"), default="minilm")
    source.add_argument("--path", type=Path, help="a .safetensors file instead of --model")
    parser.add_argument("--repeats", type=int, default=1, help="warm (and WeightWatcher) runs")
    parser.add_argument("--skip-ww", action="store_true", help="do not run WeightWatcher")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep the outputs in DIR")
    parser.add_argument("--draws", type=int, help="passed to rmtfit analyze --draws (quick runs)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats {args.repeats}: must be >= 1")
    if args.keep and args.keep.exists() and any(args.keep.iterdir()):
        parser.error(f"--keep {args.keep}: the folder is not empty; pass a new or empty one")

    work = Path(tempfile.mkdtemp(prefix="rmtfit-full-bench-"))
    keep = args.keep or work
    keep.mkdir(parents=True, exist_ok=True)
    try:
        if args.path is not None:
            path, label, targets = args.path.resolve(), "--path", None
            if not path.is_file():
                raise SystemExit(f"--path {args.path}: no such file; pass a .safetensors file.")
        elif args.model == "mobilenet_v2":
            from _cnn import write_mobilenet  # benchmarks/_cnn.py

            (keep / "model").mkdir()
            path = write_mobilenet(keep / "model")
            label, targets = "torchvision mobilenet_v2 (untrained, seed 0)", TARGETS["mobilenet_v2"]
        else:
            path = _minilm.minilm_path("full_analysis.py")
            label, targets = "all-MiniLM-L6-v2", TARGETS["minilm"]
        ww_folder = work / "ww"
        ww_folder.mkdir()
        (ww_folder / "model.safetensors").symlink_to(path)
        print("\n".join(header(path, label, args)), flush=True)

        cache = work / "jax-cache"
        cache.mkdir()
        env = {**os.environ, "RMTFIT_JAX_CACHE": str(cache), "PYTHONWARNINGS": "ignore"}
        runs: dict[str, list[dict]] = {"rmtfit cold": [], "rmtfit warm": [], "weightwatcher": []}
        runs["rmtfit cold"].append(run_rmtfit(path, keep / "cold", env, args.draws))
        print(f"rmtfit cold {runs['rmtfit cold'][0]['wall']:.1f} s", flush=True)
        for i in range(args.repeats):
            if not args.skip_ww:
                runs["weightwatcher"].append(run_weightwatcher(ww_folder, env))
                print(f"weightwatcher {runs['weightwatcher'][-1]['wall']:.1f} s", flush=True)
            runs["rmtfit warm"].append(run_rmtfit(path, keep / f"warm{i + 1}", env, args.draws))
            print(f"rmtfit warm {runs['rmtfit warm'][-1]['wall']:.1f} s", flush=True)
        summary = summarise(runs)
        print_tables(summary)
        print()
        print_outcomes(summary)
        print_ratios(summary, targets)
        if args.keep:
            print(f"\noutputs kept in {keep}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
