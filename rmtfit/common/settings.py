"""Settings shared by every stage: the version, the credible-interval default, JAX precision."""

from __future__ import annotations

__all__ = ["__version__", "CI_PROB", "check_ci_prob", "enable_x64"]

__version__ = "0.1.0"

CI_PROB = 0.9
"""Default probability of every equal-tailed credible interval rmtfit reports: the fit summary,
the report's posterior columns, the network metrics and the network comparison."""


def check_ci_prob(ci_prob: float, *, name: str = "ci_prob") -> float:
    """Return ``ci_prob`` as a float, or raise ``ValueError`` when it is not in (0, 1)."""
    if isinstance(ci_prob, bool) or not isinstance(ci_prob, float | int):
        raise ValueError(
            f"{name}={ci_prob!r}: the credible-interval probability must be a number in (0, 1)."
        )
    if not 0.0 < float(ci_prob) < 1.0:
        raise ValueError(
            f"{name}={ci_prob!r}: the credible-interval probability must be in (0, 1)."
        )
    return float(ci_prob)


def enable_x64() -> None:
    """Switch JAX to double precision (idempotent; the likelihoods and samplers need float64).

    Called explicitly by the entry points that run JAX: :func:`rmtfit.fit`,
    :func:`rmtfit.check_likelihood`, the JAX eigensolver and the predictive sampler. Call it
    yourself before evaluating a density of :mod:`rmtfit.densities` directly.
    """
    import jax

    if not jax.config.read("jax_enable_x64"):
        jax.config.update("jax_enable_x64", True)
