"""Rich tables of a trace: forward values, the backward pass as the document's gradient table
(Step | Target | Upstream | Local | Global), sums over several paths, and the updates.

Cells holding NaN or ±Inf (traced with ``--allow-nonfinite``) are marked with ⚠. A trace stopped
by a numerical anomaly ends with a report of where it happened.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
from rich import box
from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from .. import fmt
from ..engine import Anomaly, Step, Tracer
from ..errors import NumericalAnomaly
from ..graph import Graph
from ..i18n import Catalogue
from ..ops import OPS, local_text, shape_text
from .explain import PLAIN, edge_sentence, update_sentence
from .summary import Summary
from .view import View

Style = View  # the name the table renderer's options had before View was shared


def _shape(shape: tuple[int, ...], t: Catalogue) -> str:
    return shape_text(shape) if shape else t("shape.scalar")


def _kind(kind: str, trainable: bool, t: Catalogue) -> str:
    return t("kind.data") if kind == "data" else t("kind.param" if trainable else "kind.frozen")


WARNING = " ⚠"
WARNING_STYLE = "bold red"


def _value(value: np.ndarray, style: Style, t: Catalogue | None = None) -> str | Text:
    """A tensor's text; marked when it holds NaN or ±Inf."""
    text = fmt.tensor(value, style.precision, style.full, t)
    if np.isfinite(value).all():
        return text
    return Text(text + WARNING, style=WARNING_STYLE)


def _cell(formula: str, value: np.ndarray, style: Style, t: Catalogue | None = None) -> Text:
    text = Text(formula, style="bold")
    value_text = fmt.tensor(value, style.precision, style.full, t)
    if np.isfinite(value).all():
        text.append("\n= " + value_text.replace("\n", "\n  "), style="")
    else:
        text.append("\n= " + value_text.replace("\n", "\n  ") + WARNING, style=WARNING_STYLE)
    return text


def forward_table(step: Step, tracer: Tracer, style: Style) -> Table:
    t = Catalogue(style.lang)
    table = Table(
        title=t("forward.title"), title_justify="left", box=box.SIMPLE_HEAD, show_edge=False
    )
    table.add_column(t("col.node"), style="cyan", no_wrap=True)
    table.add_column(t("col.equation"))
    table.add_column(t("col.shape"), no_wrap=True)
    table.add_column(t("col.value"), overflow="fold")
    graph = tracer.graph
    for name, tensor in graph.tensors.items():
        table.add_row(
            name,
            Text(_kind(tensor.kind, tensor.trainable, t), style="dim"),
            _shape(tensor.value.shape, t),
            _value(step.values[name], style, t),
        )
    for node in graph.nodes:
        eq = Text(node.equation, style="bold" if node.name == graph.objective else "")
        table.add_row(
            node.name, eq, _shape(node.shape, t), _value(step.values[node.name], style, t)
        )
    return table


def backward_table(step: Step, style: Style) -> Table:
    t = Catalogue(style.lang)
    table = Table(
        title=t("backward.title"),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        show_lines=True,
    )
    table.add_column(t("col.step"), no_wrap=True, justify="center")
    table.add_column(t("col.target"))
    table.add_column(t("col.upstream"), overflow="fold")
    table.add_column(t("col.local"), overflow="fold")
    table.add_column(t("col.global"), overflow="fold")
    if style.node is not None:
        table.caption = t("backward.only_node", node=style.node)
        table.caption_justify = "left"
    for e in step.edges:
        info = e.info
        if not style.touches(info.node, info.input):
            continue
        target = Text(info.equation)
        target.append(f"\n→ {info.input}", style="cyan")
        sign = "=" if info.terms == 1 else "+="
        glob = f"{info.target} {sign} {info.global_}"
        table.add_row(
            fmt.circled(info.index),
            target,
            _cell(info.upstream, e.upstream, style, t),
            _cell(info.local, e.local, style, t),
            _cell(glob, e.global_, style, t),
        )
    return table


def sums_table(step: Step, tracer: Tracer, style: Style) -> Table | None:
    """Gradients that gather terms from several paths (W1 into both × and ℓ2)."""
    names = [
        name
        for name, terms in tracer.consumers.items()
        if len(terms) > 1 and style.node in (None, name)
    ]
    if not names:
        return None
    t = Catalogue(style.lang)
    table = Table(title=t("sums.title"), title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column(t("col.tensor"), style="cyan", no_wrap=True)
    table.add_column(t("col.sum"))
    table.add_column(t("col.value"), overflow="fold")
    for name in names:
        table.add_row(name, tracer.grad_formulas[name], _value(step.grads[name], style, t))
    return table


def updates_table(step: Step, tracer: Tracer, style: Style) -> Table:
    t = Catalogue(style.lang)
    has_state = any(u.state for u in step.updates.values())
    table = Table(
        title=t("updates.title", optimizer=step.optimizer),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        show_lines=has_state,
    )
    table.add_column(t("col.param"), style="cyan", no_wrap=True)
    table.add_column(t("col.rule"))
    table.add_column(t("col.before"), overflow="fold")
    table.add_column(t("col.gradient"), overflow="fold")
    if has_state:
        table.add_column(t("col.state"), overflow="fold")
    table.add_column(t("col.after"), overflow="fold")
    p, full = style.precision, style.full
    for name, u in step.updates.items():
        cells = [
            name,
            u.formula.replace("; ", "\n"),
            _value(u.before, style, t),
            _value(u.grad, style, t),
        ]
        if has_state:
            state = "\n".join(
                f"{STATE_NAMES.get(k, k)} = " + fmt.tensor(v, p, full, t).replace("\n", "\n  ")
                for k, v in u.state.items()
            )
            finite = all(np.isfinite(v).all() for v in u.state.values())
            cells.append(state if finite else Text(state + WARNING, style=WARNING_STYLE))
        cells.append(_value(u.after, style, t))
        table.add_row(*cells)
    frozen = [t.name for t in tracer.graph.params if not t.trainable]
    if frozen:
        table.caption = t("updates.frozen", names=", ".join(frozen))
        table.caption_justify = "left"
    if not step.updates:
        table.add_row(Text(t("updates.none"), style="dim"), *[""] * (len(table.columns) - 1))
    return table


STATE_NAMES = {
    "m_hat": "m̂",
    "v_hat": "v̂",
    "velocity": "v",
    "sum": "s",
    "grad_avg": "ḡ",
    "buffer": "b",
}


def heading(step: Step, tracer: Tracer, style: Style) -> str:
    return Catalogue(style.lang)(
        "step.heading",
        step=step.step,
        objective=tracer.objective,
        value=fmt.number(step.objective, style.precision),
    )


def _notes(lines: list[str]) -> Text:
    return Text("\n".join(lines), style="italic")


def render_step(step: Step, tracer: Tracer, style: Style) -> RenderableType:
    title = Text(heading(step, tracer, style), style="bold")
    if not np.isfinite(step.objective):
        title.append(WARNING, style=WARNING_STYLE)
    parts: list[RenderableType] = [
        Rule(title, align="left"),
        forward_table(step, tracer, style),
        backward_table(step, style),
    ]
    t = Catalogue(style.lang)
    if style.explain:
        parts.append(
            _notes(
                [
                    fmt.circled(e.info.index)
                    + " "
                    + edge_sentence(e, tracer, t, PLAIN, style.precision)
                    for e in step.edges
                    if style.touches(e.info.node, e.info.input)
                ]
            )
        )
    sums = sums_table(step, tracer, style)
    if sums is not None:
        parts.append(sums)
    parts.append(updates_table(step, tracer, style))
    if style.explain and step.updates:
        parts.append(
            _notes([update_sentence(u, t, PLAIN, style.precision) for u in step.updates.values()])
        )
    spaced: list[RenderableType] = []
    for part in parts:
        spaced += [part, Text("")]
    return Group(*spaced)


def summary_block(summary: Summary, tracer: Tracer, style: Style) -> RenderableType:
    t = Catalogue(style.lang)
    J, p = tracer.objective, style.precision
    table = Table(
        title=t("summary.title", objective=J, steps=summary.total),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    table.add_column(t("col.which"))
    table.add_column(t("col.step"), justify="right")
    table.add_column(J, justify="right")
    for key, point in summary.rows():
        table.add_row(t(key), str(point.step), fmt.number(point.value, p))
    line = Text(t("summary.sparkline", objective=J, sparkline=summary.sparkline()))
    if summary.steps_per_mark > 1:
        line.append(t("summary.per_mark", steps=summary.steps_per_mark))
    return Group(Rule(style="dim"), table, Text(""), line)


def render(steps: Iterable[Step], tracer: Tracer, style: Style) -> Iterator[RenderableType]:
    """One renderable per step as it is traced (full tables, or one line under ``--every``),
    then, for a run of several steps, the summary of the objective. A numerical anomaly is
    reported after the steps before it, then raised again."""
    summary = Summary(style.total)
    try:
        for step in steps:
            summary.add(step)
            if style.shows_full(step.step):
                yield render_step(step, tracer, style)
            elif style.shows(step.step):
                yield Text(heading(step, tracer, style))
    except NumericalAnomaly as exc:
        yield anomaly_report(exc.anomaly, style)
        raise
    if style.summarises and summary.seen > 1:
        yield summary_block(summary, tracer, style)


def anomaly_report(anomaly: Anomaly, style: Style) -> RenderableType:
    """Where the first non-finite value appeared, which elements, and what went into it."""
    t = Catalogue(style.lang)
    heading = Text(
        t("anomaly.heading", step=anomaly.step, pass_name=t(f"anomaly.pass.{anomaly.pass_}")),
        style=WARNING_STYLE,
    )
    table = Table(box=box.SIMPLE_HEAD, show_header=False, show_edge=False)
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
    tensors = Table(title="Tensors", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    for column in ("Name", "Kind", "Shape"):
        tensors.add_column(column, no_wrap=column != "Kind")
    for t in graph.tensors.values():
        kind = t.kind if t.trainable or t.kind == "data" else "param (frozen)"
        tensors.add_row(t.name, kind, shape_text(t.value.shape))
    nodes = Table(title="Graph", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
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


def ops_table() -> Table:
    """What ``backprop ops`` prints: the op table, as the user writes and reads it."""
    table = Table(
        title="Ops", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, show_lines=True
    )
    table.add_column("Op", style="cyan", no_wrap=True)
    table.add_column("Computes")
    table.add_column("Options")
    table.add_column("Local gradient")
    for op in OPS.values():
        count = 2 if op.arity is None else op.arity
        names = ["a", "b"][:count] if op.arity != 1 else ["z"]
        shapes = [(3,)] * count
        # A required option needs a value to show a formula; 3 stands for it, and is named.
        options = {k: (3.0 if o.required else o.default) for k, o in op.options.items()}
        example = ", ".join(f"{k} = 3" for k, o in op.options.items() if o.required)
        if "shape" in op.options:
            options["shape"] = (3,)
        locals_ = []
        for pos in range(count):
            try:
                text = local_text(op, pos, "out", names, shapes, options)
                if example and "3" in text:
                    text += f" (with {example})"
                locals_.append(f"∂/∂{names[pos]}: {text}")
            except (KeyError, ValueError, IndexError):
                locals_.append(f"∂/∂{names[pos]}: see the summary")
        opts = ", ".join(
            f"{k}" + ("" if o.required else f" = {o.default}") for k, o in op.options.items()
        )
        summary = op.summary + (f"\nkink: {op.kink}" if op.kink else "")
        table.add_row(op.name, summary, opts, "\n".join(locals_))
    return table
