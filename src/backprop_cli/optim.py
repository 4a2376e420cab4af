"""Optimisers: how a param moves given its gradient. Each records its formula text."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .graph import OptimizerSpec
from .notation import d


@dataclass
class Update:
    """One param's update in one step."""

    name: str
    before: np.ndarray
    grad: np.ndarray
    after: np.ndarray
    formula: str
    state: dict[str, np.ndarray] = field(default_factory=dict)


class SGD:
    """Plain gradient descent, as in the document: ``w ← w − η·∂J/∂w``."""

    def __init__(self, spec: OptimizerSpec, objective: str):
        self.lr = spec.lr
        self.objective = objective

    def formula(self, name: str) -> str:
        return f"{name} ← {name} − η·{d(self.objective, name)}"

    def step(self, name: str, value: np.ndarray, grad: np.ndarray) -> Update:
        after = value - self.lr * grad
        return Update(name, value, grad, after, self.formula(name))


OPTIMIZERS = {"sgd": SGD}


def make(spec: OptimizerSpec, objective: str) -> SGD:
    return OPTIMIZERS[spec.name](spec, objective)
