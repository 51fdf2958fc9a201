"""write_outputs: every file in place, written atomically; a failure leaves the folder as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rmtfit.report._html as html_module
from rmtfit.report import default_out_dir, write_outputs


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_writes_every_output(tmp_path, full_analysis):
    outputs = write_outputs(full_analysis, tmp_path / "out", plots=True)
    for path in (outputs.report_json, outputs.layers_csv, outputs.html):
        assert path.is_file() and path.stat().st_size > 0
    assert outputs.fits_nc is None  # a hand-made Analysis has no Fits to save
    names = {p.name for p in outputs.plots}
    assert {"network.png", "alpha.png", "phases.png"} <= names
    assert len([p for p in outputs.plots if p.parent.name == "layers"]) == 4
    assert all(p.is_file() for p in outputs.plots)
    assert json.loads(outputs.report_json.read_text())["mode"] == "full"
    assert not list((tmp_path / "out").glob(".rmtfit-tmp-*"))


def test_a_failure_while_rendering_leaves_no_partial_report(tmp_path, fast_analysis, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(html_module, "render_html", broken)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="renderer crashed"):
        write_outputs(fast_analysis, out)
    assert list(out.iterdir()) == []  # no report.json, no layers.csv, no plots, no staging folder


def test_a_failed_rewrite_keeps_the_previous_report(tmp_path, analysis_factory, monkeypatch):
    out = tmp_path / "out"
    write_outputs(analysis_factory("fast", names=("first.weight",)), out)
    before = _snapshot(out)

    def broken(*args, **kwargs):
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(html_module, "render_html", broken)
    with pytest.raises(RuntimeError):
        write_outputs(analysis_factory("full", names=("second.weight",), seed=1), out)
    assert _snapshot(out) == before


def test_rewrite_replaces_plots_and_drops_a_stale_fits_file(tmp_path, analysis_factory):
    out = tmp_path / "out"
    write_outputs(analysis_factory("fast", names=("old.layer.weight",)), out, plots=True)
    assert (out / "plots" / "layers" / "0000-old.layer.weight.png").is_file()
    (out / "fits.nc").write_bytes(b"from an earlier full run")
    (out / "notes.txt").write_text("the user's own file")
    write_outputs(analysis_factory("fast", names=("new.layer.weight",)), out, plots=True)
    layer_plots = sorted(p.name for p in (out / "plots" / "layers").iterdir())
    assert layer_plots == ["0000-new.layer.weight.png"]
    assert not (out / "fits.nc").exists()
    assert (out / "notes.txt").read_text() == "the user's own file"


def test_out_path_that_is_a_file_is_an_error(tmp_path, fast_analysis):
    target = tmp_path / "report"
    target.write_text("x")
    with pytest.raises(NotADirectoryError, match="not a folder"):
        write_outputs(fast_analysis, target)


def test_by_default_no_png_is_drawn_and_the_page_has_its_chart_data(tmp_path, full_analysis):
    outputs = write_outputs(full_analysis, tmp_path / "out")
    assert outputs.plots == ()
    assert not (tmp_path / "out" / "plots").exists()
    page = outputs.html.read_text()
    assert "data:image/png" not in page
    assert "id='rmtfit-data'" in page and "id='esd-canvas'" in page


def test_png_figures_are_the_same_with_and_without_the_interactive_page(tmp_path, fast_analysis):
    with_plots = write_outputs(fast_analysis, tmp_path / "a", plots=True)
    without = write_outputs(fast_analysis, tmp_path / "b")
    assert with_plots.html.read_text() == without.html.read_text()  # the PNGs are extra files


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("checkpoints/model.safetensors", "model-rmtfit"),
        ("bert-base", "bert-base-rmtfit"),
        ("run/epoch_3.pt", "epoch_3-rmtfit"),
        ("weights.npz", "weights-rmtfit"),
    ],
)
def test_default_out_dir_is_named_after_the_input(tmp_path, source, expected):
    assert default_out_dir(source, cwd=tmp_path) == tmp_path / expected
