"""What a run of many steps ends with, kept as the steps stream by: the objective's first,
last and best step, and a sparkline of it. Memory does not grow with the number of steps: the
sparkline has at most ``WIDTH`` marks, each the mean of its share of the steps (shares differ
by at most one step, and the legend says how many).

A mark whose steps include a NaN or ±Inf objective (traced with ``--allow-nonfinite``) is
``NONFINITE``, not a level. When the marks' values are ≥ 0 and the positive ones span more than
two decades, the levels are on a log scale (a mean of exactly 0 then takes the lowest level),
and the legend says so with the values of the lowest and highest level."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ..engine import Step

WIDTH = 60
MARKS = "▁▂▃▄▅▆▇█"
NONFINITE = "×"
LOG_SPAN = 100.0  # largest / smallest positive mark beyond this: a log scale


@dataclass
class Point:
    step: int
    value: float


class Summary:
    def __init__(self, total: int, width: int = WIDTH):
        self.total = total
        self.width = max(1, min(total, width))
        self.means = [0.0] * self.width  # of the finite steps of each mark
        self.finite = [0] * self.width
        self.steps = [0] * self.width  # all steps of each mark
        self.first: Point | None = None
        self.last: Point | None = None
        self.best: Point | None = None
        self.seen = 0

    def add(self, step: Step) -> None:
        point = Point(step.step, step.objective)
        self.seen += 1
        self.first = self.first or point
        self.last = point
        i = min((point.step - 1) * self.width // max(self.total, 1), self.width - 1)
        self.steps[i] += 1
        if math.isfinite(point.value):
            if self.best is None or point.value < self.best.value:
                self.best = point
            n = self.finite[i] = self.finite[i] + 1
            # a running mean: a sum of values near ±1.8e308 would overflow
            self.means[i] = self.means[i] * ((n - 1) / n) + point.value / n

    @property
    def title_key(self) -> str:
        """The catalogue key of the summary's title (one step: ``--summary`` of a short run)."""
        return "summary.title.one" if self.total == 1 else "summary.title"

    def _level_values(self) -> list[float]:
        """The means drawn as levels: marks with steps, all of them finite."""
        return [
            m for m, f, n in zip(self.means, self.finite, self.steps, strict=True) if n and f == n
        ]

    def steps_per_mark(self) -> tuple[int, int]:
        """The fewest and most steps a mark stands for."""
        sizes = [n for n in self.steps if n]
        return (min(sizes), max(sizes)) if sizes else (0, 0)

    def scale(self) -> tuple[bool, float, float]:
        """(log scale?, the value of the lowest level, of the highest)."""
        values = self._level_values()
        if not values:
            return False, math.nan, math.nan
        low, high = min(values), max(values)
        positive = [v for v in values if v > 0]
        if low >= 0 and positive and high > LOG_SPAN * min(positive):
            return True, min(positive), high
        return False, low, high

    @property
    def log_scale(self) -> bool:
        return self.scale()[0]

    def sparkline(self) -> str:
        log, low, high = self.scale()
        top = len(MARKS) - 1

        def level(v: float) -> str:
            if log:
                span = math.log(high) - math.log(low)
                where = 0.0 if v <= 0 else (math.log(v) - math.log(low)) / span
            else:
                span = high / 2 - low / 2  # halves: high − low may overflow
                where = (v / 2 - low / 2) / span if span > 0 else 0.0
            return MARKS[round(min(max(where, 0.0), 1.0) * top)]

        marks = []
        for mean, finite, n in zip(self.means, self.finite, self.steps, strict=True):
            if not n:
                marks.append(" ")  # not traced (yet)
            elif finite < n:
                marks.append(NONFINITE)
            else:
                marks.append(level(mean))
        return "".join(marks).rstrip()

    def legend(
        self, text: Callable[..., str], number: Callable[[float], str], objective: str
    ) -> list[str]:
        """How to read the sparkline, one sentence each: how many steps a mark stands for, the
        log scale, the mark of non-finite steps. ``text`` is a catalogue lookup, ``number``
        formats a value for the output format."""
        out = []
        fewest, most = self.steps_per_mark()
        if most > 1:
            steps = str(most) if fewest == most else f"{fewest}–{most}"
            out.append(text("summary.marks", steps=steps))
        log, low, high = self.scale()
        if log:
            zero = min(self._level_values()) == 0
            key = "summary.scale.log_zero" if zero else "summary.scale.log"
            out.append(text(key, low=number(low), high=number(high)))
        if any(f < n for f, n in zip(self.finite, self.steps, strict=True)):
            out.append(text("summary.nonfinite", mark=NONFINITE, objective=objective))
        return out

    def rows(self) -> list[tuple[str, Point]]:
        """(catalogue key, point) for first, last and best."""
        out: list[tuple[str, Point | None]] = [
            ("summary.first", self.first),
            ("summary.last", self.last),
        ]
        if self.best is not None:
            out.append(("summary.best", self.best))
        return [(k, p) for k, p in out if p is not None]
