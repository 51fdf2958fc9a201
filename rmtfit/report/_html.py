"""``report.html``: one self-contained page (inline CSS, figures as base64 PNG, no scripts).

It opens from disk with no network: nothing in it refers to another file or a URL. Every name
that comes from the checkpoint goes through :func:`html.escape`; numbers are formatted here.
Sections (ids): ``summary``, ``network``, ``phases``, ``layers``, ``not-analysed``, ``about``.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

from rmtfit.report._json import PHASES, POSTERIOR_QUANTITIES

__all__ = ["SECTIONS", "render_html"]

SECTIONS = ("summary", "network", "phases", "layers", "not-analysed", "about")

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


def _img(images: Mapping[str, bytes], key: str, alt: str, caption: str) -> str:
    data = images.get(key)
    if data is None:
        return ""
    b64 = base64.b64encode(data).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{b64}" alt="{esc(alt)}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


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
    html_cards = "".join(
        f"<div class='card'><b>{v}</b><span>{esc(k)}</span></div>" for v, k in cards
    )
    rows = [(esc(k.replace("_", " ")), fmt(v)) for k, v in c.items()]
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
    return (
        f"<section id='summary'><h2>Summary</h2><p>{esc(mode)}</p><div class='cards'>{html_cards}</div>"
        f"<h3>Network averages of the classical estimates</h3>{_table(('metric', 'value'), rows, 1)}"
        f"{failed_html}</section>"
    )


def _network(report: dict[str, Any], images: Mapping[str, bytes]) -> str:
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
        parts.append(
            f"<h3>Network metrics (posterior)</h3>{_table(('metric', 'mean', 'sd', f'mean [{pct}% CI]'), rows, 1)}"
        )
    parts.append(
        _img(
            images,
            "network.png",
            "network summary",
            "Norms and stable rank per layer; network-level metrics.",
        )
    )
    parts.append(
        _img(
            images,
            "alpha.png",
            "alpha per layer",
            f"Power-law exponent α per layer ({pct}% credible intervals in full mode; ±1 standard error in fast mode).",
        )
    )
    parts.append("</section>")
    return "".join(parts)


def _phases(report: dict[str, Any], images: Mapping[str, bytes]) -> str:
    head = "<section id='phases'><h2>Phases</h2>"
    if report["mode"] == "fast":
        return (
            head
            + "<p class='note'>Phase probabilities need the full analysis (run without --fast).</p></section>"
        )
    counts = report["summary"]["phase_counts"] or {}
    count_rows = [(esc(p.replace("_", "-")), str(counts.get(p, 0))) for p in PHASES]
    rows = []
    for layer in report["layers"]:
        phase = layer["phase"]
        if layer["status"] == "skipped" or phase is None:
            continue
        probs = phase["probabilities"]
        cells = [str(layer["layer_id"]), esc(layer["name"])]
        cells += [fmt(probs[p], 3) for p in PHASES]
        cells.append(f"<b>{esc((phase['map'] or '–').replace('_', '-'))}</b>")
        rows.append(cells)
    header = ["#", "layer", *(p.replace("_", "-") for p in PHASES), "most probable"]
    return (
        head
        + f"<h3>Layers per most probable phase</h3>{_table(('phase', 'layers'), count_rows, 1)}"
        + _img(
            images,
            "phases.png",
            "phase probabilities",
            "Posterior probability of each phase, per layer.",
        )
        + f"<h3>Phase probabilities per layer</h3>{_table(header, rows, 2)}</section>"
    )


def _overview(report: dict[str, Any]) -> str:
    pct = int(round(report["ci_prob"] * 100))
    full = report["mode"] == "full"
    header = [
        "#",
        "layer",
        "kind",
        "N × M",
        "evals",
        "status",
        "α (classical)",
        "xmin",
        "spikes",
        "λmax",
    ]
    if full:
        header += [f"α posterior [{pct}% CI]", "phase"]
    rows = []
    for layer in report["layers"]:
        if layer["status"] == "skipped":
            continue
        c = layer["classical"] or {}
        m = layer["metrics"] or {}
        anchor = f"<a href='#layer-{layer['layer_id']}'>{esc(layer['name'])}</a>"
        cells = [
            str(layer["layer_id"]),
            anchor,
            esc(layer["kind"] or "–"),
            f"{fmt(layer['N'])} × {fmt(layer['M'])}",
            fmt(layer["num_evals"]),
            _status(layer["status"]),
            fmt(c.get("alpha"), 3),
            fmt(c.get("xmin"), 3),
            fmt(c.get("num_spikes")),
            fmt(m.get("lambda_max"), 3),
        ]
        if full:
            post = layer["posterior"] or {}
            phase = layer["phase"] or {}
            cells += [
                _interval(post.get("alpha")),
                esc((phase.get("map") or "–").replace("_", "-")),
            ]
        rows.append(cells)
    return _table(header, rows, 2)


def _layer_detail(
    layer: dict[str, Any], images: Mapping[str, bytes], key: str | None, pct: int
) -> str:
    parts = [f"<article class='layer' id='layer-{layer['layer_id']}'>"]
    parts.append(f"<h3>{layer['layer_id']}. {esc(layer['name'])} {_status(layer['status'])}</h3>")
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
    if layer["models"]:
        mrows = []
        for name, m in layer["models"].items():
            mrows.append(
                [
                    esc(name),
                    esc(m["family"]),
                    esc(m["status"]),
                    fmt(m["weight"], 3),
                    fmt(m["elpd_loo"], 6),
                    fmt(m["se"], 3),
                    fmt(m["max_pareto_k"], 3),
                    fmt(m["r_hat_max"], 4),
                    fmt(m["ess_bulk_min"], 4),
                    fmt(m["divergences"]),
                ]
            )
        mhead = [
            "likelihood",
            "family",
            "status",
            "weight",
            "elpd_loo",
            "se",
            "max Pareto k",
            "max R-hat",
            "min bulk ESS",
            "divergences",
        ]
        parts.append(_table(mhead, mrows, 1))
    if key is not None:
        parts.append(
            _img(
                images,
                key,
                f"ESD of {layer['name']}",
                "Empirical spectral density with fitted curves.",
            )
        )
    parts.append("</article>")
    return "".join(parts)


def _layers(
    report: dict[str, Any], images: Mapping[str, bytes], plot_keys: Mapping[str, str]
) -> str:
    pct = int(round(report["ci_prob"] * 100))
    details = [
        _layer_detail(layer, images, plot_keys.get(layer["name"]), pct)
        for layer in report["layers"]
        if layer["status"] != "skipped"
    ]
    return (
        "<section id='layers'><h2>Layers</h2>"
        "<p class='note'>Eigenvalues, xmin and λ+ are in raw units: squared singular values of W "
        "(no 1/N factor).</p>" + _overview(report) + "".join(details) + "</section>"
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
        "Marchenko-Pastur bulk edge; spikes are eigenvalues beyond the Tracy-Widom band above λ+.</p>"
        "</footer>"
    )


def render_html(
    report: dict[str, Any], images: Mapping[str, bytes], plot_keys: Mapping[str, str]
) -> str:
    """The complete report page.

    Parameters
    ----------
    report
        The ``report.json`` dict.
    images
        Figure key (path relative to ``plots/``) -> PNG bytes.
    plot_keys
        Layer name -> figure key of its ESD figure.
    """
    css = resources.files("rmtfit.report").joinpath("report.css").read_text("utf-8")
    nav = "".join(f"<a href='#{s}'>{s.replace('-', ' ').capitalize()}</a>" for s in SECTIONS)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>rmtfit report: {esc(report['source'])}</title><style>{css}</style></head><body>"
        f"<header><h1>rmtfit report</h1><p class='meta'>{esc(report['source'])} · {esc(report['mode'])} mode"
        f" · rmtfit {esc(report['rmtfit_version'])}</p><nav>{nav}</nav></header><main>"
        + _summary(report)
        + _network(report, images)
        + _phases(report, images)
        + _layers(report, images, plot_keys)
        + _not_analysed(report)
        + "</main>"
        + _about(report)
        + "</body></html>\n"
    )
