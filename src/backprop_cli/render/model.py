"""The tables of a trace as plain data, built once from the engine's records.

Every human-readable format (the terminal's Rich tables, Markdown, LaTeX) shows the same tables:
the forward pass, the backward pass, the gradients summed over several paths and the updates.
They are built here, once, as data — a title, columns, rows of cells, notes — and each format
only typesets them (``render/table.py`` for the terminal, ``render/document.py`` for Markdown and
LaTeX). A cell holds *pieces*: formula text, names, catalogue prose, and ``formula = value``
equations whose value is the recorded array, so each format writes numbers its own way.

The backward pass has two views. ``nodes`` (the default) mirrors the source document's table:
one row per operator node, in backward order, with the node's upstream gradient, its local
gradient for each input and the global gradient each input receives; the row that completes a
gradient gathered from several paths shows the whole sum (``∂J/∂W2 = ∂J/∂o·hᵀ + λW2``).
``edges`` has one row per (node, input) edge, and a separate table for the sums.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np

from .. import fmt
from ..engine import Edge, Step, Tracer
from ..notation import d
from ..ops import intended_nonfinite
from ..optim import Update
from .view import View

# ---- pieces: what a cell holds ------------------------------------------------------------


class Formula(NamedTuple):
    """Formula text as the engine records it (Unicode): ``o = W2·h``, ``∂J/∂o · hᵀ``."""

    text: str
    bold: bool = False


class Name(NamedTuple):
    """The name of a tensor: ``W1``, ``y_hat``."""

    text: str


class Msg(NamedTuple):
    """A catalogue message; its values are pieces (typeset by the format) or plain numbers."""

    key: str
    values: tuple[tuple[str, Inline], ...] = ()
    dim: bool = False

    @staticmethod
    def of(key: str, dim: bool = False, **values: Inline) -> Msg:
        return Msg(key, tuple(values.items()), dim)


class Shape(NamedTuple):
    shape: tuple[int, ...]


class Eq(NamedTuple):
    """``formula = value`` (the value alone when ``formula`` is None); ``label`` names which
    input a local gradient belongs to when a row shows several."""

    formula: str | None
    value: np.ndarray
    label: str | None = None
    # where the value is −∞ by design (the masked entries of causal_mask): shown as −∞, and not
    # flagged as an anomaly
    intended: np.ndarray | None = None

    @property
    def flagged(self) -> bool:
        """Whether the value holds a NaN or ±∞ that is not intended."""
        if self.intended is None and np.ndim(self.value) == 0:  # a scalar: no ufunc needed
            return not math.isfinite(float(self.value))
        finite = np.isfinite(self.value)
        if self.intended is not None:
            finite = finite | self.intended
        return not bool(np.all(finite))


Inline = Formula | Name | Msg | Shape | str | int
Piece = Formula | Name | Msg | Shape | Eq


@dataclass
class Cell:
    pieces: list[Piece]
    style: Literal["", "name", "dim", "step"] = ""


class Note(NamedTuple):
    """An ``--explain`` sentence: about a backward edge, or an update."""

    edge: Edge | None = None
    update: Update | None = None


class Column(NamedTuple):
    key: str  # catalogue key of its title
    head: bool = False  # stays on the first line when a row is laid out stacked
    align: Literal["l", "c", "r"] = "l"


@dataclass
class Row:
    cells: list[Cell]
    notes: list[Note] = field(default_factory=list)


@dataclass
class Table:
    kind: str  # forward, backward, sums, updates, summary, anomaly
    title: Msg | None
    columns: list[Column]
    rows: list[Row]
    captions: list[Msg] = field(default_factory=list)
    spaced: bool = False  # a blank line between rows (rows of several lines)
    header: bool = True


STATE_NAMES = {
    "m_hat": "m̂",
    "v_hat": "v̂",
    "velocity": "v",
    "sum": "s",
    "grad_avg": "ḡ",
    "buffer": "b",
}


def _cells(*pieces: Piece | list[Piece] | Cell) -> list[Cell]:
    out = []
    for p in pieces:
        if isinstance(p, Cell):
            out.append(p)
        elif isinstance(p, list):
            out.append(Cell(p))
        else:
            out.append(Cell([p]))
    return out


def heading(step: Step, tracer: Tracer, view: View) -> Msg:
    return Msg.of(
        "step.heading",
        step=step.step,
        objective=Name(tracer.objective),
        value=Formula(fmt.number(step.objective, view.precision)),
    )


# ---- the forward pass -------------------------------------------------------------------------


def forward(step: Step, tracer: Tracer) -> Table:
    graph = tracer.graph
    rows = []
    for name, tensor in graph.tensors.items():
        kind = (
            "kind.data"
            if tensor.kind == "data"
            else ("kind.param" if tensor.trainable else "kind.frozen")
        )
        rows.append(
            Row(
                [
                    Cell([Name(name)], "name"),
                    Cell([Msg.of(kind)], "dim"),
                    Cell([Shape(tensor.value.shape)]),
                    Cell([Eq(None, step.values[name])]),
                ]
            )
        )
    for node in graph.nodes:
        rows.append(
            Row(
                [
                    Cell([Name(node.name)], "name"),
                    Cell([Formula(node.equation, bold=node.name == graph.objective)]),
                    Cell([Shape(node.shape)]),
                    Cell(
                        [
                            Eq(
                                None,
                                step.values[node.name],
                                intended=intended_nonfinite(node.op, step.values[node.name]),
                            )
                        ]
                    ),
                ]
            )
        )
        # the op's named intermediate values (batch_norm's μ, σ², x̂), under its row
        for name, (_, _, equation) in tracer.parts.items():
            if name.startswith(node.name + ".") and name in step.parts:
                value = step.parts[name]
                rows.append(
                    Row(
                        [
                            Cell([Name(name)], "name"),
                            Cell([Formula(equation)]),
                            Cell([Shape(value.shape)]),
                            Cell([Eq(None, value)]),
                        ]
                    )
                )
    columns = [
        Column("col.node", head=True),
        Column("col.equation", head=True),
        Column("col.shape", head=True),
        Column("col.value"),
    ]
    return Table("forward", Msg.of("forward.title"), columns, rows)


# ---- the backward pass --------------------------------------------------------------------

BACKWARD_COLUMNS = [
    Column("col.step", head=True, align="c"),
    Column("col.target", head=True),
    Column("col.upstream"),
    Column("col.local"),
    Column("col.global"),
]


def _shown(edge: Edge, tracer: Tracer, view: View) -> bool:
    info = edge.info
    if not view.touches(info.node, info.input):
        return False
    if view.view == "nodes" and not view.data_grads:
        tensor = tracer.graph.tensors.get(info.input)
        return tensor is None or tensor.kind != "data"
    return True


def backward(step: Step, tracer: Tracer, view: View) -> Table:
    if view.view == "edges":
        return backward_edges(step, tracer, view)
    return backward_nodes(step, tracer, view)


def backward_nodes(step: Step, tracer: Tracer, view: View) -> Table:
    """One row per operator node, in backward order, as the document's gradient table."""
    J = tracer.objective
    by_node: dict[str, list[Edge]] = {}
    for e in step.edges:
        by_node.setdefault(e.info.node, []).append(e)
    rows = []
    for node_name, edges in by_node.items():
        shown = [e for e in edges if _shown(e, tracer, view)]
        if not shown:
            continue
        first = edges[0]
        several = len(shown) > 1
        local: list[Piece] = []
        glob: list[Piece] = []
        for e in shown:
            info = e.info
            label = f"∂{info.node}/∂{info.input}" if several else None
            local.append(Eq(info.local, e.local, label))
            if info.terms == 1:
                glob.append(Eq(f"{info.target} = {info.global_}", e.global_))
            elif info.term == 1:  # the last term to arrive: the whole sum, and its value
                glob.append(Eq(tracer.grad_formulas[info.input], step.grads[info.input]))
            else:
                glob.append(Eq(f"{info.target} += {info.global_}", e.global_))
        rows.append(
            Row(
                [
                    Cell([], "step"),
                    Cell([Formula(first.info.equation)]),
                    Cell([Eq(d(J, node_name), first.upstream)]),
                    Cell(local),
                    Cell(glob),
                ],
                notes=_node_notes(shown) if view.explain else [],
            )
        )
    for i, row in enumerate(rows, 1):
        row.cells[0] = Cell([Formula(str(i))], "step")
    return _backward_table(rows, tracer, view)


def _node_notes(edges: list[Edge]) -> list[Note]:
    """One sentence per edge; a + node's sentence already names every input it hands the
    gradient to ("… to L (and the same to s)"), so it is said once for the node."""
    if edges and edges[0].info.op == "add":
        return [Note(edge=edges[0])]
    return [Note(edge=e) for e in edges]


def _backward_table(rows: list[Row], tracer: Tracer, view: View) -> Table:
    return Table(
        "backward",
        Msg.of("backward.title"),
        BACKWARD_COLUMNS,
        rows,
        captions=_backward_captions(tracer, view),
        spaced=True,
    )


def _backward_captions(tracer: Tracer, view: View) -> list[Msg]:
    captions = []
    if view.node is not None:
        captions.append(Msg.of("backward.only_node", dim=True, node=Name(view.node)))
    if view.view == "nodes" and not view.data_grads:
        data = [
            t.name
            for t in tracer.graph.tensors.values()
            if t.kind == "data" and tracer.consumers.get(t.name)
        ]
        if data:
            names = ", ".join(data)
            captions.append(Msg.of("backward.data_hidden", dim=True, names=Formula(names)))
    # Nodes evaluated beside the objective (a prediction next to the loss): in the forward
    # table, with no backward row, and said so.
    active = {n.name for n in tracer.active}
    unreached = [n.name for n in tracer.graph.nodes if n.name not in active]
    if unreached and view.node is None:
        captions.append(
            Msg.of(
                "backward.unreached",
                dim=True,
                names=Formula(", ".join(unreached)),
                objective=Name(tracer.objective),
            )
        )
    return captions


def backward_edges(step: Step, tracer: Tracer, view: View) -> Table:
    """One row per (node, input) edge, in backward order."""
    rows = []
    for e in step.edges:
        if not _shown(e, tracer, view):
            continue
        info = e.info
        sign = "=" if info.terms == 1 else "+="
        rows.append(
            Row(
                [
                    Cell([Formula(str(info.index))], "step"),
                    Cell([Formula(info.equation), Msg.of("backward.to", input=Name(info.input))]),
                    Cell([Eq(info.upstream, e.upstream)]),
                    Cell([Eq(info.local, e.local)]),
                    Cell([Eq(f"{info.target} {sign} {info.global_}", e.global_)]),
                ],
                notes=[Note(edge=e)] if view.explain else [],
            )
        )
    return _backward_table(rows, tracer, view)


def sums(step: Step, tracer: Tracer, view: View) -> Table | None:
    """Gradients that gather terms from several paths (W1 into both × and ℓ2); the nodes view
    shows these sums on the row that completes them instead."""
    if view.view == "nodes":
        return None
    names = [
        name
        for name, terms in tracer.consumers.items()
        if len(terms) > 1 and view.node in (None, name)
    ]
    if not names:
        return None
    rows = [
        Row(
            [
                Cell([Name(name)], "name"),
                Cell([Formula(tracer.grad_formulas[name])]),
                Cell([Eq(None, step.grads[name])]),
            ]
        )
        for name in names
    ]
    columns = [Column("col.tensor", head=True), Column("col.sum", head=True), Column("col.value")]
    return Table("sums", Msg.of("sums.title"), columns, rows)


# ---- the updates ---------------------------------------------------------------------------


def updates(step: Step, tracer: Tracer, view: View) -> Table:
    has_state = any(u.state for u in step.updates.values())
    columns = [
        Column("col.param", head=True),
        Column("col.rule", head=True),
        Column("col.before"),
        Column("col.gradient"),
    ]
    if has_state:
        columns.append(Column("col.state"))
    columns.append(Column("col.after"))
    rows = []
    for name, u in step.updates.items():
        cells = [
            Cell([Name(name)], "name"),
            Cell([Formula(part) for part in u.formula.split("; ")]),
            Cell([Eq(None, u.before)]),
            Cell([Eq(None, u.grad)]),
        ]
        if has_state:
            cells.append(Cell([Eq(STATE_NAMES.get(k, k), v) for k, v in u.state.items()]))
        cells.append(Cell([Eq(None, u.after)]))
        rows.append(Row(cells, notes=[Note(update=u)] if view.explain else []))
    captions = []
    frozen = [t.name for t in tracer.graph.params if not t.trainable]
    if frozen:
        captions.append(Msg.of("updates.frozen", dim=True, names=Formula(", ".join(frozen))))
    if not step.updates:
        captions.append(Msg.of("updates.none", dim=True))
    return Table(
        "updates",
        Msg.of("updates.title", optimizer=Formula(step.optimizer)),
        columns,
        rows,
        captions=captions,
        spaced=has_state,
    )


def step_tables(step: Step, tracer: Tracer, view: View) -> list[Table]:
    tables = [forward(step, tracer), backward(step, tracer, view)]
    summed = sums(step, tracer, view)
    if summed is not None:
        tables.append(summed)
    tables.append(updates(step, tracer, view))
    return tables
