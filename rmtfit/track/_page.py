"""The trajectory's files: ``trajectory.json``, ``trajectory.csv``, ``trajectory.png``, ``trajectory.html``."""

from __future__ import annotations

import base64
import csv
import html
import io
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from rmtfit.common import __version__, atomic_path, dumps_json, jsonable, write_text_atomic
from rmtfit.phases import PHASES
from rmtfit.track._track import NETWORK, Trajectory

__all__ = ["TRAJECTORY_FILES", "trajectory_figure", "write_trajectory"]

TRAJECTORY_FILES = ("trajectory.json", "trajectory.csv", "trajectory.png", "trajectory.html")
_PHASE_COLOURS = ("#9aa5b1", "#6baed6", "#2171b5", "#fdae6b", "#d94801", "#7a0177")


def trajectory_figure(trajectory: Trajectory) -> bytes:
    """PNG bytes of the figure: alpha over steps (layers and network, with credible bands), the
    network's phase shares, and P(alpha decreased) per layer between consecutive checkpoints."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    steps = np.asarray(trajectory.steps, dtype=float)
    layers = [n for n in trajectory.layers if n != NETWORK]
    fig = Figure(figsize=(10, 10.5), layout="constrained")
    FigureCanvasAgg(fig)
    top, middle, bottom = fig.subplots(3, 1, height_ratios=(3, 2, max(1.5, 0.28 * len(layers))))
    for name in (*layers, NETWORK):
        points = trajectory.alpha[name]
        mean = np.array([p["mean"] if p else np.nan for p in points])
        low = np.array([p["low"] if p else np.nan for p in points])
        high = np.array([p["high"] if p else np.nan for p in points])
        net = name == NETWORK
        (line,) = top.plot(
            steps,
            mean,
            marker="o",
            lw=2.6 if net else 1.2,
            color="black" if net else None,
            label=f"{name} (mean over layers)" if net else name,
            zorder=3 if net else 2,
        )
        top.fill_between(steps, low, high, color=line.get_color(), alpha=0.12 if not net else 0.2)
    top.set_ylabel(f"alpha ({trajectory.ci_prob:.0%} interval)")
    top.set_title("alpha over training steps")
    top.legend(fontsize=7, ncols=2, loc="best")
    shares = trajectory.phases[NETWORK]
    bottom_edge = np.zeros(len(steps))
    for phase, colour in zip(PHASES, _PHASE_COLOURS, strict=True):
        values = np.array([s.get(phase, 0.0) if s else np.nan for s in shares])
        middle.bar(
            steps, values, bottom=bottom_edge, color=colour, label=phase, width=_bar_width(steps)
        )
        bottom_edge = bottom_edge + np.nan_to_num(values)
    middle.set_ylim(0, 1)
    middle.set_ylabel("share of layers")
    middle.set_title("phases of the network (expected share of layers in each phase)")
    middle.legend(fontsize=7, ncols=6, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    rows = [*layers, NETWORK]
    grid = np.array(
        [[np.nan if v is None else v for v in trajectory.decreased[n]] for n in rows], dtype=float
    ).reshape(len(rows), max(len(steps) - 1, 0))
    image = bottom.imshow(grid, cmap="RdBu_r", vmin=0, vmax=1, aspect="auto")
    bottom.set_yticks(range(len(rows)), rows, fontsize=7)
    pairs = [f"{a:g}->{b:g}" for a, b in zip(steps, steps[1:], strict=False)]
    bottom.set_xticks(range(len(pairs)), pairs, fontsize=8)
    bottom.set_title("P(alpha decreased) between consecutive checkpoints")
    for (i, j), v in np.ndenumerate(grid):
        if np.isfinite(v):
            ink = "white" if abs(v - 0.5) > 0.3 else "black"  # readable on the dark ends
            bottom.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color=ink)
    fig.colorbar(image, ax=bottom, shrink=0.8)
    for ax in (top, middle):
        ax.set_xlabel("training step")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


def _bar_width(steps: np.ndarray) -> float:
    gaps = np.diff(steps)
    return 0.6 * float(gaps.min()) if gaps.size else 0.6


def write_trajectory(
    trajectory: Trajectory, out: str | Path, *, figure: bool = True
) -> dict[str, Path]:
    """Write :data:`TRAJECTORY_FILES` into ``out`` (each atomically); their paths by name."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in TRAJECTORY_FILES}
    write_text_atomic(paths["trajectory.json"], dumps_json(jsonable(trajectory.to_dict())))
    write_text_atomic(paths["trajectory.csv"], _csv(trajectory))
    png = trajectory_figure(trajectory) if figure else b""
    if figure:
        with atomic_path(paths["trajectory.png"]) as tmp:
            tmp.write_bytes(png)
    else:
        paths.pop("trajectory.png")
    write_text_atomic(paths["trajectory.html"], trajectory_html(trajectory, png))
    return paths


def _csv(trajectory: Trajectory) -> str:
    rows = trajectory.rows()
    columns = list(dict.fromkeys(k for r in rows for k in r))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in columns})
    return buffer.getvalue()


def trajectory_html(trajectory: Trajectory, png: bytes = b"") -> str:
    """The self-contained page: the figure inlined, the tables, no external resource."""
    css = (resources.files("rmtfit.report") / "report.css").read_text(encoding="utf-8")
    e = html.escape
    steps = trajectory.steps
    head = "".join(
        f"<th>step {s:g}<br><small>{e(c.label)}</small></th>"
        for s, c in zip(steps, trajectory.checkpoints, strict=True)
    )
    moves = "".join(f"<th>{a:g} &rarr; {b:g}</th>" for a, b in zip(steps, steps[1:], strict=False))
    rows = []
    for name in trajectory.layers:
        cells = "".join(f"<td>{_alpha_cell(a)}</td>" for a in trajectory.alpha[name])
        phase_cells = "".join(f"<td>{_phase_cell(p)}</td>" for p in trajectory.phases[name])
        down = "".join(f"<td>{_p_cell(p)}</td>" for p in trajectory.decreased[name])
        label = f"<b>{e(name)}</b>" if name == NETWORK else e(name)
        rows.append(f"<tr><th scope=row>{label}</th>{cells}</tr>")
        rows.append(f"<tr class=sub><td>phase</td>{phase_cells}</tr>")
        rows.append(f"<tr class=sub><td>P(alpha decreased)</td><td></td>{down}</tr>")
    problems = [
        f"<li>{e(c.label)}: {e(layer)}: {e(reason)}</li>"
        for c, failed in zip(trajectory.checkpoints, trajectory.failed, strict=True)
        for layer, reason in failed.items()
    ]
    image = (
        f'<img alt="alpha and phases over training steps" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode("ascii")}" style="max-width:100%">'
        if png
        else "<p>(figure not drawn)</p>"
    )
    listing = "".join(
        f"<tr><td>{s:g}</td><td>{e(c.label)}</td><td><code>{e(c.path)}</code></td></tr>"
        for s, c in zip(steps, trajectory.checkpoints, strict=True)
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rmtfit trajectory: {len(steps)} checkpoints</title>
<style>{css}
table.traj td, table.traj th {{ padding: 3px 8px; text-align: right; }}
table.traj tr.sub td {{ color: var(--muted); font-size: 12px; }}
table.traj tr.sub td:first-child {{ text-align: left; }}
</style></head>
<body>
<header><h1>Training trajectory</h1>
<p class="meta">{len(steps)} checkpoints, {len(trajectory.layers) - 1} layers; rmtfit {e(__version__)};
alpha: posterior mean [{trajectory.ci_prob:.0%} equal-tailed interval]; P(alpha decreased) from
the posterior draws of consecutive checkpoints (independent analyses).</p>
<nav><a href="#figure">Figure</a><a href="#alpha">alpha and phases</a><a href="#checkpoints">Checkpoints</a></nav>
</header>
<main>
<section id="figure"><h2>Figure</h2>{image}</section>
<section id="alpha"><h2>alpha and phases over steps</h2>
<table class="traj"><thead><tr><th>layer</th>{head}</tr>
<tr class=sub><td></td><td></td>{moves}</tr></thead>
<tbody>{"".join(rows)}</tbody></table></section>
<section id="checkpoints"><h2>Checkpoints</h2>
<table><thead><tr><th>step</th><th>label</th><th>path</th></tr></thead><tbody>{listing}</tbody></table>
{"<h3>Failed</h3><ul>" + "".join(problems) + "</ul>" if problems else "<p>Every layer of every checkpoint was analysed.</p>"}
</section></main>
<footer><p class="meta">Written by <code>rmtfit track</code>.</p></footer>
</body></html>
"""


def _alpha_cell(alpha: Any) -> str:
    if not alpha:
        return "&ndash;"
    return f"{alpha['mean']:.2f} <small>[{alpha['low']:.2f}, {alpha['high']:.2f}]</small>"


def _phase_cell(phases: Any) -> str:
    if not phases:
        return "&ndash;"
    best = max(phases, key=phases.get)
    return f"{html.escape(best)} {phases[best]:.2f}"


def _p_cell(p: Any) -> str:
    return "&ndash;" if p is None else f"{p:.2f}"
