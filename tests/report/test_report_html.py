"""report.html without a browser: self-contained, every name escaped, every section present."""

from __future__ import annotations

import html
import re

import pytest

from rmtfit.report import build_report
from rmtfit.report._html import SECTIONS, render_html
from rmtfit.report._plots import all_figures, plot_filename

_PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def rendered(analysis_factory):
    out = {}
    for mode in ("fast", "full"):
        analysis = analysis_factory(mode)
        images = dict(all_figures(analysis))
        keys = {r.name: plot_filename(r) for r in analysis.analysed if plot_filename(r) in images}
        out[mode] = (analysis, images, render_html(build_report(analysis), images, keys))
    return out


@pytest.mark.parametrize("mode", ["fast", "full"])
def test_every_section_is_present(rendered, mode):
    _, _, page = rendered[mode]
    for section in SECTIONS:
        assert re.search(rf"id='{section}'", page), section
    assert page.startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("mode", ["fast", "full"])
def test_script_name_is_escaped_text(rendered, mode, xss_name):
    _, _, page = rendered[mode]
    assert xss_name not in page
    assert "<script" not in page.lower()
    assert html.escape(xss_name) in page
    # the other awkward names come out escaped too (quotes and ampersands in attributes and text)
    assert html.escape("head & tail \"quoted\" 'name'", quote=True) in page


@pytest.mark.parametrize("mode", ["fast", "full"])
def test_page_is_self_contained(rendered, mode):
    _, images, page = rendered[mode]
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", page, flags=re.I)
    assert refs
    for ref in refs:
        assert ref.startswith("#") or ref.startswith("data:image/png;base64,"), ref[:60]
    assert not re.search(r"https?://", page)
    assert "url(" not in page  # no CSS resources either
    assert "<link" not in page.lower()
    assert page.count("data:image/png;base64,") == len(images)


def test_every_layer_has_its_figure_and_anchor(rendered):
    analysis, images, page = rendered["full"]
    for layer in analysis.analysed:
        assert f"id='layer-{layer.layer_id}'" in page
        if layer.ok:
            assert plot_filename(layer) in images
            assert images[plot_filename(layer)].startswith(_PNG)


def test_fast_page_says_phases_need_the_full_analysis(rendered):
    _, images, page = rendered["fast"]
    assert "Phase probabilities need the full analysis" in page
    assert "phases.png" not in images
    assert "phases.png" in rendered["full"][1]


def test_failed_layer_reason_is_shown(rendered):
    _, _, page = rendered["fast"]
    assert "broken.weight" in page
    assert html.escape("non-finite values (NaN/Inf) in the weights: 3 NaN") in page
