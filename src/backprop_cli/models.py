"""``model:`` shorthands that expand into params and graph entries.

The expansion is exactly the ``graph:`` a user could write by hand (the same names, ops and
order), and it goes through the same checks, so the two trace identically. Values given under
``params:`` are used as they are; the params a model needs and the config does not give are
initialised (``init`` and ``seed`` of the model).
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any

from . import arrays
from .errors import ConfigError, describe, quoted, suggest
from .graph import Tensor
from .ops import shape_text
from .yamlsrc import Source

MODELS = ("linear", "mlp")
ACTIVATIONS = ("relu", "sigmoid", "tanh")
LOSSES = ("half_squared_error", "mse")
MAX_LAYERS = 100

COMMON_KEYS = ("name", "input", "target", "loss")
MODEL_KEYS = {
    "linear": COMMON_KEYS + ("prediction",),
    "mlp": COMMON_KEYS + ("hidden", "activation", "bias", "l2", "init", "seed"),
}


@dataclass
class Expansion:
    params: dict[str, Tensor]
    graph: list[dict[str, Any]]


def expand(src: Source, spec: Any, data: dict[str, Tensor],
           params: dict[str, Tensor]) -> Expansion:
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict):
        raise src.error(("model",), f"expected a mapping such as {{name: mlp, hidden: [4]}}, "
                                    f"found {describe(spec)}")
    name = spec.get("name")
    if not isinstance(name, str) or name not in MODELS:
        raise src.error(("model", "name"), f"unknown model {quoted(name)}{suggest(name, MODELS)}; "
                                           f"expected one of {', '.join(MODELS)}")
    for key in spec:
        if key not in MODEL_KEYS[name]:
            raise src.error(("model", key), f"unknown {name} model option '{key}'"
                                            f"{suggest(key, MODEL_KEYS[name])}; expected "
                                            f"{', '.join(MODEL_KEYS[name])}", key=True)
    builder = _Builder(src, spec, data, params)
    return builder.linear() if name == "linear" else builder.mlp()


class _Builder:
    def __init__(self, src: Source, spec: dict, data: dict[str, Tensor],
                 params: dict[str, Tensor]):
        self.src, self.spec, self.data, self.given = src, spec, data, params
        self.params: dict[str, Tensor] = {}
        self.graph: list[dict[str, Any]] = []

    def fail(self, key: str, message: str) -> ConfigError:
        return self.src.error(("model", key), message)

    def choice(self, key: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.spec.get(key, default)
        if not isinstance(value, str) or value not in allowed:
            raise self.fail(key, f"unknown {key} {quoted(value)}{suggest(value, allowed)}; "
                                 f"expected one of {', '.join(allowed)}")
        return value

    def tensor(self, key: str, default: str) -> Tensor:
        name = self.spec.get(key, default)
        if not isinstance(name, str):
            raise self.fail(key, f"expected the name of a data tensor, found {describe(name)}")
        if name not in self.data:
            raise self.fail(key, f"the model's {key} is '{name}', but data has no '{name}'; "
                                 f"add it under data: or name it with model.{key}")
        return self.data[name]

    def param(self, name: str, shape: tuple[int, ...], init: str, seed: int) -> str:
        if name in self.given:
            given = self.given[name]
            if given.value.shape != shape:
                raise self.src.error(("params", name), f"the model needs '{name}' of shape "
                                     f"{'×'.join(map(str, shape)) or 'scalar'}, found "
                                     f"{'×'.join(map(str, given.value.shape)) or 'scalar'}")
            self.params[name] = given
        else:
            if math.prod(shape) > arrays.MAX_ELEMENTS:
                raise self.fail("hidden", f"'{name}' would be {shape_text(shape)}; expected at "
                                          f"most {arrays.MAX_ELEMENTS:,} elements per param")
            value = arrays.initialise(init, shape, seed, 1.0)
            self.params[name] = Tensor(name, "param", value, trainable=True)
        return name

    def node(self, name: str, op: str, *args: str, **options: Any) -> str:
        self.graph.append({"name": name, "op": op, "args": list(args), **options})
        return name

    def done(self) -> Expansion:
        # Params the config gives but the model does not use are kept (traced with grad 0).
        for name, tensor in self.given.items():
            self.params.setdefault(name, tensor)
        return Expansion(self.params, self.graph)

    # ---- linear: ŷ = w·x + b --------------------------------------------------------------

    def linear(self) -> Expansion:
        x = self.tensor("input", "x")
        y = self.tensor("target", "y")
        loss = self.choice("loss", "half_squared_error", LOSSES)
        prediction = self.spec.get("prediction", "y_hat")
        w_given = self.given.get("w")
        vector_w = w_given is not None and w_given.value.ndim >= 1 and x.value.ndim >= 1
        w_shape = w_given.value.shape if vector_w else ()
        w = self.param("w", w_shape, "zeros", 0)
        b = self.param("b", self.given["b"].value.shape if "b" in self.given else (), "zeros", 0)
        wx = self.node("wx", "matmul" if vector_w else "mul", w, x.name)
        self.node(prediction, "add", wx, b)
        self.node("L", loss, prediction, y.name)
        return self.done()

    # ---- mlp: z = W1x [+ b1], h = φ(z), ..., o = Wh [+ b], L = l(o, y) [+ ℓ2] ----------------

    def mlp(self) -> Expansion:
        x = self.tensor("input", "x")
        y = self.tensor("target", "y")
        if x.value.ndim not in (1, 2) or y.value.ndim not in (1, 2):
            raise self.fail("input", "an mlp needs input and target vectors (one example) or "
                                     "matrices whose columns are examples")
        hidden = self.spec.get("hidden", [4])
        if isinstance(hidden, int) and not isinstance(hidden, bool):
            hidden = [hidden]
        if not isinstance(hidden, list) or not hidden or len(hidden) > MAX_LAYERS or not all(
            isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in hidden
        ):
            raise self.fail("hidden", f"expected 1 to {MAX_LAYERS} hidden layer sizes such as "
                                      f"[4] or [8, 8], found {describe(hidden)}")
        activation = self.choice("activation", "relu", ACTIVATIONS)
        loss = self.choice("loss", "half_squared_error", LOSSES)
        init = self.choice("init", "xavier", arrays.INITS)
        bias = self.spec.get("bias", False)
        if not isinstance(bias, bool):
            raise self.fail("bias", f"expected true or false, found {describe(bias)}")
        seed = self.spec.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise self.fail("seed", f"expected a whole number ≥ 0, found {describe(seed)}")
        lam = self.spec.get("l2", 0)
        if not isinstance(lam, (int, float)) or isinstance(lam, bool) or not lam >= 0 \
                or lam == float("inf"):
            raise self.fail("l2", f"expected λ, a finite number ≥ 0, found {describe(lam)}")

        sizes = [x.value.shape[0], *hidden, y.value.shape[0]]
        batch = x.value.ndim == 2
        single = len(hidden) == 1
        weights = []
        current = x.name
        for layer in range(1, len(sizes)):
            last = layer == len(sizes) - 1
            w = self.param(f"W{layer}", (sizes[layer], sizes[layer - 1]), init, seed + layer)
            weights.append(w)
            pre = "o" if last else ("z" if single else f"z{layer}")
            if bias:
                b_shape = (sizes[layer], 1) if batch else (sizes[layer],)
                b = self.param(f"b{layer}", b_shape, "zeros", 0)
                product = self.node(f"{w}{current}", "matmul", w, current)
                current = self.node(pre, "add", product, b)
            else:
                current = self.node(pre, "matmul", w, current)
            if not last:
                current = self.node("h" if single else f"h{layer}", activation, current)
        self.node("L", loss, current, y.name)
        if lam:
            self.node("s", "l2", *weights, **{"lambda": float(lam)})
            self.node("J", "add", "L", "s")
        return self.done()
