"""Terminal output: the Rich summary table and the network comparison table.

Everything goes to stderr except the summary table, which is the command's result (stdout).
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["summary_table", "print_summary", "print_network_comparison"]


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "-"
    return f"{value:.{digits}g}"


def _interval(estimate: Any) -> str:
    if estimate is None or not math.isfinite(estimate.mean):
        return "-"
    return f"{estimate.mean:.3g} [{estimate.ci_low:.3g}, {estimate.ci_high:.3g}]"


def summary_table(analysis: Any) -> Any:
    """A ``rich.table.Table`` with one row per analysed layer."""
    from rich.table import Table

    full = not analysis.fast
    pct = int(round(analysis.ci_prob * 100))
    table = Table(
        title=f"rmtfit {analysis.mode} analysis of {analysis.source}",
        caption=None if full else "fast mode: classical point estimates only",
        show_lines=False,
    )
    table.add_column("#", justify="right")
    table.add_column("layer", overflow="fold")
    table.add_column("N x M", justify="right")
    if full:
        table.add_column(f"alpha [{pct}% CI]", justify="right")
        table.add_column("spikes", justify="right")
        table.add_column("phase (p)")
    else:
        table.add_column("alpha", justify="right")
        table.add_column("xmin", justify="right")
        table.add_column("spikes", justify="right")
    table.add_column("lambda_max", justify="right")
    table.add_column("status")
    for layer in analysis.analysed:
        shape = f"{layer.N} x {layer.M}" if layer.N else "-"
        status = layer.status if layer.ok else f"[red]{layer.status}[/red]"
        cells = [str(layer.layer_id), _escape(layer.name), shape]
        cells += _fit_cells(layer, full)
        metrics = layer.metrics or {}
        cells += [_fmt(metrics.get("lambda_max")), status]
        table.add_row(*cells)
    return table


def _fit_cells(layer: Any, full: bool) -> list[str]:
    classical = layer.classical
    if full:
        post = layer.posterior or {}
        spikes = post.get("num_spikes")
        phase = layer.phase or {}
        best = phase.get("map")
        prob = (phase.get("probabilities") or {}).get(best) if best else None
        phase_cell = f"{best} ({prob:.2f})" if best and prob is not None else "-"
        return [_interval(post.get("alpha")), _fmt(spikes.mean if spikes else None, 2), phase_cell]
    if classical is None or not classical.ok:
        return ["-", "-", "-"]
    return [_fmt(classical.alpha), _fmt(classical.xmin), str(classical.num_spikes)]


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def print_summary(analysis: Any, outputs: Any = None, *, console: Any = None) -> None:
    """Print the summary table, the failed and skipped tensors, and where the report went."""
    from rich.console import Console

    console = console or Console()
    console.print(summary_table(analysis))
    for layer in analysis.failed:
        console.print(f"[red]failed[/red] {_escape(layer.name)}: {_escape(layer.reason)}")
    skipped = analysis.skipped
    if skipped:
        reasons: dict[str, int] = {}
        for layer in skipped:
            reasons[layer.reason] = reasons.get(layer.reason, 0) + 1
        text = "; ".join(f"{n} {_escape(r)}" for r, n in sorted(reasons.items()))
        console.print(f"not analysed: {len(skipped)} tensors ({text}); listed in report.json")
    if outputs is not None:
        console.print(f"report: {_escape(str(outputs.html))}")


def print_network_comparison(
    comparison: Any, label_a: str, label_b: str, *, console: Any = None
) -> None:
    """Print ``rmtfit compare``'s table: per metric and matched layer, P(A < B) and intervals."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    pct = round(100 * comparison.interval_prob)
    table = Table(title=f"A = {_escape(label_a)}   B = {_escape(label_b)}")
    for column in ("metric", "layer (A / B)", "A", "B", f"B - A ({pct}% interval)", "P(A < B)"):
        table.add_column(
            column, justify="left" if column.startswith(("metric", "layer")) else "right"
        )
    for row in comparison.rows:
        layer = (
            row["layer_a"]
            if row["layer_a"] == row["layer_b"]
            else f"{row['layer_a']} / {row['layer_b']}"
        )
        table.add_row(
            row["metric"],
            _escape(str(layer)),
            f"{_fmt(row['a_mean'])} [{_fmt(row['a_low'])}, {_fmt(row['a_high'])}]",
            f"{_fmt(row['b_mean'])} [{_fmt(row['b_low'])}, {_fmt(row['b_high'])}]",
            f"{_fmt(row['diff_mean'])} [{_fmt(row['diff_low'])}, {_fmt(row['diff_high'])}]",
            f"{row['p_a_below_b']:.3f}",
        )
    console.print(table)
    for side, names in (("A", comparison.unmatched_a), ("B", comparison.unmatched_b)):
        if names:
            console.print(f"unmatched layers of {side}: {', '.join(_escape(n) for n in names)}")
