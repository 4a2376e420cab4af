"""A vector is a column: a vector of n meeting a batch (n × examples) in an op that broadcasts is
added to (multiplied into, compared with, …) every example, and its gradient is summed over
the examples back to its shape. Where a vector could be read either way, the error says which
shape to write.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from backprop_cli.errors import ConfigError
from backprop_cli.fd import numeric_grad

from .helpers import invoke, trace_json, tracer_from_text
from .oracles import BROADCASTING, autograd_grads, torch_grads

# Every op that broadcasts, with a vector against a 4×4 batch (hidden 4 = batch 4: the vector is
# a column even where a row would fit too) and against a 2×4 batch.
BATCH = """\
data:
  x: [[0.5, -1.0, 1.5, 0.2], [1.0, 0.3, -0.7, 2.0], [-0.4, 0.8, 0.1, -1.2]]
  y: [[1.0, 0.0, 0.5, -0.5], [0.2, 0.4, -0.3, 0.9]]
params:
  W1: {init: xavier, shape: [4, 3], seed: 1}
  b1: [0.1, -0.2, 0.3, 0.05]
  s1: [1.5, 0.5, 2.0, 1.0]
  W2: {init: xavier, shape: [2, 4], seed: 2}
  b2: [0.2, -0.1]
  d2: [2.0, 4.0]
  lo: [-0.3, 0.1]
graph:
  - {name: W1x, op: matmul, args: [W1, x]}
  - {name: z, op: add, args: [W1x, b1]}
  - {name: zs, op: mul, args: [s1, z]}
  - {name: h, op: tanh, args: [zs]}
  - {name: hc, op: minimum, args: [h, s1]}
  - {name: W2h, op: matmul, args: [W2, hc]}
  - {name: o1, op: sub, args: [W2h, b2]}
  - {name: o2, op: div, args: [o1, d2]}
  - {name: o, op: maximum, args: [o2, lo]}
  - {name: L, op: mse, args: [o, y]}
"""


def _as_columns(text: str) -> str:
    """The same config with every vector param written as an n×1 matrix."""

    def column(m: re.Match) -> str:
        values = m.group(2).split(", ")
        return f"  {m.group(1)}: [{', '.join(f'[{v}]' for v in values)}]"

    return re.sub(r"^  (b1|s1|b2|d2|lo): \[([^\[\]]*)\]$", column, text, flags=re.M)


def test_the_batch_covers_every_broadcasting_op() -> None:
    ops = set(re.findall(r"op: (\w+)", BATCH))
    assert set(BROADCASTING) <= ops


def test_vectors_broadcast_over_the_examples_as_columns() -> None:
    tracer = tracer_from_text(BATCH)
    step = next(tracer.run())
    v = step.values
    assert v["z"].shape == (4, 4) and v["o"].shape == (2, 4)
    np.testing.assert_array_equal(v["z"], v["W1x"] + v["b1"].reshape(4, 1))
    np.testing.assert_array_equal(v["zs"], v["s1"].reshape(4, 1) * v["z"])
    np.testing.assert_array_equal(v["o2"], v["o1"] / v["d2"].reshape(2, 1))
    # the gradient of a vector is the row sums of the gradient of what it was added to
    assert step.grads["b1"].shape == (4,)
    np.testing.assert_allclose(step.grads["b1"], step.grads["z"].sum(axis=1), rtol=1e-14)
    np.testing.assert_allclose(step.grads["b2"], -step.grads["o1"].sum(axis=1), rtol=1e-14)


def test_a_vector_traces_as_its_column_does() -> None:
    vectors = tracer_from_text(BATCH)
    columns = tracer_from_text(_as_columns(BATCH))
    assert columns.shapes["b1"] == (4, 1)
    for a, b in zip(vectors.run(steps=3), columns.run(steps=3), strict=True):
        assert a.objective == b.objective
        for name, grad in a.grads.items():
            np.testing.assert_array_equal(grad, b.grads[name].reshape(grad.shape), err_msg=name)


def test_vector_gradients_match_finite_differences() -> None:
    tracer = tracer_from_text(BATCH)
    step = next(tracer.run())
    for name in ("b1", "s1", "b2", "d2", "lo", "W1", "W2"):
        numeric = numeric_grad(tracer, step.values, name, 1e-6)
        np.testing.assert_allclose(step.grads[name], numeric, rtol=1e-6, atol=1e-9, err_msg=name)
        assert np.abs(step.grads[name]).max() > 1e-3, name  # a gradient that can be wrong


def test_vector_gradients_match_autograd() -> None:
    tracer = tracer_from_text(BATCH)
    for step in tracer.run(steps=3):
        reference = autograd_grads(tracer, step.values)
        for name, grad in step.grads.items():
            np.testing.assert_allclose(grad, reference[name], rtol=1e-10, atol=1e-13, err_msg=name)


def test_vector_gradients_match_pytorch() -> None:
    pytest.importorskip("torch")
    tracer = tracer_from_text(BATCH)
    for step in tracer.run(steps=3):
        reference = torch_grads(tracer, step.values)
        for name, grad in step.grads.items():
            np.testing.assert_allclose(grad, reference[name], rtol=1e-10, atol=1e-13, err_msg=name)


def test_the_issues_example_a_bias_of_2_over_4_examples() -> None:
    tracer = tracer_from_text(
        "data:\n"
        "  x: [[1, 2, 3, 4], [0, -1, 0, 1]]\n"
        "  y: [[1, 1, 1, 1], [0, 0, 0, 0]]\n"
        "params:\n"
        "  W: [[1, 0], [0, 1]]\n"
        "  b: {init: zeros, shape: [2]}\n"
        "graph:\n"
        "  - {name: Wx, op: matmul, args: [W, x]}\n"
        "  - {name: z, op: add, args: [Wx, b]}\n"
        "  - {name: L, op: half_squared_error, args: [z, y]}\n"
    )
    step = next(tracer.run())
    # ∂L/∂z = z − y = [[0, 1, 2, 3], [0, −1, 0, 1]]; ∂L/∂b sums it over the 4 examples
    assert step.grads["b"].tolist() == [6.0, 0.0]
    assert step.updates["b"].after.tolist() == pytest.approx([-0.6, 0.0], abs=1e-15)  # lr 0.1
    edge = next(e for e in step.edges if e.info.input == "b")
    assert edge.info.global_ == "unbroadcast(∂L/∂z)"


def _load_error(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        tracer_from_text(text, "v.yaml")
    return caught.value.lines()[0]


def test_a_vector_target_against_a_row_is_not_guessed() -> None:
    # a [4] target against a [1, 4] prediction: a row, or as a column a 4×4 spread
    config = (
        "data:\n  x: [[1, 2, 3, 4]]\n  y: [1, 2, 3, 4]\nparams:\n  w: 0.5\ngraph:\n"
        "  - {name: y_hat, op: mul, args: [w, x]}\n"
        "  - {name: e, op: sub, args: [y_hat, y]}\n"
        "  - {name: L, op: sum, args: [e]}\n"
    )
    assert _load_error(config) == (
        "v.yaml:8:30: graph[1].args: node 'e' (e = y_hat − y): y_hat has shape 1×4, y has "
        "shape 4; sub expects shapes that say what they mean: the vector of 4 is a column "
        "(4×1, as every vector), which against 1×4 gives 4×4; write its shape as [1, 4] for a "
        "row (one value per column), or [4, 1] if 4×4 is meant"
    )
    fixed = config.replace("y: [1, 2, 3, 4]", "y: [[1, 2, 3, 4]]")
    assert tracer_from_text(fixed).shapes["e"] == (1, 4)
    loss = config.replace("op: sub", "op: mse")
    assert "mse expects the same shape on both sides; write the vector's shape as [1, 4] to " in (
        _load_error(loss)
    )


def test_a_vector_along_the_examples_says_to_write_a_row() -> None:
    message = _load_error(
        "data:\n  x: [[1, 2, 3, 4], [5, 6, 7, 8]]\nparams:\n  s: [1, 2, 3, 4]\ngraph:\n"
        "  - {name: z, op: mul, args: [x, s]}\n"
        "  - {name: L, op: sum, args: [z]}\n"
    )
    assert message.endswith(
        "mul expects shapes that broadcast against each other; a vector is a column, and 4×1 "
        "does not fit 2×4: write its shape as [1, 4] for a row (one value per column)"
    )


# ---- backprop init mlp, and model: mlp -------------------------------------------------------


def test_init_mlp_traces_with_a_batch_of_four(tmp_path) -> None:
    text = invoke("init", "mlp").stdout
    assert "  b1: {init: zeros, shape: [3]}\n" in text  # the starter's bias is a vector
    data = re.search(r"^data:\n(  .*\n)+", text, flags=re.M)
    assert data is not None
    batch = (
        "data:\n"
        "  x: [[0.5, -1.0, 1.5, 0.0], [-1.0, 0.25, 2.0, -0.5]]   # 2 features × 4 examples\n"
        "  y: [[1.0, -1.0, 0.5, 0.0]]\n"
    )
    path = tmp_path / "mlp4.yaml"
    path.write_text(text.replace(data.group(0), batch), encoding="utf-8")
    doc = trace_json(path)
    shapes = {n["name"]: n["shape"] for n in doc["graph"]["nodes"]}
    assert shapes["z"] == [3, 4] and shapes["o"] == [1, 4]
    tracer = tracer_from_text(path.read_text(encoding="utf-8"))
    step = next(tracer.run())
    assert step.grads["b1"].shape == (3,)
    np.testing.assert_allclose(step.grads["b1"], step.grads["z"].sum(axis=1), rtol=1e-14)
    np.testing.assert_allclose(
        step.grads["b1"], numeric_grad(tracer, step.values, "b1", 1e-6), rtol=1e-6, atol=1e-10
    )
    assert np.abs(step.grads["b1"]).max() > 1e-3
    np.testing.assert_allclose(
        [s["objective"] for s in doc["steps"]],
        [s.objective for s in tracer.run(steps=len(doc["steps"]))],
        rtol=0,
    )
    assert invoke("validate", str(path)).exit_code == 0


MLP = """\
data:
  x: {x}
  y: {y}
model: {{name: mlp, hidden: [3], activation: tanh, bias: true}}
"""


def test_the_mlp_models_biases_are_vectors_for_one_example_and_a_batch() -> None:
    one = tracer_from_text(MLP.format(x="[0.5, -1.0]", y="[1.0]"))
    batch = tracer_from_text(
        MLP.format(x="[[0.5, 1.0, -0.5, 0.0], [-1.0, 0.2, 0.3, 1.0]]", y="[[1.0, 0.0, 1.0, 0.5]]")
    )
    for tracer in (one, batch):
        assert tracer.shapes["b1"] == (3,) and tracer.shapes["b2"] == (1,)
    step = next(batch.run())
    np.testing.assert_allclose(step.grads["b1"], step.grads["z"].sum(axis=1), rtol=1e-14)


def test_a_batch_models_bias_may_be_given_as_a_column() -> None:
    x = "[[0.5, 1.0, -0.5, 0.0], [-1.0, 0.2, 0.3, 1.0]]"
    y = "[[1.0, 0.0, 1.0, 0.5]]"
    given = "params:\n  b1: [[0.1], [0.2], [-0.3]]\n"
    as_column = tracer_from_text(MLP.format(x=x, y=y) + given)
    as_vector = tracer_from_text(MLP.format(x=x, y=y) + "params:\n  b1: [0.1, 0.2, -0.3]\n")
    assert as_column.shapes["b1"] == (3, 1)
    a, b = next(as_column.run()), next(as_vector.run())
    assert a.objective == b.objective
    np.testing.assert_array_equal(a.grads["b1"][:, 0], b.grads["b1"])
    wrong = MLP.format(x=x, y=y) + "params:\n  b1: [[0.1, 0.2, -0.3]]\n"
    assert _load_error(wrong).endswith("the model needs 'b1' of shape 3 (or 3×1), found 1×3")
    # one example: the bias is a vector only (a 3×1 bias would turn h into a matrix)
    single = MLP.format(x="[0.5, -1.0]", y="[1.0]") + given
    assert _load_error(single).endswith("the model needs 'b1' of shape 3, found 3×1")


def test_tanh_adams_numbers_are_those_of_column_biases(tmp_path) -> None:
    """tanh_adam.yaml's biases became vectors (4 and 1, they were 4×1 and 1×1): every number of
    the trace is what the explicit columns give."""
    from .conftest import CONFIGS

    text = (CONFIGS / "tanh_adam.yaml").read_text(encoding="utf-8")
    vectors = trace_json(CONFIGS / "tanh_adam.yaml")
    path = tmp_path / "columns.yaml"
    b1, b2 = "[[0], [0], [0], [0]]", "[[0]]"
    assert "params:" not in text
    path.write_text(text + f"params:\n  b1: {b1}\n  b2: {b2}\n", encoding="utf-8")
    columns = trace_json(path)
    assert [n["shape"] for n in columns["graph"]["tensors"] if n["name"] == "b1"] == [[4, 1]]
    for a, b in zip(vectors["steps"], columns["steps"], strict=True):
        assert a["objective"] == b["objective"]
        for name in a["grads"]:
            assert np.ravel(a["grads"][name]).tolist() == np.ravel(b["grads"][name]).tolist()
    assert json.dumps(vectors["steps"][-1]["updates"]["b1"]["after"]) == json.dumps(
        np.ravel(columns["steps"][-1]["updates"]["b1"]["after"]).tolist()
    )
