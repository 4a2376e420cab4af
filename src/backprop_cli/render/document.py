"""Markdown and LaTeX tables of a trace, to paste into a lesson, a blog post or slides.

The same tables as the terminal (forward, backward Step | Target | Upstream | Local | Global,
sums over several paths, updates) and the same options (``View``); every formula and value is
LaTeX math (``render/latex_math.py``): ``$…$`` in Markdown, inside ``tabular`` + ``booktabs`` in
LaTeX. Text is yielded as the steps stream by.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
from rich.text import Text

from .. import fmt
from ..engine import Anomaly, Step, Tracer
from ..errors import NumericalAnomaly
from ..i18n import Catalogue
from . import model
from .explain import Typeset, edge_sentence, update_sentence
from .latex_math import Untranslatable, name_to_latex, number_to_latex, to_latex
from .summary import Summary
from .table import anomaly_elements
from .view import View

# ---- values and formulas as LaTeX math (shared) ----------------------------------------------


def _num(x: float, precision: int) -> str:
    return number_to_latex(fmt.number(x, precision))


def value_math(value: np.ndarray, view: View, max_chars: int | None = None) -> str:
    """A scalar, ``[a, b]`` for a vector, a ``bmatrix`` for a matrix; a large tensor as its
    shape and statistics, as in the terminal (unless ``--full``)."""
    a = np.asarray(value, dtype=np.float64)
    p = view.precision
    if a.ndim == 0:
        return _num(float(a), p)
    too_large = a.size > fmt.SHOW_ELEMENTS or max(a.shape) > fmt.SHOW_SIDE or a.ndim > 2
    if max_chars is not None and not view.full:
        widest = max(len(row) for row in fmt.tensor(a, p, view.full).split("\n"))
        too_large = too_large or widest > max_chars
    if (too_large and not view.full) or a.ndim > 2:
        # the terminal's summary: words as \text, numbers as math
        t = Catalogue(view.lang)

        def text(words: str) -> str:
            # one statistic a line, as the terminal wraps them ("mean 0.1", "std 2")
            lines = words.replace("  ", "\n").split("\n")
            return r" \\ ".join(rf"\text{{{w}}}" if w.strip() else w for w in lines)

        shape = r"\times ".join(str(n) for n in a.shape)
        out = t.compose("tensor.head", text, shape=shape)
        finite = a[np.isfinite(a)]
        if finite.size == 0:
            return out + t.compose("tensor.no_finite", text)
        out += r" \\ " + t.compose(
            "tensor.stats",
            text,
            mean=_num(finite.mean(), p),
            std=_num(finite.std(), p),
            min=_num(finite.min(), p),
            max=_num(finite.max(), p),
        )
        if finite.size < a.size:
            out += r" \\ " + t.compose("tensor.non_finite", text, count=a.size - finite.size)
        return r"\begin{array}{@{}l@{}}" + out + r"\end{array}"
    if a.ndim == 1:
        return "[" + ", ".join(_num(x, p) for x in a) + "]"
    rows = [" & ".join(_num(x, p) for x in row) for row in a]
    return r"\begin{bmatrix}" + r" \\ ".join(rows) + r"\end{bmatrix}"


class _Format:
    """What differs between Markdown and LaTeX: math delimiters, escaping, table syntax."""

    def __init__(self, view: View):
        self.view = view
        self.t = Catalogue(view.lang)
        self.ts = Typeset(math=self.math, prose=self.prose)

    def formula(self, text: str) -> str | None:
        """LaTeX math for formula text, or ``None`` when it cannot be translated."""
        try:
            return to_latex(text)
        except Untranslatable:
            return None

    def math(self, text: str) -> str:
        tex = self.formula(text)
        return self.verbatim(text) if tex is None else self.inline(tex)

    def name(self, name: str) -> str:
        try:
            return self.inline(name_to_latex(name))
        except Untranslatable:
            # an op's intermediate value, "bn.μ", reads as math too
            tex = self.formula(name) if "." in name else None
            return self.verbatim(name) if tex is None else self.inline(tex)

    def equation_value(self, formula: str, value: np.ndarray) -> str:
        """``formula = value`` in one piece of math (the terminal's two lines)."""
        tex = self.formula(formula)
        if tex == value_math(value, self.view):  # a local gradient of 1: just "1"
            return self.inline(tex)
        if tex is None:
            return f"{self.verbatim(formula)} {self.inline('= ' + value_math(value, self.view))}"
        return self.inline(f"{tex} = {value_math(value, self.view)}")

    def text(self, key: str, **values: str) -> str:
        return self.t.compose(key, self.prose, **values)

    # format-specific
    line_break = " "

    def inline(self, tex: str) -> str:
        return f"${tex}$"

    def prose(self, text: str) -> str:
        raise NotImplementedError

    def verbatim(self, text: str) -> str:
        raise NotImplementedError

    def heading(self, level: int, text: str) -> str:
        raise NotImplementedError

    def table(
        self,
        header: Sequence[str],
        rows: Iterable[Sequence[str]],
        align: str = "",
        notes: Sequence[str] = (),
        kind: str = "",
    ) -> str:
        raise NotImplementedError

    def paragraph(self, text: str) -> str:
        return text + "\n\n"

    def begin(self, tracer: Tracer) -> str:
        return ""

    def end(self) -> str:
        return ""


class Markdown(_Format):
    """GitHub-flavoured Markdown. Math is written ``$`…`$``, the form GitHub and GitLab keep
    verbatim: inside plain ``$…$``, Markdown eats the backslashes of ``\\\\`` and ``\\,``."""

    line_break = "<br>"

    def inline(self, tex: str) -> str:
        return f"$`{tex}`$"

    def prose(self, text: str) -> str:
        return re.sub(r"([\\*_`<>\[\]])", r"\\\1", text)

    def verbatim(self, text: str) -> str:
        return f"`{text}`"

    def heading(self, level: int, text: str) -> str:
        return f"{'#' * level} {text}\n\n"

    def table(
        self,
        header: Sequence[str],
        rows: Iterable[Sequence[str]],
        align: str = "",
        notes: Sequence[str] = (),
        kind: str = "",
    ) -> str:
        align = align or "l" * len(header)
        marks = {"l": "---", "c": ":-:", "r": "--:"}
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join(marks[a] for a in align) + "|"]
        for row in rows:
            lines.append(
                "| " + " | ".join(c.replace("|", r"\|").replace("\n", " ") for c in row) + " |"
            )
        out = "\n".join(lines) + "\n\n"
        if notes:
            out += "".join(f"- {n}\n" for n in notes) + "\n"
        return out


LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "^": r"\^{}",
    "_": r"\_",
    "%": r"\%",
    "~": r"\~{}",
}
# Unicode in the catalogue's prose that pdfLaTeX cannot typeset as text: put it in math.
LATEX_PROSE_MATH = {
    "×": r"\times",
    "·": r"\cdot",
    "η": r"\eta",
    "λ": r"\lambda",
    "→": r"\to",
    "−": "-",
    "≤": r"\le",
    "ℓ": r"\ell",
    "…": r"\dots",
    "∂": r"\partial",
    "ᵀ": r"^\top",
    "σ": r"\sigma",
    "⊙": r"\odot",
}


# How many characters of the terminal's tables fit a line of \linewidth in a \small table: the
# terminal's layout (render/layout.py) plans the LaTeX tables at this width, so a row that would
# be stacked in an 72-column terminal is stacked on the page, and a value that would not fit is
# summarised. pdfLaTeX's digits are narrower than a terminal cell and matrices need column gaps,
# so one estimates the other well; a test compiles every shipped config and fails on any
# Overfull \hbox.
CHARS_PER_LINE = 64
# Stacked rows: the label column (Upstream, Local, …) and the content beside it.
LABEL_SHARE = 0.16
# What must be left on a page for a table's title to start there: the title and the column
# titles (~6 lines with their skips and rules), and the first row, a line of text for each of
# its lines (a matrix row in \small is taller than a line of text).
KEEP_LINES = 6
ROW_LINE_HEIGHT = 1.5
STEP_HEADING_LINES = 3  # a step's heading, with its skips
# A page of the article class holds ~43 lines: asking for more would break before every title.
MAX_KEEP_LINES = 36


class Latex(_Format):
    def prose(self, text: str) -> str:
        out = []
        for ch in text:
            if ch in LATEX_SPECIALS:
                out.append(LATEX_SPECIALS[ch])
            elif ch in LATEX_PROSE_MATH:
                out.append(f"${LATEX_PROSE_MATH[ch]}$")
            else:
                out.append(ch)
        return "".join(out)

    def verbatim(self, text: str) -> str:
        return r"\texttt{" + self.prose(text) + "}"

    def heading(self, level: int, text: str) -> str:
        command = {2: "subsection*", 3: "subsubsection*"}[level]
        return f"\\{command}{{{text}}}\n\n"

    @staticmethod
    def need_lines(lines: int) -> str:
        r"""A page break here unless ``lines`` lines are left on the page: the primitives of
        needspace.sty's ``\needspace``, written out so that a fragment needs no package."""
        n = f"{lines}\\baselineskip"
        return (
            f"\\par\\vskip 0pt plus {n}\\penalty-100\\vskip 0pt plus -{n}"
            f"\\vskip {n}\\penalty9999\\vskip -{n}\\vskip 0pt\\relax\n"
        )

    line_break = r"\newline "

    def table(
        self,
        header: Sequence[str],
        rows: Iterable[Sequence[str]],
        align: str = "",
        notes: Sequence[str] = (),
        kind: str = "",
    ) -> str:
        """A plain table (the summary and the anomaly report): short cells, left as they are."""
        align = align or "l" * len(header)
        lines = [r"\begin{longtable}{@{}" + align + "@{}}", r"\toprule"]
        lines += [" & ".join(header) + r" \\", r"\midrule", r"\endhead"]
        lines += [" & ".join(row) + r" \\" for row in rows]
        lines += [r"\bottomrule", r"\end{longtable}"]
        return "\n".join(lines) + "\n\n"

    def grid(
        self,
        header: Sequence[str],
        widths: Sequence[float],
        align: str,
        rows: Sequence[tuple[list[str] | None, str | None, str]],
    ) -> str:
        r"""A longtable whose columns share \linewidth as ``widths``; each row is side by side
        (its cells), or stacked (one block across all columns); ``note`` follows it."""
        n = len(header)
        spec = "".join(
            rf">{{\raggedright\arraybackslash}}p{{\dimexpr {w:.3f}\linewidth-2\tabcolsep\relax}}"
            if a != "c"
            else rf">{{\centering\arraybackslash}}p{{\dimexpr {w:.3f}\linewidth-2\tabcolsep\relax}}"
            for w, a in zip(widths, align, strict=True)
        )
        full = r"@{}p{\dimexpr\linewidth-2\tabcolsep\relax}@{}"
        lines = [r"\begingroup\small", r"\begin{longtable}{@{}" + spec + "@{}}", r"\toprule"]
        lines += [" & ".join(header) + r" \\", r"\midrule", r"\endhead"]
        for cells, block, note in rows:
            if cells is not None:
                lines.append(" & ".join(cells) + r" \\")
            else:
                lines.append(rf"\multicolumn{{{n}}}{{{full}}}{{{block}}} \\")
            if note:
                lines.append(rf"\multicolumn{{{n}}}{{{full}}}{{\footnotesize {note}}} \\")
            lines.append(r"\addlinespace")
        lines += [r"\bottomrule", r"\end{longtable}", r"\endgroup"]
        return "\n".join(lines) + "\n\n"

    def begin(self, tracer: Tracer) -> str:
        zh = self.view.lang == "zh"
        if self.view.standalone:
            engine = "xelatex" if zh else "pdflatex"
            return (
                f"% backprop trace of {os.path.basename(tracer.graph.source)}: compile with "
                f"{engine}\n"
                "\\documentclass{article}\n"
                "\\usepackage{amsmath,array,booktabs,longtable}\n"
                + ("\\usepackage{ctex}\n" if zh else "")
                + "\\begin{document}\n\n"
            )
        needs = "; with --lang zh: xelatex and \\usepackage{ctex}" if zh else ""
        return (
            f"% backprop trace: needs \\usepackage{{amsmath,array,booktabs,longtable}}{needs}\n\n"
        )

    def end(self) -> str:
        return "\\end{document}\n" if self.view.standalone else ""


# ---- the tables -------------------------------------------------------------------------------


def _inline(piece: model.Inline, f: _Format) -> str:
    if isinstance(piece, model.Formula):
        return f.math(piece.text)
    if isinstance(piece, model.Name):
        return f.name(piece.text)
    if isinstance(piece, model.Shape):
        if not piece.shape:
            return f.text("shape.scalar")
        return f.inline(r"\times ".join(str(n) for n in piece.shape))
    if isinstance(piece, model.Msg):
        return f.text(piece.key, **{k: _inline(v, f) for k, v in piece.values})
    return f.prose(str(piece))


def _piece(piece: model.Piece, style: str, f: _Format, max_chars: int | None) -> str:
    if isinstance(piece, model.Eq):
        tex = f.formula(piece.formula) if piece.formula is not None else None
        value = value_math(piece.value, f.view, max_chars)
        label = f"{f.math(piece.label)}: " if piece.label else ""
        if piece.formula is None:
            return label + f.inline(value)
        if tex is None:
            return f"{label}{f.verbatim(piece.formula)} {f.inline('= ' + value)}"
        if tex == value or (np.ndim(piece.value) == 0 and tex.endswith("= " + value)):
            return label + f.inline(tex)
        if np.ndim(piece.value) > 0:  # the value on a line of its own where lines can break
            return label + f.inline(tex) + f.line_break + f.inline("= " + value)
        return label + f.inline(f"{tex} = {value}")
    if isinstance(piece, model.Formula) and style == "step":
        return fmt.circled(int(piece.text)) if isinstance(f, Markdown) else piece.text
    return _inline(piece, f)


def _notes(row: model.Row, f: _Format, tracer: Tracer) -> list[str]:
    out = []
    for note in row.notes:
        if note.edge is not None:
            out.append(edge_sentence(note.edge, tracer, f.t, f.ts, f.view.precision))
        elif note.update is not None:
            out.append(update_sentence(note.update, f.t, f.ts, f.view.precision))
    return out


def latex_table(
    table: model.Table, f: Latex, tracer: Tracer, lead: str = "", lead_lines: int = 0
) -> str:
    """The terminal's layout, planned at CHARS_PER_LINE: side-by-side rows share the columns as
    the plan's widths do; a stacked row is its head cells, then each other cell under its title."""
    from . import layout
    from .table import _Typesetter

    ts = _Typesetter(f.view, CHARS_PER_LINE)
    titles = [Text(ts.t(c.key)) for c in table.columns]
    head = [c.head for c in table.columns]
    natural = [[ts.cell(cell, None) for cell in row.cells] for row in table.rows]
    grid = layout.plan(titles, natural, CHARS_PER_LINE)
    # a little more than the terminal's share for short columns: a title in roman letters is
    # wider than as many digits
    padded = [w + layout.GAP + 2 for w in grid.widths]
    widths = [w / sum(padded) for w in padded]
    stacked_chars = int(CHARS_PER_LINE * (1 - LABEL_SHARE)) - 4
    joiner = f.line_break if f.view.lang != "zh" else ""
    rows: list[tuple[list[str] | None, str | None, str]] = []
    for r, row in enumerate(table.rows):
        note = joiner.join(_notes(row, f, tracer))
        if grid.side[r]:
            cells = [
                f.line_break.join(_piece(p, cell.style, f, grid.widths[c]) for p in cell.pieces)
                for c, cell in enumerate(row.cells)
            ]
            rows.append((cells, None, note))
            continue
        heads = [
            " ".join(_piece(p, cell.style, f, None) for p in cell.pieces)
            for c, cell in enumerate(row.cells)
            if head[c]
        ]
        lines = [r"\quad ".join(h for h in heads if h)]
        body = []
        for c, cell in enumerate(row.cells):
            if head[c] or not cell.pieces:
                continue
            content = f.line_break.join(
                _piece(p, cell.style, f, stacked_chars) for p in cell.pieces
            )
            body.append(f"{f.text(table.columns[c].key)} & {content}" + r" \\")
        if body:
            lines.append(
                r"\par\begin{tabular}{@{\quad}p{"
                + f"{LABEL_SHARE:.2f}"
                + r"\linewidth}@{}p{\dimexpr "
                + f"{1 - LABEL_SHARE:.2f}"
                + r"\linewidth-1em\relax}@{}}"
                + " ".join(body)
                + r"\end{tabular}"
            )
        rows.append((None, "".join(lines), note))
    header = [f.text(c.key) for c in table.columns]
    align = "".join(c.align for c in table.columns)
    out = ""
    if table.title is None:
        out += lead
    else:
        # the title, the column titles and the first row go on one page: longtable may break
        # the page right after the title, which then stands alone at the foot of a page
        first = (
            (
                max(len(lines) for lines in natural[0])
                if grid.side[0]
                else 1 + sum(len(lines) for c, lines in enumerate(natural[0]) if not head[c])
            )
            if table.rows
            else 0
        )
        # a heading just before (the step's) goes with them: a break between it and the
        # title would leave it alone at the foot of the page instead
        need = KEEP_LINES + lead_lines + round(first * ROW_LINE_HEIGHT)
        out += f.need_lines(min(need, MAX_KEEP_LINES))
        out += lead + f.heading(3, _inline(table.title, f))
    out += f.grid(header, widths, align, rows)
    for caption in table.captions:
        out += f.paragraph(_inline(caption, f))
    return out


def table_text(table: model.Table, f: _Format, tracer: Tracer) -> str:
    if isinstance(f, Latex):
        return latex_table(table, f, tracer)
    view = f.view
    header = [f.text(c.key) for c in table.columns]
    rows = [
        [
            f.line_break.join(_piece(p, cell.style, f, None) for p in cell.pieces)
            for c, cell in enumerate(row.cells)
        ]
        for row in table.rows
    ]
    notes = []
    for i, row in enumerate(table.rows, 1):
        sentences = []
        for note in row.notes:
            if note.edge is not None:
                sentences.append(edge_sentence(note.edge, tracer, f.t, f.ts, view.precision))
            elif note.update is not None:
                sentences.append(update_sentence(note.update, f.t, f.ts, view.precision))
        number = (
            fmt.circled(i) + " " if isinstance(f, Markdown) and table.kind == "backward" else ""
        )
        joiner = "" if view.lang == "zh" else " "
        notes.append(number + joiner.join(sentences) if sentences else "")
    align = "".join(c.align for c in table.columns)
    out = f.heading(3, _inline(table.title, f)) if table.title is not None else ""
    out += f.table(header, rows, align, notes if any(notes) else (), table.kind)
    for caption in table.captions:
        out += f.paragraph(_inline(caption, f))
    return out


def step_text(step: Step, tracer: Tracer, f: _Format) -> str:
    view = f.view
    heading = f.heading(2, _inline(model.heading(step, tracer, view), f))
    tables = model.step_tables(step, tracer, view)
    if isinstance(f, Latex) and tables:  # the step's heading stays with its first table
        first = latex_table(tables[0], f, tracer, lead=heading, lead_lines=STEP_HEADING_LINES)
        return first + "".join(table_text(table, f, tracer) for table in tables[1:])
    return heading + "".join(table_text(table, f, tracer) for table in tables)


def summary_text(summary: Summary, tracer: Tracer, f: _Format) -> str:
    J = f.name(tracer.objective)
    out = [f.heading(2, f.text(summary.title_key, objective=J, steps=str(summary.total)))]
    rows = [
        [f.text(key), str(point.step), f.inline(_num(point.value, f.view.precision))]
        for key, point in summary.rows()
    ]
    out.append(f.table([f.text("col.which"), f.text("col.step"), J], rows, "lrr"))
    if isinstance(f, Markdown):  # pdfLaTeX has no glyphs for the sparkline's blocks
        spark = f.verbatim(summary.sparkline())
        out.append(f.paragraph(f.text("summary.sparkline", objective=J, sparkline=spark)))
        for line in summary.legend(f.text, lambda x: f.inline(_num(x, f.view.precision)), J):
            out.append(f.paragraph(line))
    return "".join(out)


def anomaly_text(anomaly: Anomaly, f: _Format) -> str:
    """Where the first non-finite value appeared (the terminal's anomaly report)."""
    value = np.asarray(anomaly.value)
    edge = f" → {anomaly.input}" if anomaly.input else ""
    rows = [
        [f.text("col.node"), f.verbatim(anomaly.node + edge)],
        [f.text("col.equation"), f.math(anomaly.equation)],
        [f.text("anomaly.not_finite"), f.verbatim(anomaly.quantity)],
    ]
    if value.ndim:
        rows.append([f.text("anomaly.elements"), f.prose(anomaly_elements(anomaly, f.t))])
    rows.append([f.text("col.value"), f.inline(value_math(value, f.view))])
    for label, v in anomaly.inputs:
        rows.append(
            [
                f.text("anomaly.input", name=f.verbatim(label)),
                f.inline(value_math(np.asarray(v), f.view)),
            ]
        )
    heading = f.text(
        "anomaly.heading", step=str(anomaly.step), pass_name=f.text(f"anomaly.pass.{anomaly.pass_}")
    )
    return (
        f.heading(2, heading)
        + f.table([f.prose(""), f.prose("")], rows, "ll")
        + f.paragraph(f.text("anomaly.note.document"))
    )


def render(steps: Iterable[Step], tracer: Tracer, view: View, kind: str) -> Iterator[str]:
    """The document in pieces, one per step as it is traced, then the summary. The preamble
    goes out with the first piece: an error before any step (exit 2) leaves stdout empty."""
    f: _Format = Markdown(view) if kind == "markdown" else Latex(view)
    pending = [f.begin(tracer) or ""]

    def piece(text: str) -> str:
        head, pending[0] = pending[0], ""
        return head + text

    summary = Summary(view.total)
    try:
        for step in steps:
            summary.add(step)
            if view.shows(step.step):
                yield piece(step_text(step, tracer, f))
    except NumericalAnomaly as exc:  # the steps before it are out; report it, then stop
        yield piece(anomaly_text(exc.anomaly, f) + (f.end() or ""))
        raise
    tail = summary_text(summary, tracer, f) if view.summarises(summary.seen) else ""
    text = piece(tail + (f.end() or ""))
    if text:
        yield text
