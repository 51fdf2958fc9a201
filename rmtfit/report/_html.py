"""``report.html``: one self-contained, interactive page (inline CSS, data and script; no requests).

The tables are plain HTML (readable without JavaScript); ``report.js``, inlined, draws every
chart on a canvas from the numbers the page embeds as JSON (:func:`page_data`): per layer a
log-binned and a linear histogram of the eigenvalues, the fitted curves' parameters with their
credible intervals and the posterior predictive band, so a page of 500 layers stays a few MB and
renders no image on the server. Nothing refers to another file or a URL. Every name that comes
from the checkpoint goes through :func:`html.escape` in HTML and is written as JSON with ``<``,
``>`` and ``&`` escaped inside the data block; the script only sets it as text.
Sections (ids): ``summary``, ``layers``, ``phases``, ``network``, ``not-analysed``, ``about``.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable
from importlib import resources
from typing import Any

from rmtfit.report._esd_data import PHASE_COLOURS, esd_record, layer_curves, rounded
from rmtfit.report._json import PHASES, POSTERIOR_QUANTITIES

__all__ = ["SECTIONS", "render_html", "page_data"]

SECTIONS = ("summary", "layers", "phases", "network", "not-analysed", "about")

_QUANTITY_LABELS = {
    "alpha": "α (power-law exponent)",
    "xmin": "xmin (start of the tail)",
    "sigma_mp": "σ (MP noise scale)",
    "lambda_plus": "λ+ (MP bulk edge)",
    "num_spikes": "spikes (beyond the bulk)",
}
_CLASSICAL_OF = {
    "alpha": "alpha",
    "xmin": "xmin",
    "sigma_mp": "sigma_mp",
    "lambda_plus": "lambda_plus",
    "num_spikes": "num_spikes",
}


def esc(value: Any) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return html.escape(str(value), quote=True)


def fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return esc(value)
    if not math.isfinite(value):
        return "–"
    return f"{value:.{digits}g}"


def _table(header: Iterable[str], rows: Iterable[Iterable[str]], name_cols: int = 0) -> str:
    """A table from pre-escaped cells; the first ``name_cols`` columns are left-aligned text."""
    head = "".join(
        f'<th class="name">{h}</th>' if i < name_cols else f"<th>{h}</th>"
        for i, h in enumerate(header)
    )
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="name">{c}</td>' if i < name_cols else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _interval(est: Any) -> str:
    if est is None or est.get("mean") is None:
        return "–"
    return f"{fmt(est['mean'])} [{fmt(est['ci_low'])}, {fmt(est['ci_high'])}]"


def _status(status: str) -> str:
    return f'<span class="status-{esc(status)}">{esc(status)}</span>'


def _phase_name(phase: str | None) -> str:
    return (phase or "–").replace("_", "-")


HOW_TO_READ = (
    "α is the exponent of the power-law tail of a layer's eigenvalue density: 2 to 4 is "
    "heavy-tailed (strongly trained), above about 6 close to random; a wide interval means the "
    "spectrum cannot tell.",
    "The phase is the most probable of the 5+1 phases of training; click a layer for its "
    "spectrum: histogram, fitted densities, bulk edge λ+ and xmin with their credible intervals.",
)
"""The two lines on how to read a report (the page's summary and the end of ``rmtfit demo``)."""


# ----------------------------------------------------------------------------- page data


def page_data(analysis: Any) -> dict[str, Any]:
    """What the page's script draws, per analysed layer with a spectrum (see ``docs/report.md``).

    Each record is :func:`rmtfit.report._esd_data.esd_record` plus ``name``, ``ca`` (the
    classical alpha as ``[alpha, alpha - se, alpha + se]``), ``pa`` (the posterior alpha as
    ``[mean, ci_low, ci_high]``, full mode) and ``ph`` (the phase probabilities in the order of
    :data:`PHASES`, full mode).
    """
    layers = []
    for layer in analysis.analysed:
        if not layer.ok:
            continue
        curves = layer_curves(analysis, layer)
        if curves is None:
            continue
        record = esd_record(curves, int(layer.layer_id))
        record["name"] = layer.name
        classical = layer.classical
        alpha = getattr(classical, "alpha", None) if classical is not None else None
        if alpha is not None and math.isfinite(alpha):
            se = getattr(classical, "alpha_se", None)
            se = se if se is not None and math.isfinite(se) else None
            record["ca"] = rounded([alpha, alpha - se, alpha + se] if se else [alpha, None, None])
        post = (layer.posterior or {}).get("alpha")
        if post is not None and math.isfinite(post.mean):
            record["pa"] = rounded([post.mean, post.ci_low, post.ci_high])
        if layer.phase:
            probs = layer.phase.get("probabilities") or {}
            record["ph"] = rounded([float(probs.get(p) or 0.0) for p in PHASES])
        layers.append(record)
    return {
        "mode": analysis.mode,
        "ci": float(analysis.ci_prob),
        "phases": list(PHASES),
        "phase_colours": [PHASE_COLOURS[p] for p in PHASES],
        "layers": layers,
    }


def _data_block(data: dict[str, Any]) -> str:
    """The data as a JSON script block that no name can close or break (``<``, ``>``, ``&`` escaped)."""
    text = json.dumps(
        data, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_plain
    )
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return f"<script type='application/json' id='rmtfit-data'>{text}</script>"


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers; anything else is a bug of :func:`page_data`."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"page data: {type(value).__name__} is not JSON ({value!r})")


# ----------------------------------------------------------------------------- sections


def _summary(report: dict[str, Any]) -> str:
    s = report["summary"]
    c = s["classical"]
    cards = [
        (s["num_layers"], "weight matrices"),
        (s["num_ok"], "ok"),
        (s["num_failed"], "failed"),
        (s["num_skipped"], "tensors not analysed"),
        (fmt(c["alpha_mean"], 3), "mean α (classical)"),
        (fmt(c["alpha_weighted"], 3), "weighted α (classical)"),
    ]
    counts = s["phase_counts"] or {}
    cards += [(n, f"layers {_phase_name(p)}") for p, n in counts.items() if n]
    html_cards = "".join(
        f"<div class='card'><b>{v}</b><span>{esc(k)}</span></div>" for v, k in cards
    )
    failed = [layer for layer in report["layers"] if layer["status"] == "failed"]
    failed_html = ""
    if failed:
        items = "".join(
            f"<li><b>{esc(layer['name'])}</b>: {esc(layer['reason'])}</li>" for layer in failed
        )
        failed_html = f"<h3 class='status-failed'>Failed layers</h3><ul>{items}</ul>"
    mode = (
        "Full Bayesian analysis: posteriors, model comparison and phase probabilities."
        if report["mode"] == "full"
        else "Fast mode: classical point estimates only (no posteriors, models or phases)."
    )
    read = "".join(f"<li>{esc(line)}</li>" for line in HOW_TO_READ)
    return (
        f"<section id='summary'><h2>Summary</h2><p>{esc(mode)}</p><div class='cards'>{html_cards}</div>"
        f"<ul class='read'>{read}</ul>{failed_html}</section>"
    )


def _network(report: dict[str, Any]) -> str:
    pct = int(round(report["ci_prob"] * 100))
    parts = ["<section id='network'><h2>Network</h2>"]
    network = report["summary"]["network"]
    if network:
        rows = [
            (
                esc(k.replace("_", " ")),
                fmt(e and e["mean"]),
                fmt(e and e["sd"]),
                _interval(e) if e else "–",
            )
            for k, e in network.items()
        ]
        header = ("metric", "mean", "sd", f"mean [{pct}% CI]")
        parts.append(f"<h3>Network metrics (posterior)</h3>{_table(header, rows, 1)}")
    rows = [(esc(k.replace("_", " ")), fmt(v)) for k, v in report["summary"]["classical"].items()]
    parts.append(
        f"<h3>Network averages of the classical estimates</h3>{_table(('metric', 'value'), rows, 1)}"
    )
    what = (
        f"posterior mean and {pct}% credible interval"
        if report["mode"] == "full"
        else "classical estimate ± 1 standard error"
    )
    parts.append(
        f"<h3>Power-law exponent α per layer</h3><p class='note'>Dots: {esc(what)}; "
        "squares: classical α; green: 2 ≤ α ≤ 6, the well-trained range of HT-SR.</p>"
        "<canvas id='alpha-chart' class='chart'></canvas></section>"
    )
    return "".join(parts)


def _phases(report: dict[str, Any]) -> str:
    head = "<section id='phases'><h2>Phases</h2>"
    if report["mode"] == "fast":
        return (
            head
            + "<p class='note'>Phase probabilities need the full analysis (run without --fast).</p>"
            "<canvas id='phase-chart' class='chart' hidden></canvas></section>"
        )
    counts = report["summary"]["phase_counts"] or {}
    expected = report["summary"]["phase_expected"] or {}
    rows = [
        (f"<i class='swatch' style='background:{PHASE_COLOURS[p]}'></i>{esc(_phase_name(p))}",
         str(counts.get(p, 0)), fmt(expected.get(p), 3))
        for p in PHASES
    ]  # fmt: skip
    return (
        head
        + f"<h3>Layers per phase</h3>{_table(('phase', 'most probable in', 'expected number'), rows, 1)}"
        "<h3>Phase probabilities per layer</h3><canvas id='phase-chart' class='chart'></canvas></section>"
    )


def _cell(text: str, value: Any = None, cls: str = "") -> str:
    """A table cell; ``value`` (a number or ``None``) is what the script sorts by."""
    sort = "" if value is None else f" data-v='{esc(value)}'"
    klass = f" class='{cls}'" if cls else ""
    return f"<td{klass}{sort}>{text}</td>"


def _layer_row(layer: dict[str, Any], full: bool) -> str:
    c = layer["classical"] or {}
    m = layer["metrics"] or {}
    post = layer["posterior"] or {}
    phase = layer["phase"] or {}
    best = phase.get("map")
    prob = (phase.get("probabilities") or {}).get(best) if best else None
    alpha = (post.get("alpha") or {}).get("mean") if full else c.get("alpha")
    lid = layer["layer_id"]
    cells = [
        _cell(str(lid), lid),
        _cell(f"<a href='#layer-{lid}'>{esc(layer['name'])}</a>", cls="name"),
        _cell(esc(layer["kind"] or "–"), cls="text"),
        _cell(f"{fmt(layer['N'])} × {fmt(layer['M'])}", (layer["N"] or 0) * (layer["M"] or 0)),
        _cell(fmt(layer["num_evals"]), layer["num_evals"]),
        _cell(_status(layer["status"]), cls="text"),
        _cell(fmt(c.get("alpha"), 3), c.get("alpha")),
    ]
    if full:
        a = post.get("alpha")
        cells.append(_cell(_interval(a), a and a["mean"]))
        cells.append(
            _cell(
                esc(_phase_name(best)) + (f" ({prob:.2f})" if prob is not None else ""),
                prob,
                "text",
            )
        )
    cells += [
        _cell(fmt(c.get("xmin"), 3), c.get("xmin")),
        _cell(fmt(c.get("num_spikes")), c.get("num_spikes")),
        _cell(fmt(m.get("lambda_max"), 3), m.get("lambda_max")),
        _cell(fmt(m.get("stable_rank"), 3), m.get("stable_rank")),
    ]
    attrs = f"data-id='{lid}' data-name='{esc(layer['name'])}' data-phase='{esc(best or '')}' data-alpha='{esc('' if alpha is None else alpha)}'"
    return f"<tr {attrs}>{''.join(cells)}</tr>"


def _layer_table(report: dict[str, Any]) -> str:
    pct = int(round(report["ci_prob"] * 100))
    full = report["mode"] == "full"
    header = ["#", "layer", "kind", "N × M", "evals", "status", "α (classical)"]
    if full:
        header += [f"α posterior [{pct}% CI]", "phase (p)"]
    header += ["xmin", "spikes", "λmax", "stable rank"]
    head = "".join(
        f"<th class='name'>{h}</th>" if h == "layer" else f"<th>{h}</th>" for h in header
    )
    rows = "".join(
        _layer_row(layer, full) for layer in report["layers"] if layer["status"] != "skipped"
    )
    options = "".join(f"<option value='{p}'>{esc(_phase_name(p))}</option>" for p in PHASES)
    phase_filter = (
        f"<label>phase <select id='f-phase'><option value=''>any</option>{options}</select></label>"
        if full
        else "<select id='f-phase' hidden><option value=''>any</option></select>"
    )
    controls = (
        "<div class='controls'><label>layer <input id='f-name' type='search' placeholder='name contains'></label>"
        f"{phase_filter}<label>α from <input id='f-alpha-lo' type='number' step='0.1'></label>"
        "<label>to <input id='f-alpha-hi' type='number' step='0.1'></label>"
        "<span id='f-count' class='note'></span><span class='note'>click a column to sort, a row to see its ESD</span></div>"
    )
    return f"{controls}<div class='wide table-box'><table id='layer-table'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>"


def _viewer() -> str:
    return (
        "<div id='esd-viewer'><div class='toolbar'><b id='esd-title'></b>"
        "<span class='buttons'><button type='button' data-scale='log' aria-pressed='true'>log-log</button>"
        "<button type='button' data-scale='lin' aria-pressed='false'>linear</button>"
        "<button type='button' id='esd-prev' title='previous layer in the table'>◀</button>"
        "<button type='button' id='esd-next' title='next layer in the table'>▶</button></span></div>"
        "<canvas id='esd-canvas' class='esd'></canvas><div id='esd-legend' class='legend'></div>"
        "<div id='esd-readout' class='note'></div></div>"
    )


def _layer_detail(layer: dict[str, Any], pct: int) -> str:
    lid = layer["layer_id"]
    parts = [f"<article class='layer' id='layer-{lid}'>"]
    parts.append(f"<h3>{lid}. {esc(layer['name'])} {_status(layer['status'])}</h3>")
    shape = f"{fmt(layer['N'])} × {fmt(layer['M'])}, Q = {fmt(layer['Q'], 3)}, {fmt(layer['num_evals'])} eigenvalues"
    parts.append(f"<p class='note'>{esc(layer['kind'] or '')} {shape}</p>")
    if layer["reason"]:
        parts.append(f"<p class='flag'>{esc(layer['reason'])}</p>")
    classical = layer["classical"] or {}
    post = layer["posterior"]
    rows = []
    for q in POSTERIOR_QUANTITIES:
        row = [esc(_QUANTITY_LABELS[q]), fmt(classical.get(_CLASSICAL_OF[q]))]
        if post is not None:
            est = post.get(q)
            row += [
                _interval(est),
                fmt(est and est["sd"]),
                esc((est or {}).get("likelihood") or "–"),
            ]
        rows.append(row)
    header = ["quantity", "classical"]
    if post is not None:
        header += [f"posterior mean [{pct}% CI]", "posterior sd", "from likelihood"]
    if classical or post:
        parts.append(_table(header, rows, 1))
    phase = layer["phase"]
    if phase:
        probs = phase["probabilities"]
        prow = [[fmt(probs[p], 3) for p in PHASES] + [f"<b>{esc(_phase_name(phase['map']))}</b>"]]
        parts.append(_table([*(_phase_name(p) for p in PHASES), "most probable"], prow))
    if layer["models"]:
        mrows = [
            [esc(name), esc(m["family"]), esc(m["status"]) + (f": {esc(m['reason'])}" if m.get("reason") else ""),
             fmt(m["weight"], 3), fmt(m["elpd_loo"], 6), fmt(m["se"], 3), fmt(m["max_pareto_k"], 3),
             fmt(m["r_hat_max"], 4), fmt(m["ess_bulk_min"], 4), fmt(m["divergences"])]
            for name, m in layer["models"].items()
        ]  # fmt: skip
        mhead = ["likelihood", "family", "status", "weight", "elpd_loo", "se", "max Pareto k",
                 "max R-hat", "min bulk ESS", "divergences"]  # fmt: skip
        parts.append(_table(mhead, mrows, 1))
    parts.append("</article>")
    return "".join(parts)


def _layers(report: dict[str, Any]) -> str:
    pct = int(round(report["ci_prob"] * 100))
    details = "".join(
        _layer_detail(layer, pct) for layer in report["layers"] if layer["status"] != "skipped"
    )
    return (
        "<section id='layers'><h2>Layers</h2>"
        "<p class='note'>Eigenvalues, xmin and λ+ are in raw units: squared singular values of W "
        "(no 1/N factor). Shaded spans around λ+ and xmin are their credible intervals.</p>"
        + _layer_table(report)
        + "<div class='viewer-box'>"
        + _viewer()
        + f"<div class='details'>{details}</div></div></section>"
    )


def _not_analysed(report: dict[str, Any]) -> str:
    rows = [
        (
            esc(layer["name"]),
            esc("×".join(str(d) for d in layer["shape"]) or "–"),
            esc(layer["reason"]),
        )
        for layer in report["layers"]
        if layer["status"] == "skipped"
    ]
    body = (
        _table(("tensor", "shape", "reason"), rows, 3)
        if rows
        else "<p class='note'>Every tensor was analysed.</p>"
    )
    return f"<section id='not-analysed'><h2>Tensors not analysed</h2>{body}</section>"


def _about(report: dict[str, Any]) -> str:
    likelihoods = ", ".join(report["likelihoods"]) or "none (fast mode)"
    return (
        "<footer id='about'><h2>About this report</h2>"
        f"<p>rmtfit {esc(report['rmtfit_version'])}, schema {esc(report['schema'])}, seed {report['seed']}, "
        f"credible intervals at {fmt(report['ci_prob'])} (equal-tailed). Likelihoods: {esc(likelihoods)}.</p>"
        "<p>The same numbers are in report.json (documented field by field in docs/report.md) and "
        "layers.csv. α is the exponent of the power-law tail of the eigenvalue density; λ+ the "
        "Marchenko-Pastur bulk edge; spikes are eigenvalues beyond the Tracy-Widom band above λ+. "
        "The charts are drawn in the page from the data it embeds; rmtfit analyze --plots also "
        "writes them as PNG files.</p></footer>"
    )


def _asset(name: str) -> str:
    return resources.files("rmtfit.report").joinpath(name).read_text("utf-8")


def render_html(report: dict[str, Any], data: dict[str, Any]) -> str:
    """The complete report page.

    Parameters
    ----------
    report
        The ``report.json`` dict.
    data
        What the charts are drawn from: :func:`page_data` of the same analysis.
    """
    nav = "".join(f"<a href='#{s}'>{s.replace('-', ' ').capitalize()}</a>" for s in SECTIONS)
    script = _asset("report.js")  # holds no "</" (a test checks), so it cannot close its block
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>rmtfit report: {esc(report['source'])}</title><style>{_asset('report.css')}</style></head><body>"
        f"<header><h1>rmtfit report</h1><p class='meta'>{esc(report['source'])} · {esc(report['mode'])} mode"
        f" · rmtfit {esc(report['rmtfit_version'])}</p><nav>{nav}</nav></header><main>"
        + _summary(report)
        + _layers(report)
        + _phases(report)
        + _network(report)
        + _not_analysed(report)
        + "</main>"
        + _about(report)
        + _data_block(data)
        + f"<script>{script}</script></body></html>\n"
    )
