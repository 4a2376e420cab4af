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

import numpy as np

from . import arrays, budget
from .errors import ConfigError, Problem, describe, quoted, suggest
from .graph import Tensor
from .ops import OPS, Op, shape_text
from .yamlsrc import Source

MODELS = ("linear", "mlp", "rnn", "cnn")
ACTIVATIONS = ("relu", "sigmoid", "tanh", "leaky_relu", "elu", "softplus", "gelu")
LOSSES = ("half_squared_error", "mse", "softmax_cross_entropy", "binary_cross_entropy")
LINEAR_LOSSES = ("half_squared_error", "mse")
MAX_LAYERS = 100

COMMON_KEYS = ("name", "input", "target", "loss")
MODEL_KEYS = {
    "linear": (*COMMON_KEYS, "prediction"),
    "mlp": (*COMMON_KEYS, "hidden", "outputs", "activation", "bias", "l1", "l2", "init", "seed"),
    "rnn": (*COMMON_KEYS, "hidden", "outputs", "init", "seed"),
    "cnn": (*COMMON_KEYS, "conv", "hidden", "outputs", "activation", "init", "seed"),
}
CONV_KEYS = ("channels", "kernel", "stride", "padding", "activation", "bias", "batch_norm", "pool")
POOL_KEYS = ("kind", "kernel", "stride", "padding")


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
    return {"linear": builder.linear, "mlp": builder.mlp, "rnn": builder.rnn, "cnn": builder.cnn}[
        name
    ]()


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

    def param(
        self,
        name: str,
        shape: tuple[int, ...],
        init: str,
        seed: int,
        also: tuple[int, ...] | None = None,
    ) -> str:
        """The param ``name``: given under ``params:`` (of ``shape``, or of ``also``), or
        initialised with ``shape``."""
        if name in self.given:
            given = self.given[name]
            if given.value.shape not in (shape, also):
                alternative = f" (or {shape_text(also)})" if also else ""
                self.problems.append(
                    self.src.problem(
                        ("params", name),
                        f"the model needs '{name}' of shape "
                        f"{shape_text(shape)}{alternative}, found "
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

    def outputs(self, x_ndim: int, y: Tensor, loss: str) -> int:
        """The output size: model.outputs, the number of classes of integer labels, or the
        target's rows (``x_ndim``: the rank of the input of the dense layers)."""
        if "outputs" in self.spec:
            q = self.spec["outputs"]
            if not isinstance(q, int) or isinstance(q, bool) or q < 1:
                raise self.fail(
                    "outputs",
                    f"expected the number of outputs, a whole number ≥ 1, found {describe(q)}",
                )
            return q
        labels = loss == "softmax_cross_entropy" and y.value.ndim == x_ndim - 1
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

        sizes = [x.value.shape[0], *hidden, self.outputs(x.value.ndim, y, loss)]
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
                # A vector, for one example and for a batch alike: a vector is a column, so it
                # is added to every example. For a batch, a bias given as n×1 does the same.
                n = sizes[layer]
                b = self.param(f"b{layer}", (n,), "zeros", 0, also=(n, 1) if batch else None)
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

    # ---- rnn: h_t = tanh(W_xh·x_t + W_hh·h_{t−1} + b_h), o_t = W_hy·h_t + b_y, L = Σ_t L_t --

    def seed(self) -> int:
        seed = self.spec.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            self.report("seed", f"expected a whole number ≥ 0, found {describe(seed)}")
            return 0
        return seed

    def rnn(self) -> Expansion:
        """A vanilla RNN unrolled over the T columns of the input (axis 1 of [D, T] or
        [D, T, B]); the loss of each step is summed, so the shared weights gather one term per
        step: backpropagation through time."""
        x = self.tensor("input", "x")
        y = self.tensor("target", "y")
        if x is not None and x.value.ndim not in (2, 3):
            self.report(
                "input",
                "an rnn needs a sequence [D, T] (one column per time step) or a batch of "
                "sequences [D, T, B]",
            )
        hidden = self.spec.get("hidden", 4)
        if not isinstance(hidden, int) or isinstance(hidden, bool) or hidden < 1:
            self.report(
                "hidden", f"expected the hidden size, a whole number ≥ 1, found {describe(hidden)}"
            )
            hidden = 4
        loss = self.choice("loss", "half_squared_error", LOSSES)
        init = self.choice("init", "xavier", arrays.INITS)
        seed = self.seed()
        self.stop_if_problems()
        assert x is not None and y is not None  # reported above otherwise
        steps = x.value.shape[1]
        batch = x.value.shape[2:]
        # Targets: one column per step ([Q, T(, B)]), or integer labels per step ([T(, B)]).
        labels = y.value.ndim == x.value.ndim - 1
        if (y.value.shape[1:] if not labels else y.value.shape) != (steps, *batch):
            per_step = ", ".join(str(n) for n in (steps, *batch))
            raise self.fail(
                "target",
                f"an rnn's target has one column per time step, like its input "
                f"({shape_text(x.value.shape)}): [Q, {per_step}] or integer labels "
                f"[{per_step}]; found {shape_text(y.value.shape)}",
            )
        if "outputs" in self.spec:
            q = self.spec["outputs"]
            if not isinstance(q, int) or isinstance(q, bool) or q < 1:
                raise self.fail(
                    "outputs",
                    f"expected the number of outputs, a whole number ≥ 1, found {describe(q)}",
                )
            outputs = q
        elif labels:
            outputs = int(y.value.max()) + 1 if y.value.size else 1
        else:
            outputs = y.value.shape[0]
        column = (1,) if batch else ()
        w_xh = self.param("W_xh", (hidden, x.value.shape[0]), init, seed + 1)
        w_hh = self.param("W_hh", (hidden, hidden), init, seed + 2)
        b_h = self.param("b_h", (hidden, *column), "zeros", 0)
        w_hy = self.param("W_hy", (outputs, hidden), init, seed + 3)
        b_y = self.param("b_y", (outputs, *column), "zeros", 0)
        # The initial state: data h0 if the config gives it, else zeros, added as data.
        start = self.data.get("h0")
        if start is None:
            start = Tensor("h0", "data", np.zeros((hidden, *batch)))
            self.params["h0"] = start
        elif start.value.shape != (hidden, *batch):
            self.problems.append(
                self.src.problem(
                    ("data", "h0"),
                    f"the initial state h0 of the rnn has shape "
                    f"{shape_text((hidden, *batch))}, found {shape_text(start.value.shape)}",
                )
            )
        self.stop_if_problems()
        previous = start.name
        losses = []
        for t in range(1, steps + 1):
            x_t = self.node(f"x{t}", "select", x.name, axis=1, index=t - 1)
            a = self.node(f"a{t}", "matmul", w_xh, x_t)
            r = self.node(f"r{t}", "matmul", w_hh, previous)
            s = self.node(f"s{t}", "add", a, r)
            z = self.node(f"z{t}", "add", s, b_h)
            h = self.node(f"h{t}", "tanh", z)
            q = self.node(f"q{t}", "matmul", w_hy, h)
            o = self.node(f"o{t}", "add", q, b_y)
            y_t = self.node(f"y{t}", "select", y.name, axis=0 if labels else 1, index=t - 1)
            losses.append(self.node("L" if steps == 1 else f"L{t}", loss, o, y_t))
            previous = h
        total = losses[0]
        for t in range(2, steps + 1):
            total = self.node("L" if t == steps else f"L1to{t}", "add", total, losses[t - 1])
        return self.done()

    # ---- cnn: conv layers [→ batch_norm] → φ [→ pool], flatten, dense layers, a loss ------

    def conv_layers(self) -> list[dict[str, Any]]:
        layers = self.spec.get("conv", [{}])
        if isinstance(layers, dict):
            layers = [layers]
        if not isinstance(layers, list) or not layers or len(layers) > MAX_LAYERS:
            self.report(
                "conv",
                f"expected 1 to {MAX_LAYERS} conv layers such as [{{channels: 2, kernel: 3}}], "
                f"found {describe(layers)}",
            )
            return []
        out = []
        for i, layer in enumerate(layers):
            if not isinstance(layer, dict):
                self.report("conv", f"conv[{i}]: expected a mapping, found {describe(layer)}")
                continue
            bad = [k for k in layer if k not in CONV_KEYS]
            pool = layer.get("pool")
            if isinstance(pool, dict):
                bad += [f"pool.{k}" for k in pool if k not in POOL_KEYS]
                if pool.get("kind", "max") not in ("max", "avg"):
                    bad.append("pool.kind")
            elif pool is not None:
                bad.append("pool")
            if layer.get("activation", "relu") not in ACTIVATIONS:
                bad.append("activation")
            if bad:
                self.report(
                    "conv",
                    f"conv[{i}]: unknown or invalid {', '.join(bad)}; a conv layer takes "
                    f"{', '.join(CONV_KEYS)} (pool: {{kind: max or avg, kernel, stride, "
                    f"padding}}; activation one of {', '.join(ACTIVATIONS)})",
                )
                continue
            out.append(layer)
        return out

    def cnn(self) -> Expansion:
        x = self.tensor("input", "x")
        y = self.tensor("target", "y")
        if x is not None and x.value.ndim not in (3, 4):
            self.report("input", "a cnn needs an image [C, H, W] or a batch of images [C, H, W, B]")
        layers = self.conv_layers()
        hidden = self.spec.get("hidden", [])
        if isinstance(hidden, int) and not isinstance(hidden, bool):
            hidden = [hidden]
        if not isinstance(hidden, list) or not all(
            isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in hidden
        ):
            self.report(
                "hidden", f"expected dense layer sizes such as [8], found {describe(hidden)}"
            )
            hidden = []
        activation = self.choice("activation", "relu", ACTIVATIONS)
        loss = self.choice("loss", "softmax_cross_entropy", LOSSES)
        init = self.choice("init", "xavier", arrays.INITS)
        seed = self.seed()
        self.stop_if_problems()
        assert x is not None and y is not None  # reported above otherwise
        shape: tuple[int, ...] = x.value.shape
        current = x.name
        for i, layer in enumerate(layers, start=1):
            conv_options: dict[str, Any] = {
                k: layer[k] for k in ("stride", "padding") if k in layer
            }
            channels = layer.get("channels", 1)
            kernel = layer.get("kernel", 3)
            kh, kw = (kernel, kernel) if isinstance(kernel, int) else tuple(kernel)
            k = self.param(f"K{i}", (channels, shape[0], kh, kw), init, seed + i)
            args = [current, k]
            if layer.get("bias", True):
                args.append(self.param(f"b{i}", (channels,), "zeros", 0))
            current = self.node(f"c{i}", "conv2d", *args, **conv_options)
            shape = self.shape_of(
                OPS["conv2d"],
                [shape, self.params[k].value.shape, *([(channels,)] if len(args) == 3 else [])],
                conv_options,
                f"conv[{i - 1}]",
            )
            if layer.get("batch_norm", False):
                gamma = f"gamma{i}"
                if gamma in self.given:
                    self.param(gamma, (channels,), "zeros", 0)
                else:  # a scale of 1, as PyTorch's BatchNorm2d starts
                    self.params[gamma] = Tensor(gamma, "param", np.ones(channels), trainable=True)
                beta = self.param(f"beta{i}", (channels,), "zeros", 0)
                current = self.node(f"bn{i}", "batch_norm", current, gamma, beta)
            current = self.node(f"a{i}", layer.get("activation", "relu"), current)
            pool = layer.get("pool")
            if pool is not None:
                op = "max_pool2d" if pool.get("kind", "max") == "max" else "avg_pool2d"
                pool_options = {"kernel": pool.get("kernel", 2)}
                pool_options.update({k: pool[k] for k in ("stride", "padding") if k in pool})
                current = self.node(f"p{i}", op, current, **pool_options)
                shape = self.shape_of(OPS[op], [shape], pool_options, f"conv[{i - 1}].pool")
        current = self.node("f", "flatten", current)
        shape = (math.prod(shape[:3]), *shape[3:])
        sizes = [shape[0], *hidden, self.outputs(len(shape), y, loss)]
        for j in range(1, len(sizes)):
            last = j == len(sizes) - 1
            w = self.param(f"W{j}", (sizes[j], sizes[j - 1]), init, seed + 100 + j)
            current = self.node("o" if last else f"z{j}", "matmul", w, current)
            if not last:
                current = self.node(f"h{j}", activation, current)
        self.node("L", loss, current, y.name)
        return self.done()

    def shape_of(
        self, op: Op, shapes: list[tuple[int, ...]], given: dict[str, Any], where: str
    ) -> tuple[int, ...]:
        """The output shape of a layer, its options checked as the op table checks them."""
        options = {}
        for key, spec in op.options.items():
            if key in given:
                try:
                    options[key] = spec.check(given[key])
                except ValueError as exc:
                    raise self.fail("conv", f"{where}.{key}: {exc}") from None
            elif not spec.required:
                options[key] = spec.default
        try:
            return tuple(op.shape(shapes, options))
        except ValueError as exc:
            raise self.fail("conv", f"{where}: {op.name} expects {exc}") from None
