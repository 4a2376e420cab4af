"""Optimiser trajectories against plain numpy references written from the published rules."""

from __future__ import annotations

import json
import re

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
            "beta1, beta2, eps, weight_decay, maximize",
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


# ---- PyTorch's torch.optim as the reference for every option --------------------------------

TORCH_CASES = [
    (
        "{name: sgd, lr: 0.1, momentum: 0.9, dampening: 0.5}",
        "SGD",
        dict(lr=0.1, momentum=0.9, dampening=0.5),
    ),
    ("{name: sgd, lr: 0.1, maximize: true}", "SGD", dict(lr=0.1, maximize=True)),
    (
        "{name: sgd, lr: 0.05, momentum: 0.8, dampening: 0.3, weight_decay: 0.01, maximize: true}",
        "SGD",
        dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01, maximize=True),
    ),
    (
        "{name: sgd, lr: 0.1, momentum: 0.9, nesterov: true}",
        "SGD",
        dict(lr=0.1, momentum=0.9, nesterov=True),
    ),
    ("{name: adam, lr: 0.05, maximize: true}", "Adam", dict(lr=0.05, maximize=True)),
    ("{name: adamw, lr: 0.05, maximize: true}", "AdamW", dict(lr=0.05, maximize=True)),
    ("{name: rmsprop, lr: 0.01}", "RMSprop", dict(lr=0.01)),
    ("{name: rmsprop, lr: 0.01, centered: true}", "RMSprop", dict(lr=0.01, centered=True)),
    ("{name: rmsprop, lr: 0.01, momentum: 0.9}", "RMSprop", dict(lr=0.01, momentum=0.9)),
    (
        "{name: rmsprop, lr: 0.02, alpha: 0.9, eps: 1e-6, momentum: 0.5, centered: true, "
        "weight_decay: 0.01, maximize: true}",
        "RMSprop",
        dict(
            lr=0.02,
            alpha=0.9,
            eps=1e-6,
            momentum=0.5,
            centered=True,
            weight_decay=0.01,
            maximize=True,
        ),
    ),
    ("{name: adagrad}", "Adagrad", dict()),
    ("{name: adagrad, lr: 0.1}", "Adagrad", dict(lr=0.1)),
    (
        "{name: adagrad, lr: 0.1, lr_decay: 0.05, eps: 1e-6, initial_accumulator_value: 0.2, "
        "weight_decay: 0.01, maximize: true}",
        "Adagrad",
        dict(
            lr=0.1,
            lr_decay=0.05,
            eps=1e-6,
            initial_accumulator_value=0.2,
            weight_decay=0.01,
            maximize=True,
        ),
    ),
]


@pytest.mark.parametrize(("optimizer", "cls", "kwargs"), TORCH_CASES)
def test_updates_match_torch_optim(optimizer: str, cls: str, kwargs: dict) -> None:
    """torch.optim.<cls>(**kwargs) fed the traced gradients moves every param exactly as the
    trace does, step after step."""
    torch = pytest.importorskip("torch")
    steps = _trace(optimizer, steps=5)
    params = {
        name: torch.tensor(steps[0].values[name], dtype=torch.float64, requires_grad=True)
        for name in steps[0].updates
    }
    opt = getattr(torch.optim, cls)(list(params.values()), **kwargs)
    for step in steps:
        for name, p in params.items():
            p.grad = torch.tensor(step.grads[name], dtype=torch.float64)
        opt.step()
        for name, p in params.items():
            np.testing.assert_allclose(
                step.updates[name].after,
                p.detach().numpy(),
                rtol=1e-12,
                atol=1e-14,
                err_msg=f"step {step.step} {name}: {optimizer}",
            )
    state = opt.state[params["W1"]]
    last = steps[-1].updates["W1"].state
    assert set(last) - {"t", "m_hat", "v_hat"} <= set(TORCH_STATE[cls])
    for ours, theirs in TORCH_STATE[cls].items():
        if ours in last:
            np.testing.assert_allclose(last[ours], state[theirs].numpy(), rtol=1e-12, atol=1e-15)


# Our state names -> torch.optim's.
TORCH_STATE = {
    "SGD": {"velocity": "momentum_buffer"},
    "Adam": {"m": "exp_avg", "v": "exp_avg_sq"},
    "AdamW": {"m": "exp_avg", "v": "exp_avg_sq"},
    "RMSprop": {"v": "square_avg", "grad_avg": "grad_avg", "buffer": "momentum_buffer"},
    "Adagrad": {"sum": "sum"},
}


def test_rmsprop_eps_in_sqrt_is_the_d2l_form() -> None:
    """d2l's RMSProp on f = 0.1x1² + 2x2² from (−5, −2), η = 0.4, γ = 0.9, ε = 1e-6 under the
    root, 20 steps: "epoch 20, x1: -0.010599, x2: 0.000000"."""
    steps = list(
        tracer_from_text(
            D2L + "optimizer: {name: rmsprop, lr: 0.4, alpha: 0.9, eps: 1e-6, eps_in_sqrt: true}\n"
        ).run(steps=20)
    )
    x1, x2 = (float(steps[-1].updates[n].after) for n in ("x1", "x2"))
    assert (round(x1, 6), round(x2, 6)) == (-0.010599, 0.0)
    assert steps[0].updates["x1"].formula == (
        "g = ∂f/∂x1; v ← α·v + (1 − α)·g²; x1 ← x1 − η·g/√(v + ε)"
    )


# d2l.ai §12.7 and §12.8: f(x1, x2) = 0.1x1² + 2x2², from (−5, −2).
D2L = """
params: {x1: -5.0, x2: -2.0}
graph:
  - {name: a, op: pow, args: [x1], exponent: 2}
  - {name: b, op: pow, args: [x2], exponent: 2}
  - {name: a1, op: mul, args: [a, 0.1]}
  - {name: b1, op: mul, args: [b, 2.0]}
  - {name: f, op: add, args: [a1, b1]}
"""


def test_adagrad_d2l_example() -> None:
    """d2l's Adagrad (ε = 1e-6 under the root) with η = 0.4 for 20 steps ends at
    (−2.382563, −0.158591)."""
    config = D2L + "optimizer: {name: adagrad, lr: 0.4, eps: 1e-6, eps_in_sqrt: true}\nsteps: 20\n"
    doc = json.loads(invoke("trace", "-", "--format", "json", input=config).stdout)
    last = doc["steps"][-1]["updates"]
    assert round(last["x1"]["after"], 6) == -2.382563
    assert round(last["x2"]["after"], 6) == -0.158591
    # The state is the sum of squared gradients, in the table and the JSON.
    g1 = [0.2 * s["forward"]["x1"] for s in doc["steps"]]
    assert last["x1"]["state"]["sum"] == pytest.approx(sum(g * g for g in g1), rel=1e-14)
    assert last["x1"]["state"]["t"] == 20
    assert last["x1"]["formula"] == "g = ∂f/∂x1; s ← s + g²; x1 ← x1 − η·g/√(s + ε)"
    table = invoke("trace", "-", "--only-step", "1", "--width", "200", input=config).stdout
    assert "adagrad, η = 0.4, ε = 1e-06, eps_in_sqrt = true" in table
    # g = −1, −8 at the start
    assert re.search(r"\bs = 1\b(?!\.)", table) and re.search(r"\bs = 64\b", table)
    # PyTorch's form (ε = 1e-10 outside the root) lands within 1e-6 of the same point.
    torch_form = D2L + "optimizer: {name: adagrad, lr: 0.4}\n"
    steps = list(tracer_from_text(torch_form).run(steps=20))
    assert steps[0].updates["x1"].formula == "g = ∂f/∂x1; s ← s + g²; x1 ← x1 − η·g/(√s + ε)"
    after = [float(steps[-1].updates[n].after) for n in ("x1", "x2")]
    np.testing.assert_allclose(after, [-2.382563, -0.158591], rtol=0, atol=1e-6)


def test_maximize_shows_the_sign_in_the_rule() -> None:
    steps = _trace("{name: sgd, lr: 0.3, maximize: true}", steps=1)
    assert steps[0].updates["W2"].formula == "W2 ← W2 + η·∂L/∂W2"
    _replay(steps, lambda name, w, g, s: w + 0.3 * g)
    assert steps[0].optimizer == "sgd, η = 0.3, maximize = true"
    adam = _trace("{name: adam, maximize: true}", steps=1)[0].updates["W2"].formula
    assert adam.startswith("g = −∂L/∂W2; ")
    decayed = _trace("{name: rmsprop, maximize: true, weight_decay: 0.1}", 1)[0].updates["b1"]
    assert decayed.formula.startswith("g = −∂L/∂b1 + λ·b1; ")


def test_sgd_dampening_and_rmsprop_options_in_the_rule() -> None:
    sgd = _trace("{name: sgd, momentum: 0.9, dampening: 0.1}", 1)[0].updates["W2"].formula
    assert sgd == "g = ∂L/∂W2; v ← μ·v + (1 − τ)·g (v = g at t = 1); W2 ← W2 − η·v"
    rms = _trace("{name: rmsprop, centered: true, momentum: 0.5}", 1)[0].updates["W2"]
    assert rms.formula == (
        "g = ∂L/∂W2; v ← α·v + (1 − α)·g²; ḡ ← α·ḡ + (1 − α)·g; b ← μ·b + g/(√(v − ḡ²) + ε); "
        "W2 ← W2 − η·b"
    )
    assert list(rms.state) == ["v", "grad_avg", "buffer"]


def test_nesterov_with_dampening_is_refused() -> None:
    result = invoke(
        "trace",
        "-",
        input=NETWORK + "optimizer: {name: sgd, momentum: 0.9, nesterov: true, dampening: 0.1}\n",
    )
    assert result.exit_code == 2
    assert result.stderr.endswith(
        "optimizer: sgd: Nesterov momentum needs dampening 0 (as in PyTorch)\n"
    )


def test_explain_says_maximize_moves_along_the_gradient() -> None:
    config = NETWORK.replace("W2: [[0.7, -0.3, 0.2]]", "W2: [[0.7, -0.3, 0.2]]\n  c: 1.5")
    config += "  - {name: K, op: mul, args: [c, 2.0]}\noptimizer: {name: sgd, maximize: true}\n"
    out = invoke("trace", "-", "--explain", "--width", "200", input=config).stdout
    assert (
        "The gradient is positive (2) and the objective is maximised, so c grows: 1.5 → 1.7." in out
    )
    zh = invoke("trace", "-", "--explain", "--lang", "zh", "--width", "200", input=config).stdout
    assert "梯度为正（2），而目标是求最大值，所以 c 往大方向调：1.5 → 1.7。" in zh
