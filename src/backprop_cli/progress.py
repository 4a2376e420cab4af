"""Progress of a long run on stderr, never on stdout (whose output stays byte for byte the same).

On a terminal a Rich progress bar appears once the work has taken ``DELAY`` seconds (a quick
run shows nothing) and is erased when it ends. When stderr is a file or a pipe (a CI log), a
plain line is written every ``EVERY`` seconds instead, the first after ``EVERY`` seconds: a
long run says what it is doing, a short one writes nothing.
"""

from __future__ import annotations

import contextlib
import sys
import time
from types import TracebackType
from typing import Any

DELAY = 1.0
EVERY = 10.0


def stderr_is_terminal() -> bool:
    try:
        return bool(sys.stderr is not None and sys.stderr.isatty())
    except (AttributeError, ValueError, OSError):  # closed
        return False


class Progress:
    """``advance(k)`` after each k units of ``total``; use as a context manager."""

    def __init__(self, description: str, total: int, unit: str, hint: str = "") -> None:
        self.description = description
        self.total = max(total, 1)
        self.unit = unit
        self.hint = hint  # appended to the plain lines: how to make the run shorter
        self.done = 0
        self.start = time.monotonic()
        self.next_line = self.start + EVERY
        self.bar: Any = None
        self.task: Any = None
        self.terminal = stderr_is_terminal()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Erase the bar (before output is written to the same terminal); ``advance`` shows it
        again."""
        if self.bar is not None:
            with contextlib.suppress(OSError, ValueError):
                self.bar.stop()
            self.bar = None

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if self.terminal:
            if self.bar is None and now - self.start >= DELAY:
                self._start_bar()
            if self.bar is not None:
                self.bar.update(self.task, completed=self.done)
        elif now >= self.next_line:
            self.next_line = now + EVERY
            self._line()

    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar

        self.bar = Bar(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(self.unit),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn(f"({self.hint})" if self.hint else "", markup=False),
            console=Console(stderr=True, force_terminal=True),
            transient=True,
        )
        self.task = self.bar.add_task(self.description, total=self.total, completed=self.done)
        try:
            self.bar.start()
        except (OSError, ValueError):
            self.bar = None
            self.terminal = False

    def _line(self) -> None:
        hint = f"; {self.hint}" if self.hint else ""
        percent = 100 * self.done // self.total
        try:
            sys.stderr.write(
                f"backprop: {self.description}: {self.done:,} of {self.total:,} {self.unit} "
                f"({percent}%){hint}\n"
            )
            sys.stderr.flush()
        except (AttributeError, OSError, ValueError):  # stderr closed or full: go on silently
            pass
