"""The tracer: forward in graph order, backward from ∂J/∂J = 1, then the optimiser step.

Everything a renderer shows is recorded here, once: every node's value, and for every
(node, input) edge the upstream gradient, the local gradient and the global gradient handed to
the input, with their formula text. Renderers only format these records.

Every forward value and every recorded gradient is checked: the first non-finite one stops the
trace with ``NumericalAnomaly`` (exit code 3), which carries an ``Anomaly`` record of where it
happened. The steps completed before it have been yielded already. ``allow_nonfinite`` turns the
check off, and the trace carries on with NaN and ±Inf.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import optim
from .errors import NodeError, NumericalAnomaly
from .graph import Graph, Node
from .notation import d, product
from .ops import (
    ELEMENTWISE,
    intended_nonfinite,
    local_text,
    run_forward,
    run_local,
    shape_text,
    with_parts,
)

# How many non-finite elements an anomaly lists by index (it counts all of them).
LISTED_ELEMENTS = 10


@dataclass(frozen=True)
class EdgeInfo:
    """What is the same for an edge in every step: names and formula text."""

    index: int  # 1-based, in backward order
    node: str
    op: str
    input: str
    position: int  # which input of the node
    equation: str
    upstream: str  # ∂J/∂o
    local: str  # hᵀ
    global_: str  # ∂J/∂o · hᵀ
    target: str  # ∂J/∂W2, the gradient this term is added to
    term: int  # this edge's place among the terms of ∂J/∂input (forward order), 1-based
    terms: int  # how many terms ∂J/∂input has


@dataclass
class Edge:
    info: EdgeInfo
    upstream: np.ndarray
    local: np.ndarray
    global_: np.ndarray


@dataclass
class Step:
    step: int  # 1-based
    values: dict[str, np.ndarray]  # data, params, then nodes: the step's forward pass
    objective: float
    edges: list[Edge]  # backward order
    grads: dict[str, np.ndarray]  # every name: its accumulated ∂J/∂name
    updates: dict[str, optim.Update]  # trainable params
    optimizer: str  # the optimiser and its settings: "adam, η = 0.001, β1 = 0.9, …"
    # the named intermediate values of ops that have them (batch_norm's μ, σ², x̂), in forward
    # order: "bn.μ" → its value
    parts: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Anomaly:
    """The first non-finite value of a trace: where it appeared and what went into it."""

    step: int  # 1-based
    pass_: str  # "forward", "backward" or "update"
    node: str  # the node whose rule produced it (a data or param name for a bad leaf)
    equation: str  # the node's equation, or the update rule
    quantity: str  # what is non-finite, as formula text: "o", "∂o/∂h = W2ᵀ", "∂J/∂W1", …
    value: np.ndarray  # the offending value itself
    inputs: list[tuple[str, np.ndarray]]  # what went into it: (label, value)
    input: str | None = None  # in the backward pass, the input of the edge

    @property
    def counts(self) -> dict[str, int]:
        return nonfinite_counts(self.value)

    def elements(self, limit: int = LISTED_ELEMENTS) -> list[tuple[tuple[int, ...], str]]:
        """The first ``limit`` non-finite elements: (index, "nan" | "inf" | "-inf")."""
        a = np.asarray(self.value)
        if a.ndim == 0:
            return (
                [] if np.isfinite(a) else [((), "nan" if a != a else ("inf" if a > 0 else "-inf"))]
            )
        out = []
        for index in zip(*np.nonzero(~np.isfinite(a)), strict=False):
            x = a[index]
            out.append(
                (tuple(int(i) for i in index), "nan" if x != x else ("inf" if x > 0 else "-inf"))
            )
            if len(out) == limit:
                break
        return out

    def message(self) -> str:
        """One line: what went non-finite where (the CLI prints it on stderr)."""
        a = np.asarray(self.value)
        edge = f", edge to '{self.input}'" if self.input else ""
        head = (
            f"numerical anomaly in step {self.step}, {self.pass_} pass, node '{self.node}' "
            f"({self.equation}){edge}: {self.quantity}"
        )
        if a.ndim == 0:
            return f"{head} is {self.elements(1)[0][1]}"
        listed = self.elements(3)
        bad = sum(self.counts.values())
        where = ", ".join(f"{v} at [{', '.join(map(str, i))}]" for i, v in listed)
        more = ", …" if bad > len(listed) else ""
        return f"{head} has {bad} of {a.size} elements non-finite: {where}{more}"


def nonfinite_counts(value: np.ndarray) -> dict[str, int]:
    a = np.asarray(value)
    nan = int(np.isnan(a).sum())
    pos = int(np.isposinf(a).sum())
    return {"nan": nan, "inf": pos, "-inf": int(np.isinf(a).sum()) - pos}


def finite_stats(value: np.ndarray) -> dict[str, float | None]:
    """Minimum and maximum over the finite elements (None when there are none)."""
    a = np.asarray(value, dtype=np.float64)
    finite = a[np.isfinite(a)]
    if finite.size == 0:
        return {"min": None, "max": None}
    return {"min": float(finite.min()), "max": float(finite.max())}


def _finite(a: np.ndarray) -> bool:
    """Whether every element is finite. Scalars go through ``math`` (50× faster than numpy on
    one number); for arrays a finite sum settles it, and only a non-finite sum (a NaN or ±Inf
    element, or finite elements whose sum overflows) needs the element-wise check."""
    if getattr(a, "ndim", 0) == 0:
        return math.isfinite(a)
    return math.isfinite(np.add.reduce(a, axis=None)) or bool(np.isfinite(a).all())


def _masked(node: Node, out: np.ndarray) -> bool:
    """Whether an op that masks (causal_mask) left only its intended −∞ non-finite: −∞ at the
    masked entries, nothing else."""
    intended = intended_nonfinite(node.op, out)
    return intended is not None and _finite(np.where(intended, 0.0, out))


class Tracer:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.objective = graph.objective
        self.constants = graph.constants
        self.shapes = {name: t.value.shape for name, t in graph.tensors.items()}
        self.shapes.update({n.name: n.shape for n in graph.nodes})
        # Every name that gets a gradient: data, params, nodes. Literal constants in args have a
        # shape (for formula text) but no gradient and no edge.
        self.names = list(self.shapes)
        self.shapes.update({text: value.shape for text, value in graph.constants.items()})
        self.active = self._active_nodes()
        self.consumers = self._consumers()
        self.edge_info: list[EdgeInfo] | None = None  # filled by the first backward pass
        # The step being traced: a stochastic op (dropout) draws from its seed and this step,
        # so every pass of a step (finite differences too) sees the same draw.
        self.step = 1
        self.grad_formulas: dict[str, str] = {}
        # "bn.μ" → (node, "μ", its equation) for every op's named intermediate values
        self.parts: dict[str, tuple[str, str, str]] = {}
        for node in graph.nodes:
            if node.op.parts_text is not None:
                shapes = [self.shapes[a] for a in node.args]
                texts = node.op.parts_text(node.name, list(node.args), shapes, node.options)
                for part, text in texts.items():
                    self.parts[f"{node.name}.{part}"] = (node.name, part, text)

    # ---- static structure ------------------------------------------------------------------

    def _active_nodes(self) -> list[Node]:
        """The nodes J depends on, in forward order; backward walks them reversed."""
        by_name = {n.name: n for n in self.graph.nodes}
        needed = {self.objective}
        for node in reversed(self.graph.nodes):
            if node.name in needed:
                needed.update(node.args)
        return [n for n in self.graph.nodes if n.name in needed and n.name in by_name]

    def _consumers(self) -> dict[str, list[tuple[str, int]]]:
        """For every name, the (node, input position) edges that read it, in forward order;
        ``term_of`` gives each edge's 1-based place among them (a dict: a param read by
        every node of a deep graph would make ``list.index`` quadratic)."""
        out: dict[str, list[tuple[str, int]]] = {name: [] for name in self.names}
        self.term_of: dict[tuple[str, int], int] = {}
        for node in self.active:
            for pos, arg in enumerate(node.args):
                if arg not in self.constants:
                    out[arg].append((node.name, pos))
                    self.term_of[(node.name, pos)] = len(out[arg])
        return out

    def options(self, node: Node) -> dict[str, Any]:
        """The options a node's op is run with: a stochastic op also gets the step."""
        return {**node.options, "step": self.step} if node.op.stochastic else node.options

    def inputs(self, node: Node, values: dict[str, np.ndarray]) -> list[np.ndarray]:
        """The values of a node's args: named values, or the literal constants."""
        return [values[a] if a in values else self.constants[a] for a in node.args]

    def _describe_edges(self, locals_by_node: dict[str, list[np.ndarray]]) -> None:
        """Formula text of every edge and of every accumulated gradient."""
        J = self.objective
        texts: dict[tuple[str, int], str] = {}
        infos: list[EdgeInfo] = []
        # Gradients that are 1 whatever the values (∂J/∂J, and what a + node hands on from it):
        # a product with them is written as the local gradient alone, as the document writes
        # ∂J/∂W2 = ∂J/∂o·hᵀ + λW2 rather than … + ∂J/∂s·λW2.
        ones = {J} if self.shapes[J] == () else set()
        for node in reversed(self.active):
            up = d(J, node.name)
            arg_shapes = [self.shapes[a] for a in node.args]
            for pos, arg in enumerate(node.args):
                if arg in self.constants:
                    continue
                local = locals_by_node[node.name][pos]
                loc_text = local_text(
                    node.op, pos, node.name, list(node.args), arg_shapes, node.options
                )
                chain = node.op.chain_for(pos)
                scalar = self.shapes[node.name] == () or np.ndim(local) == 0
                glob = product(
                    chain.text,
                    up,
                    loc_text,
                    elementwise=chain.elementwise,
                    scalar=scalar,
                    shape=shape_text(self.shapes[arg]),
                )
                if chain.elementwise and node.name in ones:  # a scalar 1 times the local
                    glob = loc_text
                if node.op.stops_gradient:
                    glob = "0"  # nothing flows back; the local text says why
                elif chain is ELEMENTWISE and self._reduces(node, arg, local):
                    glob = f"Σ({glob})" if self.shapes[arg] == () else f"unbroadcast({glob})"
                texts[(node.name, pos)] = glob
                terms = self.consumers[arg]
                if glob == "1" and len(terms) == 1 and self.shapes[arg] == ():
                    ones.add(arg)
                infos.append(
                    EdgeInfo(
                        index=len(infos) + 1,
                        node=node.name,
                        op=node.op.name,
                        input=arg,
                        position=pos,
                        equation=node.equation,
                        upstream=up,
                        local=loc_text,
                        global_=glob,
                        target=d(J, arg),
                        term=self.term_of[(node.name, pos)],
                        terms=len(terms),
                    )
                )
        self.edge_info = infos
        self.grad_formulas = {J: f"{d(J, J)} = 1"}
        for name, terms in self.consumers.items():
            if terms:
                self.grad_formulas[name] = f"{d(J, name)} = " + " + ".join(texts[t] for t in terms)

    def _reduces(self, node: Node, arg: str, local: np.ndarray) -> bool:
        """Whether the chain sums a broadcast away for this input."""
        full = np.broadcast_shapes(self.shapes[node.name], np.shape(local))
        return math.prod(full) > math.prod(self.shapes[arg]) and self.shapes[node.name] != ()

    # ---- the passes ------------------------------------------------------------------------

    def forward(
        self,
        leaves: dict[str, np.ndarray],
        override: dict[str, np.ndarray] | None = None,
        check: int | None = None,
        parts: dict[str, np.ndarray] | None = None,
    ) -> dict[str, np.ndarray]:
        """All values, data and params first. ``override`` replaces a node's computed value
        (finite differences with respect to an intermediate node use it). With ``check`` (the
        step number), the first non-finite value raises ``NumericalAnomaly``. ``parts``
        receives the named intermediate values of the ops that have them ("bn.x̂")."""
        values = dict(leaves)
        # Leaves are checked when the trace starts: after that, data never change and every
        # param was checked as it left the optimiser.
        if check == 1:
            for name, value in leaves.items():
                if not _finite(value):
                    kind = self.graph.tensors[name].kind
                    raise NumericalAnomaly(Anomaly(check, "forward", name, kind, name, value, []))
        with np.errstate(all="ignore"):  # non-finite values are found, not warned about
            for node in self.graph.nodes:
                if override and node.name in override:
                    values[node.name] = override[node.name]
                    continue
                args = self.inputs(node, values)
                try:
                    if node.op.parts is not None and parts is not None:
                        out, named = node.op.parts(args, self.options(node))
                        values[node.name] = out = np.asarray(out, dtype=np.float64)
                        parts.update({f"{node.name}.{k}": v for k, v in named.items()})
                    else:
                        values[node.name] = out = run_forward(node.op, args, self.options(node))
                except ValueError as exc:
                    where = node.where or self.graph.source
                    raise NodeError(
                        f"{where}: node '{node.name}' ({node.equation}): "
                        f"{node.op.name} expects {exc}"
                    ) from None
                if check is not None and not _finite(out) and not _masked(node, out):
                    raise NumericalAnomaly(
                        Anomaly(
                            check,
                            "forward",
                            node.name,
                            node.equation,
                            node.name,
                            out,
                            list(zip(node.args, args, strict=False)),
                        )
                    )
        return values

    def objective_value(self, values: dict[str, np.ndarray]) -> float:
        return float(np.reshape(values[self.objective], ()))

    def backward(
        self,
        values: dict[str, np.ndarray],
        check: int | None = None,
        parts: dict[str, np.ndarray] | None = None,
    ) -> tuple[list[Edge], dict[str, np.ndarray]]:
        """Every edge's upstream, local and global gradient, and the accumulated gradient of
        every name. With ``check`` (the step number), the first non-finite local gradient,
        edge term or accumulated gradient raises ``NumericalAnomaly``. ``parts`` holds the
        forward pass's named intermediate values (computed again where absent)."""
        # Gradients are filled in as their terms arrive (no zero array per name); arrays are
        # never changed in place, so a term recorded on an edge stays as it was.
        grads: dict[str, np.ndarray] = {self.objective: np.ones(self.shapes[self.objective])}
        recorded: list[tuple[Node, int, np.ndarray, np.ndarray, np.ndarray]] = []
        locals_by_node: dict[str, list[np.ndarray]] = {}
        with np.errstate(all="ignore"):  # non-finite values are found, not warned about
            for node in reversed(self.active):
                g = grads[node.name]
                args = self.inputs(node, values)
                options = self.options(node)
                if node.op.parts is not None:
                    named = {
                        part: parts[key]
                        for key, (owner, part, _) in self.parts.items()
                        if owner == node.name and parts and key in parts
                    }
                    options = {**options, "parts": named} if named else options
                    options = with_parts(node.op, args, options)
                locals_ = run_local(node.op, args, values[node.name], options)
                locals_by_node[node.name] = locals_
                for pos, arg in enumerate(node.args):
                    if arg in self.constants:  # a literal constant: no gradient, no edge
                        continue
                    contribution = node.op.chain_for(pos).apply(
                        g, locals_[pos], self.shapes[arg], options
                    )
                    before = grads.get(arg)
                    grads[arg] = total = contribution if before is None else before + contribution
                    if check is not None:
                        self._check_edge(
                            check, node, pos, g, locals_[pos], contribution, before, total, values
                        )
                    recorded.append((node, pos, g, locals_[pos], contribution))
        # Every name, in the order of the graph (data, params, nodes); 0 where J does not
        # depend on it.
        grads = {
            name: grads[name] if name in grads else np.zeros(self.shapes[name])
            for name in self.names
        }
        if self.edge_info is None:
            self._describe_edges(locals_by_node)
        assert self.edge_info is not None
        edges = [
            Edge(info, up, loc, glob)
            for info, (_, _, up, loc, glob) in zip(self.edge_info, recorded, strict=True)
        ]
        return edges, grads

    def _check_edge(
        self,
        step: int,
        node: Node,
        pos: int,
        upstream: np.ndarray,
        local: np.ndarray,
        contribution: np.ndarray,
        before: np.ndarray | None,
        total: np.ndarray,
        values: dict[str, np.ndarray],
    ) -> None:
        """The edge's local gradient, its term, and the gradient it was added to are finite."""
        # ``before`` was checked as the total of the previous term (or is 0), so a non-finite
        # term shows up in the total; and a non-finite local gradient always makes the term
        # non-finite (x·inf and x·nan are never finite, nor is a sum or product holding one).
        # One check finds all three; which of them it was is worked out below.
        if _finite(total):
            return
        arg = node.args[pos]
        J = self.objective
        local_name = local_text(
            node.op,
            pos,
            node.name,
            list(node.args),
            [self.shapes[a] for a in node.args],
            node.options,
        )
        inputs = list(zip(node.args, self.inputs(node, values), strict=True))
        if not _finite(local):
            quantity = f"the local gradient ∂{node.name}/∂{arg} = {local_name}"
            raise NumericalAnomaly(
                Anomaly(step, "backward", node.name, node.equation, quantity, local, inputs, arg)
            )
        term = f"the term {d(J, node.name)} × {local_name} of {d(J, arg)}"
        if not _finite(contribution):
            raise NumericalAnomaly(
                Anomaly(
                    step,
                    "backward",
                    node.name,
                    node.equation,
                    term,
                    contribution,
                    [(d(J, node.name), upstream), (local_name, local)],
                    arg,
                )
            )
        if not _finite(total):
            quantity = f"{d(J, arg)}, summed over its paths"
            so_far = np.zeros(self.shapes[arg]) if before is None else before
            raise NumericalAnomaly(
                Anomaly(
                    step,
                    "backward",
                    node.name,
                    node.equation,
                    quantity,
                    total,
                    [(f"{d(J, arg)} so far", so_far), (term, contribution)],
                    arg,
                )
            )

    def run(
        self, steps: int | None = None, lr: float | None = None, allow_nonfinite: bool = False
    ) -> Iterator[Step]:
        """Trace ``steps`` training steps; each is yielded as soon as it is done.

        Unless ``allow_nonfinite``, the first non-finite forward value, gradient or updated
        param raises ``NumericalAnomaly`` after the steps before it were yielded."""
        spec = self.graph.optimizer
        if lr is not None:
            spec = type(spec)(name=spec.name, lr=lr, options=spec.options)
        optimizer = optim.make(spec, self.objective)
        leaves = {name: t.value for name, t in self.graph.tensors.items()}
        for step in range(1, (steps or self.graph.steps) + 1):
            self.step = step
            check = None if allow_nonfinite else step
            with np.errstate(all="ignore"):  # overflow is reported as an anomaly, not warned
                parts: dict[str, np.ndarray] = {}
                values = self.forward(leaves, check=check, parts=parts)
                edges, grads = self.backward(values, check=check, parts=parts)
                updates = {}
                for t in self.graph.params:
                    if t.trainable:
                        u = optimizer.step(t.name, leaves[t.name], grads[t.name])
                        if check is not None and not _finite(u.after):
                            raise NumericalAnomaly(
                                Anomaly(
                                    step,
                                    "update",
                                    t.name,
                                    u.formula,
                                    f"{t.name} after the update",
                                    u.after,
                                    [
                                        (t.name, u.before),
                                        (d(self.objective, t.name), u.grad),
                                        ("η", np.float64(spec.lr)),
                                        *u.state.items(),
                                    ],
                                )
                            )
                        updates[t.name] = u
                        leaves[t.name] = u.after
            yield Step(
                step,
                values,
                self.objective_value(values),
                edges,
                grads,
                updates,
                optimizer.describe(),
                parts,
            )
