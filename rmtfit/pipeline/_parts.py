"""The intermediate records the pipeline passes between its fast and full halves (internal)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rmtfit.pipeline._results import Estimate, Predictive

__all__ = ["LayerBase", "Fitted", "FullResults"]


@dataclass(frozen=True)
class LayerBase:
    """The fast-stage result of one layer: metrics and classical fit, or why they failed."""

    status: str
    reason: str = ""
    metrics: Mapping[str, float] | None = None
    classical: Any = None


@dataclass(frozen=True)
class Fitted:
    """The full-stage result of one layer."""

    posterior: Mapping[str, Estimate | None] | None = None
    models: Mapping[str, Mapping[str, Any]] | None = None
    phase: Mapping[str, Any] | None = None
    failed_reason: str = ""
    note: str = ""


@dataclass(frozen=True)
class FullResults:
    """Everything the full mode adds to an analysis (empty in fast mode)."""

    fits: Any = None
    comparison: Any = None
    phases: Any = None
    network: Any = None
    network_summary: Mapping[str, Estimate | None] | None = None
    layers: Mapping[str, Fitted] = field(default_factory=dict)
    predictive: Mapping[str, tuple[Predictive, ...]] = field(default_factory=dict)
