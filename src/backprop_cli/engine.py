"""The tracer: forward in graph order, backward from ∂J/∂J = 1, then the optimiser step.

Everything a renderer shows is recorded here, once: every node's value, and for every
(node, input) edge the upstream gradient, the local gradient and the global gradient handed to
the input, with their formula text. Renderers only format these records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from . import optim
from .errors import NodeError
from .graph import Graph, Node
from .notation import d, product
from .ops import ELEMENTWISE, local_text, run_forward, run_local, shape_text


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
    lr: float  # the learning rate this step used
    optimizer: str  # the optimiser and its settings: "adam, η = 0.001, β1 = 0.9, …"


class Tracer:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.objective = graph.objective
        self.shapes = {name: t.value.shape for name, t in graph.tensors.items()}
        self.shapes.update({n.name: n.shape for n in graph.nodes})
        self.active = self._active_nodes()
        self.consumers = self._consumers()
        self.edge_info: list[EdgeInfo] | None = None  # filled by the first backward pass
        self.grad_formulas: dict[str, str] = {}

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
        """For every name, the (node, input position) edges that read it, in forward order."""
        out: dict[str, list[tuple[str, int]]] = {name: [] for name in self.shapes}
        for node in self.active:
            for pos, arg in enumerate(node.args):
                out[arg].append((node.name, pos))
        return out

    def _describe_edges(self, locals_by_node: dict[str, list[np.ndarray]]) -> None:
        """Formula text of every edge and of every accumulated gradient."""
        J = self.objective
        texts: dict[tuple[str, int], str] = {}
        infos = []
        for node in reversed(self.active):
            up = d(J, node.name)
            arg_shapes = [self.shapes[a] for a in node.args]
            for pos, arg in enumerate(node.args):
                local = locals_by_node[node.name][pos]
                loc_text = local_text(node.op, pos, node.name, list(node.args), arg_shapes,
                                      node.options)
                chain = node.op.chain_for(pos)
                scalar = self.shapes[node.name] == () or np.ndim(local) == 0
                glob = product(chain.text, up, loc_text, elementwise=chain.elementwise,
                               scalar=scalar, shape=shape_text(self.shapes[arg]))
                if chain is ELEMENTWISE and self._reduces(node, arg, local):
                    glob = f"Σ({glob})" if self.shapes[arg] == () else f"unbroadcast({glob})"
                texts[(node.name, pos)] = glob
                terms = self.consumers[arg]
                infos.append(EdgeInfo(
                    index=len(infos) + 1, node=node.name, op=node.op.name, input=arg,
                    position=pos, equation=node.equation, upstream=up, local=loc_text,
                    global_=glob, target=d(J, arg), term=terms.index((node.name, pos)) + 1,
                    terms=len(terms),
                ))
        self.edge_info = infos
        self.grad_formulas = {J: f"{d(J, J)} = 1"}
        for name, terms in self.consumers.items():
            if terms:
                self.grad_formulas[name] = f"{d(J, name)} = " + " + ".join(
                    texts[t] for t in terms)

    def _reduces(self, node: Node, arg: str, local: np.ndarray) -> bool:
        """Whether the chain sums a broadcast away for this input."""
        full = np.broadcast_shapes(self.shapes[node.name], np.shape(local))
        return math.prod(full) > math.prod(self.shapes[arg]) and self.shapes[node.name] != ()

    # ---- the passes ------------------------------------------------------------------------

    def forward(self, leaves: dict[str, np.ndarray],
                override: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """All values, data and params first. ``override`` replaces a node's computed value
        (finite differences with respect to an intermediate node use it)."""
        values = dict(leaves)
        for node in self.graph.nodes:
            if override and node.name in override:
                values[node.name] = override[node.name]
                continue
            args = [values[a] for a in node.args]
            try:
                with np.errstate(all="ignore"):  # non-finite values are found, not warned about
                    values[node.name] = run_forward(node.op, args, node.options)
            except ValueError as exc:
                raise NodeError(f"{self.graph.source}: node '{node.name}' ({node.equation}): "
                                f"{node.op.name} expects {exc}") from None
        return values

    def objective_value(self, values: dict[str, np.ndarray]) -> float:
        return float(np.reshape(values[self.objective], ()))

    def backward(self, values: dict[str, np.ndarray]) -> tuple[list[Edge], dict[str, np.ndarray]]:
        grads = {name: np.zeros(shape) for name, shape in self.shapes.items()}
        grads[self.objective] = np.ones(self.shapes[self.objective])
        recorded: list[tuple[Node, int, np.ndarray, np.ndarray, np.ndarray]] = []
        locals_by_node: dict[str, list[np.ndarray]] = {}
        for node in reversed(self.active):
            g = grads[node.name]
            args = [values[a] for a in node.args]
            with np.errstate(all="ignore"):
                locals_ = run_local(node.op, args, values[node.name], node.options)
            locals_by_node[node.name] = locals_
            for pos, arg in enumerate(node.args):
                with np.errstate(all="ignore"):
                    contribution = node.op.chain_for(pos).apply(g, locals_[pos],
                                                                self.shapes[arg], node.options)
                grads[arg] = grads[arg] + contribution
                recorded.append((node, pos, g, locals_[pos], contribution))
        if self.edge_info is None:
            self._describe_edges(locals_by_node)
        edges = [Edge(info, up, loc, glob)
                 for info, (_, _, up, loc, glob) in zip(self.edge_info, recorded)]
        return edges, grads

    def run(self, steps: int | None = None, lr: float | None = None) -> Iterator[Step]:
        """Trace ``steps`` training steps; each is yielded as soon as it is done."""
        spec = self.graph.optimizer
        if lr is not None:
            spec = type(spec)(name=spec.name, lr=lr, options=spec.options)
        optimizer = optim.make(spec, self.objective)
        leaves = {name: t.value for name, t in self.graph.tensors.items()}
        for step in range(1, (steps or self.graph.steps) + 1):
            values = self.forward(leaves)
            edges, grads = self.backward(values)
            updates = {}
            for t in self.graph.params:
                if t.trainable:
                    updates[t.name] = optimizer.step(t.name, leaves[t.name], grads[t.name])
                    leaves[t.name] = updates[t.name].after
            yield Step(step, values, self.objective_value(values), edges, grads, updates,
                       spec.lr, optimizer.describe())
