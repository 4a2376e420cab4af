"""What a config compiles to: tensors, nodes in forward order, the objective, the optimiser."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .ops import Op


def constant_text(value: np.ndarray) -> str:
    """How a literal constant is written in equations: ``3``, ``0.5``, ``−1``, ``[1, −2]``,
    ``[[1], [2]]``; each number in its shortest exact form, so equal texts are equal values."""
    if value.ndim == 0:
        text = repr(float(value))
        text = text[:-2] if text.endswith(".0") else text
        return "−" + text[1:] if text.startswith("-") else text  # the sign as formulas write it
    return "[" + ", ".join(constant_text(v) for v in value) + "]"


@dataclass
class Tensor:
    """A leaf of the graph: ``data`` (constant) or ``param`` (trainable unless frozen)."""

    name: str
    kind: str  # "data" or "param"
    value: np.ndarray
    trainable: bool = False


@dataclass
class Node:
    """One op applied to named inputs, as written in ``graph:``."""

    name: str
    op: Op
    args: tuple[str, ...]
    options: dict[str, Any]
    shape: tuple[int, ...]
    equation: str
    where: str = ""  # "config.yaml:3:5: graph[0]", for errors found when the op runs


@dataclass
class OptimizerSpec:
    name: str = "sgd"
    lr: float = 0.1
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Graph:
    source: str
    tensors: dict[str, Tensor]
    nodes: list[Node]
    objective: str
    optimizer: OptimizerSpec
    steps: int
    # Literal constants written in a node's args (``args: [x, 3.0]``), by the text that stands
    # for them in the node's args and equations ("3", "[1, −2]"). They get no gradient.
    constants: dict[str, np.ndarray] = field(default_factory=dict)

    def shape(self, name: str) -> tuple[int, ...]:
        if name in self.tensors:
            return self.tensors[name].value.shape
        return next(n.shape for n in self.nodes if n.name == name)

    @property
    def params(self) -> list[Tensor]:
        return [t for t in self.tensors.values() if t.kind == "param"]
