"""Optimiser trajectories against plain numpy references written from the published rules."""

from __future__ import annotations

import json

import numpy as np
import pytest

from .helpers import invoke, tracer_from_text

# A small tanh network on a batch: every param gets a non-trivial gradient each step.
NETWORK = """
data:
  x: [[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]]
  y: [[1.0, 0.0, -1.0]]
params:
  W1: [[0.3, -0.2], [0.1, 0.4], [-0.5, 0.2]]
  b1: [[0.0], [0.1], [-0.1]]
  W2: [[0.7, -0.3, 0.2]]
graph:
  - {name: u, op: matmul, args: [W1, x]}
  - {name: z, op: add, args: [u, b1]}
  - {name: h, op: tanh, args: [z]}
  - {name: o, op: matmul, args: [W2, h]}
  - {name: L, op: mse, args: [o, y]}
"""


def _trace(optimizer: str, steps: int = 3):
    tracer = tracer_from_text(NETWORK + f"optimizer: {optimizer}\n")
    return list(tracer.run(steps=steps))


def _replay(steps, update):
    """Apply ``update(name, value, grad, state)`` to the traced grads, step by step, and check
    that every traced ``after`` equals the reference to 1e-12."""
    values = {name: steps[0].values[name] for name in steps[0].updates}
    state: dict[str, dict] = {name: {} for name in values}
    for step in steps:
        for name, u in step.updates.items():
            np.testing.assert_allclose(u.before, values[name], rtol=1e-12, atol=1e-12)
            values[name] = update(name, values[name], step.grads[name], state[name])
            np.testing.assert_allclose(
                u.after, values[name], rtol=1e-12, atol=1e-12, err_msg=f"step {step.step} {name}"
            )
    return state


def test_adam_three_steps_match_numpy_reference() -> None:
    lr, b1, b2, eps = 0.05, 0.8, 0.99, 1e-7
    steps = _trace(f"{{name: adam, lr: {lr}, beta1: {b1}, beta2: {b2}, eps: {eps}}}")

    def adam(name, w, g, s):
        s["t"] = s.get("t", 0) + 1
        s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0) + (1 - b2) * g**2
        m_hat = s["m"] / (1 - b1 ** s["t"])
        v_hat = s["v"] / (1 - b2 ** s["t"])
        s["m_hat"], s["v_hat"] = m_hat, v_hat
        return w - lr * m_hat / (np.sqrt(v_hat) + eps)

    state = _replay(steps, adam)
    last = steps[-1].updates["W1"]
    for key in ("m", "v", "m_hat", "v_hat"):
        np.testing.assert_allclose(last.state[key], state["W1"][key], rtol=1e-12, atol=1e-15)
    assert last.state["t"] == 3
    assert "m̂/(√v̂ + ε)" in last.formula


def test_adam_updates_json_matches_numpy_reference() -> None:
    """The acceptance check, on the JSON a user's script would read."""
    config = NETWORK + "optimizer: {name: adam, lr: 0.01}\nsteps: 3\n"
    doc = json.loads(invoke("trace", "-", "--format", "json", input=config).stdout)
    w = {n: np.array(doc["steps"][0]["forward"][n]) for n in ("W1", "b1", "W2")}
    m = {n: np.zeros_like(v) for n, v in w.items()}
    v = {n: np.zeros_like(x) for n, x in w.items()}
    for t, step in enumerate(doc["steps"], start=1):
        for name, rec in step["updates"].items():
            g = np.array(step["grads"][name])
            np.testing.assert_allclose(rec["grad"], g, rtol=0, atol=0)
            m[name] = 0.9 * m[name] + 0.1 * g
            v[name] = 0.999 * v[name] + 0.001 * g * g
            m_hat, v_hat = m[name] / (1 - 0.9**t), v[name] / (1 - 0.999**t)
            w[name] = w[name] - 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8)
            np.testing.assert_allclose(rec["after"], w[name], rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(rec["state"]["m_hat"], m_hat, rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(rec["state"]["v_hat"], v_hat, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_and_weight_decay(nesterov: bool) -> None:
    lr, mu, wd = 0.1, 0.9, 0.01
    flag = "true" if nesterov else "false"
    steps = _trace(
        f"{{name: sgd, lr: {lr}, momentum: {mu}, nesterov: {flag}, weight_decay: {wd}}}", steps=4
    )

    def sgd(name, w, g, s):
        g = g + wd * w
        s["v"] = mu * s.get("v", 0) + g
        return w - lr * (g + mu * s["v"] if nesterov else s["v"])

    state = _replay(steps, sgd)
    np.testing.assert_allclose(
        steps[-1].updates["b1"].state["velocity"], state["b1"]["v"], rtol=1e-12, atol=1e-15
    )


def test_plain_sgd_is_the_documents_rule() -> None:
    steps = _trace("{name: sgd, lr: 0.3}")
    _replay(steps, lambda name, w, g, s: w - 0.3 * g)
    assert steps[0].updates["W2"].formula == "W2 ← W2 − η·∂L/∂W2"
    assert steps[0].updates["W2"].state == {}


def test_adamw_decouples_weight_decay() -> None:
    lr, wd = 0.02, 0.1
    steps = _trace(f"{{name: adamw, lr: {lr}, weight_decay: {wd}}}")

    def adamw(name, w, g, s):
        s["t"] = s.get("t", 0) + 1
        s["m"] = 0.9 * s.get("m", 0) + 0.1 * g
        s["v"] = 0.999 * s.get("v", 0) + 0.001 * g**2
        m_hat, v_hat = s["m"] / (1 - 0.9 ** s["t"]), s["v"] / (1 - 0.999 ** s["t"])
        return w - lr * (m_hat / (np.sqrt(v_hat) + 1e-8) + wd * w)

    _replay(steps, adamw)


def test_rmsprop() -> None:
    lr, alpha = 0.01, 0.9
    steps = _trace(f"{{name: rmsprop, lr: {lr}, alpha: {alpha}}}")

    def rmsprop(name, w, g, s):
        s["v"] = alpha * s.get("v", 0) + (1 - alpha) * g**2
        return w - lr * g / (np.sqrt(s["v"]) + 1e-8)

    _replay(steps, rmsprop)


def test_optimizer_defaults_follow_pytorch() -> None:
    steps = _trace("adam", steps=1)
    assert steps[0].optimizer == "adam, η = 0.001, β1 = 0.9, β2 = 0.999, ε = 1e-08"
    assert _trace("rmsprop", steps=1)[0].optimizer == "rmsprop, η = 0.01, α = 0.99, ε = 1e-08"
    assert (
        _trace("adamw", steps=1)[0].optimizer
        == "adamw, η = 0.001, β1 = 0.9, β2 = 0.999, ε = 1e-08, λ = 0.01"
    )


@pytest.mark.parametrize(
    ("optimizer", "message"),
    [
        (
            "{name: adam, beta1: 1.5}",
            "optimizer.beta1: beta1 (β1, the decay of the first moment m): expected a finite "
            "number "
            "≥ 0 ≤ 1, found the number 1.5",
        ),
        (
            "{name: adam, betas: [0.9, 0.99]}",
            "optimizer.betas: unknown adam option 'betas' (did you mean beta1 and beta2, two "
            "options?); "
            "expected name, lr, "
            "beta1, beta2, eps, weight_decay",
        ),
        (
            "{name: sgd, nesterov: yes please}",
            "optimizer.nesterov: nesterov (Nesterov momentum): expected true or false, found the "
            "string 'yes please'",
        ),
        (
            "{name: rmsprop, eps: 0}",
            "optimizer.eps: eps (ε, added to the denominator): expected a finite number > 0, found "
            "the number 0",
        ),
    ],
)
def test_optimizer_option_errors(optimizer: str, message: str) -> None:
    result = invoke("trace", "-", input=NETWORK + f"optimizer: {optimizer}\n")
    assert result.exit_code == 2
    assert result.stderr.startswith("backprop: error: <stdin>:")
    assert result.stderr.rstrip("\n").endswith(message)
