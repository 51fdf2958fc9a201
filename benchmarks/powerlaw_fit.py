"""Time rmtfit's Clauset power-law fit against ``powerlaw.Fit`` on the same Pareto samples, in one run.

For each n (default 1,000 / 4,000 / 16,000) one seeded Pareto sample (alpha = 2.5, xmin = 1) is
fitted by

powerlaw
    ``powerlaw.Fit(x, parameter_ranges={'alpha': [1, 20]}, verbose=False)`` (version 2.0): a
    Python loop over every candidate xmin, O(n^2) work;
rmtfit
    :func:`rmtfit.classical.fit_power_law` on the same candidates (``min_tail=2``), both with
    powerlaw's own KS definition (``ks="powerlaw"``, which must give *identical* xmin and alpha)
    and with rmtfit's default two-sided distance (``ks="standard"``; its xmin can differ, and its
    two-sided D is then never larger, see tests/classical/test_classical_parity.py).

Runs are interleaved (powerlaw, rmtfit, powerlaw, ...) so that load on a shared machine hits both
alike; the table shows the median wall time and the median CPU time of ``--repeats`` runs
(powerlaw gets at most ``--max-slow`` runs once one takes over 2 s) and the ratios powerlaw /
rmtfit. Both fits are single-threaded, so on a loaded machine the CPU-time ratio is the steadier
figure (wall times then include waiting for a core).

Usage::

    .venv/bin/python benchmarks/powerlaw_fit.py
    .venv/bin/python benchmarks/powerlaw_fit.py --sizes 1000 4000 16000 --repeats 5
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
import warnings

import numpy as np


def powerlaw_fit(x: np.ndarray):
    import powerlaw

    # powerlaw warns and divides by zero inside its own scan; that is its code, not ours.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return powerlaw.Fit(x, parameter_ranges={"alpha": [1, 20]}, verbose=False)


def timed(fn, *args, **kwargs):
    """(wall seconds, CPU seconds of this process, result)."""
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn(*args, **kwargs)
    return (time.perf_counter() - wall, time.process_time() - cpu), out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 16000])
    parser.add_argument("--repeats", type=int, default=5, help="runs per contender and size")
    parser.add_argument(
        "--max-slow", type=int, default=3, help="cap on powerlaw runs when one takes over 2 s"
    )
    parser.add_argument("--alpha", type=float, default=2.5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import powerlaw

    from rmtfit.classical import fit_power_law, ks_distance, sample_power_law

    print(
        f"python {platform.python_version()}, numpy {np.__version__}, powerlaw "
        f"{getattr(powerlaw, '__version__', '?')}, {platform.machine()}; Pareto alpha={args.alpha}"
    )
    fit_power_law(sample_power_law(np.random.default_rng(1), 200, 2.0, 1.0))  # warm imports
    header = (
        f"{'n':>6} | {'wall: powerlaw':>14} {'rmtfit':>8} {'ratio':>7} {'2-sided':>8} {'ratio':>7} | "
        f"{'CPU: powerlaw':>13} {'rmtfit':>8} {'ratio':>7} {'2-sided':>8} {'ratio':>7} | identical"
    )
    print(header)
    print("-" * len(header))
    notes = []
    for n in args.sizes:
        x = sample_power_law(np.random.default_rng([args.seed, n]), n, args.alpha, 1.0)
        t_pl, t_same, t_std = [], [], []
        theirs = same = std = None
        for r in range(args.repeats):
            if r < args.max_slow or max(t[0] for t in t_pl) < 2.0:
                t, theirs = timed(powerlaw_fit, x)
                t_pl.append(t)
            t, same = timed(fit_power_law, x, min_tail=2, ks="powerlaw")
            t_same.append(t)
            t, std = timed(fit_power_law, x, min_tail=2)
            t_std.append(t)
        identical = same.xmin == theirs.xmin and same.alpha == theirs.alpha
        close = same.xmin == theirs.xmin and abs(same.alpha - theirs.alpha) <= 1e-12 * same.alpha
        tail = x[x >= theirs.xmin]
        their_d = ks_distance(x, 1 + tail.size / np.sum(np.log(tail / theirs.xmin)), theirs.xmin)
        wall = [statistics.median(t[0] for t in ts) for ts in (t_pl, t_same, t_std)]
        cpu = [statistics.median(t[1] for t in ts) for ts in (t_pl, t_same, t_std)]
        verdict = "yes" if identical else ("to 1e-12" if close else "NO")
        print(
            f"{n:>6} | {wall[0]:>14.4f} {wall[1]:>8.4f} {wall[0] / wall[1]:>6.0f}x {wall[2]:>8.4f} "
            f"{wall[0] / wall[2]:>6.0f}x | {cpu[0]:>13.4f} {cpu[1]:>8.4f} {cpu[0] / cpu[1]:>6.0f}x "
            f"{cpu[2]:>8.4f} {cpu[0] / cpu[2]:>6.0f}x | {verdict}"
        )
        notes.append(
            f"n={n}: xmin powerlaw {theirs.xmin:.8g}, rmtfit(ks=powerlaw) {same.xmin:.8g}, "
            f"rmtfit(2-sided) {std.xmin:.8g}; alpha {theirs.alpha:.12f} / {same.alpha:.12f} / "
            f"{std.alpha:.12f}; two-sided D at rmtfit's xmin {std.D:.6f} vs at powerlaw's "
            f"{their_d:.6f}; runs {len(t_pl)}/{len(t_same)}"
        )
    print()
    print("'rmtfit': ks='powerlaw' (powerlaw's KS definition, must be identical);")
    print("'2-sided': rmtfit's default two-sided KS (its xmin may differ; its D is never larger).")
    for line in notes:
        print(line)


if __name__ == "__main__":
    main()
