"""Exit codes, the usage error and the warnings boundary of the ``rmtfit`` command."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["EXIT_OK", "EXIT_LAYERS_FAILED", "EXIT_BAD_INPUT", "UsageError", "quiet_warnings"]

EXIT_OK = 0
EXIT_LAYERS_FAILED = 1
EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """Bad input or usage: printed as one line, exit code 2."""


# rmtfit's own warnings that the summary already reports per likelihood ("3 of 53 fits flagged",
# "PSIS-LOO unreliable (Pareto k > 0.7) in 2"): rmtfit.report.diagnostics_lines
_SUMMARISED = ("DiagnosticsWarning", "HighParetoKWarning")


@contextmanager
def quiet_warnings(*, verbose: bool = False) -> Iterator[list[warnings.WarningMessage]]:
    """Keep every warning raised inside from reaching the terminal as Python prints it.

    Library warnings (ArviZ's FutureWarning, NumPyro's and JAX's UserWarnings) are dropped.
    rmtfit's convergence and PSIS-LOO warnings are dropped too: the summary reports them per
    likelihood. Any other warning of an rmtfit category is one ``note:`` line on stderr; other
    warnings raised from rmtfit's code (numpy's RuntimeWarnings, say) are counted in one line.
    With ``verbose`` every warning is printed, one line each, with its category and no source
    line.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            yield caught
        finally:
            _report(caught, verbose)


def _report(caught: list[warnings.WarningMessage], verbose: bool) -> None:
    seen: set[tuple[str, str]] = set()
    hidden = 0
    for item in caught:
        name = item.category.__name__
        message = " ".join(str(item.message).split())
        if (name, message) in seen:
            continue
        seen.add((name, message))
        our_category = item.category.__module__.startswith("rmtfit")
        if verbose:
            print(f"warning ({name}): {message}", file=sys.stderr)
        elif our_category and name not in _SUMMARISED:
            print(f"note: {message}", file=sys.stderr)
        elif not our_category and _from_rmtfit(item.filename):
            hidden += 1
    if hidden:
        print(f"note: {hidden} more warnings; --verbose shows them", file=sys.stderr)


def _from_rmtfit(filename: str) -> bool:
    """Whether a warning was attributed to a file of the rmtfit package (not a library's)."""
    package = Path(__file__).resolve().parents[1]  # rmtfit/, above rmtfit/cli/
    try:
        return Path(filename).resolve().is_relative_to(package)
    except (OSError, ValueError):
        return False
