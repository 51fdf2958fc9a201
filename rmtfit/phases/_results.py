"""The results of the phase stage: one layer's phase probabilities and a network's summary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rmtfit.phases._thresholds import PHASES

__all__ = ["PhaseResult", "PhaseSummary"]


@dataclass(frozen=True)
class PhaseResult:
    """Phase probabilities of one layer.

    ``probabilities`` maps every name of :data:`PHASES` to its probability (they sum to 1);
    ``model_probabilities`` gives, per likelihood, the probabilities of the five phases other than
    Rank-collapse under that likelihood alone; ``num_spikes`` is the distribution of the number of
    eigenvalues beyond the TW band under the MP-kind likelihoods (their weights renormalised).
    """

    layer: str
    probabilities: Mapping[str, float]
    map_phase: str
    p_rank_collapse: float
    zero_fraction: float
    model_weights: Mapping[str, float]
    model_kinds: Mapping[str, str]
    model_probabilities: Mapping[str, Mapping[str, float]]
    num_spikes: Mapping[int, float]
    p_very_heavy: float
    notes: tuple[str, ...] = ()

    def __getitem__(self, phase: str) -> float:
        return float(self.probabilities[phase])

    @property
    def num_spikes_mean(self) -> float:
        if not self.num_spikes:
            return float("nan")
        return float(sum(k * p for k, p in self.num_spikes.items()))

    @property
    def num_spikes_map(self) -> int | None:
        if not self.num_spikes:
            return None
        return int(max(self.num_spikes.items(), key=lambda kv: kv[1])[0])

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "probabilities": {p: float(self.probabilities[p]) for p in PHASES},
            "map_phase": self.map_phase,
            "p_rank_collapse": self.p_rank_collapse,
            "zero_fraction": self.zero_fraction,
            "model_weights": dict(self.model_weights),
            "model_kinds": dict(self.model_kinds),
            "model_probabilities": {k: dict(v) for k, v in self.model_probabilities.items()},
            "num_spikes": {str(k): v for k, v in self.num_spikes.items()},
            "num_spikes_mean": self.num_spikes_mean,
            "p_very_heavy": self.p_very_heavy,
            "notes": list(self.notes),
        }

    def __repr__(self) -> str:
        probs = ", ".join(f"{p}={self.probabilities[p]:.2f}" for p in PHASES)
        return f"PhaseResult(layer={self.layer!r}, map={self.map_phase!r}, {probs})"


@dataclass(frozen=True)
class PhaseSummary:
    """Network-level phase summary: expected number of layers per phase and mean probabilities."""

    layers: tuple[PhaseResult, ...]
    failed: Mapping[str, str] = field(default_factory=dict)

    @property
    def expected_counts(self) -> dict[str, float]:
        return {p: float(sum(r.probabilities[p] for r in self.layers)) for p in PHASES}

    @property
    def mean_probabilities(self) -> dict[str, float]:
        n = len(self.layers)
        return {p: (c / n if n else float("nan")) for p, c in self.expected_counts.items()}

    @property
    def map_counts(self) -> dict[str, int]:
        return {p: sum(r.map_phase == p for r in self.layers) for p in PHASES}

    def to_dict(self) -> dict[str, Any]:
        return {
            "num_layers": len(self.layers),
            "expected_counts": self.expected_counts,
            "mean_probabilities": self.mean_probabilities,
            "map_counts": self.map_counts,
            "layers": [r.to_dict() for r in self.layers],
            "failed": dict(self.failed),
        }

    def to_table(self) -> Any:
        """A ``pandas.DataFrame``: one row per layer, a column per phase plus ``map_phase``."""
        import pandas as pd

        rows = [
            {"layer": r.layer, **r.probabilities, "map_phase": r.map_phase} for r in self.layers
        ]
        return pd.DataFrame(rows, columns=["layer", *PHASES, "map_phase"]).set_index("layer")
