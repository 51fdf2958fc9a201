"""report.html without a browser: self-contained, every name escaped, the embedded chart data right."""

from __future__ import annotations

import html
import json
import re
from importlib import resources

import numpy as np
import pytest

from rmtfit.report import PHASES, build_report
from rmtfit.report._esd_data import histogram_bins, layer_curves
from rmtfit.report._html import SECTIONS, page_data, render_html


@pytest.fixture(scope="module")
def rendered(analysis_factory):
    out = {}
    for mode in ("fast", "full"):
        analysis = analysis_factory(mode)
        data = page_data(analysis)
        out[mode] = (analysis, data, render_html(build_report(analysis), data))
    return out


def _embedded(page: str) -> dict:
    block = re.search(
        r"<script type='application/json' id='rmtfit-data'>(.*?)</script>", page, re.S
    )
    assert block is not None
    return json.loads(block.group(1))


@pytest.mark.parametrize("mode", ["fast", "full"])
def test_every_section_is_present(rendered, mode):
    _, _, page = rendered[mode]
    for section in SECTIONS:
        assert re.search(rf"id='{section}'", page), section
    assert page.startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("mode", ["fast", "full"])
def test_script_name_is_escaped_text_and_data(rendered, mode, xss_name):
    _, data, page = rendered[mode]
    assert xss_name not in page
    assert page.lower().count("<script") == 2  # the data block and the page's own script
    assert page.lower().count("</script>") == 2
    assert html.escape(xss_name) in page
    # the other awkward names come out escaped too (quotes and ampersands in attributes and text)
    assert html.escape("head & tail \"quoted\" 'name'", quote=True) in page
    # in the data block the name is JSON with <, > and & escaped, and reads back exactly
    assert "\\u003cscript\\u003e" in page
    assert xss_name in [layer["name"] for layer in _embedded(page)["layers"]]
    assert _embedded(page) == json.loads(json.dumps(data))


def test_the_script_cannot_close_its_own_block():
    script = resources.files("rmtfit.report").joinpath("report.js").read_text("utf-8")
    assert "</" not in script
    assert "innerHTML" not in script and "eval(" not in script  # names only ever go in as text


@pytest.mark.parametrize("mode", ["fast", "full"])
def test_page_is_self_contained(rendered, mode):
    _, _, page = rendered[mode]
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", page, flags=re.I)
    assert refs
    for ref in refs:
        assert ref.startswith("#"), ref[:60]
    assert not re.search(r"https?://", page)
    assert "url(" not in page  # no CSS resources either
    assert "<link" not in page.lower() and "<img" not in page.lower()


def test_every_layer_has_its_row_anchor_and_chart_data(rendered):
    analysis, data, page = rendered["full"]
    records = {r["id"]: r for r in data["layers"]}
    for layer in analysis.analysed:
        assert f"id='layer-{layer.layer_id}'" in page
        assert f"data-id='{layer.layer_id}'" in page
        assert (layer.layer_id in records) == layer.ok  # the failed layer has nothing to draw


@pytest.mark.parametrize("mode", ["fast", "full"])
def test_chart_data_holds_the_histogram_and_the_fits(rendered, mode):
    analysis, data, _ = rendered[mode]
    for record in data["layers"]:
        layer = analysis.layer(record["name"])
        evals = analysis.spectra[layer.name].eigenvalues
        assert record["n"] == evals.size
        for scale in ("log", "lin"):
            bins = histogram_bins(evals, log=scale == "log")
            counts, _ = np.histogram(evals, bins=bins)
            assert record[scale]["c"] == counts.tolist()
            assert record[scale]["lo"] == pytest.approx(bins[0], rel=1e-6)
            assert record[scale]["hi"] == pytest.approx(bins[-1], rel=1e-6)
        curves = layer_curves(analysis, layer)
        assert record["mp"][0] == pytest.approx(curves.sigma2, rel=1e-3)
        assert record["a"][0] == pytest.approx(curves.alpha, rel=1e-3)
        assert record["xm"][0] == pytest.approx(curves.xmin, rel=1e-3)
        if mode == "full":
            post = layer.posterior
            lp = post["lambda_plus"]
            assert record["lp"] == pytest.approx([lp.mean, lp.ci_low, lp.ci_high], rel=1e-3)
            assert record["pa"][1] == pytest.approx(post["alpha"].ci_low, rel=1e-3)
            assert sum(record["ph"]) == pytest.approx(1.0, abs=1e-3)
            assert len(record["ph"]) == len(PHASES)
            (band,) = record["band"]
            low, high = band["log"]
            assert len(low) == len(record["log"]["c"])
            assert all(lo <= hi for lo, hi in zip(low, high, strict=True))
        else:
            assert "band" not in record and "ph" not in record and "pa" not in record
            assert record["lp"][1] is None  # no interval without a posterior


def test_a_500_layer_page_stays_small(analysis_factory):
    def size(n: int) -> int:
        names = tuple(f"transformer.h.{i}.mlp.c_fc.weight" for i in range(n))
        analysis = analysis_factory("full", names=names)
        return len(render_html(build_report(analysis), page_data(analysis)).encode())

    per_layer = (size(8) - size(4)) / 4
    assert per_layer < 5000  # bytes a layer in full mode, predictive band included: 500 < 2.5 MB


def test_fast_page_says_phases_need_the_full_analysis(rendered):
    _, data, page = rendered["fast"]
    assert "Phase probabilities need the full analysis" in page
    assert data["mode"] == "fast"


def test_failed_layer_reason_is_shown(rendered):
    _, _, page = rendered["fast"]
    assert "broken.weight" in page
    assert html.escape("non-finite values (NaN/Inf) in the weights: 3 NaN") in page
