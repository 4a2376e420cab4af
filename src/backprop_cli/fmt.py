"""Numbers and tensors as short text, for the table renderers."""

from __future__ import annotations

import math

import numpy as np

from .i18n import Catalogue
from .ops import shape_text

# Tensors up to this many elements (and this many rows or columns) are shown whole.
SHOW_ELEMENTS = 32
SHOW_SIDE = 10


def number(x: float, precision: int, minus_infinity: str = "-inf") -> str:
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else minus_infinity
    text = f"{x + 0.0:.{precision}g}"  # + 0.0 turns −0.0 into 0.0
    return "0" if text == "-0" else text


def tensor(
    value: np.ndarray,
    precision: int,
    full: bool = False,
    t: Catalogue | None = None,
    minus_infinity: str = "-inf",
) -> str:
    """A scalar as a number, a vector as ``[a, b]``, a matrix as aligned rows;
    a tensor too large to read as its shape and a few statistics (unless ``full``).
    ``minus_infinity`` is how −∞ is written ("−∞" where it is intended, a mask's)."""
    a = np.asarray(value, dtype=np.float64)
    inf = minus_infinity
    if a.ndim == 0:
        return number(float(a), precision, inf)
    too_large = a.size > SHOW_ELEMENTS or max(a.shape) > SHOW_SIDE
    if too_large and not full:
        return summary(a, precision, t)
    if a.ndim == 1:
        return "[" + ", ".join(number(x, precision, inf) for x in a) + "]"
    if a.ndim > 2 and not too_large:
        # A small image [C, H, W] or batch: its matrices one under another, nested as numpy
        # prints them, each with the numbers of a matrix.
        blocks = [tensor(sub, precision, full, t, inf).split("\n") for sub in a]
        lines = []
        for i, block in enumerate(blocks):
            lines += [("[" if i == 0 else " ") + block[0], *(" " + row for row in block[1:])]
        return "\n".join(lines) + "]"
    if a.ndim == 2:
        cells = [[number(x, precision, inf) for x in row] for row in a]
        widths = [max(len(row[j]) for row in cells) for j in range(a.shape[1])]
        rows = [
            "[" + ", ".join(c.rjust(w) for c, w in zip(row, widths, strict=False)) + "]"
            for row in cells
        ]
        return "[" + "\n ".join(rows) + "]"
    return np.array2string(
        a, precision=precision, separator=", ", threshold=a.size + 1, max_line_width=10_000
    )


def corners(a: np.ndarray, precision: int) -> str:
    """The first and last elements along each axis: ``[[a, …, b], …, [c, …, d]]``."""
    if a.ndim == 1:
        return f"[{number(a[0], precision)}, …, {number(a[-1], precision)}]"
    m = a.reshape(a.shape[0], -1)
    first = f"[{number(m[0, 0], precision)}, …, {number(m[0, -1], precision)}]"
    last = f"[{number(m[-1, 0], precision)}, …, {number(m[-1, -1], precision)}]"
    # two spaces where a narrow table may wrap the line: between rows, never inside one
    return f"[{first},  …,  {last}]"


def summary(
    a: np.ndarray, precision: int, t: Catalogue | None = None, with_corners: bool = False
) -> str:
    """``4×30 tensor`` and its mean, std, min and max (of the finite values), in ``t``'s
    language (English by default); ``with_corners``, its first and last elements too."""
    t = t or Catalogue()
    finite = a[np.isfinite(a)]
    head = t("tensor.head", shape=shape_text(a.shape))
    if finite.size == 0:
        return head + t("tensor.no_finite")
    stats = t(
        "tensor.stats",
        mean=number(finite.mean(), precision),
        std=number(finite.std(), precision),
        min=number(finite.min(), precision),
        max=number(finite.max(), precision),
    )
    bad = a.size - finite.size
    out = f"{head}\n{stats}" + ("\n" + t("tensor.non_finite", count=bad) if bad else "")
    if with_corners and a.size:
        out += "\n" + t("tensor.corners", corners=corners(a, precision))
    return out


def circled(n: int) -> str:
    """① … ⑳, ㉑ … ㊿, then (51), as the document numbers its steps."""
    if 1 <= n <= 20:
        return chr(0x2460 + n - 1)
    if 21 <= n <= 35:
        return chr(0x3251 + n - 21)
    if 36 <= n <= 50:
        return chr(0x32B1 + n - 36)
    return f"({n})"
