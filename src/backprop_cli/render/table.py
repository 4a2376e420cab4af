"""The terminal's tables of a trace (Rich): the tables of ``render/model.py``, laid out by
``render/layout.py`` so that nothing is split mid-row or mid-token at any width.

Cells holding NaN or ±Inf (traced with ``--allow-nonfinite``) are marked with ⚠, except the −∞
an op that masks puts there by design (causal_mask's), written −∞. A trace stopped
by a numerical anomaly ends with a report of where it happened.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.rule import Rule
from rich.segment import Segment
from rich.text import Span, Text

from .. import collector, fmt
from ..engine import Anomaly, Step, Tracer
from ..errors import NumericalAnomaly
from ..graph import Graph
from ..i18n import Catalogue
from ..ops import OPS, local_text, shape_text
from . import layout, model
from .layout import Line, Styled
from .model import STATE_NAMES
from .summary import Summary
from .view import View

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["STATE_NAMES", "anomaly_elements", "render", "render_step"]


def _rich_table(**options: Any) -> Table:
    """A Rich table, for the summary, the anomaly report, the graph and the ops: the step
    tables are laid out here and need none, and rich.table (with fractions and decimal, which
    it imports) costs ~9 ms of a 0.3 s start."""
    from rich import box
    from rich.table import Table

    return Table(box=box.SIMPLE_HEAD, **options)


WARNING = " ⚠"
WARNING_STYLE = "bold red"


class _Typesetter:
    """Pieces of the table model as terminal lines, for one view and width."""

    def __init__(self, view: View, width: int):
        self.view = view
        self.width = width
        self.t = Catalogue(view.lang)
        self.summarised = False

    def inline(self, piece: model.Inline) -> str:
        if isinstance(piece, (model.Formula, model.Name)):
            return piece.text
        if isinstance(piece, model.Shape):
            return shape_text(piece.shape) if piece.shape else self.t("shape.scalar")
        if isinstance(piece, model.Msg):
            return self.message(piece)
        return str(piece)

    def message(self, msg: model.Msg) -> str:
        return self.t(msg.key, **{k: self.inline(v) for k, v in msg.values})

    def value_lines(
        self, value: np.ndarray, width: int | None, minus_infinity: str = "-inf"
    ) -> list[str]:
        """A tensor's rows; summarised when its widest row does not fit ``width``."""
        p, full = self.view.precision, self.view.full
        if value.ndim == 0 and minus_infinity == "-inf":  # what fmt.tensor writes for a scalar
            rows = [fmt.number(float(value), p)]
        else:
            rows = fmt.tensor(value, p, full, self.t, minus_infinity).split("\n")
        if width is not None and not full and max(len(r) for r in rows) > width - 2:
            self.summarised = True
            return fmt.summary(
                np.asarray(value, dtype=np.float64), p, self.t, with_corners=True
            ).split("\n")
        return rows

    def lines(self, piece: model.Piece, style: str, width: int | None) -> list[Line]:
        if isinstance(piece, model.Eq):
            return self.eq_lines(piece, width)
        if isinstance(piece, model.Formula) and style == "step":
            return [Line([Styled(fmt.circled(int(piece.text)))])]
        if isinstance(piece, model.Formula):
            atoms = layout.formula_atoms(piece.text)
            return [Line([Styled(a, "bold" if piece.bold else "") for a in atoms])]
        if isinstance(piece, model.Name):
            return [Line([Styled(piece.text, "cyan")])]
        if isinstance(piece, model.Shape):
            return [Line([Styled(self.inline(piece))])]
        text = Styled(self.message(piece), "dim" if style == "dim" or piece.dim else "")
        return [Line(layout.words(text))]

    def eq_lines(self, eq: model.Eq, width: int | None) -> list[Line]:
        value = np.asarray(eq.value)
        finite = not eq.flagged  # a mask's intended −∞ is no anomaly: written −∞, unmarked
        intended = eq.intended is not None and finite and bool(eq.intended.any())
        out: list[Line] = []
        head: list[Styled] = []
        if eq.label:
            head.append(Styled(eq.label + ":", "dim"))
        formula = eq.formula
        if formula is not None:
            head += [Styled(a, "bold") for a in layout.formula_atoms(formula)]
        rows = self.value_lines(
            value, None if width is None else width - 2, "−∞" if intended else "-inf"
        )
        if (
            formula is not None
            and value.ndim == 0
            and (rows == [formula] or formula.endswith(" = " + rows[0]))
        ):
            rows = []  # a local gradient of 1 is "1", not "1 = 1"
        style = "" if finite else WARNING_STYLE
        if head and value.ndim == 0 and len(rows) == 1:  # a number goes on the formula's line
            text = Styled("= " + rows[0], style)
            if not finite:
                text.append(WARNING)
            return [Line([*head, text])]
        if head:
            out.append(Line(head))
        summary = rows and not rows[0].startswith("[") and value.ndim > 0
        for i, row in enumerate(rows):
            prefix = ("= " if i == 0 else "  ") if formula is not None else ""
            text = Styled(prefix + row, style)
            if not finite and i == len(rows) - 1:
                text.append(WARNING)
            # a matrix row stays whole; the lines of a summary may wrap between words
            # a summary's statistics ("mean 0.1", "std 2") wrap as pairs
            out.append(Line(layout.words(text, keep=len(prefix), sep="  ") if summary else [text]))
        return out

    def cell(self, cell: model.Cell, width: int | None) -> list[Line]:
        out: list[Line] = []
        for piece in cell.pieces:
            out += self.lines(piece, cell.style, width)
        return out

    def table(self, table: model.Table) -> list[Styled]:
        titles = [Styled(self.t(c.key), "bold") for c in table.columns]
        head = [c.head for c in table.columns]
        natural = [[self.cell(cell, None) for cell in row.cells] for row in table.rows]
        grid = layout.plan(titles, natural, self.width, head)
        lines: list[Styled] = []
        if table.title is not None:
            # a long title (an optimiser's settings) wraps after a comma, between settings
            title = Styled(self.message(table.title), "bold")
            lines += layout.wrap(Line(layout.words(title, sep=", ", keep_sep=True)), self.width)
        if table.header and (any(grid.side) or grid.lined_up):
            header = layout.grid_row([[Line([t])] for t in titles], grid.widths)
            lines += header
            total = sum(grid.widths) + layout.GAP * (len(titles) - 1)
            lines.append(Styled("─" * total))

        def build(r: int, c: int, width: int | None) -> list[Line]:
            return self.cell(table.rows[r].cells[c], width)

        for r, _row in enumerate(table.rows):
            if r and table.spaced:
                lines.append(Styled(""))
            if grid.side[r]:
                lines += layout.grid_row(natural[r], grid.widths)
            else:
                lines += layout.stacked_row(build, r, titles, head, grid.widths, self.width)
        if table.captions and table.spaced:
            lines.append(Styled(""))
        for caption in table.captions:
            text = Styled(self.message(caption), "dim")
            lines += layout.wrap(Line(layout.words(text)), self.width)
        return lines

    def notes(self, sentences: list[str]) -> list[Styled]:
        out: list[Styled] = []
        for sentence in sentences:
            out += layout.wrap(Line(layout.words(Styled(sentence, "italic"))), self.width)
        return out


class Lines:
    """Laid-out lines, printed as Rich prints a ``Group`` of their ``Text`` (each with
    ``no_wrap`` and ``overflow="ignore"``: the layout already fits them), to the same segments.

    Rich turns each such ``Text`` into segments through its wrapping machinery, which costs more
    than laying the line out did. A console that writes no styles (a pipe, ``NO_COLOR``) gets
    the plain line; one that does gets the segments of ``Text.render``, which is what the wrap
    comes down to for a line without a tab or a newline. A line wider than the console (a
    tensor shown whole) keeps Rich's segments either way, as Rich crops it segment by segment.
    With ``rich = True`` (the tests' reference), the lines go through Rich as ``Text``."""

    rich = False

    def __init__(self, lines: list[Styled]):
        self.lines = lines

    def texts(self) -> list[Text]:
        return [_whole(line) for line in self.lines]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.rich:
            yield from self.texts()
            return
        plain = console.color_system is None and not console.record
        limit = min(console.width, options.max_width)
        for line in self.lines:
            text = line.plain
            if "\n" in text or "\t" in text:  # Rich splits lines and expands tabs
                yield _whole(line)
            elif plain and line.cells <= limit:
                yield _Measured.of(text, line.cells)
                yield _NEWLINE
            else:  # as Text.__rich_console__ joins its one line: the base style as a span
                spans = [Span(0, len(text), line.style)] if line.style else []
                spans += [Span(*span) for span in line.spans]
                yield from Text(text, spans=spans).render(console, end="\n")


def _whole(line: Styled) -> Text:
    """A laid-out line as Rich ``Text`` that Rich prints whole: the layout has fitted it."""
    text = line.text()
    text.no_wrap = True
    text.overflow = "ignore"
    return text


_NEWLINE = Segment("\n")


class _Measured(Segment):
    """A segment that knows its width: Rich measures each line it prints (to crop it to the
    console's width), and the layout has measured these already."""

    cells: int

    @classmethod
    def of(cls, text: str, cells: int) -> _Measured:
        segment = cls(text)
        segment.cells = cells
        return segment

    @property
    def cell_length(self) -> int:
        return self.cells


def heading(step: Step, tracer: Tracer, view: View) -> str:
    ts = _Typesetter(view, 0)
    return ts.message(model.heading(step, tracer, view))


def render_step(step: Step, tracer: Tracer, view: View, width: int) -> RenderableType:
    with collector.paused():  # the layout makes no reference cycles
        return _render_step(step, tracer, view, width)


def _render_step(step: Step, tracer: Tracer, view: View, width: int) -> RenderableType:
    ts = _Typesetter(view, width)
    title = Text(heading(step, tracer, view), style="bold")
    if not np.isfinite(step.objective):
        title.append(WARNING, style=WARNING_STYLE)
    parts: list[RenderableType] = [Rule(title, align="left")]
    t = ts.t
    for table in model.step_tables(step, tracer, view):
        lines = ts.table(table)
        if view.explain:
            # imported here: a cold start without --explain does not pay for it
            from .explain import PLAIN, edge_sentence, update_sentence

            sentences = []
            for i, row in enumerate(table.rows, 1):
                for note in row.notes:
                    if note.edge is not None:
                        number = fmt.circled(note.edge.info.index if view.view == "edges" else i)
                        sentence = edge_sentence(note.edge, tracer, t, PLAIN, view.precision)
                        sentences.append(f"{number} {sentence}")
                    elif note.update is not None:
                        sentences.append(update_sentence(note.update, t, PLAIN, view.precision))
            if sentences:
                lines += [Styled(""), *ts.notes(sentences)]
        parts += [Text(""), Lines(lines)]
    if ts.summarised:
        said = Styled(t("layout.summarised", width=width), "dim")
        parts += [Text(""), Lines(layout.wrap(Line(layout.words(said)), width))]
    parts.append(Text(""))
    return Group(*parts)


def summary_block(summary: Summary, tracer: Tracer, style: View) -> RenderableType:
    t = Catalogue(style.lang)
    J, p = tracer.objective, style.precision
    table = _rich_table(
        title=t(summary.title_key, objective=J, steps=summary.total),
        title_justify="left",
        show_edge=False,
    )
    table.add_column(t("col.which"))
    table.add_column(t("col.step"), justify="right")
    table.add_column(J, justify="right")
    for key, point in summary.rows():
        table.add_row(t(key), str(point.step), fmt.number(point.value, p))
    line = t("summary.sparkline", objective=J, sparkline=summary.sparkline())
    legend = summary.legend(t, lambda x: fmt.number(x, p), J)
    return Group(Rule(style="dim"), table, Text(""), Text("\n".join([line, *legend])))


def render(
    steps: Iterable[Step], tracer: Tracer, style: View, width: int = 100
) -> Iterator[RenderableType]:
    """The tables of each step shown (``View.shows``) as it is traced, then, for a run of
    several steps, the summary of the objective. A numerical anomaly is reported after the
    steps before it, then raised again."""
    summary = Summary(style.total)
    try:
        for step in steps:
            summary.add(step)
            if style.shows(step.step):
                yield render_step(step, tracer, style, width)
    except NumericalAnomaly as exc:
        yield anomaly_report(exc.anomaly, style)
        raise
    if style.summarises(summary.seen):
        yield summary_block(summary, tracer, style)


def _value(value: np.ndarray, style: View, t: Catalogue | None = None) -> str | Text:
    """A tensor's text; marked when it holds NaN or ±Inf."""
    text = fmt.tensor(value, style.precision, style.full, t)
    if np.isfinite(value).all():
        return text
    return Text(text + WARNING, style=WARNING_STYLE)


def anomaly_report(anomaly: Anomaly, style: View) -> RenderableType:
    """Where the first non-finite value appeared, which elements, and what went into it."""
    t = Catalogue(style.lang)
    heading = Text(
        t("anomaly.heading", step=anomaly.step, pass_name=t(f"anomaly.pass.{anomaly.pass_}")),
        style=WARNING_STYLE,
    )
    table = _rich_table(show_header=False, show_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    edge = f" → {anomaly.input}" if anomaly.input else ""
    table.add_row(t("col.node"), f"{anomaly.node}{edge}")
    table.add_row(t("col.equation"), anomaly.equation)
    table.add_row(t("anomaly.not_finite"), anomaly.quantity)
    value = np.asarray(anomaly.value)
    if value.ndim:
        table.add_row(t("anomaly.elements"), anomaly_elements(anomaly, t))
    table.add_row(t("col.value"), _value(value, style, t))
    for label, v in anomaly.inputs:
        table.add_row(
            t("anomaly.input", name=STATE_NAMES.get(label, label)), _value(np.asarray(v), style, t)
        )
    note = Text(t("anomaly.note"), style="dim")
    return Group(Rule(heading, align="left"), table, Text(""), note)


def anomaly_elements(anomaly: Anomaly, t: Catalogue) -> str:
    """``1 of 2 (1 inf): [0] inf``: how many elements are not finite, and the first ones."""
    counts = ", ".join(f"{n} {kind}" for kind, n in anomaly.counts.items() if n)
    listed = ", ".join(f"[{', '.join(map(str, i))}] {v}" for i, v in anomaly.elements())
    bad = sum(anomaly.counts.values())
    more = ", …" if bad > len(anomaly.elements()) else ""
    return t(
        "anomaly.count",
        bad=bad,
        size=np.asarray(anomaly.value).size,
        counts=counts,
        elements=listed + more,
    )


def graph_summary(graph: Graph) -> RenderableType:
    """What ``backprop validate`` prints: the graph after expansion and shape inference."""
    tensors = _rich_table(title="Tensors", title_justify="left", show_edge=False)
    for column in ("Name", "Kind", "Shape"):
        tensors.add_column(column, no_wrap=column != "Kind")
    for t in graph.tensors.values():
        kind = t.kind if t.trainable or t.kind == "data" else "param (frozen)"
        tensors.add_row(t.name, kind, shape_text(t.value.shape))
    nodes = _rich_table(title="Graph", title_justify="left", show_edge=False)
    nodes.add_column("Node", no_wrap=True)
    nodes.add_column("Op", no_wrap=True)
    nodes.add_column("Equation")
    nodes.add_column("Shape", no_wrap=True)
    for n in graph.nodes:
        nodes.add_row(n.name, n.op.name, n.equation, shape_text(n.shape))
    opt = graph.optimizer
    footer = Text(
        f"objective {graph.objective} · optimizer {opt.name}, η = "
        f"{fmt.number(opt.lr, 6)} · {graph.steps} step{'s' * (graph.steps != 1)}"
    )
    return Group(tensors, Text(""), nodes, Text(""), footer)


# Sizes and option values that stand for their symbols in `backprop ops`: each op's local
# gradient text is written for these shapes, then the sentinels are replaced by the names the
# README and the op summaries use (n elements, B examples, exponent p).
_N, _ROWS, _B, _P = 9967, 9949, 9931, 9907
_SYMBOLS = {
    str(_P - 1): "(p − 1)",
    str(_P): "p",
    str(_ROWS * _B): "n",
    str(_N): "n",
    str(_B): "B",
}


def _general(text: str) -> str:
    for sentinel, symbol in _SYMBOLS.items():
        text = text.replace(sentinel, symbol)
    return text


def op_rule(op: Any) -> list[str]:
    """The op's local gradient for each input, in general form and in the variable names of
    its summary (``a``, ``b``; ``z`` for the activations)."""
    count = 2 if op.arity is None else op.arity
    unary = op.arity == 1
    var = "z" if unary and re.search(r"\bz\b", op.summary) else "a"
    names = list(op.inputs) or ([var] if unary else ["a", "b", "c"][:count])
    # a batch of B examples (columns) for the losses, n elements for the rest
    batch = op.name.endswith("cross_entropy")
    shape: tuple[int, ...] = (_ROWS, _B) if batch else (_N,)
    shapes: list[tuple[int, ...]] = [shape] * count
    if op.name == "softmax_cross_entropy":
        shapes = [(_ROWS, _B), (_ROWS, _B)]
    options: dict[str, Any] = {k: o.default for k, o in op.options.items()}
    if "exponent" in op.options:
        options["exponent"] = float(_P)
    for k, o in op.options.items():
        if o.required and k != "exponent":
            options[k] = 1.0
    if "shape" in op.options:
        options["shape"] = shape
    out = []
    for pos in range(count):
        try:
            text = _general(local_text(op, pos, "out", names, shapes, options))
        except (KeyError, ValueError, IndexError, TypeError):
            text = "see the summary"
        out.append(f"∂/∂{names[pos]}: {text}")
    return out


def ops_table(only: Collection[str] | None = None) -> Table:
    """What ``backprop ops`` prints: the op table, as the user writes and reads it (the ops
    named in ``only``, in the table's order, when given)."""
    table = _rich_table(title="Ops", title_justify="left", show_edge=False, show_lines=True)
    table.add_column("Op", style="cyan", no_wrap=True)
    table.add_column("Computes")
    table.add_column("Options")
    table.add_column("Local gradient")
    for op in OPS.values():
        if only is not None and op.name not in only:
            continue
        opts = ", ".join(
            f"{k}" + ("" if o.required or o.default is None else f" = {o.default}")
            for k, o in op.options.items()
        )
        summary = op.summary + (f"\nkink: {op.kink}" if op.kink else "")
        table.add_row(op.name, summary, opts, "\n".join(op_rule(op)))
    return table
