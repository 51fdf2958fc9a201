"""Terminal output: the summary table, the diagnostics line, the network comparison table.

The summary table is the command's result (stdout); notes go to stderr. The table fits the
console's width (80 columns off a terminal) without breaking a layer name: it keeps the columns
that matter most (alpha with its interval and the phase in full mode), drops the others when the
width is short, and shortens a long name in the middle (``blocks.11…fc2.weight``) rather than
folding it. ``wide=True`` shows every column and every name in full.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = [
    "summary_table",
    "print_summary",
    "print_diagnostics",
    "print_network_comparison",
    "shorten_middle",
    "diagnostics_lines",
    "HOW_TO_READ",
]

HOW_TO_READ = (
    "How to read it: alpha 2-4 is heavy-tailed (well trained), 6+ is close to random;",
    "[a, b] is its 90% interval. report.html shows every layer's spectrum and fits.",
)
"""Two lines (at most 80 characters each) on how to read the summary."""

ELLIPSIS = "…"
MIN_NAME = 24  # a name column narrower than this drops a column instead


def shorten_middle(name: str, width: int) -> str:
    """``name`` if it fits in ``width`` characters, else its start and end around an ellipsis.

    The end keeps one character more than the start: layer names differ most at their end
    (``...layer.11.output.dense.weight``).
    """
    if len(name) <= width:
        return name
    if width <= 1:
        return ELLIPSIS[:width]
    keep = width - 1
    head = keep // 2
    return name[:head] + ELLIPSIS + name[len(name) - (keep - head) :]


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


def _phase_cell(layer: Any) -> str:
    phase = layer.phase or {}
    best = phase.get("map")
    prob = (phase.get("probabilities") or {}).get(best) if best else None
    if not best or prob is None:
        return "-"
    return f"{best.replace('_', '-')} {prob:.2f}"


def _classical(name: str) -> Any:
    def cell(r: Any) -> str:
        ok = r.classical is not None and r.classical.ok
        return _fmt(getattr(r.classical, name, None)) if ok else "-"

    return cell


def _metric(name: str) -> Any:
    return lambda r: _fmt((r.metrics or {}).get(name))


def _posterior_spikes(r: Any) -> str:
    return _fmt(getattr((r.posterior or {}).get("num_spikes"), "mean", None))


def _columns(analysis: Any) -> list[tuple[str, int, Any]]:
    """``(header, priority, cell function)``: priority 0 always shows, the highest goes first."""
    pct = int(round(analysis.ci_prob * 100))
    cols: list[tuple[str, int, Any]] = [
        ("#", 0, lambda r: str(r.layer_id)),
        ("layer", 0, None),
        ("N x M", 3, lambda r: f"{r.N}x{r.M}" if r.N else "-"),
    ]
    if analysis.fast:
        cols += [("alpha", 0, _classical("alpha")), ("xmin", 2, _classical("xmin"))]
        cols += [("spikes", 1, _classical("num_spikes"))]
    else:
        cols += [
            (f"alpha [{pct}% CI]", 0, lambda r: _interval((r.posterior or {}).get("alpha"))),
            ("phase p", 0, _phase_cell),
            ("spikes", 2, _posterior_spikes),
            ("alpha (cl.)", 5, _classical("alpha")),
        ]
    cols += [("evals", 6, _metric_evals), ("lambda_max", 4, _metric("lambda_max"))]
    if any(not r.ok for r in analysis.analysed):
        cols.append(("status", 1, lambda r: r.status))
    return cols


def _metric_evals(r: Any) -> str:
    return _fmt(r.num_evals)


def summary_table(analysis: Any, *, width: int = 80, wide: bool = False) -> Any:
    """A ``rich.table.Table`` with one row per analysed layer that fits ``width`` columns.

    Columns of lower priority are dropped until the names get at least ``MIN_NAME`` characters
    (or all of theirs); names longer than what is left are shortened in the middle. With
    ``wide=True`` every column is shown and no name is shortened.
    """
    cols = _columns(analysis)
    cells = {h: [fn(r) for r in analysis.analysed] for h, _, fn in cols if fn is not None}
    longest = max([len("layer"), *(len(r.name) for r in analysis.analysed)])
    keep = [h for h, _, _ in cols]
    title = f"rmtfit {analysis.mode} analysis of {analysis.source}"
    if wide:
        return _table(analysis, title, keep, cells, longest)
    priority = {h: p for h, p, _ in cols}
    for header in sorted((h for h in keep if priority[h]), key=lambda h: -priority[h]):
        if _natural_width(_table(analysis, "", keep, cells, min(longest, MIN_NAME))) <= width:
            break
        keep.remove(header)
    overflow = _natural_width(_table(analysis, "", keep, cells, longest)) - width
    budget = max(longest - max(overflow, 0), 8)
    return _table(analysis, shorten_middle(title, width), keep, cells, budget)


def _natural_width(table: Any) -> int:
    from rich.console import Console

    console = Console(width=100_000)
    return table.__rich_measure__(console, console.options).maximum


def _table(
    analysis: Any, title: str, keep: Sequence[str], cells: dict[str, list[str]], budget: int
) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(
        title=title or None,
        caption="fast mode: classical point estimates only" if analysis.fast and title else None,
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    for header in keep:
        left = header in ("layer", "phase p", "status")
        table.add_column(header, justify="left" if left else "right", no_wrap=True)
    for i, layer in enumerate(analysis.analysed):
        row = []
        for header in keep:
            if header == "layer":
                row.append(_escape(shorten_middle(layer.name, budget)))
            elif header == "status" and not layer.ok:
                row.append(f"[red]{_escape(layer.status)}[/red]")
            else:
                row.append(_escape(cells[header][i]))
        table.add_row(*row)
    return table


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


PARETO_K_OK = 0.7  # PSIS-LOO's own limit (Vehtari et al. 2017): above it a term is unreliable


def diagnostics_lines(analysis: Any, *, verbose: bool = False) -> list[str]:
    """One line per fitted likelihood whose fits were flagged or whose PSIS-LOO is unreliable
    (``mp_spikes: 3 of 53 fits flagged, see report.json``); with ``verbose`` also one line per
    layer concerned, with the reason."""
    fitted: dict[str, int] = {}
    flagged: dict[str, list[str]] = {}
    high_k: dict[str, list[str]] = {}
    for layer in analysis.analysed:
        for name, model in (layer.models or {}).items():
            status = str(model.get("status") or "")
            if status not in ("ok", "flagged"):
                continue
            fitted[name] = fitted.get(name, 0) + 1
            if status == "flagged":
                flagged.setdefault(name, []).append(f"{layer.name}: {model.get('reason') or ''}")
            k = model.get("max_pareto_k")
            if k is not None and math.isfinite(k) and k > PARETO_K_OK:
                high_k.setdefault(name, []).append(f"{layer.name}: max Pareto k {k:.2f}")
    lines = []
    for name, total in fitted.items():
        parts = []
        if name in flagged:
            parts.append(f"{len(flagged[name])} of {total} fits flagged")
        if name in high_k:
            parts.append(f"{len(high_k[name])} of {total} with Pareto k > {PARETO_K_OK}")
        if not parts:
            continue
        detail = "" if verbose else ", --verbose"
        lines.append(f"{name}: {', '.join(parts)}; see report.json{detail}")
        if verbose:
            lines += [f"  {item}" for item in flagged.get(name, []) + high_k.get(name, [])]
    return lines


def print_diagnostics(analysis: Any, *, verbose: bool = False, console: Any = None) -> None:
    """Print :func:`diagnostics_lines` (stderr by default)."""
    from rich.console import Console

    console = console or Console(stderr=True)
    for line in diagnostics_lines(analysis, verbose=verbose):
        console.print(_escape(line), soft_wrap=True, highlight=False)


def print_summary(
    analysis: Any,
    outputs: Any = None,
    *,
    console: Any = None,
    wide: bool = False,
    verbose: bool = False,
    how_to_read: bool = False,
) -> None:
    """Print the summary table, the diagnostics, failed and skipped tensors, where the report went.

    ``how_to_read`` ends with :data:`HOW_TO_READ` (``rmtfit demo``).
    """
    from rich.console import Console

    console = console or Console()
    table = summary_table(analysis, width=console.width, wide=wide)
    width = console.width
    if wide:  # as wide as the table needs, even off a terminal (80 columns)
        console.width = max(width, _natural_width(table))
    try:
        console.print(table)
    finally:
        console.width = width
    say = lambda text: console.print(text, highlight=False)  # noqa: E731
    for line in diagnostics_lines(analysis, verbose=verbose):
        say(_escape(line))
    for layer in analysis.failed:
        say(f"[red]failed[/red] {_escape(layer.name)}: {_escape(layer.reason)}")
    skipped = analysis.skipped
    if skipped:
        reasons: dict[str, int] = {}
        for layer in skipped:
            reasons[layer.reason] = reasons.get(layer.reason, 0) + 1
        text = "; ".join(f"{n} {_escape(r)}" for r, n in sorted(reasons.items()))
        say(f"not analysed: {len(skipped)} tensors ({text}); listed in report.json")
    if outputs is not None:
        say(f"report: {_escape(str(outputs.html))}")
    if how_to_read:
        for line in HOW_TO_READ:
            say(_escape(line))


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
