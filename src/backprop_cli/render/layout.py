"""Laying out a table in a fixed number of columns, without ever splitting what must stay whole.

A cell is a list of *lines*; a line is a list of *atoms* (``Styled`` text without newlines) that
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

from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from rich.cells import cell_len, get_character_cell_size
from rich.control import strip_control_codes
from rich.text import Span, Text

GAP = 2  # spaces between grid columns
CONTINUATION = 2  # indentation of a wrapped line's continuation


# The width of each character met, as rich.cells measures it (a formula's ∂, ·, ², a circled
# step number, a CJK character), so that a text's width is a sum of lookups.
_CHAR_CELLS: dict[str, int] = {}


def _joins(text: str) -> bool:
    """Whether ``text`` holds a character that may join others into one grapheme (a zero-width
    joiner, a variation selector): then its width is not the sum of its parts' widths."""
    return "\u200d" in text or "\ufe0f" in text


def cell_width(text: str) -> int:
    """The width of ``text`` in terminal cells: ``rich.cells.cell_len``, which sums the widths
    of the characters unless a zero-width joiner or a variation selector joins some."""
    if text.isascii() and text.isprintable():
        return len(text)
    if _joins(text):
        return cell_len(text)
    try:
        return sum(map(_CHAR_CELLS.__getitem__, text))
    except KeyError:
        for ch in set(text).difference(_CHAR_CELLS):
            _CHAR_CELLS[ch] = get_character_cell_size(ch)
        return sum(map(_CHAR_CELLS.__getitem__, text))


class Styled:
    """Styled text: what the layout needs of ``rich.text.Text``, with the same results.

    A base style and spans of other styles over a plain string, built by the same operations
    as a Rich ``Text`` (``copy``, ``append``, ``append_text``, ``rstrip``, slices) and to the
    same plain text and spans, so that ``text()`` is the very ``Text`` the Rich calls would have
    built. A deep chain's tables are some 100,000 of these operations; on ``Text`` (a list of
    chunks, a sanitising pass and a ``Span`` per call) they cost most of the table's time.
    ``cells`` is the width in terminal cells, kept as the text grows.
    """

    __slots__ = ("cells", "plain", "spans", "style")

    def __init__(self, plain: str = "", style: str = "") -> None:
        if plain.isascii() and plain.isprintable():  # no control code either
            self.plain, self.cells = plain, len(plain)
        else:
            self.plain = strip_control_codes(plain)  # as Text does
            self.cells = cell_width(self.plain)
        self.style = style
        self.spans: list[tuple[int, int, str]] = []

    @classmethod
    def _make(cls, plain: str, style: str, spans: list[tuple[int, int, str]], width: int) -> Styled:
        new = cls.__new__(cls)
        new.plain, new.style, new.spans, new.cells = plain, style, spans, width
        return new

    def __repr__(self) -> str:
        return f"Styled({self.plain!r}, {self.style!r}, {self.spans!r})"

    def copy(self) -> Styled:
        return Styled._make(self.plain, self.style, self.spans[:], self.cells)

    def append(self, text: str) -> Styled:
        """``Text.append(text)`` of a string without a style of its own."""
        if text:
            if not (text.isascii() and text.isprintable()):
                text = strip_control_codes(text)
            self.plain += text
            self.cells += cell_width(text)
            if _joins(self.plain):
                self.cells = cell_width(self.plain)
        return self

    def append_text(self, other: Styled) -> Styled:
        """``Text.append_text``: the other's base style becomes a span (even when empty)."""
        offset = len(self.plain)
        if other.style:
            self.spans.append((offset, offset + len(other.plain), other.style))
        if other.spans:
            self.spans += [(s + offset, e + offset, style) for s, e, style in other.spans]
        self.plain += other.plain
        self.cells += other.cells
        if _joins(self.plain):
            self.cells = cell_width(self.plain)
        return self

    def __add__(self, other: Styled) -> Styled:
        """``Text + Text``: a copy with the other appended (nothing for an empty one)."""
        out = self.copy()
        return out.append_text(other) if other.plain else out

    def rstrip(self) -> None:
        """``Text.rstrip``: trailing whitespace removed, the spans cut to what is left."""
        stripped = self.plain.rstrip()
        if stripped != self.plain:
            end = len(stripped)
            gone = self.plain[end:]
            if gone.strip(" ") or _joins(stripped):
                self.cells = cell_width(stripped)
            else:
                self.cells -= len(gone)
            self.plain = stripped
            self.spans = [(s, min(e, end), style) for s, e, style in self.spans if s < end]

    def __getitem__(self, index: slice) -> Styled:
        """``Text[start:end]``: the base style kept, the spans cut to the slice."""
        start, stop, _ = index.indices(len(self.plain))
        spans = [
            (max(s, start) - start, min(e, stop) - start, style)
            for s, e, style in self.spans
            if min(e, stop) > max(s, start)
        ]
        plain = self.plain[start:stop]
        return Styled._make(plain, self.style, spans, cell_width(plain))

    def text(self) -> Text:
        """The Rich ``Text`` the same calls would have built."""
        return Text(self.plain, style=self.style, spans=[Span(*s) for s in self.spans])


class Plain(Protocol):
    """A column title: ``Styled`` or a Rich ``Text`` (the LaTeX writer plans with these)."""

    @property
    def plain(self) -> str: ...


@dataclass(slots=True)
class Line:
    atoms: list[Styled]

    @property
    def width(self) -> int:
        atoms = self.atoms
        if len(atoms) == 1:
            return atoms[0].cells
        return sum(a.cells for a in atoms) + max(len(atoms) - 1, 0)

    @property
    def min_width(self) -> int:
        atoms = self.atoms
        if len(atoms) <= 1:
            return atoms[0].cells if atoms else 0
        return max([atoms[0].cells] + [a.cells + CONTINUATION for a in atoms[1:]])


# build(row, column, width or None) -> the cell's lines; width None: as wide as it likes
CellBuilder = Callable[[int, int, int | None], list[Line]]


def wrap(line: Line, width: int) -> list[Styled]:
    """The atoms packed greedily into lines of at most ``width`` cells (an atom wider than
    that stands alone on its line)."""
    out: list[Styled] = []
    current: Styled | None = None
    for atom in line.atoms:
        if current is None:
            current = atom.copy()
        elif current.cells + 1 + atom.cells <= width:
            current.append(" ")
            current.append_text(atom)
        else:
            out.append(current)
            current = Styled._make(" " * CONTINUATION, "", [], CONTINUATION)
            current.append_text(atom)
    if current is not None:
        out.append(current)
    return out


def formula_atoms(text: str) -> list[str]:
    """Formula text cut where a line may break: before a top-level ``=``, ``+=``, ``+`` or
    ``←`` (outside brackets), so a term (``y_hat − y``) is never split:
    ``∂J/∂W1 = ∂J/∂z · xᵀ + λW1`` -> ``["∂J/∂W1", "= ∂J/∂z · xᵀ", "+ λW1"]``."""
    # the spaces at depth 0 cut the text: split at every space, then join again the pieces
    # whose space was inside brackets
    tokens: list[str] = text.split(" ")
    if "(" in text or "[" in text or "{" in text:  # else every space is at depth 0
        pieces, tokens = tokens, []
        depth = 0
        for piece in pieces:
            if depth > 0:
                tokens[-1] += " " + piece
            else:
                tokens.append(piece)
            for ch in piece:
                if ch in "([{":
                    depth += 1
                elif ch in ")]}":
                    depth = max(depth - 1, 0)
    atoms: list[str] = []
    for token in tokens:
        if not token:
            continue
        if atoms and token not in ("=", "+=", "+", "←", "≈"):
            atoms[-1] += " " + token
        else:
            atoms.append(token)
    return atoms


def words(text: Styled, keep: int = 0, sep: str = " ", keep_sep: bool = False) -> list[Styled]:
    """Prose split at ``sep`` into atoms (styles kept); the first ``keep`` characters (an
    indentation or a ``= `` prefix) stay with the first word; with ``keep_sep``, each atom
    keeps the separator's text before its space (``a,`` ``b``)."""
    out: list[Styled] = []
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


def _spaces(count: int) -> Styled:
    return Styled._make(" " * count, "", [], count)


def _pad(text: Styled, width: int) -> Styled:
    out = text.copy()
    gap = width - text.cells
    if gap > 0:
        out.append(" " * gap)
    return out


@dataclass
class Grid:
    """The decisions of a layout: which rows stay side by side, and the column widths."""

    widths: list[int]
    side: list[bool]  # per row: side by side (True) or stacked (False)
    # the head columns hold every row's head cells (but those let out): the titles line up
    # with the stacked rows' head lines even when no row is side by side
    lined_up: bool = False


def plan(
    titles: Sequence[Plain],
    cells: list[list[list[Line]]],
    width: int,
    head: Sequence[bool] | None = None,
) -> Grid:
    """Column widths that fit ``width``, and which rows must be stacked to get them.

    With ``head`` (the columns a stacked row keeps on its first line: Node, Equation, Shape),
    the plan below competes with plans whose head columns hold every head cell whole
    (``_aligned_plans``), so that a stacked row's head line lines up with the grid: the one
    whose rows take the fewest lines wins, a stacked row whose head line does not line up
    counting ``RAGGED_COST`` lines more (``_score``); the plan below on a tie.

    Rows are stacked one at a time while the narrowest grid of the others is too wide: the row
    whose removal narrows it most (only a row that alone sets some column's width can narrow
    it; ties go to the earlier row). Then the columns give up width, one cell at a time, from
    the one with the most to spare above its narrowest (the earlier one on a tie)."""
    n = len(titles)
    title_w = [cell_len(t.plain) for t in titles]
    natural: list[list[int]] = []
    minimal: list[list[int]] = []
    for row in cells:
        natural_row, minimal_row = [], []
        for cell in row:
            wide = narrow = 0
            for line in cell:
                wide = max(wide, line.width)
                narrow = max(narrow, line.min_width)
            natural_row.append(wide)
            minimal_row.append(narrow)
        natural.append(natural_row)
        minimal.append(minimal_row)
    room = width - GAP * (n - 1)
    side = _side_by_side(title_w, minimal, room)
    grid = Grid(widths=_widths(title_w, natural, minimal, side, room), side=side)
    if head is None or not any(head) or all(head):
        return grid
    # the plan that keeps stacked rows' head lines in line, where it reads better
    score, flawless = _score(grid, cells, natural, list(head))
    if flawless:  # no head line out of line, no cell wrapped: nothing to do better
        return grid
    best = grid
    for other in _aligned_plans(title_w, natural, minimal, list(head), room):
        if other.widths == grid.widths and other.side == grid.side:
            continue  # the same grid (a deep chain's backward table): scored already
        other_score, _ = _score(other, cells, natural, list(head))
        if other_score < score:
            best, score = other, other_score
    return best


def _widths(
    title_w: list[int],
    natural: list[list[int]],
    minimal: list[list[int]],
    side: list[bool],
    room: int,
    fixed: dict[int, int] | None = None,
) -> list[int]:
    """Column widths for the rows side by side, ``room`` cells in all where the cells allow:
    each column as wide as its widest cell (its title at least), giving up width down to its
    narrowest (``_shrink``); a column in ``fixed`` keeps the width given there."""
    fixed = fixed or {}
    shown = [r for r, s in enumerate(side) if s]
    widths: list[int] = []
    floor: list[int] = []
    for c, title in enumerate(title_w):
        if c in fixed:
            widths.append(fixed[c])
            floor.append(fixed[c])
        else:
            widths.append(max([title] + [natural[r][c] for r in shown]))
            floor.append(max([title] + [minimal[r][c] for r in shown]))
    return _shrink(widths, floor, sum(widths) - room)


# What a stacked row whose head line does not line up with the grid costs, in lines: a little
# more than a line. One long equation is better let out (its row reads as a line of its own)
# than every value squeezed under its row; a column squeezed narrower than most of its cells
# is worse than a few more lines.
RAGGED_COST = 1.25
# What each line a wrapped cell takes beyond its first costs, beyond the line itself: a term
# or a label moved under its line reads worse than a row stacked under its head.
WRAP_COST = 1
# How many rows with the widest head cells may be let out of the head columns' widths, and
# the fewest cells letting them out must free.
MAX_RAGGED = 8
MIN_FREED = 2


def _score(
    grid: Grid, cells: list[list[list[Line]]], natural: list[list[int]], head: list[bool]
) -> tuple[float, bool]:
    """The lines a grid's rows take, ``WRAP_COST`` more for each line a cell's line wraps onto,
    and ``RAGGED_COST`` for each stacked row whose head cells before the last are wider than
    their columns (its head line does not line up); and whether neither happens."""
    heads = [c for c, h in enumerate(head) if h]
    before_last = heads[:-1]
    total = 0.0
    flaws = 0
    for r, row in enumerate(cells):
        if grid.side[r]:
            height = wrapped = 0
            for c, (cell, w) in enumerate(zip(row, grid.widths, strict=True)):
                if natural[r][c] <= w:  # no line of it wraps
                    height = max(height, len(cell))
                    continue
                taken = sum(_height(line, w) for line in cell)
                height = max(height, taken)
                wrapped += taken - len(cell)
            total += height + WRAP_COST * wrapped
            flaws += wrapped
            continue
        total += 1 + sum(len(cell) for c, cell in enumerate(row) if not head[c])
        if any(natural[r][c] > grid.widths[c] for c in before_last):
            total += RAGGED_COST
            flaws += 1
    return total, flaws == 0


def _height(line: Line, width: int) -> int:
    """The lines ``wrap(line, width)`` gives, counted without making them."""
    atoms = line.atoms
    if len(atoms) <= 1 or line.width <= width:
        return 1
    count, used = 1, atoms[0].cells
    for atom in atoms[1:]:
        if used + 1 + atom.cells <= width:
            used += 1 + atom.cells
        else:
            count, used = count + 1, CONTINUATION + atom.cells
    return count


def _aligned_plans(
    title_w: list[int],
    natural: list[list[int]],
    minimal: list[list[int]],
    head: list[bool],
    room: int,
) -> Iterator[Grid]:
    """Grids whose head columns but the last hold every head cell whole, so that a stacked
    row's head line lines up: the first with every row's head cells, each next one with the
    rows that make some head column widest let out (stacked, their head line as wide as it
    needs), at most ``MAX_RAGGED`` rows; none where the other columns would not get their
    titles' width. A stacked row's last head cell ends its head line: it may be as wide as it
    likes, and only the grid's rows set its column's width."""
    n = len(title_w)
    heads = [c for c in range(n) if head[c]][:-1]
    rest = [c for c in range(n) if c not in heads]
    if not heads:
        return
    rows = range(len(natural))
    out = set[int]()  # rows let out of the head widths
    for _ in range(MAX_RAGGED + 1):
        kept = [r for r in rows if r not in out]
        head_w = {c: max([title_w[c]] + [natural[r][c] for r in kept]) for c in heads}
        left = room - sum(head_w.values())
        if left >= sum(title_w[c] for c in rest):
            sub = _side_by_side(
                [title_w[c] for c in rest],
                [[minimal[r][c] for c in rest] for r in kept],
                left,
                widest_shared=True,
            )
            side = [False] * len(natural)
            for r, fits in zip(kept, sub, strict=True):
                side[r] = fits
            widths = _widths(title_w, natural, minimal, side, room, fixed=head_w)
            yield Grid(widths=widths, side=side, lined_up=True)
        # let out the rows that set a head column's width, where that frees the most cells
        # (at least MIN_FREED: a name one letter wider than the rest stays in line)
        widest: tuple[int, int, list[int]] | None = None  # (cells freed, -rows, rows)
        for c in heads:
            top = max((natural[r][c] for r in kept), default=0)
            if top <= title_w[c]:
                continue
            group = [r for r in kept if natural[r][c] == top]
            below = max([title_w[c]] + [natural[r][c] for r in kept if natural[r][c] < top])
            key = (top - below, -len(group), group)
            if top - below >= MIN_FREED and (widest is None or key[:2] > widest[:2]):
                widest = key
        if widest is None or len(out) + len(widest[2]) > MAX_RAGGED:
            return
        out.update(widest[2])


def _side_by_side(
    title_w: list[int], minimal: list[list[int]], room: int, widest_shared: bool = False
) -> list[bool]:
    """Which rows stay side by side: rows stacked, one at a time, as ``plan`` says.

    Each column keeps the rows (still side by side) of each narrowest width, and its distinct
    widths in order, so that a step costs the columns' count, not the rows' (a deep chain's
    table at 80 columns stacks hundreds of rows out of a thousand)."""
    n = len(title_w)
    side = [True] * len(minimal)
    holders: list[dict[int, set[int]]] = [{} for _ in range(n)]
    for r, row in enumerate(minimal):
        for c, value in enumerate(row):
            holders[c].setdefault(value, set()).add(r)
    values = [sorted(h) for h in holders]  # ascending distinct widths of the side rows
    left = len(minimal)
    widest: list[int] = []  # the narrowest grid of the rows still side by side
    while left:
        widest = [max(title_w[c], values[c][-1]) if values[c] else title_w[c] for c in range(n)]
        if sum(widest) <= room:
            break
        # A row narrows the grid by what the columns it alone sets the width of give up.
        gain: dict[int, int] = {}
        first: int | None = None  # the earliest row that sets some column's width
        # else (``widest_shared``) the earliest of the rows that together set the column that
        # would give up most
        shared: tuple[int, int] | None = None  # (cells, row)
        for c in range(n):
            if not values[c] or values[c][-1] < title_w[c]:
                continue  # the title sets this column's width
            top = values[c][-1]
            rows = holders[c][top]
            earliest = min(rows)
            first = earliest if first is None else min(first, earliest)
            below = values[c][-2] if len(values[c]) > 1 else 0
            cells = top - max(below, title_w[c])
            if top > title_w[c] and len(rows) == 1:
                gain[earliest] = gain.get(earliest, 0) + cells
            elif cells > 0 and (shared is None or cells > shared[0]):
                shared = (cells, earliest)
        if first is None:
            break  # the titles alone are too wide: no row narrows the grid
        if gain:
            most = max(gain.values())
            chosen = min(r for r, g in gain.items() if g == most)
        else:
            chosen = first if shared is None or not widest_shared else shared[1]
        side[chosen] = False
        left -= 1
        for c, value in enumerate(minimal[chosen]):
            rows = holders[c][value]
            rows.discard(chosen)
            if not rows:
                del holders[c][value]
                del values[c][bisect_left(values[c], value)]
    # A row stacked early may fit the grid that the rows stacked after it left (a name one
    # character wider than the others, stacked before the long equation that forced the
    # squeeze): each goes back beside the others, in order, if it fits.
    if left and sum(widest) <= room:
        for r, row in enumerate(minimal):
            if not side[r]:
                wider = [max(w, v) for w, v in zip(widest, row, strict=True)]
                if sum(wider) <= room:
                    side[r], widest = True, wider
    return side


def _shrink(widths: list[int], floor: list[int], excess: int) -> list[int]:
    """``excess`` cells taken from the columns one at a time, each from the column with the
    most to spare above its floor (the earlier one on a tie), until none has any to spare; in
    steps of whole rounds over the columns that tie for the most."""
    widths = list(widths)
    n = len(widths)
    while excess > 0:
        spare = [widths[c] - floor[c] for c in range(n)]
        most = max(spare)
        if most <= 0:
            break
        tied = [c for c in range(n) if spare[c] == most]
        # the tied columns come down together to the next column's spare (or to none)
        level = max([s for s in spare if s < most] + [0])
        rounds = min(most - level, excess // len(tied))
        for c in tied:
            widths[c] -= rounds
        excess -= rounds * len(tied)
        if rounds < most - level:  # fewer cells left than tied columns: the earlier ones give
            for c in tied[:excess]:
                widths[c] -= 1
            break
    return widths


def grid_row(cells: list[list[Line]], widths: list[int]) -> list[Styled]:
    """The cells side by side, each line padded to its column's width (the last one not), as
    ``Text`` would join them: a piece's base style spans its padding too."""
    columns = []
    height = 0
    for cell, w in zip(cells, widths, strict=True):
        lines: list[Styled] = []
        for line in cell:
            if len(line.atoms) == 1:  # nothing to wrap (and the pieces are only read here)
                lines.append(line.atoms[0])
            else:
                lines += wrap(line, w)
        columns.append(lines)
        height = max(height, len(lines))
    last = len(columns) - 1
    out = []
    for i in range(height):
        parts: list[str] = []
        spans: list[tuple[int, int, str]] = []
        offset = width = 0
        for c, lines in enumerate(columns):
            if c:
                parts.append(_GAP)
                offset += GAP
                width += GAP
            if i < len(lines):
                piece = lines[i]
                plain = piece.plain
                width += piece.cells
                if c < last:
                    gap = widths[c] - piece.cells
                    if gap > 0:
                        plain += " " * gap
                        width += gap
                if piece.style:
                    spans.append((offset, offset + len(plain), piece.style))
                if piece.spans:
                    spans += [(s + offset, e + offset, style) for s, e, style in piece.spans]
            elif c < last:
                plain = " " * widths[c]
                width += widths[c]
            else:
                continue
            parts.append(plain)
            offset += len(plain)
        plain = "".join(parts)
        text = Styled._make(plain, "", spans, cell_width(plain) if _joins(plain) else width)
        text.rstrip()
        out.append(text)
    return out


_GAP = " " * GAP


def stacked_row(
    build: CellBuilder,
    r: int,
    titles: list[Styled],
    head: list[bool],
    head_widths: list[int],
    width: int,
) -> list[Styled]:
    """The head cells on one line, then each other cell under its title at full width."""
    n = len(titles)
    heads = [c for c in range(n) if head[c]]
    rest = [c for c in range(n) if not head[c]]
    out: list[Styled] = []
    if heads:
        cells = [build(r, c, None) for c in heads]
        natural = [max((line.width for line in cell), default=0) for cell in cells]
        widths = [max(head_widths[c], natural[i]) for i, c in enumerate(heads)]
        # the last head cell takes what is left of the width
        used = sum(widths[:-1]) + GAP * (len(widths) - 1)
        widths[-1] = max(width - used, 1)
        out += grid_row(cells, widths)
    indent = widths[0] + GAP if len(heads) > 1 else (CONTINUATION if heads else 0)
    label_w = max((titles[c].cells for c in rest), default=0)
    avail = width - indent - label_w - GAP
    below = avail < 24  # too narrow beside the label: the content goes under it
    if below:
        avail = width - indent - CONTINUATION
    for c in rest:
        lines: list[Styled] = []
        for cell_line in build(r, c, avail):
            lines += wrap(cell_line, avail)
        if not lines:
            continue
        label = titles[c]
        if below:
            out.append(_spaces(indent) + label)
            out += [_spaces(indent + CONTINUATION) + text for text in lines]
            continue
        for i, text in enumerate(lines):
            prefix = _spaces(indent)
            prefix.append_text(_pad(label, label_w) if i == 0 else _spaces(label_w))
            prefix.append(" " * GAP)
            prefix.append_text(text)
            prefix.rstrip()
            out.append(prefix)
    return out
