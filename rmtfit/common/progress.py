"""The one progress-bar helper of rmtfit: Rich bars on stderr with an ETA, hidden off a terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["ProgressBar"]


class ProgressBar:
    """Progress bars for the stages of a run; does nothing when ``enabled`` is false.

    ``with ProgressBar().task("fits", total=n) as advance: ... advance()``. Each task is its own
    short-lived Rich display, so that stages which draw their own bars can run between two tasks
    without two live displays at once. ``total=None`` shows a spinner-like bar without a count.
    Bars go to stderr and are hidden when stderr is not a terminal; ``transient=True`` removes a
    finished bar from the screen.
    """

    def __init__(
        self, *, enabled: bool = True, console: Any = None, transient: bool = False
    ) -> None:
        self.enabled = enabled
        self._console = console
        self._transient = transient

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    @contextmanager
    def task(self, description: str, total: int | None) -> Iterator[Callable[..., None]]:
        """A bar for one stage; yields ``advance(n=1)``."""
        if not self.enabled:
            yield _no_advance
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        console = self._console or Console(stderr=True)
        with Progress(
            TextColumn("[bold]{task.description:<16}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=self._transient,
            disable=not console.is_terminal,
        ) as progress:
            task_id = progress.add_task(description, total=total)

            def advance(n: int = 1) -> None:
                progress.advance(task_id, n)

            yield advance


def _no_advance(n: int = 1) -> None:
    return None
