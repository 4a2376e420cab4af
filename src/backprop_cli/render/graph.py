"""The computational graph of a config, drawn as the source document's §3 draws it.

Every named tensor is a box: data and the tensors computed by ops are white, params are blue
(frozen params paler and dashed). Every graph node also gets an op circle, labelled with the op's
symbol (× for a matrix product, + for a sum, ℓ2 for the regulariser, l for a loss, …), between its
inputs and its output box. Arrows follow the data flow; with ``backward`` they are reversed and
each carries the gradient the engine recorded for that edge (formula text, and with a step its
value).

One view (``build``) is made from the tracer and, optionally, a traced step; the renderers
(``rich_view``, ``to_dot``, ``to_mermaid``, ``to_json``) only format it. Nothing here computes a
gradient: values and gradients are the engine's records of the step.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from .. import fmt
from ..engine import EdgeInfo, Step, Tracer
from ..errors import one_line
from ..ops import OPS, shape_text
from .jsonout import dumps as json_dumps
from .jsonout import gradient as json_gradient
from .jsonout import value as json_value

GRAPH_SCHEMA_VERSION = 1

# The symbol in an op's circle, as the document labels its operators (× product, + sum,
# ℓ2 regulariser, l loss). Other losses are drawn as l too; any other op by its name.
OP_SYMBOLS = {
    "add": "+",
    "sub": "−",
    "neg": "−",
    "mul": "⊙",
    "div": "÷",
    "matmul": "×",
    "pow": "xᵖ",
    "abs": "|·|",
    "sigmoid": "σ",
    "transpose": "ᵀ",
    "sum": "Σ",
    "l2": "ℓ2",
    "l1": "ℓ1",
}

# Colours of the document's figure: white tensors, blue params, light-blue operators.
WHITE = "#ffffff"
BLUE = "#9ecbff"
PALE_BLUE = "#dbeafe"
LIGHT_BLUE = "#d9f2ff"
INK = "#1f2937"


def symbol(op: str) -> str:
    if op in OP_SYMBOLS:
        return OP_SYMBOLS[op]
    return "l" if getattr(OPS.get(op), "loss", False) else op


# --------------------------------------------------------------------------------------------
# The view: what every renderer draws
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vertex:
    """A named tensor: ``data``, ``param`` or ``op`` (computed by the op of a graph node)."""

    name: str
    kind: str
    shape: tuple[int, ...]
    trainable: bool = False
    op: str | None = None  # for kind "op"
    args: tuple[str, ...] = ()
    equation: str | None = None
    active: bool = True  # whether the objective depends on it (inactive nodes get no gradient)

    @property
    def frozen(self) -> bool:
        return self.kind == "param" and not self.trainable


@dataclass(frozen=True)
class Flow:
    """One edge of the graph: ``source`` is input ``position`` of node ``node``."""

    source: str
    node: str
    position: int
    info: EdgeInfo | None = None  # with ``backward``: the gradient it carries
    value: np.ndarray | None = None  # with a step and ``backward``: that gradient's value


@dataclass
class View:
    title: str
    objective: str
    vertices: list[Vertex]
    flows: list[Flow]  # forward order, or backward order with ``backward``
    backward: bool
    step: Step | None


def build(tracer: Tracer, step: Step | None = None, backward: bool = False) -> View:
    """The graph of ``tracer``; with ``step``, values and gradients of that step.

    ``backward`` needs the edge records of a backward pass (``tracer.edge_info``), which the
    tracer fills on its first step.
    """
    g = tracer.graph
    active = {n.name for n in tracer.active}
    vertices = [
        Vertex(t.name, t.kind, tuple(t.value.shape), t.trainable) for t in g.tensors.values()
    ]
    vertices += [
        Vertex(
            n.name,
            "op",
            tuple(n.shape),
            op=n.op.name,
            args=tuple(n.args),
            equation=n.equation,
            active=n.name in active,
        )
        for n in g.nodes
    ]
    if backward:
        if tracer.edge_info is None:
            raise ValueError("the backward graph needs a traced step")
        values = {e.info.index: e.global_ for e in step.edges} if step is not None else {}
        flows = [
            Flow(i.input, i.node, i.position, i, values.get(i.index)) for i in tracer.edge_info
        ]
    else:
        flows = [
            Flow(arg, n.name, pos)
            for n in g.nodes
            for pos, arg in enumerate(n.args)
            if arg not in g.constants  # a literal constant is shown in the equation only
        ]
    return View(
        title=one_line(os.path.basename(g.source)),  # a file name may hold escapes
        objective=g.objective,
        vertices=vertices,
        flows=flows,
        backward=backward,
        step=step,
    )


def _edge_formula(info: EdgeInfo) -> str:
    """``∂J/∂W1 += ∂J/∂z · xᵀ``: the term of ∂J/∂input this edge carries."""
    sign = "=" if info.terms == 1 else "+="
    return f"{info.target} {sign} {info.global_}"


def _op_flows(view: View) -> list[tuple[str, str]]:
    """(node, op) pairs in the order the node's circles are drawn."""
    return [(v.name, v.op) for v in view.vertices if v.kind == "op" and v.op is not None]


def _inputs(view: View) -> dict[str, list[Flow]]:
    """Each node's incoming flows, in ``view.flows`` order (one pass, not one per node)."""
    out: dict[str, list[Flow]] = {}
    for f in view.flows:
        out.setdefault(f.node, []).append(f)
    return out


def _op_text(op: str) -> str:
    """``× matmul``; ``tanh`` when the symbol is the name."""
    return op if symbol(op) == op else f"{symbol(op)} {op}"


def _kind_text(v: Vertex) -> str:
    if v.kind == "op":
        return f"op {v.op}"
    return "param (frozen)" if v.frozen else v.kind


# --------------------------------------------------------------------------------------------
# Terminal: a tree from the objective, and a table of every node
# --------------------------------------------------------------------------------------------


def rich_view(view: View, precision: int = 4, full: bool = False) -> RenderableType:
    """A tree hanging from the objective, then every node in forward order, and with
    ``backward`` every edge in backward order with the gradient it carries."""
    step = view.step
    heading = (
        f"{'Gradient flow' if view.backward else 'Computational graph'} of {view.title}"
        f" · objective {view.objective}" + (f" · step {step.step}" if step else "")
    )
    parts: list[RenderableType] = [Text(heading, style="bold"), Text("")]
    parts += [_tree(view), Text("")]
    parts.append(_node_table(view, precision, full))
    if view.backward:
        parts += [Text(""), _edge_table(view, precision, full)]
    return Group(*parts)


def _tree(view: View) -> Tree:
    """The graph as a tree hanging from the objective: each node's inputs are its children.
    A tensor reached a second time is not expanded again."""
    by_name = {v.name: v for v in view.vertices}
    incoming: dict[tuple[str, int], Flow] = {(f.node, f.position): f for f in view.flows}
    seen: set[str] = set()

    def label(v: Vertex, flow: Flow | None, again: bool) -> Text:
        """``z  4  ×  z = W1·x``, and with ``backward`` the gradient the edge carries."""
        text = Text()
        text.append(v.name, style="bold cyan")
        text.append(f"  {shape_text(v.shape)}  ")
        if v.kind == "op":
            text.append(f"{symbol(v.op or '')}  {v.equation}")
        else:
            text.append(_kind_text(v), style="dim")
        if again:
            text.append("  (shown above)", style="dim")
        if view.backward and flow is not None and flow.info is not None:
            text.append(f"   ← {_edge_formula(flow.info)}", style="magenta")
        return text

    root = by_name[view.objective]
    seen.add(root.name)
    tree = Tree(label(root, None, False), guide_style="dim")
    # Depth first, in argument order, with a stack of its own: a chain of thousands of nodes
    # is as deep as it is long, far past Python's recursion limit.
    stack = [(tree, root, iter(enumerate(root.args)))]
    while stack:
        branch, v, args = stack[-1]
        nxt = next(args, None)
        if nxt is None:
            stack.pop()
            continue
        pos, arg = nxt
        if arg not in by_name:  # a literal constant: shown in the equation only
            continue
        child = by_name[arg]
        again = arg in seen and child.kind == "op"
        sub = branch.add(label(child, incoming.get((v.name, pos)), again))
        if not again:
            seen.add(arg)
            stack.append((sub, child, iter(enumerate(child.args))))
    return tree


def _inline(value: np.ndarray, precision: int) -> str:
    return " ".join(fmt.tensor(value, precision).split())


def _node_table(view: View, precision: int, full: bool) -> Table:
    step = view.step
    table = Table(title="Nodes", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("Node", style="cyan", no_wrap=True)
    table.add_column("Kind", no_wrap=True)
    table.add_column("Op", no_wrap=True)
    if step is None:  # with values, the tree above gives the equations
        table.add_column("Equation")
    table.add_column("Shape", no_wrap=True)
    if step is not None:
        table.add_column("Value", overflow="fold")
        table.add_column(f"∂{view.objective}/∂node", overflow="fold")
    for v in view.vertices:
        op = Text(_op_text(v.op) if v.op else "")
        if v.kind == "op" and not v.active:
            op.append(f" (not used by {view.objective})", style="dim")
        kind = "op" if v.kind == "op" else _kind_text(v)
        row: list[Any] = [v.name, kind, op]
        if step is None:
            row.append(v.equation or "")
        row.append(shape_text(v.shape))
        if step is not None:
            row += [
                fmt.tensor(step.values[v.name], precision, full),
                fmt.tensor(step.grads[v.name], precision, full),
            ]
        table.add_row(*row)
    return table


def _edge_table(view: View, precision: int, full: bool) -> Table:
    table = Table(
        title="Edges, in backward order: the gradient each carries",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    table.add_column("Step", no_wrap=True, justify="center")
    table.add_column("Edge", no_wrap=True)
    table.add_column("Gradient")
    if view.step is not None:
        table.add_column("Value", overflow="fold")
    for f in view.flows:
        assert f.info is not None
        row = [fmt.circled(f.info.index), f"{f.node} → {f.source}", _edge_formula(f.info)]
        if view.step is not None and f.value is not None:
            row.append(fmt.tensor(f.value, precision, full))
        table.add_row(*row)
    return table


# --------------------------------------------------------------------------------------------
# Graphviz
# --------------------------------------------------------------------------------------------


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _dot_label(lines: list[str]) -> str:
    """Lines of a label: the first centred, the rest (values) left-justified."""
    out = [_dot_text(part) + "\\n" for part in lines[0].split("\n")]
    for line in lines[1:]:
        out += [_dot_text(part) + "\\l" for part in line.split("\n")]
    return '"' + "".join(out) + '"'


def _box_lines(view: View, v: Vertex, precision: int) -> list[str]:
    title = v.name + (" (frozen)" if v.frozen else "")
    lines = [f"{title}\n{shape_text(v.shape)}"]
    if view.step is not None:
        J = view.objective
        lines.append("= " + _indent(fmt.tensor(view.step.values[v.name], precision)))
        lines.append(
            f"∂{J}/∂{v.name} = "
            + _indent(fmt.tensor(view.step.grads[v.name], precision), len(f"∂{J}/∂{v.name} = "))
        )
    return lines


def _indent(text: str, by: int = 2) -> str:
    return text.replace("\n", "\n" + " " * by)


def _dot_id(name: str) -> str:
    return '"' + _dot_text(name) + '"'


def _op_id(name: str) -> str:
    return _dot_id(f"op:{name}")


# Labels hold matrices whose columns must line up: a monospace font. Graphviz hands the name
# to Pango (PNG, PDF), which reads a comma-separated family list and finds DejaVu Sans Mono on a
# Debian/Ubuntu system with Graphviz installed; an SVG keeps it as CSS font-family, so a viewer
# without DejaVu still picks a monospace font (as Graphviz itself writes "Courier,monospace").
MONOSPACE = "DejaVu Sans Mono,monospace"


def to_dot(view: View, precision: int = 4) -> str:
    """Graphviz text: ``backprop graph CONFIG --format dot | dot -Tsvg > graph.svg``."""
    what = "gradient flow" if view.backward else "computational graph"
    step = f", step {view.step.step}" if view.step else ""
    out = [
        f"// The {what} of {view.title}{step}, drawn by backprop-cli.",
        "digraph backprop {",
        "  rankdir=LR;",
        f'  graph [fontname="{MONOSPACE}", nodesep=0.3, ranksep=0.45];',
        f'  node [fontname="{MONOSPACE}", fontsize=12, color="{INK}", style=filled];',
        f'  edge [fontname="{MONOSPACE}", fontsize=10, color="{INK}"];',
    ]
    for v in view.vertices:
        if v.kind == "param":
            fill, style = (PALE_BLUE, "filled,dashed") if v.frozen else (BLUE, "filled")
        else:
            fill, style = WHITE, "filled"
        extra = ", penwidth=2" if v.name == view.objective else ""
        tooltip = f', tooltip="{_dot_text(v.equation)}"' if v.equation else ""
        out.append(
            f'  {_dot_id(v.name)} [shape=box, style="{style}", fillcolor="{fill}", '
            f"label={_dot_label(_box_lines(view, v, precision))}{tooltip}{extra}];"
        )
        if v.kind == "op":
            out.append(
                f'  {_op_id(v.name)} [shape=circle, fillcolor="{LIGHT_BLUE}", '
                f'label="{_dot_text(symbol(v.op or ""))}", '
                f'tooltip="{_dot_text(v.op or "")}: {_dot_text(v.equation or "")}"];'
            )
    if view.backward:
        up_done: set[str] = set()
        for f in view.flows:
            assert f.info is not None
            if f.node not in up_done:  # the node's gradient enters its op circle once
                up_done.add(f.node)
                out.append(
                    f"  {_dot_id(f.node)} -> {_op_id(f.node)} "
                    f'[label="{_dot_text(f.info.upstream)}"];'
                )
            label = [_edge_formula(f.info)]
            if f.value is not None:
                label.append("= " + _indent(fmt.tensor(f.value, precision)))
            out.append(
                f"  {_op_id(f.node)} -> {_dot_id(f.source)} "
                f"[label={_dot_label(label) if len(label) > 1 else _quote(label[0])}];"
            )
    else:
        inputs = _inputs(view)
        for name, _ in _op_flows(view):
            for f in inputs.get(name, []):
                out.append(f"  {_dot_id(f.source)} -> {_op_id(name)};")
            out.append(f"  {_op_id(name)} -> {_dot_id(name)};")
    out.append("}")
    return "\n".join(out) + "\n"


def _quote(text: str) -> str:
    return '"' + _dot_text(text) + '"'


# --------------------------------------------------------------------------------------------
# Mermaid
# --------------------------------------------------------------------------------------------


def _mermaid_text(text: str) -> str:
    """Text inside a quoted Mermaid label: entity codes for the characters Mermaid or HTML
    would read, ``<br/>`` for line breaks."""
    text = (
        text.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    )
    return "<br/>".join(line.strip() for line in text.split("\n"))


def _mermaid_id(view: View, name: str, op: bool = False) -> str:
    prefix = "op" if op else "t"
    if name.isascii():
        return f"{prefix}_{name}"
    return f"{prefix}{[v.name for v in view.vertices].index(name)}"


def to_mermaid(view: View, precision: int = 4) -> str:
    """A Mermaid flowchart (renders in a ```mermaid block on GitHub)."""
    out = ["flowchart LR"]
    for v in view.vertices:
        cls = "frozen" if v.frozen else ("param" if v.kind == "param" else "tensor")
        if v.name == view.objective:
            cls = "objective"
        label = "\n".join(_box_lines(view, v, precision))
        out.append(f'  {_mermaid_id(view, v.name)}["{_mermaid_text(label)}"]:::{cls}')
        if v.kind == "op":
            out.append(
                f'  {_mermaid_id(view, v.name, op=True)}(("'
                f'{_mermaid_text(symbol(v.op or ""))}")):::op'
            )
    if view.backward:
        up_done: set[str] = set()
        for f in view.flows:
            assert f.info is not None
            node, circle = _mermaid_id(view, f.node), _mermaid_id(view, f.node, op=True)
            if f.node not in up_done:
                up_done.add(f.node)
                out.append(f'  {node} -->|"{_mermaid_text(f.info.upstream)}"| {circle}')
            label = _edge_formula(f.info)
            if f.value is not None:
                label += "\n= " + _inline(f.value, precision)
            out.append(f'  {circle} -->|"{_mermaid_text(label)}"| {_mermaid_id(view, f.source)}')
    else:
        inputs = _inputs(view)
        for name, _ in _op_flows(view):
            circle = _mermaid_id(view, name, op=True)
            for f in inputs.get(name, []):
                out.append(f"  {_mermaid_id(view, f.source)} --> {circle}")
            out.append(f"  {circle} --> {_mermaid_id(view, name)}")
    out += [
        f"  classDef tensor fill:{WHITE},stroke:{INK},color:{INK}",
        f"  classDef objective fill:{WHITE},stroke:{INK},stroke-width:3px,color:{INK}",
        f"  classDef param fill:{BLUE},stroke:{INK},color:{INK}",
        f"  classDef frozen fill:{PALE_BLUE},stroke:{INK},stroke-dasharray:4 3,color:{INK}",
        f"  classDef op fill:{LIGHT_BLUE},stroke:{INK},color:{INK}",
    ]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------


def to_dict(view: View) -> dict[str, Any]:
    step = view.step
    nodes = []
    for v in view.vertices:
        record: dict[str, Any] = {"name": v.name, "kind": v.kind, "shape": list(v.shape)}
        if v.kind == "param":
            record["trainable"] = v.trainable
        if v.kind == "op":
            record.update(
                op=v.op,
                symbol=symbol(v.op or ""),
                args=list(v.args),
                equation=v.equation,
                active=v.active,
            )
        if step is not None:
            record["value"] = json_value(step.values[v.name])
            record["grad"] = json_gradient(step.grads[v.name])
        nodes.append(record)
    edges = []
    for f in view.flows:
        if view.backward:
            assert f.info is not None
            edge: dict[str, Any] = {
                "from": f.node,
                "to": f.source,
                "position": f.position,
                "index": f.info.index,
                "target": f.info.target,
                "gradient": f.info.global_,
                "term": f.info.term,
                "terms": f.info.terms,
            }
            if f.value is not None:
                edge["value"] = json_value(f.value)
        else:
            edge = {"from": f.source, "to": f.node, "position": f.position}
        edges.append(edge)
    return {
        "schema_version": GRAPH_SCHEMA_VERSION,
        "objective": view.objective,
        "direction": "backward" if view.backward else "forward",
        "step": step.step if step is not None else None,
        "nodes": nodes,
        "edges": edges,
    }


def to_json(view: View) -> str:
    return json_dumps(to_dict(view), indent=True) + "\n"
