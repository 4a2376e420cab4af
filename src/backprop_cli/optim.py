"""Optimisers: how a param moves given its gradient, with their state and formula text.

Each optimiser is one class: its options (with defaults, checked when the config is loaded),
its update rule written as text, and ``step`` returning an ``Update`` record that holds the
state after the step (velocity, moments, bias-corrected moments), so the tables and JSON show it.
The rules follow PyTorch's ``torch.optim`` (SGD, Adam, AdamW, RMSprop) with their defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .graph import OptimizerSpec
from .notation import d
from .options import Option


@dataclass
class Update:
    """One param's update in one step."""

    name: str
    before: np.ndarray
    grad: np.ndarray
    after: np.ndarray
    formula: str
    state: dict[str, np.ndarray] = field(default_factory=dict)


def _lr(default: float) -> Option:
    return Option("the learning rate η", default=default, minimum=0.0)


WEIGHT_DECAY = Option("weight decay λ, added to the gradient as λ·w", default=0.0, minimum=0.0)
EPS = Option("ε, added to the denominator", default=1e-8, minimum=0.0, exclusive_minimum=True)


def _beta(default: float, doc: str) -> Option:
    return Option(doc, default=default, minimum=0.0, maximum=1.0)


class Optimizer:
    name = ""
    options: ClassVar[dict[str, Option]] = {}
    symbols: ClassVar[dict[str, str]] = {}  # option -> the symbol the formulas use

    def __init__(self, spec: OptimizerSpec, objective: str):
        self.objective = objective
        self.o: dict[str, Any] = {
            k: spec.options.get(k, opt.default) for k, opt in self.options.items()
        }
        self.o["lr"] = spec.lr
        self.state: dict[str, dict[str, Any]] = {}

    def describe(self) -> str:
        """``adam, η = 0.001, β1 = 0.9, …``: the title of the updates table."""
        parts = [self.name]
        for key in self.options:
            value = self.o[key]
            if key in self.symbols and (value or key == "lr"):
                parts.append(f"{self.symbols[key]} = {_num(value)}")
        return ", ".join(parts)

    def gradient_text(self, name: str) -> str:
        g = d(self.objective, name)
        return f"{g} + λ·{name}" if self.o.get("weight_decay") and self.couples_decay else g

    couples_decay = True  # weight decay enters through the gradient (not AdamW)

    def decayed(self, value: np.ndarray, grad: np.ndarray) -> np.ndarray:
        wd = self.o.get("weight_decay", 0.0)
        return grad + wd * value if wd and self.couples_decay else grad

    def formula(self, name: str) -> str:
        raise NotImplementedError

    def step(self, name: str, value: np.ndarray, grad: np.ndarray) -> Update:
        raise NotImplementedError


def _num(x: Any) -> str:
    return "true" if x is True else f"{x:g}"


class SGD(Optimizer):
    """Gradient descent, as in the document, with optional momentum (heavy ball or Nesterov)."""

    name = "sgd"
    options: ClassVar[dict[str, Option]] = {
        "lr": _lr(0.1),
        "momentum": Option("momentum μ", default=0.0, minimum=0.0),
        "nesterov": Option("Nesterov momentum", default=False, kind="bool"),
        "weight_decay": WEIGHT_DECAY,
    }
    symbols: ClassVar[dict[str, str]] = {
        "lr": "η",
        "momentum": "μ",
        "nesterov": "nesterov",
        "weight_decay": "λ",
    }

    def formula(self, name: str) -> str:
        g = self.gradient_text(name)
        if not self.o["momentum"]:
            return f"{name} ← {name} − η·({g})" if " " in g else f"{name} ← {name} − η·{g}"
        lines = [f"g = {g}", "v ← μ·v + g"]
        lines.append(
            f"{name} ← {name} − η·(g + μ·v)" if self.o["nesterov"] else f"{name} ← {name} − η·v"
        )
        return "; ".join(lines)

    def step(self, name: str, value: np.ndarray, grad: np.ndarray) -> Update:
        g = self.decayed(value, grad)
        mu, state = self.o["momentum"], {}
        if mu:
            v = mu * self.state.get(name, {}).get("velocity", 0.0) + g
            self.state[name] = {"velocity": v}
            g = g + mu * v if self.o["nesterov"] else v
            state = {"velocity": v}
        after = value - self.o["lr"] * g
        return Update(name, value, grad, after, self.formula(name), state)


class Adam(Optimizer):
    """Adam with bias correction (the state shows m, v and the corrected m̂, v̂)."""

    name = "adam"
    options: ClassVar[dict[str, Option]] = {
        "lr": _lr(0.001),
        "beta1": _beta(0.9, "β1, the decay of the first moment m"),
        "beta2": _beta(0.999, "β2, the decay of the second moment v"),
        "eps": EPS,
        "weight_decay": WEIGHT_DECAY,
    }
    symbols: ClassVar[dict[str, str]] = {
        "lr": "η",
        "beta1": "β1",
        "beta2": "β2",
        "eps": "ε",
        "weight_decay": "λ",
    }

    def formula(self, name: str) -> str:
        return (
            f"g = {self.gradient_text(name)}; m ← β1·m + (1 − β1)·g; "
            f"v ← β2·v + (1 − β2)·g²; m̂ = m/(1 − β1ᵗ); v̂ = v/(1 − β2ᵗ); "
            f"{name} ← {name} − η·{self.direction(name)}"
        )

    def direction(self, name: str) -> str:
        return "m̂/(√v̂ + ε)"

    def step(self, name: str, value: np.ndarray, grad: np.ndarray) -> Update:
        g = self.decayed(value, grad)
        b1, b2 = self.o["beta1"], self.o["beta2"]
        old = self.state.get(name, {"m": 0.0, "v": 0.0, "t": 0})
        t = old["t"] + 1
        m = b1 * old["m"] + (1.0 - b1) * g
        v = b2 * old["v"] + (1.0 - b2) * g * g
        self.state[name] = {"m": m, "v": v, "t": t}
        m_hat = m / (1.0 - b1**t)
        v_hat = v / (1.0 - b2**t)
        after = value - self.o["lr"] * self.move(value, m_hat, v_hat)
        state = {"t": np.float64(t), "m": m, "v": v, "m_hat": m_hat, "v_hat": v_hat}
        return Update(name, value, grad, after, self.formula(name), state)

    def move(self, value: np.ndarray, m_hat: np.ndarray, v_hat: np.ndarray) -> np.ndarray:
        return m_hat / (np.sqrt(v_hat) + self.o["eps"])


class AdamW(Adam):
    """Adam with decoupled weight decay: the decay does not pass through the moments."""

    name = "adamw"
    options: ClassVar[dict[str, Option]] = {
        **Adam.options,
        "weight_decay": Option("decoupled weight decay λ", default=0.01, minimum=0.0),
    }
    couples_decay = False

    def direction(self, name: str) -> str:
        return f"(m̂/(√v̂ + ε) + λ·{name})" if self.o["weight_decay"] else "m̂/(√v̂ + ε)"

    def move(self, value: np.ndarray, m_hat: np.ndarray, v_hat: np.ndarray) -> np.ndarray:
        return m_hat / (np.sqrt(v_hat) + self.o["eps"]) + self.o["weight_decay"] * value


class RMSprop(Optimizer):
    """RMSprop: divide by a running root mean square of the gradient."""

    name = "rmsprop"
    options: ClassVar[dict[str, Option]] = {
        "lr": _lr(0.01),
        "alpha": _beta(0.99, "α, the decay of the running mean of g²"),
        "eps": EPS,
        "weight_decay": WEIGHT_DECAY,
    }
    symbols: ClassVar[dict[str, str]] = {"lr": "η", "alpha": "α", "eps": "ε", "weight_decay": "λ"}

    def formula(self, name: str) -> str:
        return (
            f"g = {self.gradient_text(name)}; v ← α·v + (1 − α)·g²; {name} ← {name} − η·g/(√v + ε)"
        )

    def step(self, name: str, value: np.ndarray, grad: np.ndarray) -> Update:
        g = self.decayed(value, grad)
        a = self.o["alpha"]
        v = a * self.state.get(name, {}).get("v", 0.0) + (1.0 - a) * g * g
        self.state[name] = {"v": v}
        after = value - self.o["lr"] * g / (np.sqrt(v) + self.o["eps"])
        return Update(name, value, grad, after, self.formula(name), {"v": v})


OPTIMIZERS: dict[str, type[Optimizer]] = {cls.name: cls for cls in (SGD, Adam, AdamW, RMSprop)}


def make(spec: OptimizerSpec, objective: str) -> Optimizer:
    return OPTIMIZERS[spec.name](spec, objective)
