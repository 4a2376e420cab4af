"""What a run of many steps ends with, kept as the steps stream by: the objective's first,
last and best step, and a sparkline of it. Memory does not grow with the number of steps: the
sparkline has at most ``WIDTH`` marks, each the mean of its share of the steps."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..engine import Step

WIDTH = 60
MARKS = "▁▂▃▄▅▆▇█"


@dataclass
class Point:
    step: int
    value: float


class Summary:
    def __init__(self, total: int, width: int = WIDTH):
        self.total = total
        self.width = min(total, width)
        self.sums = [0.0] * self.width
        self.counts = [0] * self.width
        self.first: Point | None = None
        self.last: Point | None = None
        self.best: Point | None = None
        self.seen = 0

    def add(self, step: Step) -> None:
        point = Point(step.step, step.objective)
        self.seen += 1
        self.first = self.first or point
        self.last = point
        if math.isfinite(point.value) and (self.best is None or point.value < self.best.value):
            self.best = point
        if math.isfinite(point.value):
            i = min((point.step - 1) * self.width // self.total, self.width - 1)
            self.sums[i] += point.value
            self.counts[i] += 1

    @property
    def steps_per_mark(self) -> int:
        return math.ceil(self.total / self.width) if self.width else 1

    def sparkline(self) -> str:
        means = [s / c if c else None for s, c in zip(self.sums, self.counts, strict=False)]
        finite = [v for v in means if v is not None]
        if not finite:
            return ""
        low, high = min(finite), max(finite)
        marks = []
        for v in means:
            if v is None:
                marks.append(" ")
            elif high == low:
                marks.append(MARKS[0])
            else:
                marks.append(MARKS[round((v - low) / (high - low) * (len(MARKS) - 1))])
        return "".join(marks)

    def rows(self) -> list[tuple[str, Point]]:
        """(catalogue key, point) for first, last and best."""
        out = [("summary.first", self.first), ("summary.last", self.last)]
        if self.best is not None:
            out.append(("summary.best", self.best))
        return [(k, p) for k, p in out if p is not None]
