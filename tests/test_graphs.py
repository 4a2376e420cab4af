"""Small graphs a user might write: batches, biases, frozen params, pure expressions, models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backprop_cli.fd import numeric_grad

from .conftest import CONFIGS
from .helpers import invoke, trace_json, tracer_from_text

BATCH_MLP = """
data:
  # 3 features × 4 examples
  x: [[1.0, -2.0, 0.5, 0.3], [0.5, 0.1, -1.5, 2.0], [-0.7, 0.4, 0.9, -1.1]]
  y: [[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]]
model: {name: mlp, hidden: [5, 3], activation: tanh, bias: true, loss: mse, l2: 0.05, seed: 3}
steps: 3
"""


def _check_all_grads(tracer, steps: int = 1) -> None:
    for step in tracer.run(steps=steps):
        for name, grad in step.grads.items():
            numeric = numeric_grad(tracer, step.values, name)
            np.testing.assert_allclose(
                grad, numeric, rtol=1e-6, atol=1e-8, err_msg=f"step {step.step}: ∂J/∂{name}"
            )


def test_batch_mlp_with_biases_matches_finite_differences() -> None:
    tracer = tracer_from_text(BATCH_MLP)
    names = [n.name for n in tracer.graph.nodes]
    assert names == ["W1x", "z1", "h1", "W2h1", "z2", "h2", "W3h2", "o", "L", "s", "J"]
    assert tracer.graph.tensors["b1"].value.shape == (5,)  # a column: added to every example
    assert tracer.graph.shape("o") == (2, 4)
    _check_all_grads(tracer, steps=3)


def test_bias_gradient_sums_over_the_batch() -> None:
    tracer = tracer_from_text(BATCH_MLP)
    step = next(tracer.run())
    np.testing.assert_allclose(step.grads["b1"], step.grads["z1"].sum(axis=1), atol=1e-15)
    edge = next(e for e in step.edges if e.info.input == "b1")
    assert edge.info.global_ == "unbroadcast(∂J/∂z1)"


def test_linear_model_traces_like_the_hand_written_graph(tmp_path) -> None:
    config = tmp_path / "linear.yaml"
    config.write_text("data: {x: 2.0, y: 3.0}\nparams: {w: 0.5, b: 0.1}\nmodel: {name: linear}\n")
    assert (
        trace_json(config, "-n", "3")["steps"]
        == trace_json(CONFIGS / "seed_linear.yaml", "-n", "3")["steps"]
    )


def test_linear_model_over_a_batch_of_points() -> None:
    tracer = tracer_from_text(
        "data: {x: [[1, 2, 3, 4]], y: [[2, 4, 6, 8]]}\n"
        "model: {name: linear, loss: mse}\noptimizer: {lr: 0.05}\n"
    )
    steps = list(tracer.run(steps=200))
    assert steps[-1].objective < 1e-3 < steps[0].objective
    w = steps[-1].updates["w"].after
    assert w == pytest.approx(2.0, abs=0.05)


def test_frozen_params_are_traced_but_not_updated() -> None:
    tracer = tracer_from_text("""
params:
  a: {value: 2.0, trainable: false}
  b: 3.0
graph:
  - {name: p, op: mul, args: [a, b]}
  - {name: L, op: mul, args: [p, p]}
""")
    steps = list(tracer.run(steps=2))
    assert set(steps[0].updates) == {"b"}
    assert steps[0].grads["a"] == pytest.approx(2 * 6.0 * 3.0)  # ∂(ab)²/∂a = 2ab·b
    assert steps[1].values["a"] == 2.0
    table = invoke(
        "trace",
        "-",
        input="params:\n  a: {value: 2.0, trainable: false}\n  b: 3.0\n"
        "graph:\n  - {name: L, op: mul, args: [a, b]}\n",
    ).stdout
    assert "frozen (not updated): a" in table and "param (frozen)" in table


def test_pure_expression_over_params_only() -> None:
    """f(a, b) = (a·b + a)², no data, no network: the chain rule on its own."""
    tracer = tracer_from_text("""
params: {a: 1.5, b: -2.0}
graph:
  - {name: ab, op: mul, args: [a, b]}
  - {name: u, op: add, args: [ab, a]}
  - {name: f, op: mul, args: [u, u]}
""")
    step = next(tracer.run())
    a, b = 1.5, -2.0
    u = a * b + a
    assert step.objective == pytest.approx(u * u, abs=1e-15)
    assert step.grads["a"] == pytest.approx(2 * u * (b + 1), abs=1e-15)
    assert step.grads["b"] == pytest.approx(2 * u * a, abs=1e-15)
    # u feeds the square twice: two edges, two terms, summed.
    assert tracer.grad_formulas["u"] == "∂f/∂u = u + u"  # ∂f/∂f = 1 is not written out
    assert tracer.grad_formulas["a"] == "∂f/∂a = ∂f/∂ab · b + ∂f/∂u"


def test_nodes_after_the_objective_have_no_rows() -> None:
    tracer = tracer_from_text("""
params: {w: 2.0}
graph:
  - {name: L, op: mul, args: [w, w]}
  - {name: report, op: add, args: [L, w]}
objective: L
""")
    step = next(tracer.run())
    assert {e.info.node for e in step.edges} == {"L"}
    assert step.grads["report"] == 0.0 and step.grads["w"] == pytest.approx(4.0)


def test_initialisers_are_seeded_and_reproducible() -> None:
    text = """
params:
  A: {init: normal, shape: [3, 2], seed: 5, scale: 0.1}
  B: {init: xavier, shape: [3, 2]}
  C: {init: uniform, shape: [3, 2], scale: 0.5}
  D: {init: zeros, shape: [3, 2]}
graph:
  - {name: s, op: l2, args: [A, B, C, D], lambda: 1.0}
"""
    first = tracer_from_text(text).graph.tensors
    second = tracer_from_text(text).graph.tensors
    for name in "ABCD":
        np.testing.assert_array_equal(first[name].value, second[name].value)
    assert not np.array_equal(first["B"].value, first["C"].value)
    assert np.abs(first["C"].value).max() <= 0.5
    assert np.abs(first["B"].value).max() <= np.sqrt(6 / 5)
    assert np.all(first["D"].value == 0)
    np.testing.assert_array_equal(
        first["A"].value, 0.1 * np.random.default_rng(5).standard_normal((3, 2))
    )


def test_yaml_floats_in_exponent_form() -> None:
    tracer = tracer_from_text(
        "params: {w: 1e-3}\ngraph:\n  - {name: s, op: sum, args: [w]}\noptimizer: {lr: 5e-1}\n"
    )
    assert tracer.graph.tensors["w"].value == 1e-3
    assert tracer.graph.optimizer.lr == 0.5


def test_jsonl_matches_json_for_a_batch() -> None:
    lines = invoke("trace", "-", "-f", "jsonl", input=BATCH_MLP).stdout.splitlines()
    doc = json.loads(invoke("trace", "-", "-f", "json", input=BATCH_MLP).stdout)
    assert [json.loads(line)["objective"] for line in lines[1:]] == [
        s["objective"] for s in doc["steps"]
    ]
