"""Rich tables of a trace: forward values, the backward pass as the document's gradient table
(Step | Target | Upstream | Local | Global), sums over several paths, and the updates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from rich import box
from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from .. import fmt
from ..engine import Step, Tracer
from ..graph import Graph
from ..ops import OPS, local_text, shape_text


@dataclass(frozen=True)
class Style:
    precision: int = 4
    full: bool = False


def _cell(formula: str, value_text: str) -> Text:
    text = Text(formula, style="bold")
    text.append("\n= " + value_text.replace("\n", "\n  "), style="")
    return text


def forward_table(step: Step, tracer: Tracer, style: Style) -> Table:
    table = Table(title="Forward pass", title_justify="left", box=box.SIMPLE_HEAD,
                  show_edge=False)
    table.add_column("Node", style="cyan", no_wrap=True)
    table.add_column("Equation")
    table.add_column("Shape", no_wrap=True)
    table.add_column("Value", overflow="fold")
    graph = tracer.graph
    for name, t in graph.tensors.items():
        kind = t.kind if t.trainable or t.kind == "data" else "param (frozen)"
        table.add_row(name, Text(kind, style="dim"), shape_text(t.value.shape),
                      fmt.tensor(step.values[name], style.precision, style.full))
    for node in graph.nodes:
        eq = Text(node.equation, style="bold" if node.name == graph.objective else "")
        table.add_row(node.name, eq, shape_text(node.shape),
                      fmt.tensor(step.values[node.name], style.precision, style.full))
    return table


def backward_table(step: Step, style: Style) -> Table:
    table = Table(title="Backward pass: upstream × local = global", title_justify="left",
                  box=box.SIMPLE_HEAD, show_edge=False, show_lines=True)
    table.add_column("Step", no_wrap=True, justify="center")
    table.add_column("Target")
    table.add_column("Upstream", overflow="fold")
    table.add_column("Local", overflow="fold")
    table.add_column("Global", overflow="fold")
    p, full = style.precision, style.full
    for e in step.edges:
        info = e.info
        target = Text(info.equation)
        target.append(f"\n→ {info.input}", style="cyan")
        sign = "=" if info.terms == 1 else "+="
        glob = f"{info.target} {sign} {info.global_}"
        table.add_row(
            fmt.circled(info.index),
            target,
            _cell(info.upstream, fmt.tensor(e.upstream, p, full)),
            _cell(info.local, fmt.tensor(e.local, p, full)),
            _cell(glob, fmt.tensor(e.global_, p, full)),
        )
    return table


def sums_table(step: Step, tracer: Tracer, style: Style) -> Table | None:
    """Gradients that gather terms from several paths (W1 into both × and ℓ2)."""
    names = [name for name, terms in tracer.consumers.items() if len(terms) > 1]
    if not names:
        return None
    table = Table(title="Gradients summed over several paths", title_justify="left",
                  box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("Tensor", style="cyan", no_wrap=True)
    table.add_column("Sum of terms")
    table.add_column("Value", overflow="fold")
    for name in names:
        table.add_row(name, tracer.grad_formulas[name],
                      fmt.tensor(step.grads[name], style.precision, style.full))
    return table


def updates_table(step: Step, tracer: Tracer, style: Style) -> Table:
    table = Table(title=f"Parameter updates ({step.optimizer})", title_justify="left",
                  box=box.SIMPLE_HEAD, show_edge=False, show_lines=bool(step.updates) and any(
                      u.state for u in step.updates.values()))
    table.add_column("Param", style="cyan", no_wrap=True)
    table.add_column("Rule")
    table.add_column("Before", overflow="fold")
    table.add_column("Gradient", overflow="fold")
    has_state = any(u.state for u in step.updates.values())
    if has_state:
        table.add_column("State after the step", overflow="fold")
    table.add_column("After", overflow="fold")
    p, full = style.precision, style.full
    for name, u in step.updates.items():
        cells = [name, u.formula.replace("; ", "\n"), fmt.tensor(u.before, p, full),
                 fmt.tensor(u.grad, p, full)]
        if has_state:
            cells.append("\n".join(
                f"{STATE_NAMES.get(k, k)} = " + fmt.tensor(v, p, full).replace("\n", "\n  ")
                for k, v in u.state.items()))
        cells.append(fmt.tensor(u.after, p, full))
        table.add_row(*cells)
    frozen = [t.name for t in tracer.graph.params if not t.trainable]
    if frozen:
        table.caption = "frozen (not updated): " + ", ".join(frozen)
        table.caption_justify = "left"
    if not step.updates:
        table.add_row(Text("no trainable params", style="dim"), *[""] * (len(table.columns) - 1))
    return table


STATE_NAMES = {"m_hat": "m̂", "v_hat": "v̂", "velocity": "v"}


def render_step(step: Step, tracer: Tracer, style: Style) -> RenderableType:
    J = tracer.objective
    heading = f"Step {step.step} · {J} = {fmt.number(step.objective, style.precision)}"
    parts: list[RenderableType] = [
        Rule(Text(heading, style="bold"), align="left"),
        forward_table(step, tracer, style),
        backward_table(step, style),
    ]
    sums = sums_table(step, tracer, style)
    if sums is not None:
        parts.append(sums)
    parts.append(updates_table(step, tracer, style))
    spaced: list[RenderableType] = []
    for part in parts:
        spaced += [part, Text("")]
    return Group(*spaced)


def render(steps: Iterable[Step], tracer: Tracer, style: Style) -> Iterator[RenderableType]:
    """One renderable per step as it is traced, then a line on the objective over the run."""
    objectives = []
    for step in steps:
        objectives.append(step.objective)
        yield render_step(step, tracer, style)
    if len(objectives) > 1:
        J, p = tracer.objective, style.precision
        yield Text(f"{J}: {fmt.number(objectives[0], p)} at step 1 → "
                   f"{fmt.number(objectives[-1], p)} at step {len(objectives)}")


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
    footer = Text(f"objective {graph.objective} · optimizer {opt.name}, η = "
                  f"{fmt.number(opt.lr, 6)} · {graph.steps} step{'s' * (graph.steps != 1)}")
    return Group(tensors, Text(""), nodes, Text(""), footer)


def ops_table() -> Table:
    """What ``backprop ops`` prints: the op table, as the user writes and reads it."""
    table = Table(title="Ops", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                  show_lines=True)
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
        opts = ", ".join(f"{k}" + ("" if o.required else f" = {o.default}")
                         for k, o in op.options.items())
        summary = op.summary + (f"\nkink: {op.kink}" if op.kink else "")
        table.add_row(op.name, summary, opts, "\n".join(locals_))
    return table
