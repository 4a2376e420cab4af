"""``--explain``: one sentence per backward row and per update, from what the engine recorded.

The kind of sentence comes from the op table (``Op.explain``), the words from the catalogue
(``explain.edge.<kind>``), the facts from the edge's record: its formula text, the sign of a
scalar error, how many entries a ReLU lets through. Nothing is recomputed here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import fmt
from ..engine import Edge, Tracer
from ..i18n import Catalogue
from ..optim import Update


@dataclass(frozen=True)
class Typeset:
    """How an output format writes a formula (Unicode text in) and the catalogue's prose."""

    math: Callable[[str], str]
    prose: Callable[[str], str]


PLAIN = Typeset(math=lambda s: s, prose=lambda s: s)

SYMBOLS = {"add": "+", "sub": "−", "neg": "−", "matmul": "×", "l2": "ℓ₂", "l1": "ℓ₁"}


def edge_sentence(edge: Edge, tracer: Tracer, t: Catalogue, ts: Typeset, precision: int) -> str:
    info = edge.info
    node = next(n for n in tracer.graph.nodes if n.name == info.node)
    op, m = node.op, ts.math
    kind = op.explain_for(info.position)
    others = [a for i, a in enumerate(node.args) if i != info.position]
    local = np.asarray(edge.local)
    upstream = info.upstream
    if np.ndim(edge.upstream) == 0:  # "∂J/∂J = 1", as the document says it
        upstream += f" = {fmt.number(float(edge.upstream), precision)}"
    values = {
        "symbol": m(SYMBOLS.get(op.name, op.name)),
        "upstream": m(upstream),
        "input": m(info.input),
        "local": m(info.local),
        "global_": m(info.global_),
        "target": m(info.target),
        "minus_one": m("−1"),
        "also": "",
        "other": m(others[0]) if others else "",
        "function": m(info.equation),
        "open_condition": m(f"{info.input} > 0"),
        "closed_condition": m(f"{info.input} ≤ 0"),
        "n": math.prod(tracer.shapes[info.input]) or 1,
        "open": int(np.count_nonzero(local)),
    }
    if kind == "pass" and op.name == "add" and others:
        values["also"] = t.compose(
            "explain.edge.pass.also", ts.prose, others=", ".join(m(o) for o in others)
        )
    if kind == "product":
        scalar = any(tracer.shapes[a] == () for a in node.args)
        values["symbol"] = m("·" if scalar else "⊙")
    if kind == "relu" and local.ndim == 0:
        kind = "relu.scalar.open" if local != 0 else "relu.scalar.closed"
    if kind == "target" and info.input not in tracer.graph.tensors:
        kind = "error"  # the second input of a loss that is not a data tensor
    if kind == "error" and local.ndim == 0 and info.position == 0:
        value = float(local)
        kind = "error.low" if value < 0 else "error.high" if value > 0 else "error.exact"
        values["error"] = m(f"{info.local} = {fmt.number(value, precision)}")
    sentence = t.compose(f"explain.edge.{kind}", ts.prose, **values)
    if info.global_.startswith(("unbroadcast(", "Σ(")):  # the engine summed a broadcast back
        sentence += t.compose("explain.edge.unbroadcast", ts.prose, input=m(info.input))
    if info.terms > 1:
        sentence += t.compose(
            "explain.edge.terms", ts.prose, term=info.term, terms=info.terms, target=m(info.target)
        )
    return sentence


def update_sentence(update: Update, t: Catalogue, ts: Typeset, precision: int) -> str:
    """Which way the param moved (from the recorded before and after) and why: against its
    gradient, or, under momentum or Adam, carried by the optimiser's state."""
    step = np.asarray(update.after) - np.asarray(update.before)
    grad = np.asarray(update.grad)
    param = ts.math(update.name)
    # Descent moves against the gradient; maximize (ascent) along it.
    against = np.sign(step) == (1 if update.ascent else -1) * np.sign(grad)
    ascent = ".ascent" if update.ascent else ""
    if step.ndim == 0:
        direction = "grows" if step > 0 else "shrinks" if step < 0 else "stays"
        if direction == "stays":
            key = direction
        else:
            key = direction + ascent if against else f"{direction}_by_state"
        move = (
            f"{fmt.number(float(update.before), precision)} → "
            f"{fmt.number(float(update.after), precision)}"
        )
        return t.compose(
            f"explain.update.{key}",
            ts.prose,
            param=param,
            move=ts.math(move),
            grad=ts.math(fmt.number(float(grad), precision)),
        )
    moved = step != 0
    return t.compose(
        "explain.update.tensor" + ascent,
        ts.prose,
        param=param,
        grow=int(np.count_nonzero(step > 0)),
        shrink=int(np.count_nonzero(step < 0)),
        stay=int(np.count_nonzero(~moved)),
        moved=int(np.count_nonzero(moved)),
        against=int(np.count_nonzero(against & moved)),
    )
