"""Outputs for people and programs: ``report.json``, ``layers.csv``, ``fits.nc``, plots, HTML, terminal.

Every writer reads an :class:`rmtfit.Analysis` (the result of :func:`rmtfit.pipeline.analyze`,
defined in :mod:`rmtfit.pipeline`) and nothing else: the report is formats only and never reaches
back into the stages. :func:`write_outputs` (also ``rmtfit.analyze(..., out=dir)``) writes them
all atomically into one folder. :func:`plot_esd`, :func:`plot_alpha` and :func:`plot_phases`
draw the same figures into a matplotlib ``ax`` of yours (``rmtfit.plot_esd`` ...).
The JSON schema ``rmtfit.report/1`` ships as ``report.schema.json`` next to this file and is
documented in ``docs/report.md``.
"""

from rmtfit.report._csv import CSV_COLUMNS, layers_csv
from rmtfit.report._esd_data import LayerCurves, layer_curves
from rmtfit.report._json import (
    PHASES,
    SCHEMA,
    build_report,
    load_schema,
    report_json,
    validate_report,
)
from rmtfit.report._plots import plot_alpha, plot_esd, plot_phases
from rmtfit.report._terminal import (
    HOW_TO_READ,
    print_network_comparison,
    print_summary,
    shorten_middle,
    summary_table,
)
from rmtfit.report._write import OUTPUT_FILES, Outputs, default_out_dir, write_outputs

__all__ = [
    "CSV_COLUMNS",
    "HOW_TO_READ",
    "LayerCurves",
    "OUTPUT_FILES",
    "Outputs",
    "PHASES",
    "SCHEMA",
    "build_report",
    "default_out_dir",
    "layer_curves",
    "layers_csv",
    "load_schema",
    "plot_alpha",
    "plot_esd",
    "plot_phases",
    "print_network_comparison",
    "print_summary",
    "report_json",
    "shorten_middle",
    "summary_table",
    "validate_report",
    "write_outputs",
]
