"""Every gradient the tracer records, against HIPS autograd (and PyTorch where installed).

The oracles (tests/oracles.py) implement each op again from its definition and let the
libraries derive the gradients; agreement is required to 1e-10 relative in float64.
"""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backprop_cli.ops import OPS

from .conftest import CONFIGS
from .helpers import tracer_from_file, tracer_from_text
from .op_tracers import all_cases, op_tracer
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


# ---- images, normalisation, sequences, embeddings ---------------------------------------------

# causal_mask is traced in the attention test below: summed alone, its −∞ make J −∞.
NEW_OPS = (
    "conv2d",
    "max_pool2d",
    "avg_pool2d",
    "flatten",
    "batch_norm",
    "layer_norm",
    "select",
    "embedding",
    "dropout",
)


@pytest.mark.parametrize(
    ("name", "case"), [(n, i) for n, i in all_cases() if n in NEW_OPS], ids=str
)
def test_each_case_of_the_new_ops_matches_autograd_and_pytorch(name: str, case: int) -> None:
    tracer = op_tracer(name, case)
    step = next(tracer.run())
    _assert_same(step, autograd_grads(tracer, step.values), "autograd")
    if importlib.util.find_spec("torch"):
        _assert_same(step, torch_grads(tracer, step.values), "pytorch")


def _yaml(value: np.ndarray) -> str:
    return json.dumps(np.asarray(value).tolist())


def _weighted(op_line: str, params: dict, data: dict, out_shape: tuple, seed: int) -> str:
    """A graph whose objective is Σ G ⊙ op(…) with random G: every entry of the op's output
    gets its own upstream gradient."""
    rng = np.random.default_rng(seed)
    data = {**data, "G": rng.uniform(-1.0, 1.0, out_shape)}
    return (
        "data: {" + ", ".join(f"{k}: {_yaml(v)}" for k, v in data.items()) + "}\n"
        "params: {" + ", ".join(f"{k}: {_yaml(v)}" for k, v in params.items()) + "}\n"
        "graph:\n"
        f"  - {op_line}\n"
        "  - {name: w, op: mul, args: [y, G]}\n"
        "  - {name: J, op: sum, args: [w]}\n"
    )


def _against_torch(text: str) -> None:
    tracer = tracer_from_text(text)
    step = next(tracer.run())
    _assert_same(step, torch_grads(tracer, step.values), f"pytorch on\n{text}")


@st.composite
def images(draw, min_side: int = 1):
    channels = draw(st.integers(1, 3))
    h, w = draw(st.integers(min_side, 7)), draw(st.integers(min_side, 7))
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    return (channels, h, w, *batch)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    images(),
    st.integers(1, 3),
    st.tuples(st.integers(1, 3), st.integers(1, 3)),
    st.tuples(st.integers(1, 3), st.integers(1, 3)),
    st.tuples(st.integers(0, 2), st.integers(0, 2)),
    st.tuples(st.integers(1, 2), st.integers(1, 2)),
    st.booleans(),
    st.integers(0, 2**32 - 1),
)
def test_conv2d_matches_pytorch(x_shape, c_out, kernel, stride, padding, dilation, bias, seed):
    pytest.importorskip("torch")
    c_in, h, w = x_shape[:3]
    if any(
        n + 2 * p < d * (k - 1) + 1
        for n, p, d, k in zip((h, w), padding, dilation, kernel, strict=True)
    ):
        return  # no window fits: the shape rule says so (tested in test_ops)
    rng = np.random.default_rng(seed)
    params = {
        "x": rng.uniform(-1, 1, x_shape),
        "K": rng.uniform(-1, 1, (c_out, c_in, *kernel)),
    }
    if bias:
        params["b"] = rng.uniform(-1, 1, (c_out,))
    options = {"stride": list(stride), "padding": list(padding), "dilation": list(dilation)}
    op = OPS["conv2d"]
    shape = op.shape([v.shape for v in params.values()], {**options})
    args = ", ".join(params)
    line = (
        f"{{name: y, op: conv2d, args: [{args}], "
        + ", ".join(f"{k}: {v}" for k, v in options.items())
        + "}"
    )
    _against_torch(_weighted(line, params, {}, shape, seed))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["max_pool2d", "avg_pool2d"]),
    images(min_side=2),
    st.tuples(st.integers(1, 3), st.integers(1, 3)),
    st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))),
    st.tuples(st.integers(0, 1), st.integers(0, 1)),
    st.booleans(),
    st.booleans(),
    st.integers(0, 2**32 - 1),
)
def test_pooling_matches_pytorch(name, x_shape, kernel, stride, padding, ceil, count_pad, seed):
    pytest.importorskip("torch")
    if any(2 * p > k for p, k in zip(padding, kernel, strict=True)) or any(
        n + 2 * p < k for n, p, k in zip(x_shape[1:3], padding, kernel, strict=True)
    ):
        return  # PyTorch refuses these; the shape rule too
    rng = np.random.default_rng(seed)
    params = {"x": rng.uniform(-1, 1, x_shape)}
    options: dict = {"kernel": list(kernel), "padding": list(padding), "ceil_mode": ceil}
    if stride:
        options["stride"] = list(stride)
    if name == "avg_pool2d":
        options["count_include_pad"] = count_pad
    op = OPS[name]
    defaults = {k: o.default for k, o in op.options.items() if not o.required}
    shape = op.shape(
        [x_shape],
        {**defaults, **{k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}},
    )
    line = (
        f"{{name: y, op: {name}, args: [x], "
        + ", ".join(f"{k}: {json.dumps(v)}" for k, v in options.items())
        + "}"
    )
    _against_torch(_weighted(line, params, {}, shape, seed))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([(3, 5), (2, 4), (2, 3, 3, 2), (3, 2, 4, 3), (4, 1)]),
    st.sampled_from(["batch_norm", "layer_norm"]),
    st.sampled_from([1e-5, 1e-3]),
    st.integers(0, 2**32 - 1),
)
def test_normalisation_matches_pytorch(x_shape, name, eps, seed):
    pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    axes = [0] if len(x_shape) == 2 else [0, 1, 2]
    if name == "batch_norm" and x_shape[1:] == (1,):
        with pytest.raises(ValueError, match="more than one value"):  # PyTorch refuses it too
            OPS[name].shape([x_shape, x_shape[:1], x_shape[:1]], {"eps": eps})
        return
    if name == "batch_norm":
        p_shape = x_shape[:1]
        extra = ""
    else:
        p_shape = tuple(x_shape[a] for a in axes)
        extra = f", axes: {axes}"
    params = {
        "x": rng.uniform(-2, 2, x_shape),
        "gamma": rng.uniform(0.5, 1.5, p_shape),
        "beta": rng.uniform(-1, 1, p_shape),
    }
    line = f"{{name: y, op: {name}, args: [x, gamma, beta], eps: {eps}{extra}}}"
    _against_torch(_weighted(line, params, {}, x_shape, seed))


@settings(max_examples=20, deadline=None)
@given(
    st.integers(2, 5),
    st.integers(1, 3),
    st.sampled_from([(4,), (3, 2), (1,)]),
    st.integers(0, 2**32 - 1),
)
def test_embedding_matches_pytorch(vocabulary, dim, ids_shape, seed):
    pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, vocabulary, ids_shape)  # repeats are likely: they must add up
    line = "{name: y, op: embedding, args: [E, ids]}"
    text = _weighted(
        line, {"E": rng.uniform(-1, 1, (vocabulary, dim))}, {"ids": ids}, (dim, *ids_shape), seed
    )
    _against_torch(text)


ATTENTION = """
graph:
  - {name: Qt, op: transpose, args: [Q]}
  - {name: S, op: matmul, args: [Qt, K]}
  - {name: Ss, op: mul, args: [S, SCALE]}
  - {name: M, op: causal_mask, args: [Ss]}
  - {name: A, op: softmax, args: [M], axis: 1}
  - {name: At, op: transpose, args: [A]}
  - {name: O, op: matmul, args: [V, At]}
  - {name: w, op: mul, args: [O, G]}
  - {name: J, op: sum, args: [w]}
"""


@settings(max_examples=20, deadline=None)
@given(
    st.integers(1, 4),
    st.integers(1, 3),
    st.integers(1, 3),
    st.booleans(),
    st.integers(0, 2**32 - 1),
)
def test_attention_from_primitives_matches_scaled_dot_product_attention(t, d_k, d_v, causal, seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    q, k, v = (rng.uniform(-1, 1, s) for s in ((d_k, t), (d_k, t), (d_v, t)))
    g = rng.uniform(-1, 1, (d_v, t))
    graph = (
        ATTENTION
        if causal
        else ATTENTION.replace("causal_mask, args: [Ss]", "mul, args: [Ss, 1.0]")
    )
    text = (
        f"data: {{G: {_yaml(g)}, SCALE: {float(1 / np.sqrt(d_k))!r}}}\n"
        f"params: {{Q: {_yaml(q)}, K: {_yaml(k)}, V: {_yaml(v)}}}\n" + graph
    )
    step = next(tracer_from_text(text).run())
    # PyTorch's attention takes queries, keys and values as rows: ours are columns.
    qt, kt, vt = (torch.tensor(a.T, requires_grad=True) for a in (q, k, v))
    out = torch.nn.functional.scaled_dot_product_attention(qt, kt, vt, is_causal=causal)
    (out * torch.tensor(g.T)).sum().backward()
    np.testing.assert_allclose(step.values["O"], out.detach().numpy().T, rtol=RTOL, atol=ATOL)
    for name, tensor in (("Q", qt), ("K", kt), ("V", vt)):
        np.testing.assert_allclose(
            step.grads[name], tensor.grad.numpy().T, rtol=RTOL, atol=ATOL, err_msg=name
        )
