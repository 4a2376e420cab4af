"""Rank-3 and rank-4 tensors ([C, T, B], [C, H, W, B]: classes or features in axis 0, positions
and examples after) through every elementwise, reducing and loss op, against PyTorch (1e-10
relative) and against finite differences (`backprop check`)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import invoke, tracer_from_text
from .oracles import torch_grads
from .test_oracle import _assert_same

SHAPES = st.one_of(
    st.tuples(st.integers(2, 4), st.integers(1, 3), st.integers(1, 3)),
    st.tuples(st.integers(2, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 2)),
)

ELEMENTWISE = ["relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus", "gelu", "exp", "sin"]
LOSSES = ["mse", "half_squared_error", "binary_cross_entropy", "l2", "l1"]


def _yaml(value: np.ndarray) -> str:
    return json.dumps(np.asarray(value).tolist())


def _graph(kind: str, shape: tuple[int, ...], seed: int, axis: int, reduction: str) -> str:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2.0, 2.0, shape)
    data: dict[str, np.ndarray] = {}
    params = {"x": x}
    weighted = True
    if kind in ELEMENTWISE:
        line = f"{{name: y, op: {kind}, args: [x]}}"
    elif kind in ("softmax", "log_softmax", "sum", "mean", "max"):
        line = f"{{name: y, op: {kind}, args: [x], axis: {axis}}}"
    elif kind in ("add", "mul"):
        params["w"] = rng.uniform(-1.0, 1.0, shape)
        line = f"{{name: y, op: {kind}, args: [x, w]}}"
    elif kind in ("add_vector", "mul_vector"):  # a bias or scale per feature or channel
        params["w"] = rng.uniform(-1.0, 1.0, shape[:1])
        line = f"{{name: y, op: {kind[:3]}, args: [x, w]}}"
    elif kind in ("l2", "l1"):
        line = f"{{name: J, op: {kind}, args: [x], lambda: 0.3}}"
        weighted = False
    elif kind == "binary_cross_entropy":
        data["t"] = rng.uniform(0.0, 1.0, shape)
        line = f"{{name: J, op: {kind}, args: [x, t], reduction: {reduction}}}"
        weighted = False
    elif kind in ("mse", "half_squared_error"):
        data["t"] = rng.uniform(-1.0, 1.0, shape)
        line = f"{{name: J, op: {kind}, args: [x, t]}}"
        weighted = False
    elif kind == "softmax_cross_entropy_labels":
        data["t"] = rng.integers(0, shape[0], shape[1:]).astype(float)
        line = f"{{name: J, op: softmax_cross_entropy, args: [x, t], reduction: {reduction}}}"
        weighted = False
    else:  # softmax_cross_entropy with probabilities of the logits' shape
        p = rng.uniform(0.1, 1.0, shape)
        data["t"] = p / p.sum(axis=0, keepdims=True)
        line = f"{{name: J, op: softmax_cross_entropy, args: [x, t], reduction: {reduction}}}"
        weighted = False
    text = ""
    if weighted:
        out_shape = x.sum(axis=axis).shape if kind in ("sum", "mean", "max") else shape
        data["G"] = rng.uniform(-1.0, 1.0, out_shape)
    if data:
        text += "data: {" + ", ".join(f"{k}: {_yaml(v)}" for k, v in data.items()) + "}\n"
    text += "params: {" + ", ".join(f"{k}: {_yaml(v)}" for k, v in params.items()) + "}\n"
    text += f"graph:\n  - {line}\n"
    if weighted:
        text += "  - {name: g, op: mul, args: [y, G]}\n  - {name: J, op: sum, args: [g]}\n"
    return text


KINDS = [
    *ELEMENTWISE,
    "softmax",
    "log_softmax",
    "sum",
    "mean",
    "max",
    "add",
    "mul",
    "add_vector",
    "mul_vector",
    *LOSSES,
    "softmax_cross_entropy_labels",
    "softmax_cross_entropy_probabilities",
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(KINDS),
    SHAPES,
    st.integers(0, 3),
    st.sampled_from(["mean", "sum"]),
    st.integers(0, 2**32 - 1),
)
def test_rank_3_and_4_match_pytorch(kind, shape, axis, reduction, seed) -> None:
    pytest.importorskip("torch")
    text = _graph(kind, shape, seed, axis % len(shape), reduction)
    tracer = tracer_from_text(text)
    step = next(tracer.run())
    _assert_same(step, torch_grads(tracer, step.values), f"pytorch on\n{text}")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", [(3, 2, 2), (2, 2, 3, 2)], ids=str)
def test_rank_3_and_4_pass_backprop_check(kind: str, shape: tuple[int, ...]) -> None:
    text = _graph(kind, shape, 11, len(shape) - 1, "mean")
    result = invoke("check", "-", "--nodes", input=text)
    assert result.exit_code == 0, result.output


def test_a_vector_meets_a_tensor_along_axis_0() -> None:
    """A bias of C meets [C, T, B] or [C, H, W, B] one value per channel (as PyTorch's
    ``b.view(C, 1, 1)``), and its gradient is the upstream gradient summed over every other
    axis."""
    rng = np.random.default_rng(5)
    for shape in [(3, 2, 4), (2, 3, 2, 2), (2, 1, 2)]:  # (2, 1, 2): not a 1×n row
        x, b = rng.normal(size=shape), rng.normal(size=shape[:1])
        text = (
            f"params: {{x: {_yaml(x)}, b: {_yaml(b)}}}\n"
            "graph:\n  - {name: y, op: add, args: [x, b]}\n"
            "  - {name: s, op: sin, args: [y]}\n  - {name: J, op: sum, args: [s]}\n"
        )
        step = next(tracer_from_text(text).run())
        column = b.reshape((-1,) + (1,) * (len(shape) - 1))
        np.testing.assert_allclose(step.values["y"], x + column, rtol=0, atol=0)
        upstream = np.cos(x + column)
        axes = tuple(range(1, len(shape)))
        np.testing.assert_allclose(step.grads["b"], upstream.sum(axis=axes), rtol=1e-13)
        assert step.grads["b"].shape == shape[:1]


def test_cross_entropy_over_positions_is_the_mean_over_every_non_class_position() -> None:
    """[C, T, B] logits with labels [T, B]: −log softmax of the labelled class at each of the
    T·B positions, averaged; exactly what one matrix of C × (T·B) columns gives."""
    rng = np.random.default_rng(3)
    z = rng.normal(size=(4, 3, 2))
    labels = rng.integers(0, 4, (3, 2)).astype(float)
    text = (
        f"data: {{t: {_yaml(labels)}}}\nparams: {{z: {_yaml(z)}}}\n"
        "graph:\n  - {name: J, op: softmax_cross_entropy, args: [z, t]}\n"
    )
    flat = text.replace(_yaml(z), _yaml(z.reshape(4, 6))).replace(
        _yaml(labels), _yaml(labels.reshape(6))
    )
    a, b = next(tracer_from_text(text).run()), next(tracer_from_text(flat).run())
    log_p = z - np.log(np.exp(z).sum(axis=0))
    want = -np.mean(np.take_along_axis(log_p, labels.astype(int)[None], axis=0))
    assert a.objective == pytest.approx(want, rel=1e-14)
    assert a.objective == b.objective
    np.testing.assert_array_equal(a.grads["z"].reshape(4, 6), b.grads["z"])
