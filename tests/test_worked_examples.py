"""Worked examples published in tutorials and textbooks, written in the config format as the
issue gives them, and traced to the published numbers; the new ops and options against the
autodiff oracles (HIPS autograd, and PyTorch where installed)."""

from __future__ import annotations

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
