"""Markdown and LaTeX tables of a trace, to paste into a lesson, a blog post or slides.

The same tables as the terminal (forward, backward Step | Target | Upstream | Local | Global,
sums over several paths, updates) and the same options (``View``); every formula and value is
LaTeX math (``render/latex_math.py``): ``$…$`` in Markdown, inside ``tabular`` + ``booktabs`` in
LaTeX. Text is yielded as the steps stream by.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from .. import fmt
from ..engine import Anomaly, Step, Tracer
from ..errors import NumericalAnomaly
from ..i18n import Catalogue
from .explain import Typeset, edge_sentence, update_sentence
from .latex_math import Untranslatable, name_to_latex, number_to_latex, to_latex
from .summary import Summary
from .table import STATE_NAMES, anomaly_elements
from .view import View

# ---- values and formulas as LaTeX math (shared) ----------------------------------------------


def _num(x: float, precision: int) -> str:
    return number_to_latex(fmt.number(x, precision))


def value_math(value: np.ndarray, view: View) -> str:
    """A scalar, ``[a, b]`` for a vector, a ``bmatrix`` for a matrix; a large tensor as its
    shape and statistics, as in the terminal (unless ``--full``)."""
    a = np.asarray(value, dtype=np.float64)
    p = view.precision
    if a.ndim == 0:
        return _num(a, p)
    too_large = a.size > fmt.SHOW_ELEMENTS or max(a.shape) > fmt.SHOW_SIDE or a.ndim > 2
    if (too_large and not view.full) or a.ndim > 2:
        # the terminal's summary: words as \text, numbers as math
        t = Catalogue(view.lang)

        def text(words: str) -> str:
            words = words.replace("\n", "; ")
            return rf"\text{{{words}}}" if words.strip() else words

        shape = r"\times ".join(str(n) for n in a.shape)
        out = t.compose("tensor.head", text, shape=shape)
        finite = a[np.isfinite(a)]
        if finite.size == 0:
            return out + t.compose("tensor.no_finite", text)
        out += text("; ") + t.compose(
            "tensor.stats",
            text,
            mean=_num(finite.mean(), p),
            std=_num(finite.std(), p),
            min=_num(finite.min(), p),
            max=_num(finite.max(), p),
        )
        if finite.size < a.size:
            out += text("; ") + t.compose("tensor.non_finite", text, count=a.size - finite.size)
        return out
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
            return self.verbatim(name)

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
    def inline(self, tex: str) -> str:
        return f"${tex}$"

    def prose(self, text: str) -> str:
        raise NotImplementedError

    def verbatim(self, text: str) -> str:
        raise NotImplementedError


class Markdown(_Format):
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

    def paragraph(self, text: str) -> str:
        return text + "\n\n"

    def begin(self, tracer: Tracer) -> str:
        return ""

    def end(self) -> str:
        return ""


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

    def table(
        self,
        header: Sequence[str],
        rows: Iterable[Sequence[str]],
        align: str = "",
        notes: Sequence[str] = (),
    ) -> str:
        align = align or "l" * len(header)
        lines = [
            r"\begin{tabular}{" + align + "}",
            r"\toprule",
            " & ".join(header) + r" \\",
            r"\midrule",
        ]
        notes = list(notes)
        for i, row in enumerate(rows):
            lines.append(" & ".join(c.replace("\n", " ") for c in row) + r" \\")
            if notes and i < len(notes) and notes[i]:
                lines.append(
                    rf"\multicolumn{{{len(header)}}}{{p{{0.8\textwidth}}}}"
                    rf"{{\footnotesize {notes[i]}}} \\"
                )
        lines += [r"\bottomrule", r"\end{tabular}"]
        return "\n".join(lines) + "\n\n"

    def paragraph(self, text: str) -> str:
        return text + "\n\n"

    def begin(self, tracer: Tracer) -> str:
        zh = "; with --lang zh: xelatex and \\usepackage{ctex}" if self.view.lang == "zh" else ""
        return f"% backprop trace: needs \\usepackage{{amsmath,booktabs}}{zh}\n\n"

    def end(self) -> str:
        return ""


# ---- the tables -------------------------------------------------------------------------------


def _kind(kind: str, trainable: bool, t: Catalogue) -> str:
    return t("kind.data") if kind == "data" else t("kind.param" if trainable else "kind.frozen")


def _shape(shape: tuple[int, ...], f: _Format) -> str:
    return f.inline(r"\times ".join(str(n) for n in shape)) if shape else f.text("shape.scalar")


def step_text(step: Step, tracer: Tracer, f: _Format) -> str:
    view, t = f.view, f.t
    p = view.precision
    out = [
        f.heading(
            2,
            f.text(
                "step.heading",
                step=str(step.step),
                objective=f.name(tracer.objective),
                value=f.inline(_num(step.objective, p)),
            ),
        )
    ]
    # forward
    rows = []
    for name, tensor in tracer.graph.tensors.items():
        rows.append(
            [
                f.name(name),
                f.prose(_kind(tensor.kind, tensor.trainable, t)),
                _shape(tensor.value.shape, f),
                f.inline(value_math(step.values[name], view)),
            ]
        )
    for node in tracer.graph.nodes:
        rows.append(
            [
                f.name(node.name),
                f.math(node.equation),
                _shape(node.shape, f),
                f.inline(value_math(step.values[node.name], view)),
            ]
        )
    out.append(f.heading(3, f.text("forward.title")))
    out.append(
        f.table([f.text(k) for k in ("col.node", "col.equation", "col.shape", "col.value")], rows)
    )
    # backward
    rows, notes = [], []
    arrow = f.inline(r"\to") if isinstance(f, Latex) else "→"
    for e in step.edges:
        info = e.info
        if not view.touches(info.node, info.input):
            continue
        sign = "=" if info.terms == 1 else "+="
        rows.append(
            [
                fmt.circled(info.index) if isinstance(f, Markdown) else str(info.index),
                f"{f.math(info.equation)} {arrow} {f.name(info.input)}",
                f.equation_value(info.upstream, e.upstream),
                f.equation_value(info.local, e.local),
                f.equation_value(f"{info.target} {sign} {info.global_}", e.global_),
            ]
        )
        if view.explain:
            sentence = edge_sentence(e, tracer, t, f.ts, p)
            notes.append(f"{rows[-1][0]} {sentence}" if isinstance(f, Markdown) else sentence)
    out.append(f.heading(3, f.text("backward.title")))
    if view.node is not None:
        out.append(f.paragraph(f.text("backward.only_node", node=f.name(view.node))))
    out.append(
        f.table(
            [
                f.text(k)
                for k in ("col.step", "col.target", "col.upstream", "col.local", "col.global")
            ],
            rows,
            "cllll",
            notes,
        )
    )
    # sums over several paths
    names = [
        name
        for name, terms in tracer.consumers.items()
        if len(terms) > 1 and view.node in (None, name)
    ]
    if names:
        out.append(f.heading(3, f.text("sums.title")))
        out.append(
            f.table(
                [f.text(k) for k in ("col.tensor", "col.sum", "col.value")],
                [
                    [
                        f.name(n),
                        f.math(tracer.grad_formulas[n]),
                        f.inline(value_math(step.grads[n], view)),
                    ]
                    for n in names
                ],
            )
        )
    # updates
    out.append(f.heading(3, f.text("updates.title", optimizer=f.math(step.optimizer))))
    has_state = any(u.state for u in step.updates.values())
    rows = []
    for n, u in step.updates.items():
        row = [
            f.name(n),
            f.math(u.formula),
            f.inline(value_math(u.before, view)),
            f.inline(value_math(u.grad, view)),
        ]
        if has_state:
            row.append(
                ", ".join(f.equation_value(STATE_NAMES.get(k, k), v) for k, v in u.state.items())
            )
        rows.append([*row, f.inline(value_math(u.after, view))])
    columns = (
        ["col.param", "col.rule", "col.before", "col.gradient"]
        + (["col.state"] if has_state else [])
        + ["col.after"]
    )
    if not rows:
        rows = [[f.text("updates.none")] + [""] * (len(columns) - 1)]
    notes = [update_sentence(u, t, f.ts, p) for u in step.updates.values()] if view.explain else []
    out.append(f.table([f.text(k) for k in columns], rows, notes=notes))
    frozen = [x.name for x in tracer.graph.params if not x.trainable]
    if frozen:
        out.append(
            f.paragraph(f.text("updates.frozen", names=", ".join(f.name(n) for n in frozen)))
        )
    return "".join(out)


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
