"""Convergence rules, enforced: what makes a fit "flagged", and the warning that says so.

A (layer, likelihood) fit is flagged when any declared parameter has a rank-normalised split
R-hat above :data:`RHAT_MAX` (or undefined: the chains did not move), a bulk effective sample size
below :data:`ESS_BULK_MIN`, or when any post-warmup transition diverged (Vehtari et al. 2021;
Betancourt 2017, "A conceptual introduction to Hamiltonian Monte Carlo"). Derived quantities
(a spike count, a bulk edge) are summarised but do not decide flags: a count that is constant
across draws has no R-hat, and that is not a failure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["RHAT_MAX", "ESS_BULK_MIN", "DiagnosticsWarning", "problems"]

RHAT_MAX = 1.01
ESS_BULK_MIN = 400.0


class DiagnosticsWarning(RuntimeWarning):
    """A fit whose convergence diagnostics stayed bad after the automatic retry.

    The message names the layer, the likelihood and what failed; the fit's status is
    ``"flagged"`` and the same text is in ``Fits.summary["reason"]``.
    """


def problems(
    parameters: Sequence[str],
    diagnostics: Mapping[str, Mapping[str, float]],
    divergences: int,
    num_draws: int,
) -> list[str]:
    """Plain-words list of what fails the rules (empty when the fit passes).

    Parameters
    ----------
    parameters
        The declared parameter names to check.
    diagnostics
        ``diagnostics[name]["r_hat" | "ess_bulk"]`` per parameter.
    divergences
        Number of divergent post-warmup transitions over all chains.
    num_draws
        Total post-warmup draws (for the divergence rate in the message).
    """
    out: list[str] = []
    for name in parameters:
        d = diagnostics[name]
        r, ess = float(d["r_hat"]), float(d["ess_bulk"])
        if not np.isfinite(r):
            out.append(f"r_hat of {name} is undefined (the chains did not move)")
        elif r > RHAT_MAX:
            out.append(f"r_hat of {name} = {r:.3f} > {RHAT_MAX}")
        if not np.isfinite(ess):
            out.append(f"ess_bulk of {name} is undefined")
        elif ess < ESS_BULK_MIN:
            out.append(f"ess_bulk of {name} = {ess:.0f} < {ESS_BULK_MIN:.0f}")
    if divergences > 0:
        out.append(f"{divergences} divergent transitions out of {num_draws}")
    return out
