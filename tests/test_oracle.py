"""Every gradient the tracer records, against HIPS autograd (and PyTorch where installed).

The oracles (tests/oracles.py) implement each op again from its definition and let the
libraries derive the gradients; agreement is required to 1e-10 relative in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backprop_cli.ops import OPS

from .conftest import CONFIGS
from .helpers import tracer_from_file, tracer_from_text
from .oracles import AUTOGRAD_OPS, BROADCASTING, autograd_grads, torch_grads

SHIPPED = sorted(p.name for p in CONFIGS.glob("*.yaml"))
RTOL, ATOL = 1e-10, 1e-13


def _assert_same(step, reference: dict, who: str) -> None:
    assert set(reference) == set(step.grads)
    for name, grad in step.grads.items():
        np.testing.assert_allclose(
            grad,
            reference[name],
            rtol=RTOL,
            atol=ATOL,
            err_msg=f"step {step.step}: ∂J/∂{name} vs {who}",
        )


def test_every_op_has_an_oracle() -> None:
    assert sorted(AUTOGRAD_OPS) == sorted(OPS)


def test_the_oracles_read_vectors_as_columns_in_every_op_that_broadcasts() -> None:
    assert sorted(BROADCASTING) == sorted(name for name, op in OPS.items() if op.broadcasts)


@pytest.mark.parametrize("config", SHIPPED)
def test_shipped_configs_match_autograd(config: str) -> None:
    tracer = tracer_from_file(CONFIGS / config)
    for step in tracer.run(steps=3):
        _assert_same(step, autograd_grads(tracer, step.values), "autograd")


@pytest.mark.parametrize("config", SHIPPED)
def test_shipped_configs_match_pytorch(config: str) -> None:
    pytest.importorskip("torch")
    tracer = tracer_from_file(CONFIGS / config)
    for step in tracer.run(steps=3):
        _assert_same(step, torch_grads(tracer, step.values), "pytorch")


# ---- random graphs ------------------------------------------------------------------------

SHAPES = [(), (3,), (2,), (2, 3), (3, 2), (3, 3)]
# Ops a random chain draws from, with options; ops that need positive inputs draw them from
# tensors known to be positive.
UNARY = [
    "neg",
    "exp",
    "abs",
    "relu",
    "leaky_relu",
    "elu",
    "sigmoid",
    "tanh",
    "softplus",
    "gelu",
    "softmax",
    "log_softmax",
    "transpose",
    "sum",
    "mean",
    "max",
    "pow",
    "sin",
    "cos",
    "clip",
    "stop_gradient",
]
BINARY = [
    "add",
    "sub",
    "mul",
    "matmul",
    "concat",
    "half_squared_error",
    "mse",
    "binary_cross_entropy",
    "maximum",
    "minimum",
]
POSITIVE_OPS = {"exp", "sigmoid", "softplus", "softmax", "sqrt"}


@st.composite
def random_graphs(draw):
    rng_seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(rng_seed)
    n_leaves = draw(st.integers(1, 3))
    shapes: dict[str, tuple] = {}
    positive: set[str] = set()
    lines = ["params:"]
    for i in range(n_leaves):
        shape = draw(st.sampled_from(SHAPES))
        shapes[f"p{i}"] = shape
        lines.append(f"  p{i}: {np.round(rng.uniform(-1.5, 1.5, shape), 3).tolist()}")
    lines.append("graph:")
    count = 0
    for _ in range(draw(st.integers(1, 7))):
        names = sorted(shapes)
        if draw(st.booleans()):
            op = draw(st.sampled_from(UNARY + ["log", "div", "sqrt"] * (4 if positive else 0)))
        else:
            op = draw(st.sampled_from(BINARY))
        opts: dict = {}
        if op == "pow":
            opts["exponent"] = draw(st.sampled_from([2.0, 3.0]))
        if op in ("softmax", "log_softmax", "sum", "mean", "max", "concat") and draw(st.booleans()):
            opts["axis"] = draw(st.sampled_from([0, -1]))
        if op == "clip":
            opts = draw(st.sampled_from([{"min": -0.5, "max": 0.75}, {"min": 0.1}, {"max": 0.2}]))
        if op in ("log", "sqrt"):
            args = [draw(st.sampled_from(sorted(positive)))]
        elif op == "div":
            args = [draw(st.sampled_from(names)), draw(st.sampled_from(sorted(positive)))]
        elif op in BINARY:
            args = [draw(st.sampled_from(names)), draw(st.sampled_from(names))]
        else:
            args = [draw(st.sampled_from(names))]
        try:
            shape = OPS[op].shape(
                [shapes[a] for a in args],
                {**{k: o.default for k, o in OPS[op].options.items() if not o.required}, **opts},
            )
        except ValueError:
            continue
        name = f"n{count}"
        count += 1
        shapes[name] = shape
        if op in POSITIVE_OPS:
            positive.add(name)
        extra = "".join(f", {k}: {v}" for k, v in opts.items())
        lines.append(f"  - {{name: {name}, op: {op}, args: [{', '.join(args)}]{extra}}}")
    last = f"n{count - 1}" if count else "p0"
    lines.append(f"  - {{name: J, op: {draw(st.sampled_from(['sum', 'mean']))}, args: [{last}]}}")
    return "\n".join(lines) + "\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs())
def test_random_graphs_match_autograd(text: str) -> None:
    tracer = tracer_from_text(text)
    step = next(tracer.run())
    _assert_same(step, autograd_grads(tracer, step.values), f"autograd on\n{text}")


def test_elu_at_exactly_zero_matches_the_oracle() -> None:
    """sub(p, p) is exactly 0: the kink rule (local gradient α) and the oracle must agree."""
    tracer = tracer_from_text(
        "params: {p0: 0.7}\ngraph:\n  - {name: n0, op: sub, args: [p0, p0]}\n"
        "  - {name: n1, op: elu, args: [n0]}\n"
        "  - {name: J, op: sum, args: [n1]}\n"
    )
    step = next(tracer.run())
    assert step.grads["n0"] == 1.0
    _assert_same(step, autograd_grads(tracer, step.values), "autograd")
