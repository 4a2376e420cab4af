"""Errors shown to the user: one line each, never a traceback.

The CLI turns these into a message on stderr and an exit code (see ``cli.py``).
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass
from typing import Any

EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_ANOMALY = 3
EXIT_INTERNAL = 70
EXIT_IO = 74  # EX_IOERR: a stream or file could not be read or written
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a process killed by it


class BackpropError(Exception):
    """Base class of every error meant for the user."""

    exit_code = EXIT_USAGE


@dataclass
class Problem:
    """One thing wrong with a config: where it is and what was expected."""

    message: str
    field: str = ""
    line: int | None = None
    column: int | None = None

    def render(self, source: str) -> str:
        where = source
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f" {self.field}:" if self.field else ""
        return one_line(f"{where}:{field} {self.message}")


class ConfigError(BackpropError):
    """One or more problems found in a config file."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        super().__init__(self.lines()[0] if problems else source)

    def lines(self) -> list[str]:
        return [p.render(self.source) for p in self.problems]


class NumericalAnomaly(BackpropError):
    """A value of the trace went NaN or ±Inf; ``anomaly`` (an ``engine.Anomaly``) says where.

    Renderers print the report with the steps before it; the CLI then exits with code 3."""

    exit_code = EXIT_ANOMALY

    def __init__(self, anomaly: Any):
        self.anomaly = anomaly
        super().__init__(anomaly.message())


class UsageError(BackpropError):
    """A command-line value that cannot be used (outside the config)."""


class IOFailure(BackpropError):
    """A stream or file that could not be read or written (a full disk, a closed stdout): the
    user's system, not the input, is in the way (exit 74)."""

    exit_code = EXIT_IO


def os_reason(exc: OSError) -> str:
    """``No space left on device``: the OS error of ``exc`` as one short phrase."""
    return str(exc.strerror or exc)


def one_line(text: str) -> str:
    """Control characters (a newline in a YAML key, an escape sequence) written as escapes, so
    that a message stays one line and cannot drive the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class NodeError(BackpropError):
    """An op that cannot run on the values it was given (e.g. labels out of range)."""


def suggest(word: Any, known: Any) -> str:
    """`` (did you mean 'matmul'?)`` when ``word`` is close to a known name."""
    if not isinstance(word, (str, int, float)) or isinstance(word, bool):
        return ""
    import difflib  # only for a misspelt name: its import costs ~2 ms of start-up

    close = difflib.get_close_matches(str(word), [str(k) for k in known], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if value is None:
        return "nothing (null)"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, (list, dict)):
        kind = "list" if isinstance(value, list) else "mapping"
        # A bounded repr: YAML aliases can make a short file hold a huge (or cyclic) value.
        text = _short.repr(value)
        return f"the {kind} {text}" if len(text) <= 40 and "..." not in text else f"a {kind}"
    return f"a {type(value).__name__} value"


_short = reprlib.Repr()
_short.maxlevel, _short.maxlist, _short.maxdict, _short.maxstring, _short.maxother = 3, 8, 6, 30, 30


def quoted(value: Any) -> str:
    """A name as it appears in a message: ``'matmull'``, or what it is when not a string."""
    return f"'{value}'" if isinstance(value, str) else describe(value)
