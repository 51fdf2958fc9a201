"""The containers of the main job's result: :class:`Analysis`, :class:`LayerResult`, :class:`Estimate`.

They hold what :func:`rmtfit.pipeline.analyze` found, already in the shape the report needs, so that
every writer in :mod:`rmtfit.report` reads these values and never another stage's objects (the
coupling to the other stages lives in :mod:`rmtfit.pipeline`). They are defined here, where they
are built; the report reads them and they never call the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Analysis", "LayerResult", "Estimate", "Predictive", "LAYER_STATUSES"]

LAYER_STATUSES = ("ok", "skipped", "failed")


@dataclass(frozen=True)
class Estimate:
    """A posterior summary of one quantity: mean, sd and an equal-tailed credible interval.

    ``likelihood`` names the fitted likelihood the draws came from (see ``docs/report.md``).
    """

    mean: float
    sd: float
    ci_low: float
    ci_high: float
    likelihood: str | None = None

    @classmethod
    def from_draws(cls, draws: Any, ci_prob: float, likelihood: str | None = None) -> Estimate:
        """Summarise a 1-D (or flattenable) array of posterior draws; NaN draws are ignored."""
        x = np.asarray(draws, dtype=np.float64).ravel()
        x = x[np.isfinite(x)]
        if x.size == 0:
            nan = float("nan")
            return cls(nan, nan, nan, nan, likelihood)
        tail = (1.0 - ci_prob) / 2.0
        low, high = np.quantile(x, [tail, 1.0 - tail])
        sd = float(np.std(x, ddof=1)) if x.size > 1 else 0.0
        return cls(float(np.mean(x)), sd, float(low), float(high), likelihood)

    @classmethod
    def from_distribution(
        cls, probabilities: Mapping[int, float], ci_prob: float, likelihood: str | None = None
    ) -> Estimate:
        """Summarise a discrete posterior ``{value: probability}`` exactly (the interval ends are
        the values where the CDF first reaches each tail probability)."""
        values = np.asarray(sorted(probabilities), dtype=np.float64)
        weights = np.asarray([probabilities[k] for k in sorted(probabilities)], dtype=np.float64)
        if values.size == 0 or weights.sum() <= 0:
            nan = float("nan")
            return cls(nan, nan, nan, nan, likelihood)
        weights = weights / weights.sum()
        mean = float(weights @ values)
        sd = float(np.sqrt(max(weights @ (values - mean) ** 2, 0.0)))
        cdf = np.cumsum(weights)
        tail = (1.0 - ci_prob) / 2.0
        low = values[min(int(np.searchsorted(cdf, tail - 1e-12)), values.size - 1)]
        high = values[min(int(np.searchsorted(cdf, 1.0 - tail - 1e-12)), values.size - 1)]
        return cls(mean, sd, float(low), float(high), likelihood)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": self.mean,
            "sd": self.sd,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "likelihood": self.likelihood,
        }

    def __str__(self) -> str:
        return f"{self.mean:.3g} [{self.ci_low:.3g}, {self.ci_high:.3g}]"


@dataclass(frozen=True)
class Predictive:
    """Posterior predictive draws of one fitted likelihood for one layer (for the ESD plots).

    ``draws`` has shape ``(n_draws, n_obs)``; ``mass`` is the fraction of the layer's eigenvalues
    that the likelihood explains (1 for a full-spectrum likelihood, ``n_tail / num_evals`` for a
    tail likelihood), so that the draws can be drawn on the same density scale as the ESD.
    """

    likelihood: str
    family: str
    draws: np.ndarray
    mass: float = 1.0


@dataclass(frozen=True)
class LayerResult:
    """Everything rmtfit found about one tensor; ``status`` is ``ok``, ``skipped`` or ``failed``.

    ``metrics`` holds the scalar spectral metrics; ``classical`` the :class:`rmtfit.ClassicalFit`;
    ``posterior`` an :class:`Estimate` (or ``None``) per quantity of ``POSTERIOR_QUANTITIES``;
    ``models`` one dict per fitted likelihood (weight, elpd_loo, se, max_pareto_k, r_hat_max,
    ess_bulk_min, divergences, status); ``phase`` the phase probabilities and the MAP phase.
    The last three are ``None`` in fast mode and for layers that were not fitted.
    """

    name: str
    status: str
    reason: str = ""
    kind: str | None = None
    N: int | None = None
    M: int | None = None
    num_evals: int | None = None
    shape: tuple[int, ...] = ()
    layer_id: int | None = None
    metrics: Mapping[str, float] | None = None
    classical: Any = None
    posterior: Mapping[str, Estimate | None] | None = None
    models: Mapping[str, Mapping[str, Any]] | None = None
    phase: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.status not in LAYER_STATUSES:
            raise ValueError(
                f"layer {self.name!r}: status {self.status!r} is not one of {LAYER_STATUSES}."
            )

    @property
    def Q(self) -> float | None:  # noqa: N802 - the papers' name
        """Aspect ratio N / M, or ``None`` when the shape is unknown."""
        if not self.N or not self.M:
            return None
        return self.N / self.M

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def __repr__(self) -> str:
        extra = f", reason={self.reason!r}" if self.reason else ""
        return f"LayerResult({self.name!r}, status={self.status!r}, N={self.N}, M={self.M}{extra})"


@dataclass(frozen=True)
class Analysis:
    """The result of :func:`rmtfit.analyze`: every stage's output for one network.

    Write it with :func:`rmtfit.report.write_outputs` (every report file) or turn it into the
    ``report.json`` content with :func:`rmtfit.report.build_report`.

    Attributes
    ----------
    source
        What was analysed (a path, or a description such as ``"<mapping>"``).
    mode
        ``"fast"`` (classical estimators only) or ``"full"`` (Bayesian fits, comparison, phases).
    layers
        One :class:`LayerResult` per tensor, analysed matrices first (in checkpoint order), then
        the tensors that were not analysed.
    spectra
        The :class:`rmtfit.Spectra` the analysis ran on.
    classical
        Layer name -> :class:`rmtfit.ClassicalFit`.
    fits, comparison, phases, network
        The raw results of :func:`rmtfit.fit`, :func:`rmtfit.compare`,
        :func:`rmtfit.phase_probabilities` and the network summary (``None`` in fast mode).
    network_summary
        Network-level posterior summaries (name -> :class:`Estimate`); ``None`` in fast mode.
    predictive
        Layer name -> posterior predictive draws used by the plots (empty in fast mode).
    """

    source: str
    mode: str
    seed: int
    ci_prob: float
    layers: tuple[LayerResult, ...]
    spectra: Any
    likelihoods: tuple[str, ...] = ()
    classical: Mapping[str, Any] = field(default_factory=dict)
    fits: Any = None
    comparison: Any = None
    phases: Any = None
    network: Any = None
    network_summary: Mapping[str, Estimate | None] | None = None
    predictive: Mapping[str, tuple[Predictive, ...]] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    timings: Mapping[str, float] = field(default_factory=dict, compare=False)

    @property
    def fast(self) -> bool:
        return self.mode == "fast"

    @property
    def analysed(self) -> tuple[LayerResult, ...]:
        """Layers that are matrices (analysed or failed), without the skipped tensors."""
        return tuple(r for r in self.layers if r.status != "skipped")

    @property
    def failed(self) -> tuple[LayerResult, ...]:
        return tuple(r for r in self.layers if r.status == "failed")

    @property
    def skipped(self) -> tuple[LayerResult, ...]:
        return tuple(r for r in self.layers if r.status == "skipped")

    @property
    def exit_code(self) -> int:
        """0 when every layer was analysed, 1 when some failed (the report is still written)."""
        return 1 if self.failed else 0

    def layer(self, name: str) -> LayerResult:
        """The :class:`LayerResult` of one layer, by name."""
        for r in self.layers:
            if r.name == name:
                return r
        raise KeyError(f"no layer named {name!r}; layers are {[r.name for r in self.layers]}")

    def __repr__(self) -> str:
        ok = sum(r.ok for r in self.layers)
        return (
            f"Analysis(source={self.source!r}, mode={self.mode!r}, {ok} layers ok, "
            f"{len(self.failed)} failed, {len(self.skipped)} skipped)"
        )
