"""The batch-size sweep of the zoo: which of the 5+1 phases does each MiniAlexNet land in?

The question: "as the batch size of training grows, do the fully connected layers of MiniAlexNet
move from heavy-tailed towards random-like, as Martin & Mahoney (ICML 2019) found on CIFAR-10?"

Each ``minialexnet_bs*`` checkpoint of ``models/manifest.json`` (batch sizes 2 to 1024, the same
seed and protocol; see ``docs/zoo.md``) is analysed with :func:`rmtfit.analyze` (its FC layers,
the default likelihoods), and the posterior phase probabilities are printed per layer and as the
mean over the layers of each checkpoint. ``phases.png`` is a stacked-bar figure (one panel for the
layer mean, one per layer); ``phases.csv`` and ``phases.json`` hold the numbers.

Run:  python examples/batch_size_phases.py [--small] [--out batch_size_phases_out] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

import rmtfit

__all__ = ["sweep_checkpoints", "phase_table", "main"]

MODELS = Path(__file__).resolve().parents[1] / "models"
"""The zoo folder (``models/`` at the top of the repository)."""

SMALL_CHECKPOINTS = ("minialexnet_bs0004", "minialexnet_bs1024")
SMALL_LAYERS = r"^fc2\.weight$"
DEFAULT_LAYERS = r"^fc[12]\.weight$"


def sweep_checkpoints(manifest: Path, names: list[str] | None = None) -> list[dict]:
    """The ``minialexnet_bs*`` records of a manifest, sorted by batch size then name.

    ``names`` keeps only those checkpoints (in sweep order); an unknown name is a ValueError.
    """
    records = json.loads(Path(manifest).read_text())["checkpoints"]
    sweep = [r for r in records if r["name"].startswith("minialexnet_bs")]
    if names:
        known = {r["name"] for r in sweep}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(
                f"--checkpoints {unknown}: not minialexnet_bs* entries of {manifest}; "
                f"choose from {sorted(known)}."
            )
        sweep = [r for r in sweep if r["name"] in names]
    return sorted(sweep, key=lambda r: (r["batch_size"], r["name"]))


def phase_table(results: list[dict]) -> list[dict]:
    """Per checkpoint, the phase probabilities averaged over its analysed layers.

    ``results`` holds one dict per (checkpoint, layer) with keys ``checkpoint``, ``batch_size``
    and ``probabilities``; layers without phase probabilities (failed fits) are left out.
    """
    table = []
    for name in dict.fromkeys(r["checkpoint"] for r in results):
        rows = [r for r in results if r["checkpoint"] == name and r["probabilities"]]
        if not rows:
            continue
        mean = {
            p: float(np.mean([r["probabilities"].get(p, 0.0) for r in rows])) for p in rmtfit.PHASES
        }
        table.append(
            {
                "checkpoint": name,
                "batch_size": rows[0]["batch_size"],
                "n_layers": len(rows),
                "probabilities": mean,
                "map": max(mean, key=mean.get),
            }
        )
    return table


def _label(name: str, batch_size: int) -> str:
    suffix = name.removeprefix(f"minialexnet_bs{batch_size:04d}").lstrip("_")
    return f"{batch_size}" + (f"\n{suffix}" if suffix else "")


def _plot(table: list[dict], results: list[dict], layers: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("mean over layers", table)] + [
        (layer, [r for r in results if r["layer"] == layer and r["probabilities"]])
        for layer in layers
    ]
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.5 * len(panels), 4), sharey=True, squeeze=False
    )
    for ax, (title, rows) in zip(axes[0], panels, strict=True):
        x = np.arange(len(rows))
        bottom = np.zeros(len(rows))
        for k, phase in enumerate(rmtfit.PHASES):
            height = np.array([r["probabilities"].get(phase, 0.0) for r in rows])
            ax.bar(x, height, bottom=bottom, color=f"C{k}", label=phase)
            bottom += height
        ax.set_xticks(x, [_label(r["checkpoint"], r["batch_size"]) for r in rows], fontsize=7)
        ax.set_title(title)
        ax.set_xlabel("batch size")
    axes[0][0].set_ylabel("posterior phase probability")
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle("MiniAlexNet on digits: phase probabilities against batch size")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _write_tables(out: Path, results: list[dict]) -> None:
    """Write ``phases.json`` (per layer and per-checkpoint means) and ``phases.csv`` (per layer)."""
    table = phase_table(results)
    (out / "phases.json").write_text(json.dumps({"layers": results, "mean": table}, indent=2))
    with (out / "phases.csv").open("w") as f:
        f.write("checkpoint,batch_size,layer,status," + ",".join(rmtfit.PHASES) + ",map\n")
        for r in results:
            probs = ",".join(
                f"{r['probabilities'].get(p, float('nan')):.6g}" for p in rmtfit.PHASES
            )
            f.write(
                f"{r['checkpoint']},{r['batch_size']},{r['layer']},{r['status']},{probs},{r['map']}\n"
            )


def _print_table(title: str, rows: list[dict], key: str) -> None:
    short = {p: p[:11] for p in rmtfit.PHASES}
    print(f"\n{title}")
    print(f"{key:<28} {'batch':>5} " + " ".join(f"{short[p]:>11}" for p in rmtfit.PHASES) + "  MAP")
    for r in rows:
        probs = r["probabilities"]
        cells = " ".join(f"{probs.get(p, float('nan')):>11.3f}" for p in rmtfit.PHASES)
        label = r["checkpoint"] if key == "checkpoint" else f"{r['checkpoint']}:{r['layer']}"
        print(f"{label:<28} {r['batch_size']:>5} {cells}  {r['map']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--small", action="store_true", help="two batch sizes, one layer, short chains"
    )
    parser.add_argument(
        "--out", default="batch_size_phases_out", help="folder for the figure and tables"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--manifest", default=str(MODELS / "manifest.json"))
    parser.add_argument("--checkpoints", nargs="+", default=None, help="manifest names to analyse")
    parser.add_argument("--layers", default=None, help=f"layer regex (default {DEFAULT_LAYERS!r})")
    parser.add_argument(
        "--draws", type=int, default=None, help="draws per chain (default 1000; 300 small)"
    )
    parser.add_argument("--chains", type=int, default=None, help="chains (default 4; 2 small)")
    parser.add_argument(
        "--reports", action="store_true", help="also write each checkpoint's full report"
    )
    args = parser.parse_args(argv)

    manifest = Path(args.manifest)
    names = args.checkpoints or (list(SMALL_CHECKPOINTS) if args.small else None)
    layers = args.layers or (SMALL_LAYERS if args.small else DEFAULT_LAYERS)
    try:
        re.compile(layers)
    except re.error as error:
        raise ValueError(
            f"--layers {layers!r} is not a regular expression ({error}); e.g. '^fc1\\.weight$'."
        ) from None
    draws = args.draws or (300 if args.small else 1000)
    chains = args.chains or (2 if args.small else 4)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    results = []
    for record in sweep_checkpoints(manifest, names):
        path = manifest.parent / record["file"]
        analysis = rmtfit.analyze(
            path,
            layers=layers,
            seed=args.seed,
            draws=draws,
            chains=chains,
            quiet=True,
            out=out / "reports" / record["name"] if args.reports else None,
        )
        for layer in analysis.analysed:
            phase = layer.phase or {}
            alpha = (layer.posterior or {}).get("alpha")
            results.append(
                {
                    "checkpoint": record["name"],
                    "batch_size": record["batch_size"],
                    "test_accuracy": record["test_accuracy"],
                    "layer": layer.name,
                    "status": layer.status,
                    "reason": layer.reason,
                    "probabilities": dict(phase.get("probabilities") or {}),
                    "map": phase.get("map"),
                    "alpha": None if alpha is None else alpha.to_dict(),
                    "classical_alpha": float(layer.classical.alpha) if layer.classical else None,
                    "num_spikes": int(layer.classical.num_spikes) if layer.classical else None,
                    "weights": {k: m.get("weight") for k, m in (layer.models or {}).items()},
                }
            )
            print(
                f"{record['name']}:{layer.name}: {layer.status} {phase.get('map')} {layer.reason}"
            )
        _write_tables(out, results)  # after every checkpoint, so a long sweep keeps what it did

    table = phase_table(results)
    layer_names = list(dict.fromkeys(r["layer"] for r in results))
    _print_table(
        "Phase probabilities per layer", [r for r in results if r["probabilities"]], "layer"
    )
    _print_table(
        "Phase probabilities, mean over the layers of each checkpoint", table, "checkpoint"
    )
    print("\nalpha (posterior mean [90% interval]), classical spike count, stacking weights")
    for r in results:
        alpha = r["alpha"]
        text = (
            "-"
            if alpha is None
            else f"{alpha['mean']:.2f} [{alpha['ci_low']:.2f}, {alpha['ci_high']:.2f}]"
        )
        weights = ", ".join(f"{k} {w:.2f}" for k, w in r["weights"].items() if w is not None)
        label = f"{r['checkpoint']}:{r['layer']}"
        print(f"{label:<40} {r['batch_size']:>5} {text:>22} {r['num_spikes']!s:>4}  {weights}")

    figure = out / "phases.png"
    _plot(table, results, layer_names, figure)
    print(f"\nwrote {figure}, {out / 'phases.csv'} and {out / 'phases.json'}")
    return 1 if any(r["status"] == "failed" for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
