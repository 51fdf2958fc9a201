"""Outputs for people and programs: ``report.json``, ``layers.csv``, ``fits.nc``, plots, HTML, terminal.

Every writer reads an :class:`rmtfit.Analysis` (the result of :func:`rmtfit.pipeline.analyze`,
defined in :mod:`rmtfit.pipeline`) and nothing else: the report is formats only and never reaches
back into the stages. :func:`write_outputs` (also ``rmtfit.analyze(..., out=dir)``) writes them
all atomically into one folder.
The JSON schema ``rmtfit.report/1`` ships as ``report.schema.json`` next to this file and is
documented in ``docs/report.md``.
"""

from rmtfit.report._csv import CSV_COLUMNS, layers_csv
from rmtfit.report._json import (
    PHASES,
    SCHEMA,
    build_report,
    load_schema,
    report_json,
    validate_report,
)
from rmtfit.report._terminal import print_network_comparison, print_summary, summary_table
from rmtfit.report._write import OUTPUT_FILES, Outputs, default_out_dir, write_outputs

__all__ = [
    "CSV_COLUMNS",
    "OUTPUT_FILES",
    "Outputs",
    "PHASES",
    "SCHEMA",
    "build_report",
    "default_out_dir",
    "layers_csv",
    "load_schema",
    "print_network_comparison",
    "print_summary",
    "report_json",
    "summary_table",
    "validate_report",
    "write_outputs",
]
