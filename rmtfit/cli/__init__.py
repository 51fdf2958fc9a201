"""The ``rmtfit`` command.

The command line is one package, the top layer of rmtfit: ``spectra`` (:mod:`rmtfit.cli._spectra`),
``analyze``, ``demo`` and ``compare`` (:mod:`rmtfit.cli._analyze`), ``track``
(:mod:`rmtfit.cli._track`). Each subcommand module defines
``add_commands(subparsers)``; it calls the pipeline (:mod:`rmtfit.pipeline`) and the report
(:mod:`rmtfit.report`), never the other way round.

Exit codes: 0 ok; 1 some layers failed (outputs still written); 2 bad input or usage.
Errors are one clear line naming the file or layer; ``--debug`` shows the traceback.
Warnings stop here (:func:`rmtfit.cli._exit.quiet_warnings`): the libraries' (ArviZ, NumPyro,
JAX) never reach the terminal, rmtfit's convergence warnings become one line per likelihood in
the summary, and ``--verbose`` prints each one on a line of its own, without a source line.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from rmtfit.cli._exit import (
    EXIT_BAD_INPUT,
    EXIT_LAYERS_FAILED,
    EXIT_OK,
    UsageError,
    quiet_warnings,
)

__all__ = ["main", "UsageError", "EXIT_OK", "EXIT_LAYERS_FAILED", "EXIT_BAD_INPUT"]

# module -> it defines `add_commands(subparsers)`; each command sets `func(args) -> int`.
_COMMAND_MODULES = ("rmtfit.cli._spectra", "rmtfit.cli._analyze", "rmtfit.cli._track")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``rmtfit`` with every subcommand registered."""
    from rmtfit.common import __version__

    parser = argparse.ArgumentParser(
        prog="rmtfit",
        description="Bayesian analysis of neural-network weight spectra.",
    )
    parser.add_argument("--version", action="version", version=f"rmtfit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rmtfit`` command with ``argv`` (default: the process arguments); the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    try:
        with quiet_warnings(verbose=getattr(args, "verbose", False)):
            return int(args.func(args))
    except (UsageError, FileNotFoundError, ValueError, OSError) as exc:
        if args.debug:
            raise
        print(f"rmtfit {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("rmtfit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
