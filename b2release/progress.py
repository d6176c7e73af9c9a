"""A progress bar (rich: bytes, rate, ETA) for a step that may run for more than a second.

Shown only where a person watches: on a terminal (stderr is a TTY), with text logs, outside
CI, and neither with --json nor -q (`Context.interactive`, the rule upload's bar follows
too). Anywhere else it prints nothing: a bar's control codes would only clutter a log file.

It appears after `DELAY` seconds, so a step that is over sooner never flashes one, and it
is transient: once the step ends the bar goes and the step's result line stays.
`advance` may be called from worker threads (rich's Progress locks its own state; the
first display is started under this module's lock). rich.progress is imported only when a
bar is really shown, so commands that show none do not pay for it.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from b2release.context import Context

DELAY = 1.0  # seconds before the bar appears


def shown(ctx: Context) -> bool:
    """Whether a bar may show at all (so that a caller can skip working out a total)."""
    return ctx.interactive and ctx.verbosity >= 0 and not ctx.json_output


class Progress:
    """`with Progress(ctx, "packaging 1,404 files", total_bytes) as bar: ... bar.advance(n)`

    The total may also be given later, with `begin(description, total)`, before the first
    `advance` (verify learns it from the package it opens).
    """

    def __init__(self, ctx: Context, description: str = "", total: int = 0):
        self.enabled = shown(ctx)
        self._ctx, self._description, self._total = ctx, description, total
        self._done = 0
        self._started = time.monotonic()
        self._bar: Any = None
        self._task: Any = None
        self._lock = threading.Lock()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def advance(self, nbytes: int) -> None:
        if not self.enabled:
            return
        bar = self._bar
        if bar is None:
            with self._lock:
                if self._bar is None:  # not shown yet: count, and show once DELAY has passed
                    self._done += nbytes
                    if time.monotonic() - self._started >= DELAY:
                        self._start()
                    return
                bar = self._bar
        bar.update(self._task, advance=nbytes)

    def begin(self, description: str, total: int) -> None:
        with self._lock:
            self._description, self._total, self._done = description, total, 0
            self._started = time.monotonic()

    def _start(self) -> None:
        if self._total <= 0:
            self.enabled = False
            return
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as RichProgress

        bar = RichProgress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                           TimeRemainingColumn(), console=self._ctx.console, transient=True)
        self._task = bar.add_task(self._description, total=self._total, completed=self._done)
        bar.start()
        self._bar = bar

    def stop(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.stop()
            self.enabled = False
