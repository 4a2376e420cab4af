"""``model:`` shorthands that expand into params and graph entries.

The expansion is exactly the ``graph:`` a user could write by hand (the same names, ops and
order), and it goes through the same checks, so the two trace identically. Values given under
``params:`` are used as they are; the params a model needs and the config does not give are
initialised (``init`` and ``seed`` of the model).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import arrays, budget
from .errors import ConfigError, Problem, describe, quoted, suggest
from .graph import Tensor
from .ops import shape_text
from .yamlsrc import Source

MODELS = ("linear", "mlp")
ACTIVATIONS = ("relu", "sigmoid", "tanh", "leaky_relu", "elu", "softplus", "gelu")
LOSSES = ("half_squared_error", "mse", "softmax_cross_entropy", "binary_cross_entropy")
LINEAR_LOSSES = ("half_squared_error", "mse")
MAX_LAYERS = 100

COMMON_KEYS = ("name", "input", "target", "loss")
MODEL_KEYS = {
    "linear": (*COMMON_KEYS, "prediction"),
    "mlp": (*COMMON_KEYS, "hidden", "outputs", "activation", "bias", "l1", "l2", "init", "seed"),
}


@dataclass
class Expansion:
    params: dict[str, Tensor]
    graph: list[dict[str, Any]]


def expand(src: Source, spec: Any, data: dict[str, Tensor], params: dict[str, Tensor]) -> Expansion:
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict):
        raise src.error(
            ("model",),
            f"expected a mapping such as {{name: mlp, hidden: [4]}}, found {describe(spec)}",
        )
    name = spec.get("name")
    if not isinstance(name, str) or name not in MODELS:
        raise src.error(
            ("model", "name"),
            f"unknown model {quoted(name)}{suggest(name, MODELS)}; "
            f"expected one of {', '.join(MODELS)}",
        )
    builder = _Builder(src, spec, data, params)
    for key in spec:
        if key not in MODEL_KEYS[name]:
            builder.problems.append(
                src.problem(
                    ("model", key),
                    f"unknown {name} model option '{key}'"
                    f"{suggest(key, MODEL_KEYS[name])}; expected "
                    f"{', '.join(MODEL_KEYS[name])}",
                    key=True,
                )
            )
    return builder.linear() if name == "linear" else builder.mlp()


class _Builder:
    def __init__(
        self,
        src: Source,
        spec: dict[str, Any],
        data: dict[str, Tensor],
        params: dict[str, Tensor],
    ):
        self.src, self.spec, self.data, self.given = src, spec, data, params
        self.params: dict[str, Tensor] = {}
        self.graph: list[dict[str, Any]] = []
        # Independent problems are all collected; the model is built only when there are none.
        self.problems: list[Problem] = []

    def fail(self, key: str, message: str) -> ConfigError:
        """A problem that makes the remaining checks meaningless: raised with those before it."""
        self.report(key, message)
        return ConfigError(self.src.name, self.problems)

    def report(self, key: str, message: str) -> None:
        self.problems.append(self.src.problem(("model", key), message))

    def stop_if_problems(self) -> None:
        if self.problems:
            raise ConfigError(self.src.name, self.problems)

    def choice(self, key: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.spec.get(key, default)
        if not isinstance(value, str) or value not in allowed:
            self.report(
                key,
                f"unknown {key} {quoted(value)}{suggest(value, allowed)}; "
                f"expected one of {', '.join(allowed)}",
            )
            return default
        return value

    def tensor(self, key: str, default: str) -> Tensor | None:
        name = self.spec.get(key, default)
        if not isinstance(name, str):
            self.report(key, f"expected the name of a data tensor, found {describe(name)}")
            return None
        if name not in self.data:
            self.report(
                key,
                f"the model's {key} is '{name}', but data has no '{name}'; "
                f"add it under data: or name it with model.{key}",
            )
            return None
        return self.data[name]

    def param(self, name: str, shape: tuple[int, ...], init: str, seed: int) -> str:
        if name in self.given:
            given = self.given[name]
            if given.value.shape != shape:
                self.problems.append(
                    self.src.problem(
                        ("params", name),
                        f"the model needs '{name}' of shape "
                        f"{shape_text(shape)}, found "
                        f"{shape_text(given.value.shape)}",
                    )
                )
            self.params[name] = given
        else:
            if math.prod(shape) > arrays.MAX_ELEMENTS:
                raise self.fail(
                    "hidden",
                    f"'{name}' would be {shape_text(shape)}; expected at "
                    f"most {arrays.MAX_ELEMENTS:,} elements per param",
                )
            budget.reserve(self.src, name, math.prod(shape), "adam", ("model", "hidden"))
            value = arrays.initialise(init, shape, seed, 1.0)
            self.params[name] = Tensor(name, "param", value, trainable=True)
        return name

    def node(self, name: str, op: str, *args: str, **options: Any) -> str:
        self.graph.append({"name": name, "op": op, "args": list(args), **options})
        return name

    def done(self) -> Expansion:
        self.stop_if_problems()
        # Params the config gives but the model does not use are kept (traced with grad 0).
        for name, tensor in self.given.items():
            self.params.setdefault(name, tensor)
        return Expansion(self.params, self.graph)

    # ---- linear: ŷ = w·x + b --------------------------------------------------------------

    def linear(self) -> Expansion:
        x = self.tensor("input", "x")
        y = self.tensor("target", "y")
        loss = self.choice("loss", "half_squared_error", LINEAR_LOSSES)
        self.stop_if_problems()
        assert x is not None and y is not None  # reported above otherwise
        prediction = self.spec.get("prediction", "y_hat")
        w_given = self.given.get("w")
        w_shape: tuple[int, ...] = ()
        if w_given is not None and w_given.value.ndim >= 1 and x.value.ndim >= 1:
            w_shape = w_given.value.shape
        vector_w = w_shape != ()
        w = self.param("w", w_shape, "zeros", 0)
        b = self.param("b", self.given["b"].value.shape if "b" in self.given else (), "zeros", 0)
        wx = self.node("wx", "matmul" if vector_w else "mul", w, x.name)
        self.node(prediction, "add", wx, b)
        self.node("L", loss, prediction, y.name)
        return self.done()

    # ---- mlp: z = W1x [+ b1], h = φ(z), ..., o = Wh [+ b], L = l(o, y) [+ ℓ2] [+ ℓ1] --------

    def per_layer(
        self, key: str, default: Any, count: int, valid: Callable[[Any], bool], expected: str
    ) -> list[Any]:
        """An option given once for every layer, or as a list with one entry per layer."""
        value = self.spec.get(key, default)
        values = value if isinstance(value, list) else [value] * count
        if len(values) != count or not all(valid(v) for v in values):
            self.report(
                key,
                f"expected {expected}, or a list of {count} of them (one per "
                f"layer), found {describe(value)}",
            )
            return [default] * count
        return values

    def strength(self, key: str) -> float:
        lam = self.spec.get(key, 0)
        if (
            not isinstance(lam, (int, float))
            or isinstance(lam, bool)
            or not 0 <= lam < float("inf")
        ):
            self.report(key, f"expected λ, a finite number ≥ 0, found {describe(lam)}")
            return 0.0
        return float(lam)

    def outputs(self, x: Tensor, y: Tensor, loss: str) -> int:
        if "outputs" in self.spec:
            q = self.spec["outputs"]
            if not isinstance(q, int) or isinstance(q, bool) or q < 1:
                raise self.fail(
                    "outputs",
                    f"expected the number of outputs, a whole number ≥ 1, found {describe(q)}",
                )
            return q
        labels = loss == "softmax_cross_entropy" and y.value.ndim == x.value.ndim - 1
        if labels:  # integer labels: as many outputs as classes
            return int(y.value.max()) + 1 if y.value.size else 1
        if y.value.ndim == 0:
            raise self.fail(
                "target",
                "an mlp's target is a vector or matrix (columns are "
                "examples); set model.outputs for a scalar target",
            )
        return y.value.shape[0]

    def mlp(self) -> Expansion:
        x = self.tensor("input", "x")
        y = self.tensor("target", "y")
        if x is not None and x.value.ndim not in (1, 2):
            self.report(
                "input",
                "an mlp needs an input vector (one example) or a matrix whose columns are examples",
            )
        hidden = self.spec.get("hidden", [4])
        if isinstance(hidden, int) and not isinstance(hidden, bool):
            hidden = [hidden]
        if (
            not isinstance(hidden, list)
            or not hidden
            or len(hidden) > MAX_LAYERS
            or not all(isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in hidden)
        ):
            self.report(
                "hidden",
                f"expected 1 to {MAX_LAYERS} hidden layer sizes such as "
                f"[4] or [8, 8], found {describe(hidden)}",
            )
            hidden = [4]
        loss = self.choice("loss", "half_squared_error", LOSSES)
        activations = self.per_layer(
            "activation",
            "relu",
            len(hidden),
            lambda a: a in ACTIVATIONS,
            f"an activation ({', '.join(ACTIVATIONS)})",
        )
        biases = self.per_layer(
            "bias", False, len(hidden) + 1, lambda b: isinstance(b, bool), "true or false"
        )
        init = self.choice("init", "xavier", arrays.INITS)
        seed = self.spec.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            self.report("seed", f"expected a whole number ≥ 0, found {describe(seed)}")
            seed = 0
        l2, l1 = self.strength("l2"), self.strength("l1")
        self.stop_if_problems()
        assert x is not None and y is not None  # reported above otherwise

        sizes = [x.value.shape[0], *hidden, self.outputs(x, y, loss)]
        batch = x.value.ndim == 2
        single = len(hidden) == 1
        weights = []
        current = x.name
        for layer in range(1, len(sizes)):
            last = layer == len(sizes) - 1
            w = self.param(f"W{layer}", (sizes[layer], sizes[layer - 1]), init, seed + layer)
            weights.append(w)
            pre = "o" if last else ("z" if single else f"z{layer}")
            if biases[layer - 1]:
                b_shape = (sizes[layer], 1) if batch else (sizes[layer],)
                b = self.param(f"b{layer}", b_shape, "zeros", 0)
                product = self.node(f"{w}{current}", "matmul", w, current)
                current = self.node(pre, "add", product, b)
            else:
                current = self.node(pre, "matmul", w, current)
            if not last:
                act = activations[layer - 1]
                current = self.node("h" if single else f"h{layer}", act, current)
        self.node("L", loss, current, y.name)
        terms = ["L"]
        if l2:
            terms.append(self.node("s", "l2", *weights, **{"lambda": l2}))
        if l1:
            terms.append(self.node("r", "l1", *weights, **{"lambda": l1}))
        if len(terms) == 2:
            self.node("J", "add", *terms)
        elif len(terms) == 3:
            self.node("J", "add", self.node("Ls", "add", "L", "s"), "r")
        return self.done()
