"""Write every report file of an :class:`rmtfit.Analysis` into a folder, atomically.

All files are first rendered into a hidden staging folder inside the output folder; only when every
one of them rendered are they moved into place with :func:`os.replace` (one rename per file, and
one for the whole ``plots/`` folder). A failure while rendering leaves the output folder as it
was: no half-written report, no partial plots folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rmtfit.common import ProgressBar

__all__ = ["Outputs", "write_outputs", "default_out_dir", "OUTPUT_FILES"]

OUTPUT_FILES = ("report.json", "layers.csv", "fits.nc", "report.html")
_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt", ".npz", ".npy", ".json")


@dataclass(frozen=True)
class Outputs:
    """Paths of the files written by :func:`write_outputs`."""

    directory: Path
    report_json: Path
    layers_csv: Path
    html: Path
    fits_nc: Path | None = None
    plots: tuple[Path, ...] = ()

    def __repr__(self) -> str:
        return f"Outputs({str(self.directory)!r}, {len(self.plots)} plots, fits_nc={self.fits_nc is not None})"


def default_out_dir(source: Any, cwd: Path | None = None) -> Path:
    """``<stem>-rmtfit`` in the current folder, named after the input (``model.safetensors`` -> ``model-rmtfit``)."""
    name = Path(str(source)).name if isinstance(source, str | os.PathLike) else "rmtfit"
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    name = name.strip() or "rmtfit"
    return (cwd or Path.cwd()) / f"{name}-rmtfit"


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _render(
    analysis: Any, stage: Path, plots: bool, bar: Any, save_pointwise: bool = False
) -> dict[str, Any]:
    """Render every file into ``stage``; returns what was written."""
    from rmtfit.report._csv import layers_csv
    from rmtfit.report._html import page_data, render_html
    from rmtfit.report._json import build_report, report_json

    report = build_report(analysis)
    _write_text(stage / "report.json", report_json(report))
    _write_text(stage / "layers.csv", layers_csv(analysis))
    wrote_fits = False
    if analysis.fits is not None:
        # the posteriors, the summary and the LOO results; pointwise values only on request
        analysis.fits.to_netcdf(
            stage / "fits.nc", pointwise=save_pointwise, loo=analysis.comparison or None
        )
        wrote_fits = True
    written: list[str] = []
    if plots:  # matplotlib PNG files for papers; the page draws its charts itself
        from rmtfit.report._plots import all_figures

        (stage / "plots" / "layers").mkdir(parents=True)
        with bar.task("plots", total=3 + len(analysis.analysed)) as advance:
            for key, png in all_figures(analysis):
                (stage / "plots" / key).write_bytes(png)
                written.append(key)
                advance()
    _write_text(stage / "report.html", render_html(report, page_data(analysis)))
    return {"fits": wrote_fits, "plots": sorted(written)}


def _move_into_place(stage: Path, out: Path, rendered: dict[str, Any]) -> None:
    staged_plots = stage / "plots"
    if staged_plots.exists():
        old = stage / "old-plots"
        if (out / "plots").exists():
            os.replace(out / "plots", old)
        os.replace(staged_plots, out / "plots")
    if rendered["fits"]:
        os.replace(stage / "fits.nc", out / "fits.nc")
    elif (
        out / "fits.nc"
    ).exists():  # a fits.nc of an earlier full run no longer matches the report
        (out / "fits.nc").unlink()
    # the report files last, report.html very last: a reader never sees a new page before its data
    for name in ("layers.csv", "report.json", "report.html"):
        os.replace(stage / name, out / name)


def write_outputs(
    analysis: Any,
    out_dir: str | Path,
    *,
    plots: bool = False,
    progress: bool = False,
    save_pointwise: bool = False,
) -> Outputs:
    """Write ``report.json``, ``layers.csv``, ``fits.nc`` (full mode), ``report.html`` and, with
    ``plots``, ``plots/``.

    Parameters
    ----------
    analysis
        The :class:`rmtfit.Analysis` to report.
    out_dir
        Output folder; created when missing. Files of an earlier report there are replaced
        (other files are left alone).
    plots
        Also draw the figures as PNG files (``plots/*.png``, matplotlib, one per layer and three
        for the network; about 0.3 s a layer). The page does not need them: it draws every chart
        from the data it embeds.
    progress
        Show a progress bar over the PNG figures.
    save_pointwise
        Also store the pointwise log-likelihood and the per-eigenvalue derived draws in
        ``fits.nc`` (25 to 70 times larger; needed only to recompute PSIS-LOO from the file:
        each pair's LOO results are stored either way).

    Returns
    -------
    Outputs
        The paths written.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out}: exists and is not a folder; pass another --out.")
    out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".rmtfit-tmp-", dir=out))
    try:
        with ProgressBar(enabled=progress) as bar:
            rendered = _render(analysis, stage, plots, bar, save_pointwise)
        _move_into_place(stage, out, rendered)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    plot_paths = tuple(out / "plots" / key for key in rendered["plots"])
    return Outputs(
        directory=out,
        report_json=out / "report.json",
        layers_csv=out / "layers.csv",
        html=out / "report.html",
        fits_nc=out / "fits.nc" if rendered["fits"] else None,
        plots=plot_paths,
    )
