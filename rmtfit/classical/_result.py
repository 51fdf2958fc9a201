"""`ClassicalFit`: the per-layer result of the classical estimators (frozen, small).

Every edge, xmin and threshold is in raw eigenvalue units (squared singular values of W, no 1/N);
``sigma2`` is the entry variance of W on the MP scale, so ``lambda_plus = N * sigma2 * (1 + Q**-0.5)**2``.
A field that could not be estimated is NaN and the reason is in ``notes``; a layer that could not be
fitted at all has ``status="not_fitted"`` and ``reason`` says why (how many eigenvalues it needs and got).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ClassicalFit"]


@dataclass(frozen=True)
class ClassicalFit:
    """The classical estimates of one layer (made by :func:`rmtfit.classical.fit_classical`).

    Field meanings are in the comments beside each field and in the module docstring: the
    Clauset power law (``alpha``, ``alpha_se``, ``alpha_unbiased``, ``xmin``, ``xmax``, ``D``,
    ``n_tail``, ``hill_alpha``, ``p_value``), the Marchenko-Pastur bulk (``sigma2``, edges,
    Tracy-Widom band, Gavish-Donoho threshold, spike counts by both rules) and ``rank_collapse``.
    ``status`` is ``"ok"`` when the power law was fitted, else ``"not_fitted"`` with ``reason``;
    ``notes`` record anything left out or not done.
    """

    name: str
    status: str  # "ok" | "not_fitted"
    reason: str = ""
    num_evals: int = 0
    N: int = 0
    M: int = 0
    # --- Clauset power law (KS-minimising xmin, MLE alpha) ---
    alpha: float = float("nan")
    alpha_se: float = float("nan")  # (alpha - 1) / sqrt(n_tail)
    alpha_unbiased: float = float("nan")  # finite-size corrected: 1 + (n_tail - 1) / sum ln(x/xmin)
    xmin: float = float("nan")
    xmax: float = float("nan")  # NaN: no upper truncation
    D: float = float("nan")  # two-sided KS distance at xmin
    n_tail: int = 0
    hill_alpha: float = float("nan")
    p_value: float = float("nan")  # bootstrap GoF p-value (NaN unless requested)
    # --- Marchenko-Pastur ---
    sigma2: float = float("nan")  # entry variance of W (MP scale)
    sigma_mp: float = float("nan")  # sqrt(sigma2)
    mp_method: str = ""
    lambda_plus: float = float("nan")  # raw units: N sigma2 (1 + 1/sqrt(Q))^2
    lambda_minus: float = float("nan")
    tw_scale: float = float("nan")  # raw units: N sigma2 (1 + Q^-1/2)(1 + sqrt(Q))^(1/3) N^(-2/3)
    tw_threshold: float = float("nan")  # lambda_plus + c * tw_scale (upper edge of the TW band)
    gd_threshold: float = float("nan")  # Gavish-Donoho optimal hard threshold, raw eigenvalue units
    num_spikes: int = 0  # spikes beyond the TW band (the default rule)
    num_spikes_gd: int = 0  # spikes beyond the Gavish-Donoho threshold
    rank_collapse: float = float("nan")  # fraction of eigenvalues below tol * lambda_max
    # --- added by the classical stage (not part of the original contract) ---
    sigma2_gd: float = float("nan")  # one-step Gavish-Donoho estimate (median of all eigenvalues)
    mp_D: float = float("nan")  # KS distance between the bulk (below tw_threshold) and the MP fit
    num_dropped: int = 0  # non-positive eigenvalues left out of the power-law fit
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["notes"] = list(self.notes)
        return d
