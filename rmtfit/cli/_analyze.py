"""The ``analyze``, ``demo`` and ``compare`` subcommands of ``rmtfit`` (see :mod:`rmtfit.cli`).

Each runs :func:`rmtfit.pipeline.analyze` and hands the result to :mod:`rmtfit.report`.

Exit codes: 0 ok; 1 some layers failed (every output still written); 2 bad input or usage, with
one line on stderr and no traceback (``rmtfit --debug`` shows it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rmtfit.cli._exit import UsageError
from rmtfit.cli._paths import check_out_file, check_out_folder

__all__ = ["add_commands", "compare_checkpoints"]

DEMO_DIR = "rmtfit-demo"
PARTS_DIR = "rmtfit-parts"
"""Where ``--scheduler`` and ``--resume`` keep each finished layer, inside the output folder."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be >= 0")
    return value


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """``--layers``, ``--seed``, ``--draws`` and ``--chains``, as ``compare`` and ``track`` take them."""
    parser.add_argument(
        "--layers", metavar="REGEX", help="analyse only layers whose name matches REGEX"
    )
    parser.add_argument(
        "--seed", type=_seed, default=0, metavar="N", help="random seed (default 0)"
    )
    parser.add_argument("--draws", type=_positive_int, metavar="N", help="MCMC draws per chain")
    parser.add_argument("--chains", type=_positive_int, metavar="N", help="MCMC chains")


def _add_analysis_options(parser: argparse.ArgumentParser, *, out_help: str) -> None:
    parser.add_argument("--fast", action="store_true", help="classical estimators only (no MCMC)")
    parser.add_argument(
        "--layers", metavar="REGEX", help="analyse only layers whose name matches REGEX"
    )
    parser.add_argument(
        "--likelihoods",
        metavar="NAMES",
        help="comma-separated likelihoods to fit (default: rmtfit's default set)",
    )
    parser.add_argument("--out", metavar="DIR", help=out_help)
    parser.add_argument(
        "--seed", type=_seed, default=0, metavar="N", help="random seed (default 0)"
    )
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where eigenvalues are computed",
    )
    parser.add_argument("--draws", type=_positive_int, metavar="N", help="MCMC draws per chain")
    parser.add_argument("--chains", type=_positive_int, metavar="N", help="MCMC chains")
    parser.add_argument(
        "--scheduler",
        metavar="SPEC",
        help="run groups of layers as Dask tasks: local:N (N worker processes here) or "
        "tcp://HOST:PORT (a running Dask scheduler); needs pip install 'rmtfit[dask]'",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help=f"keep the layers an interrupted run already finished (in OUT/{PARTS_DIR}) and "
        "compute only the others; the settings must be the same",
    )
    parser.add_argument(
        "--plots",
        action="store_true",
        help="also write every figure as a PNG file in plots/ (matplotlib, ~0.3 s a layer; "
        "report.html draws its charts without them)",
    )
    parser.add_argument("--no-plots", action="store_true", help=argparse.SUPPRESS)  # the default
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="no progress bars and no summary table"
    )
    parser.add_argument(
        "--wide", action="store_true", help="every column of the summary, names in full"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print report.json to stdout (for scripts) instead of the summary table",
    )
    parser.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="list each flagged fit and every library warning (one line each, on stderr)",
    )
    parser.add_argument(
        "--save-pointwise",
        action="store_true",
        help="also store pointwise log-likelihoods and per-eigenvalue draws in fits.nc "
        "(25-70x larger; needed only to recompute PSIS-LOO from the file)",
    )


def add_commands(subparsers: Any) -> None:
    """Register ``analyze``, ``demo`` and ``compare``."""
    analyze = subparsers.add_parser(
        "analyze",
        help="analyse a checkpoint: spectra, fits, phases; writes report.json, layers.csv, plots, report.html",
        description="Analyse every weight matrix of a checkpoint and write the report files.",
    )
    analyze.add_argument(
        "path", help="checkpoint: safetensors file or folder, torch state_dict, .npz/.npy"
    )
    _add_analysis_options(analyze, out_help="output folder (default: ./<name of PATH>-rmtfit)")
    analyze.set_defaults(func=_run_analyze)

    demo = subparsers.add_parser(
        "demo",
        help="full analysis of the small network embedded in rmtfit (offline)",
        description="Analyse the embedded default network and write the report into ./rmtfit-demo.",
    )
    _add_analysis_options(demo, out_help=f"output folder (default: ./{DEMO_DIR})")
    demo.set_defaults(func=_run_demo)

    compare = subparsers.add_parser(
        "compare",
        help="compare two networks: P(A's metric < B's) per metric and per matched layer",
        description="Fit two checkpoints and compare their network metrics and matched layers.",
    )
    compare.add_argument("a", help="first checkpoint (A)")
    compare.add_argument("b", help="second checkpoint (B)")
    add_run_options(compare)
    compare.add_argument("--out", metavar="FILE", help="also write the comparison as JSON to FILE")
    compare.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    compare.set_defaults(func=_run_compare)


def _likelihoods(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError(
            f"--likelihoods {text!r}: give one or more comma-separated likelihood names."
        )
    return names


def _task_options(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """``client``/``staging``/``resume`` for the pipeline from ``--scheduler`` and ``--resume``."""
    scheduler = getattr(args, "scheduler", None)
    if scheduler is None and not getattr(args, "resume", False):
        return {}  # the default: in-process, no parts on disk, Dask never imported
    if scheduler is not None:
        from rmtfit.distributed import parse_scheduler

        try:
            parse_scheduler(scheduler)
        except ValueError as exc:
            raise UsageError(f"--scheduler: {exc}") from None
    return {"client": scheduler, "staging": out / PARTS_DIR, "resume": bool(args.resume)}


def _announce_out(out: Path, quiet: bool) -> None:
    if quiet or not out.is_dir() or not any(out.iterdir()):
        return
    print(
        f"note: {out} already exists and is not empty; its report files "
        "(report.json, layers.csv, fits.nc, plots/, report.html) will be replaced",
        file=sys.stderr,
    )


def _analyze_and_write(args: argparse.Namespace, source: Any, out: Path) -> int:
    from rich.console import Console

    from rmtfit.pipeline import analyze
    from rmtfit.report import build_report, print_summary, report_json, write_outputs

    check_out_folder(out)
    _announce_out(out, args.quiet)
    analysis = analyze(
        source,
        fast=args.fast,
        layers=args.layers,
        likelihoods=_likelihoods(args.likelihoods),
        seed=args.seed,
        device=args.device,
        draws=args.draws,
        chains=args.chains,
        quiet=args.quiet,
        progress=not args.quiet,
        **_task_options(args, out),
    )
    outputs = write_outputs(
        analysis,
        out,
        plots=args.plots and not args.no_plots,
        progress=not args.quiet,
        save_pointwise=args.save_pointwise,
    )
    if args.json:
        sys.stdout.write(report_json(build_report(analysis)) + "\n")
    if not args.quiet:
        console = Console(stderr=args.json)  # the table never mixes into --json's stdout
        print_summary(
            analysis,
            outputs,
            console=console,
            wide=args.wide,
            verbose=args.verbose,
            how_to_read=getattr(args, "how_to_read", False),
        )
    elif analysis.failed:
        for layer in analysis.failed:
            print(f"failed: {layer.name}: {layer.reason}", file=sys.stderr)
    return analysis.exit_code


def _run_analyze(args: argparse.Namespace) -> int:
    from rmtfit.report import default_out_dir

    source = Path(args.path)
    if not source.exists():
        raise FileNotFoundError(f"{args.path}: no such file or folder; check the path.")
    out = Path(args.out) if args.out else default_out_dir(source)
    return _analyze_and_write(args, source, out)


def _run_demo(args: argparse.Namespace) -> int:
    from rmtfit.spectra import default_network_path

    out = Path(args.out) if args.out else Path.cwd() / DEMO_DIR
    args.how_to_read = True  # the demo ends with two lines on how to read it
    return _analyze_and_write(args, default_network_path(), out)


def _run_compare(args: argparse.Namespace) -> int:
    for path in (args.a, args.b):
        if not Path(path).exists():
            raise FileNotFoundError(f"{path}: no such file or folder; check the path.")
    if args.out is not None:
        check_out_file(Path(args.out), example="comparison.json")
    return compare_checkpoints(
        args.a,
        args.b,
        layers=args.layers,
        seed=args.seed,
        draws=args.draws,
        chains=args.chains,
        out=args.out,
        quiet=args.quiet,
    )


def compare_checkpoints(
    a: Any,
    b: Any,
    *,
    layers: str | None = None,
    seed: int = 0,
    draws: int | None = None,
    chains: int | None = None,
    out: str | Path | None = None,
    quiet: bool = False,
) -> int:
    """``rmtfit compare A B``: analyse both networks, print ``P(A < B)`` per metric; exit code.

    Each network gets the full default analysis (``seed`` for A, ``seed + 1`` for B, so their
    posteriors are independent); the comparison is :func:`rmtfit.network.compare_networks`.
    With ``out`` the comparison is also written as JSON, atomically.
    """
    from rmtfit.common import write_json_atomic
    from rmtfit.network import compare_networks
    from rmtfit.pipeline import analyze
    from rmtfit.report import print_network_comparison

    common: dict[str, Any] = {"layers": layers, "draws": draws, "chains": chains, "quiet": quiet}
    first = analyze(a, seed=seed, **common)
    second = analyze(b, seed=seed + 1, **common)
    for label, analysis in (("A", first), ("B", second)):
        if analysis.network is None:
            raise ValueError(
                f"{label} = {analysis.source}: no layer has an alpha posterior, so there is "
                "nothing to compare; check the layer filter and the report's reasons."
            )
    comparison = compare_networks(first.network, second.network, seed=seed)
    if not quiet:
        print_network_comparison(comparison, str(a), str(b))
    if out is not None:
        write_json_atomic(Path(out), comparison.to_dict())
    return max(first.exit_code, second.exit_code)
