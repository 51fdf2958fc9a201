"""Outputs for people and programs: ``report.json``, ``layers.csv``, ``fits.nc``, plots, HTML, terminal.

Every writer reads an :class:`rmtfit.Analysis` (the result of :func:`rmtfit.analyze`) and nothing
else. :func:`write_outputs` (also ``Analysis.write``) writes them all atomically into one folder.
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
from rmtfit.report._results import CI_PROB, Analysis, Estimate, LayerResult, Predictive
from rmtfit.report._write import OUTPUT_FILES, Outputs, default_out_dir, write_outputs

__all__ = [
    "Analysis",
    "CI_PROB",
    "CSV_COLUMNS",
    "Estimate",
    "LayerResult",
    "OUTPUT_FILES",
    "Outputs",
    "PHASES",
    "Predictive",
    "SCHEMA",
    "build_report",
    "default_out_dir",
    "layers_csv",
    "load_schema",
    "report_json",
    "validate_report",
    "write_outputs",
]
