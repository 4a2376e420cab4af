"""The layers after the MLP: the `model: rnn` and `model: cnn` shorthands against the graphs
they stand for, backpropagation through time as the tables show it, and what the new ops record
(no dense Jacobian, the masks of dropout and attention)."""

from __future__ import annotations

import json

import numpy as np

from .conftest import CONFIGS
from .helpers import invoke, trace_json, tracer_from_file, tracer_from_text

RNN_BY_HAND = """
data:
  x:
    - [1.0, 0.5, -0.5]
    - [0.0, -1.0, 0.8]
  y:
    - [0.5, -0.2, 0.3]
  h0: [0.0, 0.0]
params:
  W_xh: [[0.5, -0.3], [0.2, 0.4]]
  W_hh: [[0.6, -0.4], [0.3, 0.5]]
  b_h: [0.0, 0.1]
  W_hy: [[0.7, -0.5]]
  b_y: [0.0]
graph:
  - {name: x1, op: select, args: [x], axis: 1, index: 0}
  - {name: a1, op: matmul, args: [W_xh, x1]}
  - {name: r1, op: matmul, args: [W_hh, h0]}
  - {name: s1, op: add, args: [a1, r1]}
  - {name: z1, op: add, args: [s1, b_h]}
  - {name: h1, op: tanh, args: [z1]}
  - {name: q1, op: matmul, args: [W_hy, h1]}
  - {name: o1, op: add, args: [q1, b_y]}
  - {name: y1, op: select, args: [y], axis: 1, index: 0}
  - {name: L1, op: half_squared_error, args: [o1, y1]}
  - {name: x2, op: select, args: [x], axis: 1, index: 1}
  - {name: a2, op: matmul, args: [W_xh, x2]}
  - {name: r2, op: matmul, args: [W_hh, h1]}
  - {name: s2, op: add, args: [a2, r2]}
  - {name: z2, op: add, args: [s2, b_h]}
  - {name: h2, op: tanh, args: [z2]}
  - {name: q2, op: matmul, args: [W_hy, h2]}
  - {name: o2, op: add, args: [q2, b_y]}
  - {name: y2, op: select, args: [y], axis: 1, index: 1}
  - {name: L2, op: half_squared_error, args: [o2, y2]}
  - {name: x3, op: select, args: [x], axis: 1, index: 2}
  - {name: a3, op: matmul, args: [W_xh, x3]}
  - {name: r3, op: matmul, args: [W_hh, h2]}
  - {name: s3, op: add, args: [a3, r3]}
  - {name: z3, op: add, args: [s3, b_h]}
  - {name: h3, op: tanh, args: [z3]}
  - {name: q3, op: matmul, args: [W_hy, h3]}
  - {name: o3, op: add, args: [q3, b_y]}
  - {name: y3, op: select, args: [y], axis: 1, index: 2}
  - {name: L3, op: half_squared_error, args: [o3, y3]}
  - {name: L1to2, op: add, args: [L1, L2]}
  - {name: L, op: add, args: [L1to2, L3]}
optimizer: {name: sgd, lr: 0.1}
steps: 2
"""


def _trace_text(text: str, tmp_path, name: str) -> dict:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return trace_json(path)


def test_rnn_model_traces_exactly_as_its_graph_written_by_hand(tmp_path) -> None:
    by_hand = _trace_text(RNN_BY_HAND, tmp_path, "rnn_by_hand.yaml")
    assert trace_json(CONFIGS / "rnn_bptt.yaml") == by_hand


def test_rnn_without_h0_starts_from_zeros() -> None:
    text = (CONFIGS / "rnn_bptt.yaml").read_text(encoding="utf-8")
    without = text.replace("  h0: [0.0, 0.0]", "")
    assert without != text
    step = next(tracer_from_text(without).run())
    assert step.values["h0"].tolist() == [0.0, 0.0]
    assert step.objective == next(tracer_from_file(CONFIGS / "rnn_bptt.yaml").run()).objective


def test_bptt_shows_the_shared_weights_gradient_as_one_term_per_time_step() -> None:
    tracer = tracer_from_file(CONFIGS / "rnn_bptt.yaml")
    step = next(tracer.run())
    terms = [e for e in step.edges if e.info.input == "W_hh"]
    assert [e.info.node for e in sorted(terms, key=lambda e: e.info.term)] == ["r1", "r2", "r3"]
    assert all(e.info.terms == 3 for e in terms)
    total = sum(e.global_ for e in terms)
    np.testing.assert_allclose(step.grads["W_hh"], total, rtol=1e-15)
    # h0 = 0: the first term is 0; the two later steps each contribute.
    by_node = {e.info.node: e.global_ for e in terms}
    assert not by_node["r1"].any() and by_node["r2"].any() and by_node["r3"].any()
    formula = "∂L/∂W_hh = ∂L/∂r1 · h0ᵀ + ∂L/∂r2 · h1ᵀ + ∂L/∂r3 · h2ᵀ"
    assert tracer.grad_formulas["W_hh"] == formula
    # The default terminal view shows the whole sum on the row that completes it.
    table = invoke("trace", str(CONFIGS / "rnn_bptt.yaml"), "-n", "1", "--width", "200").stdout
    assert formula in table
    # The document view (Markdown) too, in LaTeX.
    markdown = invoke("trace", str(CONFIGS / "rnn_bptt.yaml"), "-n", "1", "-f", "markdown").stdout
    assert (
        r"\frac{\partial L}{\partial W_{\mathrm{hh}}} = \frac{\partial L}{\partial r_{1}}\,"
        r"h_{0}^\top + \frac{\partial L}{\partial r_{2}}\,h_{1}^\top + "
        r"\frac{\partial L}{\partial r_{3}}\,h_{2}^\top"
    ) in markdown


CNN_MODEL = """
data:
  x: {x}
  y: [1, 0]
params:
  K1: {k1}
  gamma1: [1.5, 0.5]
  W1: {w1}
  W2: {w2}
model:
  name: cnn
  conv:
    - {{channels: 2, kernel: 2, padding: 1, batch_norm: true, activation: tanh,
       pool: {{kind: avg, kernel: 2, stride: 1}}}}
  hidden: [3]
  outputs: 2
"""

CNN_BY_HAND = """
data:
  x: {x}
  y: [1, 0]
params:
  K1: {k1}
  b1: [0.0, 0.0]
  gamma1: [1.5, 0.5]
  beta1: [0.0, 0.0]
  W1: {w1}
  W2: {w2}
graph:
  - {{name: c1, op: conv2d, args: [x, K1, b1], padding: 1}}
  - {{name: bn1, op: batch_norm, args: [c1, gamma1, beta1]}}
  - {{name: a1, op: tanh, args: [bn1]}}
  - {{name: p1, op: avg_pool2d, args: [a1], kernel: 2, stride: 1}}
  - {{name: f, op: flatten, args: [p1]}}
  - {{name: z1, op: matmul, args: [W1, f]}}
  - {{name: h1, op: relu, args: [z1]}}
  - {{name: o, op: matmul, args: [W2, h1]}}
  - {{name: L, op: softmax_cross_entropy, args: [o, y]}}
"""


def test_cnn_model_traces_exactly_as_its_graph_written_by_hand(tmp_path) -> None:
    rng = np.random.default_rng(4)
    values = {
        "x": rng.uniform(-1, 1, (1, 3, 3, 2)),  # one channel, 3×3, a batch of 2
        "k1": rng.uniform(-1, 1, (2, 1, 2, 2)),
        "w1": rng.uniform(-1, 1, (3, 2 * 3 * 3)),  # conv 4×4, pool 3×3: 18 features
        "w2": rng.uniform(-1, 1, (2, 3)),
    }
    texts = {k: json.dumps(v.tolist()) for k, v in values.items()}
    model = _trace_text(CNN_MODEL.format(**texts), tmp_path, "cnn_model.yaml")
    by_hand = _trace_text(CNN_BY_HAND.format(**texts), tmp_path, "cnn_by_hand.yaml")
    # The model's params are listed in the order the expansion needs them (b1 after K1, …),
    # the hand-written ones as written: the same tensors, and the same trace.
    assert sorted(model["graph"]["tensors"], key=str) == sorted(
        by_hand["graph"]["tensors"], key=str
    )
    model["graph"]["tensors"] = by_hand["graph"]["tensors"]
    assert model == by_hand


def test_model_problems_are_reported_with_what_was_expected() -> None:
    rnn = invoke(
        "validate",
        "-",
        input="data: {x: [[1.0, 2.0]], y: [[1.0, 2.0, 3.0]]}\nmodel: {name: rnn, hidden: 2}\n",
    )
    assert rnn.exit_code == 2
    assert "an rnn's target has one column per time step" in rnn.stderr
    cnn = invoke(
        "validate",
        "-",
        input="data: {x: [[[1.0, 2.0], [3.0, 4.0]]], y: 0}\n"
        "model: {name: cnn, conv: [{channels: 1, kernel: 3}], outputs: 2}\n",
    )
    assert cnn.exit_code == 2
    assert "conv[0]: conv2d expects a window of 3 positions" in cnn.stderr


def test_image_ops_record_no_dense_jacobian() -> None:
    """A conv's local gradients are the turned kernel and the image; a pool's, the weights of
    each window; a normalisation's, the scale γ/√(σ² + ε) and x̂: never (output size × input
    size)."""
    tracer = tracer_from_file(CONFIGS / "cnn_tiny.yaml")
    step = next(tracer.run())
    local = {(e.info.node, e.info.input): e.local for e in step.edges}
    K = step.values["K"]
    np.testing.assert_array_equal(local[("c", "x")], K[:, :, ::-1, ::-1])
    np.testing.assert_array_equal(local[("c", "K")], step.values["x"])
    assert local[("p", "r")].shape == (1, 2, 2, 2, 2)  # C, kH, kW, Ho, Wo
    bn = next(tracer_from_file(CONFIGS / "batchnorm.yaml").run())
    local = {e.info.input: e.local for e in bn.edges if e.info.node == "bn"}
    z, gamma = bn.values["z"], bn.values["gamma"]
    # one scale per feature, and x̂ itself: the array the forward pass recorded as bn.x̂
    np.testing.assert_allclose(local["z"], gamma / np.sqrt(z.var(axis=1) + 1e-5), rtol=1e-14)
    assert local["gamma"] is bn.parts["bn.x̂"]


def test_dropout_masks_are_drawn_per_step_and_reproducible() -> None:
    runs = [list(tracer_from_file(CONFIGS / "embedding_bag.yaml").run(steps=2)) for _ in range(2)]
    masks = [[next(e.local for e in s.edges if e.info.node == "d") for s in run] for run in runs]
    np.testing.assert_array_equal(masks[0][0], masks[1][0])  # the same seed, the same trace
    np.testing.assert_array_equal(masks[0][1], masks[1][1])
    assert not np.array_equal(masks[0][0], masks[0][1])  # a new draw each step
    assert set(np.unique(masks[0][0])) <= {0.0, 1 / 0.75}


def test_repeated_ids_add_up_in_the_embedding_gradient() -> None:
    step = next(tracer_from_file(CONFIGS / "embedding_bag.yaml").run())
    g = step.grads["d"] * next(e.local for e in step.edges if e.info.node == "d")  # ∂J/∂e
    np.testing.assert_allclose(step.grads["E"][1], g[:, 0] + g[:, 2], rtol=1e-15)
    assert not step.grads["E"][[0, 2]].any()  # ids never used get nothing
    assert not step.grads["ids"].any()


def test_causal_mask_minus_infinity_is_not_an_anomaly() -> None:
    out = trace_json(CONFIGS / "attention_head.yaml")
    assert out["steps"][0]["forward"]["M"][0][1:] == ["-inf", "-inf"]
    a = np.array(out["steps"][0]["forward"]["A"])
    np.testing.assert_allclose(a.sum(axis=1), 1.0)
    assert a[0, 1] == a[0, 2] == a[1, 2] == 0.0


PREDICTION_BESIDE_THE_LOSS = """
data: {x: [[1.0, -0.5], [0.2, 0.4]], y: [0, 1]}
params: {W: [[0.5, -0.3], [0.2, 0.8]]}
graph:
  - {name: logits, op: matmul, args: [W, x]}
  - {name: y_pred, op: softmax, args: [logits]}
  - {name: L, op: softmax_cross_entropy, args: [logits, y]}
"""


def test_a_node_beside_the_objective_is_evaluated_and_said_to_get_no_gradient() -> None:
    result = invoke("trace", "-", "--width", "120", input=PREDICTION_BESIDE_THE_LOSS)
    assert result.exit_code == 0
    forward, backward = result.stdout.split("Backward pass", 1)
    assert "y_pred = softmax(logits, axis=0)" in forward
    assert "y_pred" not in backward.split("no gradient reaches")[0]  # no backward row
    assert "no gradient reaches y_pred from L: evaluated, but not used by the objective" in backward
    out = json.loads(invoke("trace", "-", "-f", "json", input=PREDICTION_BESIDE_THE_LOSS).stdout)
    step = out["steps"][0]
    logits = np.array(step["forward"]["logits"])
    expected = np.exp(logits) / np.exp(logits).sum(axis=0)
    np.testing.assert_allclose(step["forward"]["y_pred"], expected, rtol=1e-15)
    assert not np.any(step["grads"]["y_pred"])
    zh = invoke("trace", "-", "--lang", "zh", input=PREDICTION_BESIDE_THE_LOSS).stdout
    assert "L 的梯度不会传到 y_pred：已经算出，但目标没有用到" in zh


def test_memory_budget_counts_image_ops_without_a_dense_jacobian() -> None:
    """A 3×3 convolution, pooling and batch norm of a 4×120×120 batch: what a step records
    grows with the image, not with its square (a dense Jacobian would be ~250 GB)."""
    from backprop_cli import budget

    tracer = tracer_from_text(
        "params:\n"
        "  x: {init: normal, shape: [4, 60, 60, 2]}\n"
        "  K: {init: normal, shape: [4, 4, 3, 3]}\n"
        "  g: {init: normal, shape: [4]}\n"
        "  b: {init: zeros, shape: [4]}\n"
        "graph:\n"
        "  - {name: c, op: conv2d, args: [x, K], padding: 1}\n"
        "  - {name: n, op: batch_norm, args: [c, g, b]}\n"
        "  - {name: p, op: max_pool2d, args: [n], kernel: 2}\n"
        "  - {name: J, op: sum, args: [p]}\n"
    )
    total, shares = budget.estimate(tracer.graph)
    image = 4 * 60 * 60 * 2 * 8  # bytes of x
    share = dict(shares)
    assert share["c"] <= 25 * image  # value, gradient, kernel, image and 3×3 windows
    assert share["n"] <= 12 * image  # μ, σ², x̂, the scale and the products for x, γ, β
    assert share["p"] <= 4 * image
    assert total < 100 * image
    # and a step of it really runs within that estimate's order
    step = next(tracer.run())
    recorded = sum(e.local.nbytes for e in step.edges)
    assert recorded <= total


NORM_GRAPH = """
params:
  x: {{init: normal, shape: {shape}, seed: 4}}
  g: {{init: normal, shape: {p_shape}, seed: 5}}
  b: {{init: normal, shape: {p_shape}, seed: 6}}
  G: {{init: normal, shape: {shape}, seed: 7}}
graph:
  - {{name: n, op: {op}, args: [x, g, b]{extra}}}
  - {{name: w, op: mul, args: [n, G]}}
  - {{name: J, op: sum, args: [w]}}
"""


def _norm_tracer(op: str, shape: list[int], axes: list[int] | None = None):
    if op == "batch_norm":
        p_shape, extra = [shape[0]], ""
    else:
        p_shape, extra = [shape[a] for a in axes or [0]], f", axes: {axes or [0]}"
    text = NORM_GRAPH.format(shape=shape, p_shape=p_shape, op=op, extra=extra)
    return tracer_from_text(text)


def test_normalisation_records_mu_variance_and_x_hat_as_named_values() -> None:
    """μ, σ² (biased) and x̂ of each group, exactly as numpy computes them from x; the output
    is γ⊙x̂ + β from that very x̂."""
    for op, shape, reduced in (
        ("batch_norm", [3, 5], (1,)),
        ("batch_norm", [2, 3, 3, 2], (1, 2, 3)),
        ("layer_norm", [4, 3], (0,)),
        ("layer_norm", [2, 3, 2, 2], (0, 1, 2)),
    ):
        axes = list(reduced) if op == "layer_norm" else None
        tracer = _norm_tracer(op, shape, axes)
        step = next(tracer.run())
        x = step.values["x"]
        assert list(step.parts) == ["n.μ", "n.σ²", "n.x̂"]
        mu, var = x.mean(axis=reduced), x.var(axis=reduced)
        np.testing.assert_allclose(step.parts["n.μ"], mu, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(step.parts["n.σ²"], var, rtol=1e-13, atol=1e-15)
        xhat = (x - mu.reshape(np.expand_dims(mu, reduced).shape)) / np.sqrt(
            np.expand_dims(var, reduced) + 1e-5
        )
        np.testing.assert_allclose(step.parts["n.x̂"], xhat, rtol=1e-13, atol=1e-15)
        kept = [n if a not in reduced else 1 for a, n in enumerate(x.shape)]
        if op == "layer_norm":
            kept = [n if a in reduced else 1 for a, n in enumerate(x.shape)]
        want = step.values["g"].reshape(kept) * xhat + step.values["b"].reshape(kept)
        np.testing.assert_allclose(step.values["n"], want, rtol=1e-13, atol=1e-15)


def test_batchnorm_table_shows_the_intermediate_values_and_the_compact_rule() -> None:
    out = invoke("trace", str(CONFIGS / "batchnorm.yaml"), "--steps", "1", "--width", "100")
    lines = out.stdout.splitlines()
    rows = {line.split()[0]: line for line in lines if line.startswith("bn")}
    assert "μ = mean(z, axis=1)" in rows["bn.μ"] and "[0.33, 0.39, -0.305]" in rows["bn.μ"]
    assert "σ² = mean((z − μ)², axis=1)" in rows["bn.σ²"]
    assert "[0.4285, 0.3213, 0.2507]" in rows["bn.σ²"]  # biased: Σ(z − μ)²/4
    assert "x̂ = (z − μ)/√(σ² + ε), ε = 1e-05" in rows["bn.x̂"]
    text = out.stdout
    assert "∂bn/∂z: gamma/√(σ² + ε)" in text
    assert "∂L/∂z = ĝ − mean(ĝ) − x̂ ⊙ mean(ĝ ⊙ x̂), ĝ = gamma/√(σ² + ε) ⊙ ∂L/∂bn" in text
    for fmt in ("markdown", "latex"):
        doc = invoke("trace", str(CONFIGS / "batchnorm.yaml"), "-n", "1", "-f", fmt).stdout
        assert r"\mathrm{bn}.\hat{x}" in doc and r"\mu = \operatorname{mean}(z" in doc


def test_intermediate_values_are_in_json_once_and_referenced() -> None:
    doc = trace_json(CONFIGS / "batchnorm.yaml", "--fields", "forward,backward", "-n", "1")
    node = next(n for n in doc["graph"]["nodes"] if n["name"] == "bn")
    assert node["intermediates"] == {
        "bn.μ": "μ = mean(z, axis=1)",
        "bn.σ²": "σ² = mean((z − μ)², axis=1)",
        "bn.x̂": "x̂ = (z − μ)/√(σ² + ε), ε = 1e-05",
    }
    step = doc["steps"][0]
    assert step["intermediates"]["bn.μ"] == [0.32999999999999996, 0.39, -0.305]
    local = {e["input"]: e["local"] for e in step["backward"] if e["node"] == "bn"}
    assert local["gamma"] == {"ref": "intermediates", "name": "bn.x̂"}
    only = trace_json(CONFIGS / "batchnorm.yaml", "--fields", "objective", "-n", "1")
    assert "intermediates" not in only["steps"][0]
    plain = trace_json(CONFIGS / "seed_linear.yaml", "-n", "1")
    assert "intermediates" not in plain["steps"][0]


def test_the_masks_minus_infinity_is_shown_as_such_without_a_warning() -> None:
    for width in ("60", "100"):
        out = invoke("trace", str(CONFIGS / "attention_head.yaml"), "-n", "1", "--width", width)
        text = out.stdout
        assert "⚠" not in text and "-inf" not in text
        assert "[[ 0.2158,      −∞,     −∞]" in text
        assert "[ 0.2578, 0.09072,     −∞]" in text
    for fmt in ("markdown", "latex"):
        doc = invoke("trace", str(CONFIGS / "attention_head.yaml"), "-n", "1", "-f", fmt).stdout
        assert r"0.2158 & -\infty & -\infty" in doc and "⚠" not in doc


MASKED = """
data:
  S: [[0.5, 0.1, 0.2], [{kept}, 0.3, -0.4], [0.6, -0.2, {last}]]
graph:
  - {{name: M, op: causal_mask, args: [S]}}
  - {{name: A, op: softmax, args: [M], axis: 1}}
  - {{name: B, op: mul, args: [A, A]}}
  - {{name: J, op: sum, args: [B]}}
"""


def test_only_the_masked_minus_infinity_is_intended() -> None:
    """−∞ where the mask put it is intended; a NaN, a +∞ or a −∞ the mask did not put there
    (here from the data, traced with --allow-nonfinite) is flagged, in the mask's row and in
    what follows it, and stops a trace without --allow-nonfinite."""
    from backprop_cli.ops import OPS, intended_nonfinite

    op = OPS["causal_mask"]
    m = np.array([[1.0, -np.inf], [-np.inf, np.nan]])
    assert intended_nonfinite(op, m).tolist() == [[False, True], [False, False]]
    assert intended_nonfinite(OPS["relu"], m) is None
    ok = tracer_from_text(MASKED.format(kept=0.2, last=0.1))
    step = next(ok.run())  # the masked −∞ stop nothing
    assert np.isfinite(step.grads["S"]).all()
    for kept, last in (("-.inf", "0.1"), ("0.2", ".nan"), ("0.2", ".inf")):
        path_text = MASKED.format(kept=kept, last=last)
        out = invoke(
            "trace", "-", "-n", "1", "--allow-nonfinite", "--width", "100", input=path_text
        )
        m_row = next(line for line in out.stdout.splitlines() if line.startswith("M "))
        block = out.stdout[out.stdout.index(m_row) :].split("\nA ")[0]
        assert block.rstrip().endswith("⚠"), (kept, last, block)
        assert "-inf" in block and "−∞" not in block  # not told apart: nothing is "intended"
        a_row = out.stdout[out.stdout.index("\nA ") :].split("\nB ")[0]
        if last != "0.1":
            assert a_row.rstrip().endswith("⚠"), a_row  # softmax of a NaN or +∞ row
        stopped = invoke("trace", "-", "-n", "1", input=path_text)
        assert stopped.exit_code == 3


def test_minus_infinity_outside_a_mask_is_still_flagged() -> None:
    text = MASKED.format(kept=0.2, last=0.1).replace(
        "causal_mask, args: [S]", "mul, args: [S, 1.0]"
    )
    text = text.replace("[0.5, 0.1, 0.2]", "[0.5, -.inf, 0.2]")
    out = invoke("trace", "-", "-n", "1", "--allow-nonfinite", "--width", "100", input=text)
    assert "-inf" in out.stdout and "⚠" in out.stdout and "−∞" not in out.stdout


def test_ops_names_the_inputs_as_the_spec_writes_them() -> None:
    from backprop_cli.ops import OPS
    from backprop_cli.render.table import op_rule

    for op in OPS.values():
        assert not op.inputs or len(op.inputs) == op.arity, op.name
    assert op_rule(OPS["conv2d"]) == ["∂/∂x: rot180(K)", "∂/∂K: x", "∂/∂b: 1"]
    assert op_rule(OPS["embedding"]) == ["∂/∂E: ids", "∂/∂ids: 0 (ids)"]
    assert op_rule(OPS["batch_norm"]) == ["∂/∂x: γ/√(σ² + ε)", "∂/∂γ: x̂", "∂/∂β: 1"]
    out = invoke("ops", "conv2d").stdout
    assert "∂/∂x: rot180(K)" in out and "∂/∂a" not in out
