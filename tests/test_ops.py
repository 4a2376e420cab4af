"""Every op in the table: its local gradient, through its chain rule, against central finite
differences, on random inputs of several shapes; and its formula text.

An op added to the table without a case here makes ``test_every_op_has_a_case`` fail.
"""

from __future__ import annotations

import numpy as np
import pytest

from backprop_cli.ops import (
    OPS,
    equation_text,
    fit_to_shape,
    local_text,
    run_forward,
    run_local,
    with_parts,
)

# op name -> list of (input shapes, options). Shapes cover scalars, vectors, matrices and
# broadcasting where the op allows it; options not given take their defaults.
CASES: dict[str, list[tuple[list[tuple[int, ...]], dict]]] = {
    "add": [
        ([(3, 2), (3, 2)], {}),
        ([(3, 4), (3, 1)], {}),
        ([(), (2, 3)], {}),
        ([(4,), ()], {}),
        ([(2, 4), (2,)], {}),  # a vector is a column: one bias per row, over the 4 columns
        ([(3,), (3, 3)], {}),  # a column even where a row would fit too
        ([(1, 1), (3,)], {}),
    ],
    "sub": [
        ([(3, 2), (3, 2)], {}),
        ([(3, 4), (3, 1)], {}),
        ([(2, 2), ()], {}),
        ([(3,), (3, 4)], {}),
    ],
    "neg": [([(3, 2)], {}), ([()], {})],
    "mul": [
        ([(), ()], {}),
        ([(3, 2), (3, 2)], {}),
        ([(), (2, 3)], {}),
        ([(3, 4), (1, 4)], {}),
        ([(3, 4), (3,)], {}),
        ([(3,), (1, 4)], {}),  # the vector a column, the row spread over its 3 rows
    ],
    "div": [([(3, 2), (3, 2)], {}), ([(3, 4), ()], {}), ([(), (4,)], {}), ([(3, 4), (3,)], {})],
    "pow": [
        ([(4,)], {"exponent": 2.0}),
        ([(2, 3)], {"exponent": 3.0}),
        ([(3,)], {"exponent": 0.5}),
        ([()], {"exponent": -1.5}),
    ],
    "matmul": [
        ([(4, 3), (3,)], {}),
        ([(4, 3), (3, 5)], {}),
        ([(3,), (3, 2)], {}),
        ([(3,), (3,)], {}),
        ([(2, 3), (3, 1)], {}),
    ],
    "exp": [([(5,)], {}), ([(2, 3)], {})],
    "log": [([(5,)], {}), ([(2, 3)], {})],
    "abs": [([(5,)], {}), ([(2, 3)], {})],
    "sin": [([(5,)], {}), ([(2, 3)], {}), ([()], {})],
    "cos": [([(5,)], {}), ([(2, 3)], {}), ([()], {})],
    "sqrt": [([(5,)], {}), ([(2, 3)], {}), ([()], {})],
    "maximum": [
        ([(3, 2), (3, 2)], {}),
        ([(3, 4), (3, 1)], {}),
        ([(), (2, 3)], {}),
        ([(3, 4), (3,)], {}),
    ],
    "minimum": [
        ([(3, 2), (3, 2)], {}),
        ([(3, 4), (1, 4)], {}),
        ([(4,), ()], {}),
        ([(2,), (2, 5)], {}),
    ],
    "clip": [
        ([(5,)], {"min": -0.5, "max": 1.0}),
        ([(3, 4)], {"min": 0.0}),
        ([(3, 4)], {"max": 0.25}),
    ],
    "stop_gradient": [([(4,)], {}), ([(2, 3)], {}), ([()], {})],
    "relu": [([(5,)], {}), ([(3, 4)], {}), ([()], {})],
    "leaky_relu": [([(5,)], {}), ([(3, 4)], {"alpha": 0.2})],
    "elu": [([(5,)], {}), ([(3, 4)], {"alpha": 0.5})],
    "sigmoid": [([(5,)], {}), ([(3, 4)], {}), ([()], {})],
    "tanh": [([(5,)], {}), ([(3, 4)], {}), ([()], {})],
    "softplus": [([(5,)], {}), ([(3, 4)], {})],
    "gelu": [([(5,)], {}), ([(3, 4)], {})],
    "softmax": [([(4,)], {}), ([(3, 5)], {}), ([(3, 5)], {"axis": 1}), ([(2, 4)], {"axis": -1})],
    "log_softmax": [([(4,)], {}), ([(3, 5)], {}), ([(3, 5)], {"axis": 1})],
    "transpose": [([(3, 5)], {}), ([(4,)], {})],
    "reshape": [
        ([(3, 4)], {"shape": [2, 6]}),
        ([(6,)], {"shape": [3, -1]}),
        ([(2, 3)], {"shape": [6]}),
    ],
    "concat": [
        ([(2, 3), (4, 3)], {}),
        ([(3, 2), (3, 1), (3, 4)], {"axis": 1}),
        ([(2,), (3,)], {}),
        ([(2, 3)], {}),
    ],
    "sum": [
        ([(5,)], {}),
        ([(3, 4)], {}),
        ([()], {}),
        ([(3, 4)], {"axis": 0}),
        ([(3, 4)], {"axis": 1}),
        ([(3, 4)], {"axis": -1}),
    ],
    "mean": [([(5,)], {}), ([(3, 4)], {}), ([(3, 4)], {"axis": 0}), ([(3, 4)], {"axis": 1})],
    "max": [([(5,)], {}), ([(3, 4)], {}), ([(3, 4)], {"axis": 0}), ([(3, 4)], {"axis": 1})],
    "half_squared_error": [([(), ()], {}), ([(4,), (4,)], {}), ([(2, 3), (2, 3)], {})],
    "mse": [([(), ()], {}), ([(4,), (4,)], {}), ([(2, 3), (2, 3)], {})],
    "softmax_cross_entropy": [
        ([(3, 4), (4,)], {}),
        ([(3, 4), (3, 4)], {}),
        ([(5,), ()], {}),
        ([(3, 4), (4,)], {"reduction": "sum"}),
        ([(4,), (4,)], {"reduction": "sum"}),
    ],
    "binary_cross_entropy": [
        ([(4,), (4,)], {}),
        ([(2, 3), (2, 3)], {"reduction": "sum"}),
        ([(), ()], {}),
    ],
    "l2": [
        ([(3, 2)], {"lambda": 0.1}),
        ([(4, 3), (2, 4)], {"lambda": 0.01}),
        ([(), (3,)], {"lambda": 2.0}),
    ],
    "l1": [([(3, 2)], {"lambda": 0.1}), ([(4, 3), (2, 4)], {"lambda": 0.5})],
    # Images are [C, H, W] or [C, H, W, B]; pairs are written out (the config accepts 1 for [1, 1]).
    "conv2d": [
        ([(1, 5, 5), (2, 1, 2, 2)], {}),
        (
            [(2, 6, 5, 2), (3, 2, 3, 2), (3,)],
            {"stride": [2, 1], "padding": [1, 2], "dilation": [1, 2]},
        ),
        ([(1, 4, 4), (1, 1, 3, 3), (1,)], {"padding": [1, 1]}),
    ],
    "max_pool2d": [
        ([(1, 4, 4)], {"kernel": [2, 2]}),
        (
            [(2, 5, 6, 2)],
            {"kernel": [3, 2], "stride": [2, 1], "padding": [1, 1], "ceil_mode": True},
        ),
    ],
    "avg_pool2d": [
        ([(1, 4, 4)], {"kernel": [2, 2]}),
        (
            [(2, 5, 6, 2)],
            {"kernel": [3, 3], "stride": [2, 2], "padding": [1, 1], "ceil_mode": True},
        ),
        ([(1, 5, 4)], {"kernel": [3, 2], "padding": [1, 1], "count_include_pad": False}),
    ],
    "flatten": [([(2, 3, 3)], {}), ([(2, 2, 3, 2)], {})],
    "batch_norm": [([(3, 4), (3,), (3,)], {}), ([(2, 3, 3, 2), (2,), (2,)], {"eps": 0.01})],
    "layer_norm": [
        ([(4, 3), (4,), (4,)], {}),
        ([(2, 3, 3, 2), (2, 3, 3), (2, 3, 3)], {"axes": [0, 1, 2]}),
        ([(5,), (5,), (5,)], {}),
    ],
    "select": [([(3, 4)], {"axis": 1, "index": 2}), ([(2, 3, 2)], {"axis": 1, "index": -1})],
    "causal_mask": [([(3, 3)], {}), ([(3, 4, 2)], {})],
    "embedding": [([(5, 3), (4,)], {}), ([(4, 2), (3, 2)], {})],
    "dropout": [([(4, 5)], {"p": 0.5, "seed": 3}), ([(3,)], {"p": 0.0, "seed": 0})],
}

# Inputs that must stay in the function's domain, or away from a kink where the derivative is a
# written-down choice rather than a limit that finite differences can see.
POSITIVE = {"log": (0,), "pow": (0,), "sqrt": (0,)}
AWAY_FROM_ZERO = {
    "relu": (0,),
    "abs": (0,),
    "leaky_relu": (0,),
    "elu": (0,),
    "l1": None,
    "div": (1,),
}
# Kinks away from 0: the two inputs are kept 0.1 apart (maximum, minimum), and clip's input
# away from its bounds (in _inputs).
APART = {"maximum", "minimum"}
# Ops whose backward pass passes nothing by definition: finite differences see the identity.
STOPS = {"stop_gradient"}
# Integer labels or ids in the second input, below the first input's length along axis 0.
LABELS = {"softmax_cross_entropy", "embedding"}
PROBABILITIES = {"binary_cross_entropy"}

EPS = 1e-6


def _options(op, given: dict) -> dict:
    out = {k: spec.default for k, spec in op.options.items() if not spec.required}
    out.update(given)
    if "shape" in out:
        out["shape"] = tuple(out["shape"])
    return out


def _inputs(rng: np.random.Generator, shapes, name: str) -> list[np.ndarray]:
    args = []
    for pos, shape in enumerate(shapes):
        a = rng.uniform(-2.0, 2.0, shape)
        if pos in POSITIVE.get(name, ()):
            a = np.abs(a) + 0.5
        away = AWAY_FROM_ZERO.get(name, ())
        if away is None or pos in away:
            a = np.where(np.abs(a) < 0.1, 0.5, a)
        if name in LABELS and pos == 1:
            classes = shapes[0][0]
            if shape == shapes[0]:  # probabilities over the classes
                a = rng.uniform(0.1, 1.0, shape)
                a = a / a.sum(axis=0, keepdims=True)
            else:
                a = rng.integers(0, classes, shape).astype(np.float64)
        if name in PROBABILITIES and pos == 1:
            a = rng.uniform(0.0, 1.0, shape)
        if name == "clip":
            for bound in (-0.5, 0.0, 0.25, 1.0):
                a = np.where(np.abs(a - bound) < 0.05, bound + 0.1, a)
        args.append(np.asarray(a, dtype=np.float64))
    if name in APART:  # on two grids 0.1 apart: every pair differs by at least 0.1
        args = [np.asarray(np.round(a * 5.0) / 5.0 + 0.1 * pos) for pos, a in enumerate(args)]
    return args


def _differentiable(name: str, shapes, position: int) -> bool:
    """Integer labels are data, not a variable: no gradient flows to them."""
    return not (name in LABELS and position == 1 and shapes[1] != shapes[0])


def _numeric_vjp(op, args, options, g, position) -> np.ndarray:
    """∂/∂args[position] of Σ g ⊙ f(args), by central differences."""
    base = args[position]
    out = np.zeros_like(base)
    for index in np.ndindex(base.shape):
        total = []
        for sign in (1.0, -1.0):
            nudged = [a.copy() for a in args]
            nudged[position][index] += sign * EPS
            value = run_forward(op, nudged, options)
            if op.masks:  # the masked −∞ stay −∞: they carry no gradient
                value = np.where(np.isneginf(value), 0.0, value)
            total.append(np.sum(g * value))
        out[index] = (total[0] - total[1]) / (2 * EPS)
    return out


def test_every_op_has_a_case() -> None:
    assert sorted(CASES) == sorted(OPS), "add a finite-difference case for every op"


@pytest.mark.parametrize("name", sorted(OPS))
def test_local_gradient_matches_finite_differences(name: str) -> None:
    op = OPS[name]
    rng = np.random.default_rng(sorted(OPS).index(name))
    for shapes, given in CASES[name]:
        options = _options(op, given)
        assert op.shape(list(shapes), options) == np.shape(
            run_forward(op, _inputs(rng, shapes, name), options)
        )
        for _ in range(3):
            args = _inputs(rng, shapes, name)
            out = run_forward(op, args, options)
            g = rng.uniform(-1.0, 1.0, out.shape)
            run = with_parts(op, args, options)
            locals_ = run_local(op, args, out, run)
            assert len(locals_) == len(args)
            for pos, arg in enumerate(args):
                got = op.chain_for(pos).apply(g, locals_[pos], arg.shape, run)
                assert got.shape == arg.shape, (name, shapes, pos)
                if not _differentiable(name, shapes, pos) or name in STOPS:
                    assert not got.any()
                    continue
                want = _numeric_vjp(op, args, options, g, pos)
                np.testing.assert_allclose(
                    got, want, rtol=1e-6, atol=1e-8, err_msg=f"{name} {shapes} input {pos}"
                )


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_op_has_formula_text(name: str) -> None:
    op = OPS[name]
    assert op.summary
    for shapes, given in CASES[name]:
        options = _options(op, given)
        names = [f"a{i}" for i in range(len(shapes))]
        eq = equation_text(op, "out", names, list(shapes), options)
        assert eq.startswith("out = ") and all(n in eq for n in names), eq
        for pos in range(len(shapes)):
            text = local_text(op, pos, "out", names, list(shapes), options)
            assert text and "{" not in text, (name, pos, text)


# embedding's two inputs have independent shapes (any table, any ids): nothing to reject.
@pytest.mark.parametrize(
    "name", sorted(n for n, op in OPS.items() if op.arity == 2 and n != "embedding")
)
def test_shape_rule_rejects_incompatible_inputs(name: str) -> None:
    op = OPS[name]
    options = _options(op, {})
    with pytest.raises(ValueError):
        op.shape([(4, 3), (2, 5)], options)
    with pytest.raises(ValueError):
        run_forward(op, [np.ones((4, 3)), np.ones((2, 5))], options)


def test_relu_kink_is_zero() -> None:
    op = OPS["relu"]
    x = np.array([-1.0, 0.0, 1.0])
    assert run_local(op, [x], run_forward(op, [x], {}), {})[0].tolist() == [0.0, 0.0, 1.0]


def test_sigmoid_is_finite_for_large_inputs() -> None:
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    out = run_forward(OPS["sigmoid"], [x], {})
    assert np.isfinite(out).all()
    np.testing.assert_allclose(
        out,
        [0.0, 1.0 / (1.0 + np.exp(50.0)), 0.5, 1.0 / (1.0 + np.exp(-50.0)), 1.0],
        rtol=1e-12,
        atol=0,
    )


@pytest.mark.parametrize(
    ("grad_shape", "shape", "expected"),
    [
        ((3, 4), (3, 1), np.full((3, 1), 4.0)),
        ((3, 4), (3,), np.full((3,), 4.0)),  # a vector is a column: summed over the columns
        ((3, 2, 4), (3,), np.full((3,), 8.0)),  # [C, T, B]: a value per feature, axis 0
        ((2, 3, 2, 2), (2,), np.full((2,), 12.0)),  # [C, H, W, B]: a value per channel
        ((3, 1), (3,), np.ones(3)),
        ((4,), (4,), np.ones(4)),
        ((5,), (), np.float64(5.0)),
        ((3, 4), (), np.float64(12.0)),
        ((), (2, 2), np.ones((2, 2))),
        ((2, 2), (2, 2), np.ones((2, 2))),
    ],
)
def test_fit_to_shape_undoes_broadcasting(grad_shape, shape, expected) -> None:
    got = fit_to_shape(np.ones(grad_shape), shape)
    assert got.shape == shape
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    ("name", "args", "options"),
    [
        ("softmax", [np.array([1000.0, 0.0, -1000.0])], {"axis": 0}),
        ("log_softmax", [np.array([[800.0, -800.0], [0.0, 5.0]])], {"axis": 0}),
        (
            "softmax_cross_entropy",
            [np.array([[1000.0, -50.0], [0.0, 700.0]]), np.array([1.0, 0.0])],
            {"reduction": "mean"},
        ),
        (
            "binary_cross_entropy",
            [np.array([-1000.0, 1000.0, 30.0]), np.array([1.0, 0.0, 1.0])],
            {"reduction": "mean"},
        ),
        ("softplus", [np.array([-1000.0, 1000.0])], {}),
        ("sigmoid", [np.array([-1000.0, 1000.0])], {}),
        ("elu", [np.array([-1000.0, 1000.0])], {"alpha": 1.0}),
    ],
)
def test_large_inputs_stay_finite_where_the_math_is_finite(name, args, options) -> None:
    op = OPS[name]
    out = run_forward(op, args, options)
    assert np.isfinite(out).all(), out
    g = np.ones_like(out)
    for pos, local in enumerate(run_local(op, args, out, options)):
        glob = op.chain_for(pos).apply(g, local, args[pos].shape, options)
        assert np.isfinite(glob).all(), (name, pos, glob)


def test_cross_entropy_of_confident_wrong_logits_is_exact() -> None:
    # −log softmax([1000, 0])[1] = 1000 exactly: no overflow, no clipping error.
    out = run_forward(
        OPS["softmax_cross_entropy"],
        [np.array([1000.0, 0.0]), np.array(1.0)],
        {"reduction": "mean"},
    )
    assert out == 1000.0
    bce = run_forward(
        OPS["binary_cross_entropy"], [np.array([-1000.0]), np.array([1.0])], {"reduction": "sum"}
    )
    assert bce == 1000.0


def test_max_ties_share_the_gradient() -> None:
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    op = OPS["max"]
    out = run_forward(op, [x], {"axis": None})
    assert run_local(op, [x], out, {"axis": None})[0].tolist() == [[0, 0.5, 0.5], [0, 0, 0]]
    out = run_forward(op, [x], {"axis": 1})
    assert run_local(op, [x], out, {"axis": 1})[0].tolist() == [[0, 0.5, 0.5], [0.5, 0.5, 0]]


def test_labels_out_of_range_are_a_clear_error() -> None:
    from .helpers import invoke

    result = invoke(
        "trace",
        "-",
        input="data: {z: [[1.0, 2.0], [0.5, 0.1]], y: [0, 2]}\n"
        "graph:\n  - {name: L, op: softmax_cross_entropy, args: [z, y]}\n",
    )
    assert result.exit_code == 2
    assert result.stderr == (
        "backprop: error: <stdin>:3:5: graph[0]: node 'L' (L = "
        "mean[−Σ_classes y·log_softmax(z)]): softmax_cross_entropy expects "
        "integer labels from 0 to 1 (one per example), found 2 at [1]\n"
    )


def test_ops_command_lists_every_op() -> None:
    from .helpers import invoke

    out = invoke("ops", "--width", "200").stdout
    for name in OPS:
        assert f" {name} " in out, name
    assert "∂/∂z: 1[z > 0]" in out and "kink: at z = 0" in out


@pytest.mark.parametrize("fmt", ["table", "json", "jsonl", "markdown", "latex", "csv"])
def test_an_op_error_in_the_first_step_prints_nothing_on_stdout(fmt: str) -> None:
    """Exit 2 means nothing on stdout: no JSON head or LaTeX preamble before the failing step."""
    from .helpers import invoke

    result = invoke(
        "trace",
        "-",
        "-f",
        fmt,
        input="data: {z: [[1.0, 2.0], [0.5, 0.1]], "
        "y: [0, 2]}\ngraph:\n  - {name: L, op: softmax_cross_entropy, args: [z, y]}\n",
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "found 2 at [1]" in result.stderr


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            "data: {x: [1.0, 2.0]}\ngraph:\n  - {name: s, op: sum, args: [x], axis: 1}\n",
            ":3:30: graph[0].args: node 's' (s = Σ(x, axis=1)): x has shape 2; sum expects an axis "
            "from -1 to 0 for an input of shape 2, but axis is 1",
        ),
        (
            "data: {x: 3.0}\ngraph:\n  - {name: s, op: sum, args: [x], axis: 0}\n",
            ":3:30: graph[0].args: node 's' (s = Σ(x, axis=0)): x is a scalar; sum expects a "
            "tensor "
            "with axes (a scalar has none; leave out 'axis')",
        ),
        (
            "data: {x: 3.0}\ngraph:\n  - {name: s, op: softmax, args: [x]}\n",
            ":3:34: graph[0].args: node 's' (s = softmax(x, axis=0)): x is a scalar; softmax "
            "expects "
            "a vector or a matrix (a softmax over one number is always 1)",
        ),
        (
            "data: {x: [[1.0, 2.0], [3.0, 4.0]]}\ngraph:\n"
            "  - {name: r, op: reshape, args: [x], shape: [3, -1]}\n",
            ":3:34: graph[0].args: node 'r' (r = reshape(x)): x has shape 2×2; reshape expects a "
            "shape whose size divides 4, found [3, -1]",
        ),
        (
            "data: {x: [[1.0, 2.0], [3.0, 4.0]]}\ngraph:\n"
            "  - {name: r, op: reshape, args: [x], shape: [3, 2]}\n",
            ":3:34: graph[0].args: node 'r' (r = reshape(x)): x has shape 2×2; reshape expects a "
            "shape of 4 elements, but [3, 2] has 6",
        ),
        (
            "data: {x: [[1.0, 2.0]], y: [[1.0, 2.0, 3.0]]}\ngraph:\n"
            "  - {name: c, op: concat, args: [x, y]}\n",
            ":3:33: graph[0].args: node 'c' (c = concat(x, y, axis=0)): x has shape 1×2, y has "
            "shape "
            "1×3; concat expects inputs that agree in every dimension but axis 0",
        ),
        (
            "data: {z: [[1.0, 2.0]], y: [0, 1, 1]}\ngraph:\n"
            "  - {name: L, op: softmax_cross_entropy, args: [z, y]}\n",
            ":3:48: graph[0].args: node 'L' (L = mean[−Σ_classes y·log_softmax(z)]): z has shape "
            "1×2, "
            "y has shape 3; softmax_cross_entropy expects targets as integer labels (one per "
            "example, "
            "shape 2) or one-hot/probabilities of the logits' shape 1×2",
        ),
        (
            "data: {x: [[[1.0]]]}\ngraph:\n  - {name: t, op: transpose, args: [x]}\n",
            ":3:36: graph[0].args: node 't' (t = xᵀ): x has shape 1×1×1; transpose expects a "
            "scalar, "
            "a vector or a matrix",
        ),
    ],
)
def test_shape_rules_say_what_they_expect(config: str, message: str) -> None:
    from .helpers import invoke

    result = invoke("validate", "-", input=config)
    assert result.exit_code == 2
    assert result.stderr == f"backprop: error: <stdin>{message}\n"


# ---- a vector is a column ------------------------------------------------------------------

BROADCASTING = sorted(name for name, op in OPS.items() if op.broadcasts)


def test_the_broadcasting_ops_are_found_by_their_shape_rule() -> None:
    assert {"add", "sub", "mul", "div", "maximum", "minimum"} <= set(BROADCASTING)
    assert not OPS["matmul"].broadcasts and not OPS["mse"].broadcasts


@pytest.mark.parametrize("name", BROADCASTING)
def test_every_broadcasting_op_has_a_vector_against_a_matrix_case(name: str) -> None:
    # The finite-difference test above then checks the column reading and its summed gradient.
    assert any(
        any(len(s) == 1 and s[0] > 1 for s in shapes) and any(len(s) == 2 for s in shapes)
        for shapes, _ in CASES[name]
    ), f"add a case to CASES[{name!r}] with a vector against a matrix"


@pytest.mark.parametrize("name", BROADCASTING)
def test_a_vector_meets_a_matrix_as_a_column(name: str) -> None:
    op = OPS[name]
    v = np.array([1.0, 2.0, 4.0])
    m = np.array([[0.5, 1.5, 3.0, 0.25], [3.0, 0.5, 5.0, 1.0], [8.0, 2.0, 0.5, 4.5]])
    column = v.reshape(3, 1)
    for args, as_numpy in (([m, v], [m, column]), ([v, m], [column, m])):
        options = _options(op, {})
        assert op.shape([a.shape for a in args], options) == (3, 4)
        out = run_forward(op, args, options)
        np.testing.assert_array_equal(out, run_forward(op, as_numpy, options))
        g = np.arange(12.0).reshape(3, 4)
        locals_ = run_local(op, args, out, options)
        pos = [a.ndim for a in args].index(1)
        got = op.chain_for(pos).apply(g, locals_[pos], (3,), options)
        locals_col = run_local(op, as_numpy, out, options)
        want = op.chain_for(pos).apply(g, locals_col[pos], (3, 1), options)
        assert got.shape == (3,)
        np.testing.assert_array_equal(got, want[:, 0])


def test_a_bias_vector_gets_the_gradient_summed_over_the_examples() -> None:
    op = OPS["add"]
    g = np.array([[1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 30.0, 40.0]])
    out = run_forward(op, [np.zeros((2, 4)), np.array([5.0, -5.0])], {})
    assert out.tolist() == [[5.0] * 4, [-5.0] * 4]
    local = run_local(op, [np.zeros((2, 4)), np.array([5.0, -5.0])], out, {})[1]
    assert op.chain_for(1).apply(g, local, (2,), {}).tolist() == [10.0, 100.0]


@pytest.mark.parametrize(
    ("shapes", "message"),
    [
        # a [4] target against a [1, 4] prediction: a row or a 4×4 spread, not guessed
        (
            [(1, 4), (4,)],
            "the vector of 4 is a column (4×1, as every vector), which against 1×4 gives 4×4; "
            "write its shape as [1, 4] for a row (one value per column), or [4, 1] if 4×4 is "
            "meant",
        ),
        (
            [(2, 4), (4,)],
            "a vector is a column, and 4×1 does not fit 2×4: write its shape as [1, 4] for a "
            "row (one value per column)",
        ),
        ([(3,), (2, 4)], "shapes that broadcast against each other (a vector is a column: 3 is"),
    ],
)
@pytest.mark.parametrize("name", BROADCASTING)
def test_a_vector_that_is_not_a_column_is_an_error_that_says_what_to_write(
    name: str, shapes, message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        OPS[name].shape(shapes, _options(OPS[name], {}))
    assert message in str(caught.value)


@pytest.mark.parametrize("name", ["mse", "half_squared_error", "binary_cross_entropy"])
def test_a_loss_says_which_shape_a_vector_target_needs(name: str) -> None:
    op = OPS[name]
    for shapes, wanted in (([(1, 4), (4,)], "[1, 4]"), ([(4,), (4, 1)], "[4, 1]")):
        with pytest.raises(ValueError) as caught:
            op.shape(shapes, _options(op, {}))
        assert f"write the vector's shape as {wanted}" in str(caught.value)
    with pytest.raises(ValueError) as caught:
        op.shape([(2, 2), (4,)], _options(op, {}))
    assert str(caught.value) == "the same shape on both sides"
