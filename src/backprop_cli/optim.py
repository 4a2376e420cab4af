"""Optimisers: how a param moves given its gradient, with their state and formula text.

Each optimiser is one class: its options (with defaults, checked when the config is loaded),
its update rule written as text, and ``step`` returning an ``Update`` record that holds the
state after the step (velocity, moments, bias-corrected moments), so the tables and JSON show it.
The rules follow PyTorch's ``torch.optim`` (SGD, Adam, AdamW, RMSprop, Adagrad) with their
options, names and defaults; ``maximize`` (every optimiser) negates the gradient first, as
PyTorch's flag does, and ``eps_in_sqrt`` (RMSprop, Adagrad) adds ε under the root (the d2l and
TensorFlow 1 form).
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
    ascent: bool = False  # maximize: the param moves along its gradient, not against it


def _lr(default: float) -> Option:
    return Option("the learning rate η", default=default, minimum=0.0)


WEIGHT_DECAY = Option("weight decay λ, added to the gradient as λ·w", default=0.0, minimum=0.0)
EPS = Option("ε, added to the denominator", default=1e-8, minimum=0.0, exclusive_minimum=True)
MAXIMIZE = Option(
    "gradient ascent: maximise the objective (PyTorch's maximize)", default=False, kind="bool"
)


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

    @classmethod
    def conflict(cls, options: dict[str, Any]) -> str | None:
        """What is wrong with a combination of (individually valid) options, or None."""
        return None

    def gradient_text(self, name: str) -> str:
        g = d(self.objective, name)
        if self.o.get("maximize"):
            g = f"−{g}"
        return f"{g} + λ·{name}" if self.o.get("weight_decay") and self.couples_decay else g

    couples_decay = True  # weight decay enters through the gradient (not AdamW)

    def decayed(self, value: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """The gradient the rule uses: negated to maximise, then with coupled weight decay."""
        if self.o.get("maximize"):
            grad = -grad
        wd = self.o.get("weight_decay", 0.0)
        return grad + wd * value if wd and self.couples_decay else grad

    def formula(self, name: str) -> str:
        raise NotImplementedError

    def record(
        self,
        name: str,
        value: np.ndarray,
        grad: np.ndarray,
        after: np.ndarray,
        state: dict[str, np.ndarray],
    ) -> Update:
        ascent = bool(self.o.get("maximize"))
        return Update(name, value, grad, after, self.formula(name), state, ascent)

    def step(self, name: str, value: np.ndarray, grad: np.ndarray) -> Update:
        raise NotImplementedError


def _num(x: Any) -> str:
    return "true" if x is True else f"{x:g}"


class SGD(Optimizer):
    """Gradient descent, as in the document, with optional momentum (heavy ball or Nesterov)
    and dampening."""

    name = "sgd"
    options: ClassVar[dict[str, Option]] = {
        "lr": _lr(0.1),
        "momentum": Option("momentum μ", default=0.0, minimum=0.0),
        "dampening": Option(
            "dampening τ: the new gradient enters the velocity as (1 − τ)·g",
            default=0.0,
            minimum=0.0,
            maximum=1.0,
        ),
        "nesterov": Option("Nesterov momentum", default=False, kind="bool"),
        "weight_decay": WEIGHT_DECAY,
        "maximize": MAXIMIZE,
    }
    symbols: ClassVar[dict[str, str]] = {
        "lr": "η",
        "momentum": "μ",
        "dampening": "τ",
        "nesterov": "nesterov",
        "weight_decay": "λ",
        "maximize": "maximize",
    }

    @classmethod
    def conflict(cls, options: dict[str, Any]) -> str | None:
        if options.get("nesterov") and options.get("dampening"):
            return "Nesterov momentum needs dampening 0 (as in PyTorch)"
        return None

    def formula(self, name: str) -> str:
        g = self.gradient_text(name)
        if not self.o["momentum"]:
            if g.startswith("−") and " " not in g:  # maximize: ascend along the gradient
                return f"{name} ← {name} + η·{g[1:]}"
            return f"{name} ← {name} − η·({g})" if " " in g else f"{name} ← {name} − η·{g}"
        tau = self.o["dampening"]
        lines = [f"g = {g}", "v ← μ·v + (1 − τ)·g (v = g at t = 1)" if tau else "v ← μ·v + g"]
        lines.append(
            f"{name} ← {name} − η·(g + μ·v)" if self.o["nesterov"] else f"{name} ← {name} − η·v"
        )
        return "; ".join(lines)

    def step(self, name: str, value: np.ndarray, grad: np.ndarray) -> Update:
        g = self.decayed(value, grad)
        mu, state = self.o["momentum"], {}
        if mu:
            old = self.state.get(name)
            # The first step starts the velocity at g, undamped (PyTorch's buffer).
            v = g if old is None else mu * old["velocity"] + (1.0 - self.o["dampening"]) * g
            self.state[name] = {"velocity": v}
            g = g + mu * v if self.o["nesterov"] else v
            state = {"velocity": v}
        after = value - self.o["lr"] * g
        return self.record(name, value, grad, after, state)


class Adam(Optimizer):
    """Adam with bias correction (the state shows m, v and the corrected m̂, v̂)."""

    name = "adam"
    options: ClassVar[dict[str, Option]] = {
        "lr": _lr(0.001),
        "beta1": _beta(0.9, "β1, the decay of the first moment m"),
        "beta2": _beta(0.999, "β2, the decay of the second moment v"),
        "eps": EPS,
        "weight_decay": WEIGHT_DECAY,
        "maximize": MAXIMIZE,
    }
    symbols: ClassVar[dict[str, str]] = {
        "lr": "η",
        "beta1": "β1",
        "beta2": "β2",
        "eps": "ε",
        "weight_decay": "λ",
        "maximize": "maximize",
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
        return self.record(name, value, grad, after, state)

    def move(self, value: np.ndarray, m_hat: np.ndarray, v_hat: np.ndarray) -> np.ndarray:
        return m_hat / (np.sqrt(v_hat) + self.o["eps"])


class AdamW(Adam):
    """Adam with decoupled weight decay: the decay does not pass through the moments."""

    name = "adamw"
    options: ClassVar[dict[str, Option]] = {
        **Adam.options,
        "weight_decay": Option("decoupled weight decay λ", default=0.01, minimum=0.0),
        "maximize": MAXIMIZE,
    }
    couples_decay = False

    def direction(self, name: str) -> str:
        return f"(m̂/(√v̂ + ε) + λ·{name})" if self.o["weight_decay"] else "m̂/(√v̂ + ε)"

    def move(self, value: np.ndarray, m_hat: np.ndarray, v_hat: np.ndarray) -> np.ndarray:
        return m_hat / (np.sqrt(v_hat) + self.o["eps"]) + self.o["weight_decay"] * value


class RMSprop(Optimizer):
    """RMSprop: divide by a running root mean square of the gradient (centered: of its
    variance), with optional momentum."""

    name = "rmsprop"
    options: ClassVar[dict[str, Option]] = {
        "lr": _lr(0.01),
        "alpha": _beta(0.99, "α, the decay of the running mean of g²"),
        "eps": EPS,
        "weight_decay": WEIGHT_DECAY,
        "momentum": Option("momentum μ of the step g/√v", default=0.0, minimum=0.0),
        "centered": Option(
            "divide by the running variance v − ḡ² instead of v (ḡ the running mean of g)",
            default=False,
            kind="bool",
        ),
        "eps_in_sqrt": Option(
            "ε under the square root, √(v + ε) (d2l, TensorFlow 1), instead of √v + ε (PyTorch)",
            default=False,
            kind="bool",
        ),
        "maximize": MAXIMIZE,
    }
    symbols: ClassVar[dict[str, str]] = {
        "lr": "η",
        "alpha": "α",
        "eps": "ε",
        "weight_decay": "λ",
        "momentum": "μ",
        "centered": "centered",
        "eps_in_sqrt": "eps_in_sqrt",
        "maximize": "maximize",
    }

    def denominator(self) -> str:
        v = "v − ḡ²" if self.o["centered"] else "v"
        if self.o["eps_in_sqrt"]:
            return f"√({v} + ε)"
        return f"(√({v}) + ε)" if self.o["centered"] else "(√v + ε)"

    def formula(self, name: str) -> str:
        lines = [f"g = {self.gradient_text(name)}", "v ← α·v + (1 − α)·g²"]
        if self.o["centered"]:
            lines.append("ḡ ← α·ḡ + (1 − α)·g")
        if self.o["momentum"]:
            lines += [f"b ← μ·b + g/{self.denominator()}", f"{name} ← {name} − η·b"]
        else:
            lines.append(f"{name} ← {name} − η·g/{self.denominator()}")
        return "; ".join(lines)

    def step(self, name: str, value: np.ndarray, grad: np.ndarray) -> Update:
        g = self.decayed(value, grad)
        a, eps = self.o["alpha"], self.o["eps"]
        old = self.state.get(name, {})
        v = a * old.get("v", 0.0) + (1.0 - a) * g * g
        state = {"v": v}
        spread = v
        if self.o["centered"]:
            state["grad_avg"] = g_avg = a * old.get("grad_avg", 0.0) + (1.0 - a) * g
            spread = v - g_avg * g_avg
        root = np.sqrt(spread + eps) if self.o["eps_in_sqrt"] else np.sqrt(spread) + eps
        move = g / root
        if self.o["momentum"]:
            state["buffer"] = move = self.o["momentum"] * old.get("buffer", 0.0) + move
        self.state[name] = dict(state)
        after = value - self.o["lr"] * move
        return self.record(name, value, grad, after, state)


class Adagrad(Optimizer):
    """Adagrad: divide by the root of the sum of all squared gradients so far (its state)."""

    name = "adagrad"
    options: ClassVar[dict[str, Option]] = {
        "lr": _lr(0.01),
        "lr_decay": Option(
            "learning-rate decay δ: step t uses η/(1 + (t − 1)·δ)", default=0.0, minimum=0.0
        ),
        "weight_decay": WEIGHT_DECAY,
        "initial_accumulator_value": Option(
            "the sum of squares s before the first step", default=0.0, minimum=0.0
        ),
        "eps": Option(
            "ε, added to the denominator", default=1e-10, minimum=0.0, exclusive_minimum=True
        ),
        "eps_in_sqrt": Option(
            "ε under the square root, √(s + ε) (d2l), instead of √s + ε (PyTorch)",
            default=False,
            kind="bool",
        ),
        "maximize": MAXIMIZE,
    }
    symbols: ClassVar[dict[str, str]] = {
        "lr": "η",
        "lr_decay": "δ",
        "weight_decay": "λ",
        "initial_accumulator_value": "s₀",
        "eps": "ε",
        "eps_in_sqrt": "eps_in_sqrt",
        "maximize": "maximize",
    }

    def formula(self, name: str) -> str:
        lines = [f"g = {self.gradient_text(name)}", "s ← s + g²"]
        root = "√(s + ε)" if self.o["eps_in_sqrt"] else "(√s + ε)"
        rate = "η"
        if self.o["lr_decay"]:
            lines.append("η_t = η/(1 + (t − 1)·δ)")
            rate = "η_t"
        lines.append(f"{name} ← {name} − {rate}·g/{root}")
        return "; ".join(lines)

    def step(self, name: str, value: np.ndarray, grad: np.ndarray) -> Update:
        g = self.decayed(value, grad)
        old = self.state.get(name, {"t": 0, "sum": self.o["initial_accumulator_value"]})
        t = old["t"] + 1
        total = old["sum"] + g * g
        self.state[name] = {"t": t, "sum": total}
        rate = self.o["lr"] / (1.0 + (t - 1) * self.o["lr_decay"])
        eps = self.o["eps"]
        root = np.sqrt(total + eps) if self.o["eps_in_sqrt"] else np.sqrt(total) + eps
        after = value - rate * g / root
        state = {"t": np.float64(t), "sum": total}
        return self.record(name, value, grad, after, state)


OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad)
}


def make(spec: OptimizerSpec, objective: str) -> Optimizer:
    return OPTIMIZERS[spec.name](spec, objective)
