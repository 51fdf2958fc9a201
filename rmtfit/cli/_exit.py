"""Exit codes and the usage error of the ``rmtfit`` command."""

from __future__ import annotations

__all__ = ["EXIT_OK", "EXIT_LAYERS_FAILED", "EXIT_BAD_INPUT", "UsageError"]

EXIT_OK = 0
EXIT_LAYERS_FAILED = 1
EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """Bad input or usage: printed as one line, exit code 2."""
