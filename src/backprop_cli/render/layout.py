"""Laying out a table in a fixed number of columns, without ever splitting what must stay whole.

A cell is a list of *lines*; a line is a list of *atoms* (Rich ``Text`` without newlines) that
may sit side by side, separated by a space, or be wrapped between atoms. A matrix row is one
atom, a number is one atom, a formula is split only before a top-level ``=``, ``+``, ``−`` or
``←`` (``formula_atoms``), so neither is ever cut.

A row whose cells fit side by side in the width is laid out as a grid row; a row that does not
is laid out *stacked*: its head cells (Step, Target) on one line, then each other cell under
its column's title, at the full width. The cell builder is called again with the width a
stacked cell gets, so that a tensor that does not fit even then can be summarised. No line is
longer than the width (unless the caller asks for tensors whole) and no line ends in a space.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text

GAP = 2  # spaces between grid columns
CONTINUATION = 2  # indentation of a wrapped line's continuation


@dataclass
class Line:
    atoms: list[Text]

    @property
    def width(self) -> int:
        return sum(cell_len(a.plain) for a in self.atoms) + max(len(self.atoms) - 1, 0)

    @property
    def min_width(self) -> int:
        widths = [cell_len(a.plain) for a in self.atoms]
        if not widths:
            return 0
        return max([widths[0]] + [w + CONTINUATION for w in widths[1:]])


# build(row, column, width or None) -> the cell's lines; width None: as wide as it likes
CellBuilder = Callable[[int, int, int | None], list[Line]]


def wrap(line: Line, width: int) -> list[Text]:
    """The atoms packed greedily into lines of at most ``width`` cells (an atom wider than
    that stands alone on its line)."""
    out: list[Text] = []
    current: Text | None = None
    for atom in line.atoms:
        if current is None:
            current = atom.copy()
        elif cell_len(current.plain) + 1 + cell_len(atom.plain) <= width:
            current.append(" ")
            current.append_text(atom)
        else:
            out.append(current)
            current = Text(" " * CONTINUATION)
            current.append_text(atom)
    if current is not None:
        out.append(current)
    return out


def formula_atoms(text: str) -> list[str]:
    """Formula text cut where a line may break: before a top-level ``=``, ``+=``, ``+`` or
    ``←`` (outside brackets), so a term (``y_hat − y``) is never split:
    ``∂J/∂W1 = ∂J/∂z · xᵀ + λW1`` -> ``["∂J/∂W1", "= ∂J/∂z · xᵀ", "+ λW1"]``."""
    tokens: list[str] = []
    depth = 0
    current = ""
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(depth - 1, 0)
        if ch == " " and depth == 0:
            tokens.append(current)
            current = ""
        else:
            current += ch
    tokens.append(current)
    atoms: list[str] = []
    for token in tokens:
        if not token:
            continue
        if atoms and token not in ("=", "+=", "+", "←", "≈"):
            atoms[-1] += " " + token
        else:
            atoms.append(token)
    return atoms


def words(text: Text, keep: int = 0, sep: str = " ", keep_sep: bool = False) -> list[Text]:
    """Prose split at ``sep`` into atoms (styles kept); the first ``keep`` characters (an
    indentation or a ``= `` prefix) stay with the first word; with ``keep_sep``, each atom
    keeps the separator's text before its space (``a,`` ``b``)."""
    out: list[Text] = []
    position = keep
    tail = sep.rstrip(" ") if keep_sep else ""
    parts = text.plain[keep:].split(sep)
    for i, part in enumerate(parts):
        if part:
            start = 0 if not out else position
            end = position + len(part) + (len(tail) if i < len(parts) - 1 else 0)
            out.append(text[start:end])
        position += len(part) + len(sep)
    return out


def _pad(text: Text, width: int) -> Text:
    out = text.copy()
    gap = width - cell_len(text.plain)
    if gap > 0:
        out.append(" " * gap)
    return out


@dataclass
class Grid:
    """The decisions of a layout: which rows stay side by side, and the column widths."""

    widths: list[int]
    side: list[bool]  # per row: side by side (True) or stacked (False)


def plan(titles: list[Text], cells: list[list[list[Line]]], width: int) -> Grid:
    """Column widths that fit ``width``, and which rows must be stacked to get them."""
    n = len(titles)
    title_w = [cell_len(t.plain) for t in titles]
    natural = [[max((line.width for line in cell), default=0) for cell in row] for row in cells]
    minimal = [[max((line.min_width for line in cell), default=0) for cell in row] for row in cells]
    side = [True] * len(cells)

    def column(values: list[list[int]], c: int) -> int:
        return max([title_w[c]] + [values[r][c] for r in range(len(cells)) if side[r]])

    while True:
        col_min = [column(minimal, c) for c in range(n)]
        if sum(col_min) + GAP * (n - 1) <= width or not any(side):
            break
        # Stack the row whose removal narrows the grid most (only a row that sets some
        # column's width can narrow it; ties go to the earlier row).
        candidates = sorted(
            {
                r
                for c in range(n)
                for r in range(len(cells))
                if side[r] and minimal[r][c] == col_min[c]
            }
        )

        def narrowed(r: int) -> int:
            side[r] = False
            width_without = sum(column(minimal, c) for c in range(n))
            side[r] = True
            return width_without

        side[min(candidates, key=narrowed)] = False
    if not any(side):
        return Grid(widths=[title_w[c] for c in range(n)], side=side)
    widths = [column(natural, c) for c in range(n)]
    floor = [column(minimal, c) for c in range(n)]
    while sum(widths) + GAP * (n - 1) > width:
        c = max(range(n), key=lambda i: widths[i] - floor[i])
        if widths[c] <= floor[c]:
            break
        widths[c] -= 1
    return Grid(widths=widths, side=side)


def grid_row(cells: list[list[Line]], widths: list[int]) -> list[Text]:
    columns = []
    for cell, w in zip(cells, widths, strict=True):
        lines: list[Text] = []
        for line in cell:
            lines += wrap(line, w)
        columns.append(lines)
    height = max((len(c) for c in columns), default=0)
    out = []
    for i in range(height):
        text = Text()
        for c, (lines, w) in enumerate(zip(columns, widths, strict=True)):
            piece = lines[i] if i < len(lines) else Text()
            if c:
                text.append(" " * GAP)
            text.append_text(_pad(piece, w) if c < len(columns) - 1 else piece)
        text.rstrip()
        out.append(text)
    return out


def stacked_row(
    build: CellBuilder,
    r: int,
    titles: list[Text],
    head: list[bool],
    head_widths: list[int],
    width: int,
) -> list[Text]:
    """The head cells on one line, then each other cell under its title at full width."""
    n = len(titles)
    heads = [c for c in range(n) if head[c]]
    rest = [c for c in range(n) if not head[c]]
    out: list[Text] = []
    if heads:
        cells = [build(r, c, None) for c in heads]
        natural = [max((line.width for line in cell), default=0) for cell in cells]
        widths = [max(head_widths[c], natural[i]) for i, c in enumerate(heads)]
        # the last head cell takes what is left of the width
        used = sum(widths[:-1]) + GAP * (len(widths) - 1)
        widths[-1] = max(width - used, 1)
        out += grid_row(cells, widths)
    indent = widths[0] + GAP if len(heads) > 1 else (CONTINUATION if heads else 0)
    label_w = max((cell_len(titles[c].plain) for c in rest), default=0)
    avail = width - indent - label_w - GAP
    below = avail < 24  # too narrow beside the label: the content goes under it
    if below:
        avail = width - indent - CONTINUATION
    for c in rest:
        lines: list[Text] = []
        for cell_line in build(r, c, avail):
            lines += wrap(cell_line, avail)
        if not lines:
            continue
        label = titles[c]
        if below:
            out.append(Text(" " * indent) + label)
            out += [Text(" " * (indent + CONTINUATION)) + text for text in lines]
            continue
        for i, text in enumerate(lines):
            prefix = Text(" " * indent)
            prefix.append_text(_pad(label, label_w) if i == 0 else Text(" " * label_w))
            prefix.append(" " * GAP)
            prefix.append_text(text)
            prefix.rstrip()
            out.append(prefix)
    return out
