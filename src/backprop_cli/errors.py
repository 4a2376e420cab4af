"""Errors shown to the user: one line each, never a traceback.

The CLI turns these into a message on stderr and an exit code (see ``cli.py``).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_ANOMALY = 3
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


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
        return f"{where}:{field} {self.message}"


class ConfigError(BackpropError):
    """One or more problems found in a config file."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        super().__init__(self.lines()[0] if problems else source)

    def lines(self) -> list[str]:
        return [p.render(self.source) for p in self.problems]


class UsageError(BackpropError):
    """A command-line value that cannot be used (outside the config)."""


class NodeError(BackpropError):
    """An op that cannot run on the values it was given (e.g. labels out of range)."""


def suggest(word: str, known: Any) -> str:
    """`` (did you mean 'matmul'?)`` when ``word`` is close to a known name."""
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
    kind = "list" if isinstance(value, list) else "mapping"
    text = repr(value)
    return f"the {kind} {text}" if len(text) <= 40 else f"a {kind}"


def quoted(value: Any) -> str:
    """A name as it appears in a message: ``'matmull'``, or what it is when not a string."""
    return f"'{value}'" if isinstance(value, str) else describe(value)
