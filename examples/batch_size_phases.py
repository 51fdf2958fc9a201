"""The batch-size sweeps of the zoo: which of the 5+1 phases does each network land in?

The question: "as the batch size of training grows, do the fully connected layers move from
heavy-tailed towards random-like, as Martin & Mahoney (ICML 2019) found on CIFAR-10?"

Two sweeps of ``models/manifest.json`` (see ``docs/zoo.md``), chosen with ``--sweep``:

- ``minialexnet`` (default): the ``minialexnet_bs*`` checkpoints, MiniAlexNet on digits, batch
  sizes 2 to 1024;
- ``student``: the ``student_bs*`` checkpoints, an MLP trained on a teacher-student task with
  Gaussian inputs, batch sizes 1 to 1024 (plus one learning-rate and one epochs variation).

Each checkpoint is analysed with :func:`rmtfit.analyze` (its FC layers, the default likelihoods).
The script prints the posterior phase probabilities per layer and as the mean over the layers of
each checkpoint, then per layer the most probable phase, alpha (posterior mean and 90% interval)
and P(Bulk-decay or Heavy-tailed). Figures: ``phases.png`` (stacked bars, one panel for the layer
mean, one per layer), ``tail.png`` (P(Bulk-decay or Heavy-tailed) against the batch size) and
``esd.png`` (the ESDs and fitted densities of the smallest, middle and largest batch sizes);
``phases.csv`` and ``phases.json`` hold the numbers.

Run:  python examples/batch_size_phases.py [--sweep student] [--small] [--out DIR] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

import rmtfit

__all__ = ["SWEEPS", "sweep_checkpoints", "phase_table", "tail_probability", "main"]

MODELS = Path(__file__).resolve().parents[1] / "models"
"""The zoo folder (``models/`` at the top of the repository)."""

SMALL_LAYERS = r"^fc2\.weight$"
DEFAULT_LAYERS = r"^fc[12]\.weight$"
TAIL_PHASES = ("bulk_decay", "heavy_tailed")
"""The phases of a power-law tail above the bulk: the probability the sweep is about."""

SWEEPS = {
    "minialexnet": {
        "prefix": "minialexnet_bs",
        "small": ("minialexnet_bs0004", "minialexnet_bs1024"),
        "title": "MiniAlexNet on digits",
    },
    "student": {
        "prefix": "student_bs",
        "small": ("student_bs0001", "student_bs1024"),
        "title": "teacher-student MLP on Gaussian inputs",
    },
}
"""Each sweep: its manifest-name prefix, the two checkpoints of ``--small``, the figure title."""


def sweep_checkpoints(
    manifest: Path, names: list[str] | None = None, prefix: str = "minialexnet_bs"
) -> list[dict]:
    """The records of a manifest whose names start with ``prefix``, by batch size then name.

    ``names`` keeps only those checkpoints (in sweep order); an unknown name is a ValueError.
    """
    records = json.loads(Path(manifest).read_text())["checkpoints"]
    sweep = [r for r in records if r["name"].startswith(prefix)]
    if names:
        known = {r["name"] for r in sweep}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(
                f"--checkpoints {unknown}: not {prefix}* entries of {manifest}; "
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


def tail_probability(probabilities: dict) -> float:
    """P(Bulk-decay or Heavy-tailed) from one layer's (or one mean's) phase probabilities."""
    return float(sum(probabilities.get(p, 0.0) for p in TAIL_PHASES))


def _label(name: str, batch_size: int, prefix: str) -> str:
    suffix = name.removeprefix(f"{prefix}{batch_size:04d}").lstrip("_")
    return f"{batch_size}" + (f"\n{suffix}" if suffix else "")


def _is_protocol(name: str, batch_size: int, prefix: str) -> bool:
    """Whether a checkpoint is the sweep's own point at its batch size (not a variation)."""
    return name == f"{prefix}{batch_size:04d}"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot(table: list[dict], results: list[dict], layers: list[str], path: Path, sweep: dict):
    plt = _pyplot()
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
        labels = [_label(r["checkpoint"], r["batch_size"], sweep["prefix"]) for r in rows]
        ax.set_xticks(x, labels, fontsize=7)
        ax.set_title(title)
        ax.set_xlabel("batch size")
    axes[0][0].set_ylabel("posterior phase probability")
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(f"{sweep['title']}: phase probabilities against batch size")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_tail(table: list[dict], results: list[dict], layers: list[str], path: Path, sweep: dict):
    """P(Bulk-decay or Heavy-tailed) against the batch size: the sweep's line, variations apart."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    series = [("mean over layers", table, "k", "-")] + [
        (layer, [r for r in results if r["layer"] == layer and r["probabilities"]], f"C{i}", "--")
        for i, layer in enumerate(layers)
    ]
    for label, rows, color, style in series:
        sweep_rows = [
            r for r in rows if _is_protocol(r["checkpoint"], r["batch_size"], sweep["prefix"])
        ]
        x = [r["batch_size"] for r in sweep_rows]
        y = [tail_probability(r["probabilities"]) for r in sweep_rows]
        ax.plot(x, y, style, color=color, marker="o", label=label)
        for r in rows:
            if not _is_protocol(r["checkpoint"], r["batch_size"], sweep["prefix"]):
                p = tail_probability(r["probabilities"])
                ax.plot([r["batch_size"]], [p], marker="x", color=color, ls="none", ms=9)
                if color == "k":
                    name = _label(r["checkpoint"], r["batch_size"], sweep["prefix"])
                    ax.annotate(name.split("\n")[-1], (r["batch_size"], p), fontsize=7,
                                xytext=(4, 4), textcoords="offset points")  # fmt: skip
    ax.set_xscale("log", base=2)
    sizes = sorted({r["batch_size"] for r in table})
    ax.set_xticks(sizes, [str(size) for size in sizes], fontsize=8)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("batch size (x: off-protocol variations)")
    ax.set_ylabel("P(Bulk-decay or Heavy-tailed)")
    ax.set_title(f"{sweep['title']}: tail phases against batch size", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_esd(analyses: dict, layers: list[str], path: Path, sweep: dict) -> None:
    """The ESDs and fitted densities of the kept checkpoints, one row per layer."""
    plt = _pyplot()
    names = list(analyses)
    fig, axes = plt.subplots(
        len(layers), len(names), figsize=(4.2 * len(names), 3.4 * len(layers)), squeeze=False
    )
    for j, name in enumerate(names):
        analysed = {layer.name for layer in analyses[name].analysed}
        for i, layer in enumerate(layers):
            ax = axes[i][j]
            if layer in analysed:
                rmtfit.plot_esd(analyses[name], layer, ax=ax, legend=(i == 0 and j == 0))
            ax.set_title(f"{name}: {layer}", fontsize=9)
    fig.suptitle(f"{sweep['title']}: ESDs (log-log), smallest to largest batch size")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
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


def _alpha_text(alpha: dict | None) -> str:
    """``mean [low, high]`` of an alpha estimate, or ``-`` for a layer without one."""
    if alpha is None:
        return "-"
    return f"{alpha['mean']:.2f} [{alpha['ci_low']:.2f}, {alpha['ci_high']:.2f}]"


def _print_summary(results: list[dict], table: list[dict]) -> None:
    """Per layer: the most probable phase, alpha and P(tail phases); then the checkpoint mean."""
    print(
        "\nper layer: most probable phase (p), alpha mean [90% interval], P(Bulk-decay or Heavy-tailed)"
    )
    for r in results:
        text = _alpha_text(r["alpha"])
        probs = r["probabilities"]
        phase = f"{r['map']} ({probs[r['map']]:.2f})" if probs and r["map"] else r["status"]
        tail = f"{tail_probability(probs):.3f}" if probs else "-"
        label = f"{r['checkpoint']}:{r['layer']}"
        print(f"{label:<36} {r['batch_size']:>5} {phase:<20} {text:>22} {tail:>6}")
    print("\nP(Bulk-decay or Heavy-tailed), mean over the layers of each checkpoint")
    for row in table:
        print(
            f"{row['checkpoint']:<28} {row['batch_size']:>5} {tail_probability(row['probabilities']):.3f}"
        )


def _esd_picks(records: list[dict], prefix: str) -> set[str]:
    """The sweep's own checkpoints at its smallest, middle and largest batch size."""
    own = [r["name"] for r in records if _is_protocol(r["name"], r["batch_size"], prefix)]
    return set() if not own else {own[0], own[len(own) // 2], own[-1]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", choices=sorted(SWEEPS), default="minialexnet")
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

    sweep = SWEEPS[args.sweep]
    manifest = Path(args.manifest)
    names = args.checkpoints or (list(sweep["small"]) if args.small else None)
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

    records = sweep_checkpoints(manifest, names, sweep["prefix"])
    esd_names = _esd_picks(records, sweep["prefix"])
    results, analyses = [], {}
    for record in records:
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
        if record["name"] in esd_names:
            analyses[record["name"]] = analysis
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
        text = _alpha_text(r["alpha"])
        weights = ", ".join(f"{k} {w:.2f}" for k, w in r["weights"].items() if w is not None)
        label = f"{r['checkpoint']}:{r['layer']}"
        print(f"{label:<40} {r['batch_size']:>5} {text:>22} {r['num_spikes']!s:>4}  {weights}")
    _print_summary(results, table)

    figures = [out / "phases.png", out / "tail.png", out / "esd.png"]
    _plot(table, results, layer_names, figures[0], sweep)
    _plot_tail(table, results, layer_names, figures[1], sweep)
    _plot_esd({n: analyses[n] for n in sorted(analyses, key=[r["name"] for r in records].index)},
              layer_names, figures[2], sweep)  # fmt: skip
    print(f"\nwrote {', '.join(map(str, figures))}, {out / 'phases.csv'} and {out / 'phases.json'}")
    return 1 if any(r["status"] == "failed" for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
