"""Options written in a config beside an op (``lambda: 0.01``, ``axis: 0``) or an optimiser
(``momentum: 0.9``): what each accepts, its default, and how a value is checked."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from .errors import describe

REQUIRED = object()


class Option(NamedTuple):
    doc: str
    default: Any = REQUIRED
    kind: str = "number"  # number | int | axis | axes | pair | bool | shape | choice
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def check(self, value: Any) -> Any:
        """The value to use, or ``ValueError`` with what was expected and found."""
        expected = self.expected()
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
        elif self.kind == "choice":
            if value in self.choices:
                return value
        elif self.kind == "shape":
            if (
                isinstance(value, list)
                and value
                and all(
                    isinstance(n, int) and not isinstance(n, bool) and (n > 0 or n == -1)
                    for n in value
                )
                and value.count(-1) <= 1
            ):
                return tuple(value)
        elif self.kind == "axis":
            if value is None or (isinstance(value, int) and not isinstance(value, bool)):
                return value
        elif self.kind == "axes":
            if (
                isinstance(value, list)
                and value
                and all(isinstance(n, int) and not isinstance(n, bool) for n in value)
                and len(set(value)) == len(value)
            ):
                return tuple(value)
        elif self.kind == "pair":
            # One whole number for both spatial axes, or [height, width].
            pair = value if isinstance(value, list) else [value, value]
            minimum = 0 if self.minimum is None else self.minimum
            if len(pair) == 2 and all(
                isinstance(n, int) and not isinstance(n, bool) and n >= minimum for n in pair
            ):
                return (pair[0], pair[1])
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            ok = math.isfinite(value)
            if self.kind == "int":
                ok = ok and float(value).is_integer()
            if ok and self.minimum is not None:
                ok = value > self.minimum if self.exclusive_minimum else value >= self.minimum
            if ok and self.maximum is not None:
                ok = value <= self.maximum
            if ok:
                return int(value) if self.kind == "int" else float(value)
        raise ValueError(f"expected {expected}, found {describe(value)}")

    def expected(self) -> str:
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "shape":
            return "a list of positive whole numbers (one may be -1) such as [2, 3]"
        if self.kind == "axis":
            return "an axis: 0, 1, -1, … or null for all elements"
        if self.kind == "axes":
            return "a list of distinct axes such as [0] or [0, 1, 2]"
        if self.kind == "pair":
            low = f"{0 if self.minimum is None else self.minimum:g}"
            return f"a whole number ≥ {low} or a pair [height, width] of them"
        what = "a whole number" if self.kind == "int" else "a finite number"
        if self.minimum is not None:
            what += f" {'>' if self.exclusive_minimum else '≥'} {self.minimum:g}"
        if self.maximum is not None:
            what += f" ≤ {self.maximum:g}"
        return what
