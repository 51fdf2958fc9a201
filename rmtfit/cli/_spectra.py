"""``rmtfit spectra``: eigenvalue spectra of a checkpoint, as a table and a netCDF file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rmtfit.cli._exit import EXIT_LAYERS_FAILED, EXIT_OK
from rmtfit.cli._paths import check_out_file
from rmtfit.spectra.eigen import BACKENDS, DEVICES, METHODS
from rmtfit.spectra.layers import CONV_MODES

__all__ = ["add_commands", "run_spectra"]


def add_commands(subparsers: Any) -> None:
    """Register the ``spectra`` subcommand."""
    parser = subparsers.add_parser(
        "spectra",
        help="eigenvalue spectra of a checkpoint's weight matrices",
        description=(
            "Compute the eigenvalues (squared singular values, float64) of every weight matrix "
            "in a checkpoint, print them as a table, and optionally save them to netCDF. "
            "Exit codes: 0 ok, 1 some layers failed (output still written), 2 bad input."
        ),
    )
    parser.add_argument(
        "path",
        nargs="?",
        default=None,
        help="checkpoint file or directory (.safetensors, sharded dir, .pt/.pth/.bin, .npz, .npy);"
        " default: the small network embedded in rmtfit",
    )
    parser.add_argument("--out", "-o", type=Path, help="write the spectra to this netCDF file")
    parser.add_argument("--include", metavar="RE", help="analyse only tensors whose name matches")
    parser.add_argument("--exclude", metavar="RE", help="skip tensors whose name matches")
    parser.add_argument("--min-size", type=int, default=1, help="smallest M analysed (default 1)")
    parser.add_argument("--max-size", type=int, default=None, help="largest M analysed")
    parser.add_argument("--conv", choices=CONV_MODES, default="pooled", help="conv kernel slices")
    parser.add_argument(
        "--split-qkv", action="store_true", help="split fused q/k/v projections in three"
    )
    parser.add_argument("--backend", choices=BACKENDS, default="numpy")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--method", choices=METHODS, default="gram", help="gram (fast) or svd")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only failures")
    parser.set_defaults(func=run_spectra)


def run_spectra(args: argparse.Namespace) -> int:
    """Run ``rmtfit spectra``; return the exit code."""
    from rmtfit.spectra import default_network_path, load_spectra, save_spectra

    source = args.path if args.path is not None else default_network_path()
    if args.out is not None:
        check_out_file(args.out, example="spectra.nc")
    spectra = load_spectra(
        source,
        include=args.include,
        exclude=args.exclude,
        min_size=args.min_size,
        max_size=args.max_size,
        conv=args.conv,
        split_qkv=args.split_qkv,
        backend=args.backend,
        device=args.device,
        method=args.method,
        progress=not args.quiet and sys.stderr.isatty(),
    )
    if args.out is not None:
        save_spectra(spectra, args.out)
    if args.quiet:
        for item in spectra.failed:
            print(f"rmtfit spectra: layer {item.name} failed: {item.reason}", file=sys.stderr)
    else:
        _print_report(spectra, args.out)
    return EXIT_LAYERS_FAILED if spectra.failed else EXIT_OK


def _print_report(spectra: Any, out: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(width=None if sys.stdout.isatty() else 160)
    table = Table(title=f"Spectra of {spectra.source}", title_justify="left")
    for column in ("name", "kind", "N", "M", "Q", "evals", "lambda_max", "stable rank"):
        table.add_column(column, justify="left" if column in ("name", "kind") else "right")
    for s in spectra:
        stable_rank = s.eigenvalues.sum() / s.lambda_max if s.lambda_max > 0 else float("nan")
        table.add_row(
            Text(s.name), s.kind, str(s.N), str(s.M), f"{s.Q:.3g}", str(s.num_evals),
            f"{s.lambda_max:.4g}", f"{stable_rank:.3g}",
        )  # fmt: skip
    console.print(table)
    if spectra.skipped:
        skipped = Table(title="Tensors not analysed", title_justify="left")
        for column in ("name", "shape", "reason"):
            skipped.add_column(column)
        for item in spectra.skipped:
            style = "bold red" if item.failed else None
            reason = ("FAILED: " if item.failed else "") + item.reason
            shape = "x".join(map(str, item.shape)) or "-"
            skipped.add_row(Text(item.name), shape, Text(reason), style=style)
        console.print(skipped)
    for name, note in spectra.meta.get("notes", {}).items():
        console.print(Text(f"note: {name}: {note}"))
    summary = (
        f"{len(spectra)} spectra, {len(spectra.skipped)} tensors not analysed "
        f"({len(spectra.failed)} failed)"
    )
    if out is not None:
        summary += f"; wrote {out}"
    console.print(Text(summary))
