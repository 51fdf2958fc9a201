"""The terminal summary in-process: the width it is given, names whole or shortened, diagnostics."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from rich.console import Console

from rmtfit.report import print_summary
from rmtfit.report._terminal import diagnostics_lines, shorten_middle

NAMES = ("transformer.h.11.attn.c_attn.weight", "lm_head.weight", "<b>bold</b> & co")


def _render(analysis, width: int, **options) -> str:
    console = Console(file=io.StringIO(), width=width)
    print_summary(analysis, console=console, **options)
    return console.file.getvalue()


@pytest.mark.parametrize("mode", ["fast", "full"])
@pytest.mark.parametrize("width", [60, 80, 100])
def test_every_line_fits_and_every_name_is_on_one_row(analysis_factory, mode, width):
    analysis = analysis_factory(mode, names=NAMES)
    text = _render(analysis, width)
    assert max(len(line) for line in text.splitlines()) <= width
    rows = [line for line in text.splitlines() if line.strip()[:1].isdigit()]
    for layer in analysis.analysed:
        hits = [row for row in rows if row.split()[0] == str(layer.layer_id)]
        assert len(hits) == 1
        shown = hits[0].split("   ")[1].strip() if layer.name not in hits[0] else layer.name
        assert shown == layer.name or shown == shorten_middle(layer.name, len(shown)), shown
    assert "<b>" in text  # Rich markup in a name is printed as text, not applied


def test_the_full_summary_keeps_alpha_intervals_and_phases_at_80_columns(analysis_factory):
    analysis = analysis_factory("full", names=NAMES)
    text = _render(analysis, 80)
    for layer in analysis.analysed:
        if layer.ok:
            assert str(layer.posterior["alpha"]) in text
            assert layer.phase["map"].replace("_", "-") in text


def test_diagnostics_are_one_line_per_likelihood(full_analysis):
    lines = diagnostics_lines(full_analysis)
    assert lines == ["truncated_power_law: 4 of 4 fits flagged; see report.json, --verbose"]
    verbose = diagnostics_lines(full_analysis, verbose=True)
    assert verbose[0] == "truncated_power_law: 4 of 4 fits flagged; see report.json"
    assert verbose[1:] == [f"  {r.name}: r_hat 1.02 > 1.01" for r in full_analysis.analysed if r.ok]
    quiet = replace(
        full_analysis, layers=tuple(replace(r, models=None) for r in full_analysis.layers)
    )
    assert diagnostics_lines(quiet) == []
