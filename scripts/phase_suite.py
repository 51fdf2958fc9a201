"""Run the synthetic phase suite (tests/phase_suite.py) through rmtfit.analyze and print the
confusion matrix and the calibration of the phase probabilities.

    python scripts/phase_suite.py --per-generator 34 --out docs/phase_suite.json

Everything is the default analysis a user runs (default likelihoods and sampler settings).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import phase_suite  # noqa: E402

import rmtfit  # noqa: E402


def run(
    per_generator: int,
    seed: int,
    likelihoods: list[str] | None,
    shapes: tuple[tuple[int, int], ...] = phase_suite.SHAPES,
    no_minimum: bool = False,
    weightings: tuple[str, ...] = ("exceedances",),
) -> list[dict]:
    """One analysis of the suite; its confusion matrix and calibration per phase weighting."""
    items = list(phase_suite.suite(per_generator, seed=seed, shapes=shapes))
    weights = {name: w for name, _, w in items}
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        analysis = rmtfit.analyze(weights, seed=seed, quiet=True, likelihoods=likelihoods)
    elapsed = time.perf_counter() - start
    return [summarise(items, analysis, elapsed, w, no_minimum) for w in weightings]


def summarise(items: list, analysis, elapsed: float, weighting: str, no_minimum: bool) -> dict:
    unbounded = {}
    if no_minimum or weighting != "exceedances":
        # the phases without min_phase_evals (its calibration) or with another weighting
        from rmtfit.phases import network_phases

        thresholds = {"min_phase_evals": 0} if no_minimum else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            summary = network_phases(analysis, thresholds=thresholds, weighting=weighting)
        unbounded = {r.layer: r for r in summary.layers}
        no_minimum = True
    results, pairs, layers = [], [], {}
    for name, g, _ in items:
        layer = analysis.layer(name)
        phase = layer.phase or {}
        if no_minimum and name in unbounded:
            r = unbounded[name]
            phase = {"map": r.map_phase, "probabilities": dict(r.probabilities)}
        found = phase.get("map") if layer.ok else None
        results.append((g, found or "none"))
        probs = phase.get("probabilities") or {}
        for p in rmtfit.PHASES:
            if probs.get(p) is not None:
                pairs.append((float(probs[p]), p == g.phase))
        alpha = (layer.posterior or {}).get("alpha")
        layers[name] = {
            "generator": g.name,
            "truth": g.phase,
            "map": found,
            "probabilities": probs,
            "alpha": None if alpha is None else alpha.mean,
            "status": layer.status,
            "reason": layer.reason,
        }
    summary = phase_suite.confusion(results, rmtfit.PHASES)
    summary["calibration"] = phase_suite.calibration(pairs)
    summary["seconds"] = elapsed
    summary["timings"] = {k: round(v, 1) for k, v in analysis.timings.items()}
    summary["num_matrices"] = len(items)
    summary["likelihoods"] = list(analysis.likelihoods)
    summary["weighting"] = weighting
    summary["layers"] = layers
    return summary


def show(summary: dict) -> None:
    phases = (*rmtfit.PHASES, "none")
    short = {p: p[:8] for p in phases}
    print(
        f"{summary['num_matrices']} matrices, {summary['seconds']:.0f} s, likelihoods "
        f"{summary['likelihoods']}, phase weights: {summary['weighting']}"
    )
    print(f"time by stage (s): {summary['timings']}")
    print(f"{'generator':<22}" + "".join(f"{short[p]:>9}" for p in phases) + "  correct")
    for name, row in summary["table"].items():
        cells = "".join(f"{row[p]:>9}" for p in phases)
        print(f"{name:<22}{cells}  {summary['correct'][name]:.2f}")
    print("calibration (mean stated p, share true, count):")
    for p, share, count in summary["calibration"]:
        print(f"  {p:.2f}  {share:.2f}  {count}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-generator", type=int, default=34)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--likelihoods", default=None)
    parser.add_argument("--shapes", default=None, help="e.g. 64x16,128x32 (default: the suite's)")
    parser.add_argument(
        "--no-minimum", action="store_true", help="phases even below min_phase_evals"
    )
    parser.add_argument(
        "--weighting",
        default="exceedances",
        help="phase weights: exceedances (default), full, or both (exceedances,full)",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    liks = args.likelihoods.split(",") if args.likelihoods else None
    shapes = phase_suite.SHAPES
    if args.shapes:
        shapes = tuple(tuple(int(v) for v in s.split("x")) for s in args.shapes.split(","))
    weightings = tuple(args.weighting.split(","))
    summaries = run(args.per_generator, args.seed, liks, shapes, args.no_minimum, weightings)
    for summary in summaries:
        show(summary)
    if args.out:
        out = summaries[0] if len(summaries) == 1 else {s["weighting"]: s for s in summaries}
        args.out.write_text(json.dumps(out, indent=1, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
