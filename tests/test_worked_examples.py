"""Worked examples published in tutorials and textbooks, written in the config format as the
issue gives them, and traced to the published numbers; the new ops and options against the
autodiff oracles (HIPS autograd, and PyTorch where installed)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from .helpers import invoke, tracer_from_text
from .oracles import autograd_grads, torch_grads

RTOL, ATOL = 1e-10, 1e-13


def _oracles(text: str, steps: int = 1) -> None:
    """Every gradient of every step agrees with autograd, and with PyTorch if installed."""
    try:
        import torch  # noqa: F401

        who = [("autograd", autograd_grads), ("pytorch", torch_grads)]
    except ImportError:
        who = [("autograd", autograd_grads)]
    tracer = tracer_from_text(text)
    for step in tracer.run(steps=steps):
        for name, oracle in who:
            reference = oracle(tracer, step.values)
            assert set(reference) == set(step.grads)
            for key, grad in step.grads.items():
                np.testing.assert_allclose(
                    grad, reference[key], rtol=RTOL, atol=ATOL, err_msg=f"∂/∂{key} vs {name}"
                )


# ---- 1. sin, cos, sqrt, minimum, maximum, clip ---------------------------------------------

# The PyTorch/JAX autodiff tutorials' example: f(x1, x2) = ln x1 + x1·x2 − sin x2 at (2, 5).
EXPRESSION = """
params: {x1: 2.0, x2: 5.0}
graph:
  - {name: a, op: log, args: [x1]}
  - {name: b, op: mul, args: [x1, x2]}
  - {name: c, op: sin, args: [x2]}
  - {name: d, op: add, args: [a, b]}
  - {name: f, op: sub, args: [d, c]}
"""


def test_ln_x1_plus_x1x2_minus_sin_x2_at_2_5() -> None:
    step = next(tracer_from_text(EXPRESSION).run())
    assert round(step.objective, 3) == 11.652
    assert step.grads["x1"] == pytest.approx(5.5, abs=1e-12)
    assert round(float(step.grads["x2"]), 3) == 1.716
    assert float(step.grads["x2"]) == pytest.approx(2.0 - np.cos(5.0), abs=1e-12)
    edge = next(e for e in step.edges if e.info.node == "c")
    assert (edge.info.local, edge.info.equation) == ("cos(x2)", "c = sin(x2)")
    _oracles(EXPRESSION)


ELEMENTWISE = """
params:
  a: [0.3, -1.2, 2.0, 0.5]
  b: [0.3, 0.4, -1.0, 2.5]
  s: [0.25, 4.0, 9.0, 1.5]
graph:
  - {name: hi, op: maximum, args: [a, b]}
  - {name: lo, op: minimum, args: [a, b]}
  - {name: r, op: sqrt, args: [s]}
  - {name: c, op: cos, args: [a]}
  - {name: k, op: clip, args: [b], min: -0.5, max: 0.4}
  - {name: p1, op: mul, args: [hi, r]}
  - {name: p2, op: mul, args: [lo, c]}
  - {name: p3, op: mul, args: [k, k]}
  - {name: q, op: add, args: [p1, p2]}
  - {name: q2, op: add, args: [q, p3]}
  - {name: J, op: sum, args: [q2]}
"""


def test_new_elementwise_ops_against_the_oracles() -> None:
    """Includes a tie (a[0] = b[0]) and a clip at its bound (b[1] = max): the shared gradient
    and the bound inside, as autograd and PyTorch have them."""
    tracer = tracer_from_text(ELEMENTWISE)
    step = next(tracer.run())
    edges = {(e.info.node, e.info.input): e for e in step.edges}
    np.testing.assert_array_equal(edges["hi", "a"].local, [0.5, 0.0, 1.0, 0.0])
    np.testing.assert_array_equal(edges["lo", "b"].local, [0.5, 0.0, 1.0, 0.0])
    np.testing.assert_array_equal(edges["k", "b"].local, [1.0, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(edges["r", "s"].local, [1.0, 0.25, 1 / 6, 0.5 / np.sqrt(1.5)])
    np.testing.assert_allclose(edges["c", "a"].local, -np.sin([0.3, -1.2, 2.0, 0.5]))
    assert edges["k", "b"].info.local == "1[−0.5 ≤ b ≤ 0.4]"
    assert edges["k", "b"].info.equation == "k = clip(b, −0.5, 0.4)"
    assert edges["r", "s"].info.local == "1/(2√s)"
    _oracles(ELEMENTWISE, steps=2)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("", "clip expects at least one of the options min and max"),
        (", min: 1, max: 0", "clip expects min ≤ max, but min = 1 and max = 0"),
        (", min: one", "min (the lower bound (none if left out)): expected a finite number"),
    ],
)
def test_clip_options_are_checked(options: str, message: str) -> None:
    result = invoke(
        "validate",
        "-",
        input=f"data: {{x: [1.0, 2.0]}}\ngraph:\n  - {{name: c, op: clip, args: [x]{options}}}\n",
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("backprop: error: <stdin>:3:")
    assert message in result.stderr


# ---- 2. stop_gradient ------------------------------------------------------------------------

# JAX's and TensorFlow's stop-gradient example: u = stop_gradient(x·x), z = Σ u·x.
STOP = """
{kind}: {{x: [0.0, 1.0, 2.0, 3.0]}}
graph:
  - {{name: y, op: mul, args: [x, x]}}
  - {{name: u, op: stop_gradient, args: [y]}}
  - {{name: ux, op: mul, args: [u, x]}}
  - {{name: z, op: sum, args: [ux]}}
"""


@pytest.mark.parametrize("kind", ["data", "params"])
def test_stop_gradient_passes_nothing_back(kind: str) -> None:
    text = STOP.format(kind=kind)
    step = next(tracer_from_text(text).run())
    assert step.grads["x"].tolist() == [0.0, 1.0, 4.0, 9.0]  # ∂z/∂x = u, not 3x²
    assert step.grads["y"].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert step.grads["u"].tolist() == [0.0, 1.0, 2.0, 3.0]
    edge = next(e for e in step.edges if e.info.node == "u")
    assert (edge.info.local, edge.info.global_) == ("0 (gradient stopped)", "0")
    _oracles(text)


def test_stop_gradient_in_the_table_and_check() -> None:
    text = STOP.format(kind="params")
    out = invoke("trace", "-", "--width", "200", "--explain", input=text).stdout
    assert "0 (gradient stopped)" in out
    assert "u = stop_gradient(y) passes nothing back to y: its local gradient is 0" in out
    # Finite differences hold the stopped value fixed, so check agrees with the trace.
    result = invoke("check", "-", "--nodes", "-f", "json", input=text)
    assert result.exit_code == 0, result.stdout
    assert invoke("ops", "--width", "200").stdout.count("stop_gradient") == 1


# ---- 3. literal constants in args ------------------------------------------------------------

CONSTANTS = """
params: {x: [1.0, 2.0]}
graph:
  - {name: y, op: mul, args: [x, 3.0]}
  - {name: z, op: add, args: [y, [[1, -2], [0.5, 0]]]}
  - {name: w, op: sub, args: [-1, z]}
  - {name: p, op: pow, args: [w], exponent: 2}
  - {name: J, op: mean, args: [p]}
"""


def test_constants_are_shown_as_values_and_get_no_gradient_row() -> None:
    doc = trace_json_text(CONSTANTS)
    nodes = {n["name"]: n for n in doc["graph"]["nodes"]}
    assert nodes["y"]["equation"] == "y = x·3" and nodes["y"]["args"] == ["x", "3"]
    assert nodes["z"]["equation"] == "z = y + [[1, −2], [0.5, 0]]"
    assert nodes["w"]["equation"] == "w = −1 − z"
    assert doc["graph"]["constants"] == {
        "3": 3,
        "[[1, −2], [0.5, 0]]": [[1, -2], [0.5, 0]],
        "−1": -1,
    }
    step = doc["steps"][0]
    assert {e["input"] for e in step["backward"]} == {"x", "y", "z", "w", "p"}
    assert set(step["grads"]) == set(step["forward"]) == {"x", "y", "z", "w", "p", "J"}
    # y = 3x = [3, 6], a column against the 2×2 constant: z[i, j] = y[i] + c[i, j];
    # w = −1 − z; J = mean(w²)
    x = np.array([1.0, 2.0])
    w = -1.0 - (3.0 * x.reshape(2, 1) + np.array([[1.0, -2.0], [0.5, 0.0]]))
    assert step["objective"] == pytest.approx(np.mean(w**2), rel=1e-15)
    np.testing.assert_allclose(step["grads"]["x"], (-2.0 * w / 4).sum(axis=1) * 3.0, rtol=1e-15)
    edge = next(e for e in step["backward"] if e["node"] == "y")
    assert (edge["formula"]["local"], edge["formula"]["global"]) == ("3", "∂J/∂y · 3")
    _oracles(CONSTANTS, steps=2)
    table = invoke("trace", "-", "--width", "150", input=CONSTANTS).stdout
    assert "y = x·3" in table and "→ 3 " not in table


def trace_json_text(text: str) -> dict:
    result = invoke("trace", "-", "--format", "json", input=text)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        (
            "true",
            ":3:34: graph[0].args[1]: node 'y': expected an input name or a constant (a number or "
            "a list of numbers), found the boolean true",
        ),
        (
            "[[1, 2], [3]]",
            ":3:34: graph[0].args[1]: node 'y': a constant input: expected rows of equal length "
            "(a rectangular array), but found a ragged list with row lengths [1, 2]",
        ),
        (
            ".inf",
            ":3:34: graph[0].args[1]: node 'y': expected a finite constant, found the number inf",
        ),
        (
            "[1, 2, 3]",
            ":3:30: graph[0].args: node 'y' (y = x ⊙ [1, 2, 3]): x has shape 2, [1, 2, 3] has "
            "shape 3; mul expects shapes that broadcast against each other",
        ),
    ],
)
def test_bad_constants_are_one_line_errors(arg: str, message: str) -> None:
    result = invoke(
        "trace",
        "-",
        input=f"data: {{x: [1.0, 2.0]}}\ngraph:\n  - {{name: y, op: mul, args: [x, {arg}]}}\n",
    )
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"backprop: error: <stdin>{message}\n"


def test_constants_in_the_graph_command() -> None:
    for fmt in ("table", "dot", "mermaid", "json"):
        result = invoke("graph", "-", "-f", fmt, input=CONSTANTS)
        assert result.exit_code == 0, (fmt, result.stderr)
    assert invoke("validate", "-", input=CONSTANTS).exit_code == 0


# ---- 7. a shipped config that reads its data from a file ----------------------------------


def test_houses_reads_the_csv_and_fits_the_least_squares_line() -> None:
    import csv

    from .conftest import CONFIGS

    with open(CONFIGS / "data" / "houses.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    area = np.array([float(r["area"]) for r in rows])
    price = np.array([float(r["price"]) for r in rows])
    assert len(rows) == 12
    doc = trace_json_text(
        (CONFIGS / "houses.yaml")
        .read_text(encoding="utf-8")
        .replace("data/houses.csv", str(CONFIGS / "data" / "houses.csv"))
    )
    first, last = doc["steps"][0], doc["steps"][-1]
    assert len(doc["steps"]) == 300
    assert first["forward"]["area"] == area.tolist() and first["forward"]["y"] == price.tolist()
    w, b = np.polyfit(area / 100, price, 1)
    assert last["updates"]["w"]["after"] == pytest.approx(w, abs=1e-5)
    assert last["updates"]["b"]["after"] == pytest.approx(b, abs=1e-5)
    residual = np.mean((w * area / 100 + b - price) ** 2)
    assert last["objective"] == pytest.approx(residual, rel=1e-3)
