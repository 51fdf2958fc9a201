"""The ``track`` subcommand of ``rmtfit``: alpha and the phases over a training run's checkpoints.

``rmtfit track CKPT CKPT ...`` (or ``rmtfit track DIR``) runs :func:`rmtfit.track.track` and
writes its files with :func:`rmtfit.track.write_trajectory` (``trajectory.json``, ``.csv``,
``.png``, ``.html``). Exit codes: 0 ok; 1 some layer or checkpoint failed (every file still
written); 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rmtfit.cli._exit import UsageError
from rmtfit.cli._paths import check_out_folder

__all__ = ["add_commands"]

TRACK_DIR = "rmtfit-track"


def _steps(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give the steps as comma-separated numbers, e.g. 0,500,1000"
        ) from None


def add_commands(subparsers: Any) -> None:
    """Register ``track``."""
    from rmtfit.cli._analyze import add_run_options

    parser = subparsers.add_parser(
        "track",
        help="a training run's checkpoints: alpha and the phases over steps, P(alpha decreased)",
        description="Analyse each checkpoint of a training run and write how alpha and the "
        "phases move over the steps (trajectory.json, .csv, .png, .html).",
    )
    parser.add_argument(
        "checkpoints",
        nargs="+",
        metavar="CKPT",
        help="two or more checkpoints in training order, or one folder that holds them",
    )
    parser.add_argument(
        "--steps", type=_steps, metavar="LIST", help="training step of each checkpoint (0,500,...)"
    )
    parser.add_argument("--out", metavar="DIR", help=f"output folder (default: ./{TRACK_DIR})")
    parser.add_argument(
        "--scheduler",
        metavar="SPEC",
        help="run the checkpoints as Dask tasks: local:N or tcp://HOST:PORT",
    )
    add_run_options(parser)
    parser.add_argument("--likelihoods", metavar="NAMES", help="comma-separated likelihoods")
    parser.add_argument("--no-figure", action="store_true", help="no trajectory.png (faster)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars or summary")
    parser.set_defaults(func=_run_track)


def _run_track(args: argparse.Namespace) -> int:
    from rmtfit.track import NETWORK, track, write_trajectory

    out = Path(args.out) if args.out else Path.cwd() / TRACK_DIR
    check_out_folder(out)
    if args.scheduler is not None:
        from rmtfit.distributed import parse_scheduler

        try:
            parse_scheduler(args.scheduler)
        except ValueError as exc:
            raise UsageError(f"--scheduler: {exc}") from None
    trajectory = track(
        args.checkpoints,
        steps=args.steps,
        client=args.scheduler,
        layers=args.layers,
        likelihoods=args.likelihoods,
        seed=args.seed,
        draws=args.draws,
        chains=args.chains,
        quiet=args.quiet,
    )
    paths = write_trajectory(trajectory, out, figure=not args.no_figure)
    failed = [
        (c.label, layer, why)
        for c, f in zip(trajectory.checkpoints, trajectory.failed, strict=True)
        for layer, why in f.items()
    ]
    if not args.quiet:
        net = trajectory.alpha[NETWORK]
        for i, c in enumerate(trajectory.checkpoints):
            a = net[i]
            text = f"{a['mean']:.3g} [{a['low']:.3g}, {a['high']:.3g}]" if a else "-"
            down = trajectory.decreased[NETWORK][i - 1] if i else None
            move = "" if down is None else f"   P(alpha decreased) = {down:.2f}"
            print(f"step {c.step:g} ({c.label}): network alpha {text}{move}")
        print(f"wrote {paths['trajectory.html']}")
    for label, layer, why in failed:
        print(f"failed: {label}: {layer}: {why}", file=sys.stderr)
    return 1 if failed else 0
