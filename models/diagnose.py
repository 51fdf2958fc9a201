"""Quick spectral diagnostic of the zoo's fully connected layers (numpy only).

    python models/diagnose.py                  # every checkpoint in models/manifest.json
    python models/diagnose.py --match student  # the teacher-student sweep only
    python models/diagnose.py --out /tmp/zoo   # another zoo folder

For each 2-D weight W (N x M after transposing so that N >= M) with at least
``--min-evals`` eigenvalues it prints:

- ``spikes``: eigenvalues of W^T W above the Marchenko-Pastur edge
  N sigma^2 (1 + 1/sqrt(Q))^2, with sigma^2 estimated from the median eigenvalue
  (Gavish & Donoho 2014): sigma^2 = median / (N * median of the MP law with ratio M/N);
- ``lmax/edge``: the largest eigenvalue over that edge;
- ``alpha_top10``: the Hill / Clauset maximum-likelihood exponent of the top 10% of
  the eigenvalues, alpha = 1 + k / sum ln(lambda_i / lambda_(k));
- ``alpha_ks``, ``k_ks``: the Clauset-Shalizi-Newman exponent with xmin chosen by the
  Kolmogorov-Smirnov distance over all candidates leaving at least 10 tail eigenvalues.
- ``small``: the fraction of eigenvalues below 1e-3 lambda_max, and ``lmin/median``: the
  smallest eigenvalue over the median, two views of rank collapse (a pure MP matrix with
  Q = 1024/384 has lmin/median of about 0.17 and no eigenvalue below 1e-3 lambda_max).

This is a sanity check of the training recipes, not rmtfit's estimator: rmtfit.classical
and the Bayesian fits are the tools of record.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

MODELS_DIR = Path(__file__).resolve().parent
SMALL_RELATIVE = 1e-3


@functools.cache
def mp_median(ratio: float) -> float:
    """Median of the Marchenko-Pastur law with unit variance and ratio ``ratio`` = M/N in (0, 1]."""
    from scipy import integrate, optimize

    lower, upper = (1 - math.sqrt(ratio)) ** 2, (1 + math.sqrt(ratio)) ** 2

    def density(x: float) -> float:
        return math.sqrt(max((upper - x) * (x - lower), 0.0)) / (2 * math.pi * ratio * x)

    def cdf_minus_half(x: float) -> float:
        return integrate.quad(density, lower, x, limit=200)[0] - 0.5

    return float(optimize.brentq(cdf_minus_half, lower, upper, xtol=1e-12))


def hill_alpha(eigenvalues: np.ndarray, k: int) -> float:
    """Power-law MLE of the ``k`` largest eigenvalues with xmin = the k-th largest."""
    tail = np.sort(eigenvalues)[-k:]
    return float(1.0 + k / np.sum(np.log(tail / tail[0])))


def clauset_alpha(eigenvalues: np.ndarray, min_tail: int = 10) -> tuple[float, int]:
    """Clauset-Shalizi-Newman alpha with xmin minimising the KS distance; return (alpha, n_tail)."""
    values = np.sort(eigenvalues)
    best = (math.inf, math.nan, 0)
    for start in range(0, values.size - min_tail + 1):
        tail = values[start:]
        xmin = tail[0]
        logs = np.log(tail / xmin)
        if logs.sum() <= 0:
            continue
        alpha = 1.0 + tail.size / logs.sum()
        model_cdf = 1.0 - (tail / xmin) ** (1.0 - alpha)
        empirical = np.arange(tail.size) / tail.size
        distance = float(np.max(np.abs(model_cdf - empirical)))
        if distance < best[0]:
            best = (distance, alpha, tail.size)
    return best[1], best[2]


def layer_diagnostic(weight: np.ndarray) -> dict[str, Any]:
    """Spike count, edge ratio and tail exponents of one weight matrix."""
    matrix = np.asarray(weight, dtype=np.float64)
    if matrix.shape[0] < matrix.shape[1]:
        matrix = matrix.T
    n, m = matrix.shape
    # W^T W in float64 (never float32): its smallest eigenvalues here are >= 1e-4 of the largest,
    # far above float64 round-off, and eigvalsh of the M x M Gram matrix is several times
    # cheaper than an SVD of W.
    eigenvalues = np.clip(np.linalg.eigvalsh(matrix.T @ matrix), 0.0, None)
    sigma2 = float(np.median(eigenvalues)) / (n * mp_median(m / n))
    edge = n * sigma2 * (1 + math.sqrt(m / n)) ** 2
    k_top = max(5, round(0.1 * m))
    alpha_ks, k_ks = clauset_alpha(eigenvalues)
    return {
        "shape": (n, m),
        "spikes": int(np.sum(eigenvalues > edge)),
        "lmax_over_edge": float(eigenvalues[-1] / edge),
        "alpha_top10": hill_alpha(eigenvalues, k_top),
        "alpha_ks": float(alpha_ks),
        "k_ks": k_ks,
        "small_fraction": float(np.mean(eigenvalues < SMALL_RELATIVE * eigenvalues[-1])),
        "lmin_over_median": float(eigenvalues[0] / np.median(eigenvalues)),
    }


def diagnose(out: Path, min_evals: int, match: str = "") -> list[dict[str, Any]]:
    """Diagnose every 2-D weight with enough eigenvalues in the zoo at ``out``.

    ``match`` keeps the checkpoints whose name contains a match of that regular expression.
    """
    from safetensors.numpy import load_file

    with open(out / "manifest.json", encoding="utf-8") as handle:
        manifest = json.load(handle)
    rows = []
    for entry in manifest["checkpoints"]:
        if not re.search(match, entry["name"]):
            continue
        tensors = load_file(out / entry["file"])
        for key in sorted(tensors):
            weight = tensors[key]
            if weight.ndim != 2 or min(weight.shape) < min_evals:
                continue
            row = {"name": entry["name"], "layer": key, "batch_size": entry["batch_size"]}
            row.update(
                {k: entry[k] for k in ("epochs", "steps", "train_accuracy", "test_accuracy")}
            )
            row["lr"] = entry["optimizer"]["lr"]
            row.update(layer_diagnostic(weight))
            rows.append(row)
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of the diagnostic rows."""
    header = (
        "| checkpoint | layer | N x M | batch | lr | epochs | steps | train acc | test acc "
        "| spikes | lmax/edge | alpha top10% | alpha KS (k) | small | lmin/median |\n"
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: |"
    )
    lines = [header]
    for row in rows:
        n, m = row["shape"]
        lines.append(
            f"| {row['name']} | {row['layer']} | {n} x {m} | {row['batch_size']} | {row['lr']:g} "
            f"| {row['epochs']} | {row['steps']} "
            f"| {row['train_accuracy']:.3f} | {row['test_accuracy']:.3f} | {row['spikes']} "
            f"| {row['lmax_over_edge']:.2f} | {row['alpha_top10']:.2f} "
            f"| {row['alpha_ks']:.2f} ({row['k_ks']}) | {row['small_fraction']:.3f} "
            f"| {row['lmin_over_median']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=MODELS_DIR, help="zoo folder (default: models/)"
    )
    parser.add_argument(
        "--min-evals", type=int, default=50, help="skip matrices with fewer eigenvalues"
    )
    parser.add_argument(
        "--match", default="", help="only checkpoints whose name matches this regular expression"
    )
    args = parser.parse_args(argv)
    try:
        re.compile(args.match)
    except re.error as error:
        print(
            f"error: --match {args.match!r} is not a regular expression ({error}).", file=sys.stderr
        )
        return 2
    if not (args.out / "manifest.json").exists():
        print(
            f"error: no manifest.json in {args.out}; run `python models/train.py --all` first.",
            file=sys.stderr,
        )
        return 2
    print(format_table(diagnose(args.out, args.min_evals, args.match)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
