"""Full Bayesian analysis of all-MiniLM-L6-v2 vs WeightWatcher ``analyze(mp_fit=True)``, one run.

Three contenders, each in a fresh interpreter so that start-up, imports and compilation count:

* **rmtfit cold**: ``load_spectra`` + ``fit_classical`` per layer + ``rmtfit.fit`` with the default
  likelihoods (``rmtfit.likelihoods.DEFAULT_LIKELIHOODS``), 4 chains, with an empty persistent
  JAX compilation cache (``RMTFIT_JAX_CACHE`` points at a new temporary folder): everything is
  traced and compiled;
* **rmtfit warm**: the same in a new interpreter with that cache now filled;
* **weightwatcher**: ``WeightWatcher(model=<folder>).analyze(mp_fit=True)`` on the same file.

Prints wall times, the ratios to WeightWatcher and the targets of issue 5 (cold <= 0.5x, warm
<= 0.15x on the 2-core reference machine), plus how many (layer, likelihood) pairs ended ok,
flagged, not fitted or failed. Quote the printed header (cores, load average) with any figure::

    .venv/bin/python benchmarks/bayes_minilm.py
    .venv/bin/python benchmarks/bayes_minilm.py --draws 500 --skip-ww
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _minilm  # benchmarks/_minilm.py (scripts run from this folder)

TARGET_COLD = 0.5
TARGET_WARM = 0.15


def minilm_path() -> Path:
    return _minilm.minilm_path("bayes_minilm.py")


# --------------------------------------------------------------------------- children


def child_rmtfit(path: Path, draws: int, chains: int, likelihoods: list[str] | None) -> dict:
    start = time.perf_counter()
    import rmtfit
    from rmtfit.classical import fit_classical
    from rmtfit.likelihoods import DEFAULT_LIKELIHOODS

    t_import = time.perf_counter()
    spectra = rmtfit.load_spectra(path)
    t_spectra = time.perf_counter()
    classical = {s.name: fit_classical(s) for s in spectra}
    t_classical = time.perf_counter()
    names = likelihoods or list(DEFAULT_LIKELIHOODS)
    import warnings

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        fits = rmtfit.fit(spectra, names, classical=classical, seed=0, draws=draws, chains=chains)
    t_fit = time.perf_counter()
    counts: dict[str, dict[str, int]] = {}
    for layer, lik in fits.pairs():
        per = counts.setdefault(lik, {})
        status = fits.status(layer, lik)
        per[status] = per.get(status, 0) + 1
    reasons = sorted({fits.reason(*k)[:160] for k in fits.pairs() if fits.status(*k) != "ok"})
    return {
        "layers": len(spectra),
        "likelihoods": names,
        "import_s": t_import - start,
        "spectra_s": t_spectra - t_import,
        "classical_s": t_classical - t_spectra,
        "fit_s": t_fit - t_classical,
        "total_s": t_fit - start,
        "status": counts,
        "warnings": len(record),
        "reasons": reasons[:12],
    }


def child_weightwatcher(path: Path) -> dict:
    import contextlib
    import io
    import logging
    import warnings

    start = time.perf_counter()
    import weightwatcher as ww

    logging.getLogger("weightwatcher").setLevel(logging.ERROR)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        details = ww.WeightWatcher(model=str(path.parent)).analyze(mp_fit=True)
    return {"layers": int(len(details)), "total_s": time.perf_counter() - start}


# --------------------------------------------------------------------------- parent


def run_child(args: list[str], env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args], env=env, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=None)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--likelihoods", nargs="*", default=None)
    parser.add_argument("--skip-ww", action="store_true", help="do not run WeightWatcher")
    parser.add_argument("--child", choices=["rmtfit", "ww"], default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    path = args.path or minilm_path()

    if args.child == "rmtfit":
        print(json.dumps(child_rmtfit(path, args.draws, args.chains, args.likelihoods)))
        return 0
    if args.child == "ww":
        print(json.dumps(child_weightwatcher(path)))
        return 0

    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"# {platform.platform()}, {os.cpu_count()} cores, load average {load[0]:.1f}")
    print(f"# {path}  draws={args.draws} chains={args.chains}")
    common = ["--path", str(path), "--draws", str(args.draws), "--chains", str(args.chains)]
    if args.likelihoods:
        common += ["--likelihoods", *args.likelihoods]
    with tempfile.TemporaryDirectory(prefix="rmtfit-bench-cache-") as cache:
        env = {**os.environ, "RMTFIT_JAX_CACHE": cache}
        cold = run_child(["--child", "rmtfit", *common], env)
        warm = run_child(["--child", "rmtfit", *common], env)
    ww = (
        None
        if args.skip_ww
        else run_child(["--child", "ww", "--path", str(path)], dict(os.environ))
    )

    print(f"likelihoods: {', '.join(cold['likelihoods'])}; {cold['layers']} layers")
    for name, r in (("rmtfit cold", cold), ("rmtfit warm", warm)):
        print(
            f"{name:12s} total {r['total_s']:7.1f} s  (import {r['import_s']:.1f}, spectra "
            f"{r['spectra_s']:.1f}, classical {r['classical_s']:.1f}, fit {r['fit_s']:.1f})"
        )
    if ww is not None:
        print(f"{'weightwatcher':12s} total {ww['total_s']:7.1f} s  ({ww['layers']} layers)")
        print(
            f"ratio cold / ww = {cold['total_s'] / ww['total_s']:.2f} (target <= {TARGET_COLD}); "
            f"warm / ww = {warm['total_s'] / ww['total_s']:.2f} (target <= {TARGET_WARM})"
        )
    print(f"status (warm run): {json.dumps(warm['status'])}; warnings: {warm['warnings']}")
    for reason in warm["reasons"]:
        print(f"  - {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
