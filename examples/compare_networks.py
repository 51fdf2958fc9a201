"""Compare two networks of the zoo: is the small-batch MiniAlexNet more heavy-tailed than the large-batch one?

The question: "given the uncertainty of every fitted exponent, how sure are we that network A
(trained with batch size 4) has a smaller alpha, a smaller weighted alpha, a smaller alpha-norm
... than network B (batch size 1024)?"

Both checkpoints (``models/manifest.json``) are analysed with :func:`rmtfit.analyze` (their FC
layers), then :func:`rmtfit.compare_networks` matches the layers and returns, per metric, for the
network and for every matched layer, the posterior probability ``P(A < B)`` (exact over all pairs
of posterior draws) with the means and intervals of A, B and B - A. The table is printed and saved
as ``comparison.json`` in ``--out``.

Run:  python examples/compare_networks.py [--small] [--a minialexnet_bs0004] [--b minialexnet_bs1024]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import rmtfit

__all__ = ["checkpoint_path", "main"]

MODELS = Path(__file__).resolve().parents[1] / "models"
"""The zoo folder (``models/`` at the top of the repository)."""


def checkpoint_path(manifest: Path, name: str) -> Path:
    """The file of the manifest entry ``name``; a ValueError lists the names when it is unknown."""
    records = {r["name"]: r for r in json.loads(Path(manifest).read_text())["checkpoints"]}
    if name not in records:
        raise ValueError(
            f"checkpoint {name!r} is not in {manifest}; choose from {sorted(records)}."
        )
    return Path(manifest).parent / records[name]["file"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--small", action="store_true", help="one layer, the power_law tail only, short chains"
    )
    parser.add_argument("--out", default="compare_networks_out", help="folder for comparison.json")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--manifest", default=str(MODELS / "manifest.json"))
    parser.add_argument("--a", default="minialexnet_bs0004", help="network A (manifest name)")
    parser.add_argument("--b", default="minialexnet_bs1024", help="network B (manifest name)")
    args = parser.parse_args(argv)

    manifest = Path(args.manifest)
    settings = {
        "layers": r"^fc2\.weight$" if args.small else r"^fc[12]\.weight$",
        "likelihoods": ["power_law"] if args.small else None,
        "draws": 300 if args.small else None,
        "chains": 2 if args.small else None,
        "seed": args.seed,
        "quiet": True,
    }
    a = rmtfit.analyze(checkpoint_path(manifest, args.a), **settings)
    b = rmtfit.analyze(checkpoint_path(manifest, args.b), **settings)
    comparison = rmtfit.compare_networks(a, b, seed=args.seed)

    prob = comparison.interval_prob
    print(
        f"A = {args.a}, B = {args.b}; {len(comparison.matches)} matched layers; {prob:.0%} intervals"
    )
    print(
        f"{'metric':<18} {'layer':<12} {'P(A < B)':>8} {'A mean [interval]':>26} {'B mean [interval]':>26}"
    )
    for row in comparison.rows:
        layer = (
            row["layer_a"]
            if row["layer_a"] == row["layer_b"]
            else f"{row['layer_a']}~{row['layer_b']}"
        )
        a_text = f"{row['a_mean']:.3f} [{row['a_low']:.3f}, {row['a_high']:.3f}]"
        b_text = f"{row['b_mean']:.3f} [{row['b_low']:.3f}, {row['b_high']:.3f}]"
        print(
            f"{row['metric']:<18} {layer:<12} {row['p_a_below_b']:>8.3f} {a_text:>26} {b_text:>26}"
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {"a": args.a, "b": args.b, **comparison.to_dict()}
    (out / "comparison.json").write_text(json.dumps(result, indent=2, default=float))
    print(f"wrote {out / 'comparison.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
