"""The source document's worked examples: §4 exactly, §1/§3 against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from backprop_cli.fd import numeric_grad

from .conftest import CONFIGS
from .helpers import trace_json, tracer_from_file

TOL = 1e-12


def test_section4_line_fit_numbers() -> None:
    step = trace_json(CONFIGS / "seed_linear.yaml")["steps"][0]
    assert step["step"] == 1
    assert step["forward"]["y_hat"] == pytest.approx(1.1, abs=TOL)
    assert step["objective"] == pytest.approx(1.805, abs=TOL)
    assert step["grads"]["y_hat"] == pytest.approx(-1.9, abs=TOL)
    assert step["grads"]["w"] == pytest.approx(-3.8, abs=TOL)
    assert step["grads"]["b"] == pytest.approx(-1.9, abs=TOL)
    assert step["updates"]["w"]["after"] == pytest.approx(0.88, abs=TOL)
    assert step["updates"]["b"]["after"] == pytest.approx(0.29, abs=TOL)


def test_section4_backward_rows_are_the_documents() -> None:
    """∂L/∂ŷ = ŷ − y, ∂ŷ/∂w = x, ∂ŷ/∂b = 1, and their products."""
    edges = {
        (e["node"], e["input"]): e
        for e in trace_json(CONFIGS / "seed_linear.yaml")["steps"][0]["backward"]
    }
    loss = edges[("L", "y_hat")]
    assert loss["formula"]["local"] == "y_hat − y"
    assert loss["local"] == pytest.approx(-1.9, abs=TOL)
    slope = edges[("wx", "w")]
    assert (slope["upstream"], slope["local"]) == (pytest.approx(-1.9, abs=TOL), 2.0)
    assert slope["global"] == pytest.approx(-3.8, abs=TOL)
    assert slope["formula"]["global"] == "∂L/∂wx · x"
    bias = edges[("y_hat", "b")]
    assert (bias["local"], bias["global"]) == (1.0, pytest.approx(-1.9, abs=TOL))
    # Rows come in backward order, numbered from 1.
    assert [e["index"] for e in edges.values()] == list(range(1, len(edges) + 1))


def test_section4_second_step_starts_from_the_update() -> None:
    steps = trace_json(CONFIGS / "seed_linear.yaml", "--steps", "2")["steps"]
    assert steps[1]["forward"]["w"] == steps[0]["updates"]["w"]["after"]
    # ŷ = 0.88·2 + 0.29 = 2.05; L = ½(2.05 − 3)² = 0.45125
    assert steps[1]["forward"]["y_hat"] == pytest.approx(2.05, abs=TOL)
    assert steps[1]["objective"] == pytest.approx(0.45125, abs=TOL)


def test_lr_override() -> None:
    step = trace_json(CONFIGS / "seed_linear.yaml", "--lr", "0.5")["steps"][0]
    assert step["updates"]["w"]["after"] == pytest.approx(0.5 + 0.5 * 3.8, abs=TOL)


def test_mlp_l2_gradient_table_rows() -> None:
    """Rows ② and ④ of the document: ∂J/∂W = (upstream · transpose) + λW."""
    tracer = tracer_from_file(CONFIGS / "seed_mlp_l2.yaml")
    step = next(tracer.run())
    v = step.values
    lam = 0.01
    dJ_do = v["o"] - v["y"]
    dJ_dh = v["W2"].T @ dJ_do
    dJ_dz = dJ_dh * (v["z"] > 0)
    np.testing.assert_allclose(
        step.grads["W2"], np.outer(dJ_do, v["h"]) + lam * v["W2"], rtol=0, atol=TOL
    )
    np.testing.assert_allclose(
        step.grads["W1"], np.outer(dJ_dz, v["x"]) + lam * v["W1"], rtol=0, atol=TOL
    )
    assert tracer.grad_formulas["W1"] == "∂J/∂W1 = ∂J/∂z · xᵀ + λW1"
    assert tracer.grad_formulas["W2"] == "∂J/∂W2 = ∂J/∂o · hᵀ + λW2"
    first = step.edges[0].info
    assert (first.node, first.input, first.local, first.global_) == (
        "J",
        "L",
        "1",
        "1",
    )  # ∂J/∂J = 1: not written out
    terms = [e for e in step.edges if e.info.input == "W1"]
    assert [(e.info.node, e.info.term, e.info.terms) for e in terms] == [("s", 2, 2), ("z", 1, 2)]
    np.testing.assert_allclose(sum(e.global_ for e in terms), step.grads["W1"], atol=TOL)


@pytest.mark.parametrize(
    "config", ["seed_mlp_l2.yaml", "seed_mlp_l2_model.yaml", "seed_linear.yaml"]
)
def test_every_grad_matches_finite_differences(config: str) -> None:
    tracer = tracer_from_file(CONFIGS / config)
    step = next(tracer.run())
    for name, grad in step.grads.items():
        numeric = numeric_grad(tracer, step.values, name)
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9, err_msg=name)


def test_model_and_explicit_mlp_give_the_same_steps() -> None:
    explicit = trace_json(CONFIGS / "seed_mlp_l2.yaml", "--steps", "3")
    model = trace_json(CONFIGS / "seed_mlp_l2_model.yaml", "--steps", "3")
    assert explicit["steps"] == model["steps"]
    assert explicit["graph"] == model["graph"]
