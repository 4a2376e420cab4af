"""Every op in the table: its local gradient, through its chain rule, against central finite
differences, on random inputs of several shapes; and its formula text.

An op added to the table without a case here makes ``test_every_op_has_a_case`` fail.
"""

from __future__ import annotations

import numpy as np
import pytest

from backprop_cli.ops import OPS, equation_text, fit_to_shape, local_text, run_forward, run_local

# op name -> list of (input shapes, options). Shapes cover scalars, vectors, matrices and
# broadcasting where the op allows it.
CASES: dict[str, list[tuple[list[tuple[int, ...]], dict]]] = {
    "add": [([(3, 2), (3, 2)], {}), ([(3, 4), (3, 1)], {}), ([(), (2, 3)], {}), ([(4,), ()], {})],
    "sub": [([(3, 2), (3, 2)], {}), ([(3, 4), (3, 1)], {}), ([(2, 2), ()], {})],
    "mul": [([(), ()], {}), ([(3, 2), (3, 2)], {}), ([(), (2, 3)], {}), ([(3, 4), (1, 4)], {})],
    "matmul": [([(4, 3), (3,)], {}), ([(4, 3), (3, 5)], {}), ([(3,), (3, 2)], {}),
               ([(3,), (3,)], {}), ([(2, 3), (3, 1)], {})],
    "relu": [([(5,)], {}), ([(3, 4)], {}), ([()], {})],
    "sigmoid": [([(5,)], {}), ([(3, 4)], {}), ([()], {})],
    "tanh": [([(5,)], {}), ([(3, 4)], {}), ([()], {})],
    "sum": [([(5,)], {}), ([(3, 4)], {}), ([()], {})],
    "mean": [([(5,)], {}), ([(3, 4)], {})],
    "half_squared_error": [([(), ()], {}), ([(4,), (4,)], {}), ([(2, 3), (2, 3)], {})],
    "mse": [([(), ()], {}), ([(4,), (4,)], {}), ([(2, 3), (2, 3)], {})],
    "l2": [([(3, 2)], {"lambda": 0.1}), ([(4, 3), (2, 4)], {"lambda": 0.01}),
           ([(), (3,)], {"lambda": 2.0})],
}

EPS = 1e-6


def _inputs(rng: np.random.Generator, shapes, name: str) -> list[np.ndarray]:
    args = []
    for shape in shapes:
        a = rng.uniform(-2.0, 2.0, shape)
        if name == "relu":  # keep clear of the kink at 0, where the derivative is a choice
            a = np.where(np.abs(a) < 0.1, 0.5, a)
        args.append(np.asarray(a, dtype=np.float64))
    return args


def _numeric_vjp(op, args, options, g, position) -> np.ndarray:
    """∂/∂args[position] of Σ g ⊙ f(args), by central differences."""
    base = args[position]
    out = np.zeros_like(base)
    for index in np.ndindex(base.shape):
        total = []
        for sign in (1.0, -1.0):
            nudged = [a.copy() for a in args]
            nudged[position][index] += sign * EPS
            total.append(np.sum(g * run_forward(op, nudged, options)))
        out[index] = (total[0] - total[1]) / (2 * EPS)
    return out


def test_every_op_has_a_case() -> None:
    assert sorted(CASES) == sorted(OPS), "add a finite-difference case for every op"


@pytest.mark.parametrize("name", sorted(OPS))
def test_local_gradient_matches_finite_differences(name: str) -> None:
    op = OPS[name]
    rng = np.random.default_rng(sorted(OPS).index(name))
    for shapes, options in CASES[name]:
        assert op.shape(list(shapes)) == np.shape(run_forward(op, _inputs(rng, shapes, name),
                                                              options))
        for _ in range(3):
            args = _inputs(rng, shapes, name)
            out = run_forward(op, args, options)
            g = rng.uniform(-1.0, 1.0, out.shape)
            locals_ = run_local(op, args, out, options)
            assert len(locals_) == len(args)
            for pos, arg in enumerate(args):
                got = op.chain_for(pos).apply(g, locals_[pos], arg.shape, options)
                assert got.shape == arg.shape, (name, shapes, pos)
                want = _numeric_vjp(op, args, options, g, pos)
                np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8,
                                           err_msg=f"{name} {shapes} input {pos}")


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_op_has_formula_text(name: str) -> None:
    op = OPS[name]
    assert op.summary
    for shapes, options in CASES[name]:
        names = [f"a{i}" for i in range(len(shapes))]
        eq = equation_text(op, "out", names, list(shapes), options)
        assert eq.startswith("out = ") and all(n in eq for n in names), eq
        for pos in range(len(shapes)):
            text = local_text(op, pos, "out", names, list(shapes))
            assert text and "{" not in text, (name, pos, text)


@pytest.mark.parametrize("name", sorted(n for n, op in OPS.items() if op.arity == 2))
def test_shape_rule_rejects_incompatible_inputs(name: str) -> None:
    with pytest.raises(ValueError):
        OPS[name].shape([(4, 3), (2, 5)])
    with pytest.raises(ValueError):
        run_forward(OPS[name], [np.ones((4, 3)), np.ones((2, 5))], {})


def test_relu_kink_is_zero() -> None:
    op = OPS["relu"]
    x = np.array([-1.0, 0.0, 1.0])
    assert run_local(op, [x], run_forward(op, [x], {}), {})[0].tolist() == [0.0, 0.0, 1.0]


def test_sigmoid_is_finite_for_large_inputs() -> None:
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    out = run_forward(OPS["sigmoid"], [x], {})
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, [0.0, 1.0 / (1.0 + np.exp(50.0)), 0.5,
                                     1.0 / (1.0 + np.exp(-50.0)), 1.0], rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    ("grad_shape", "shape", "expected"),
    [
        ((3, 4), (3, 1), np.full((3, 1), 4.0)),
        ((3, 4), (4,), np.full((4,), 3.0)),
        ((3, 4), (), np.float64(12.0)),
        ((), (2, 2), np.ones((2, 2))),
        ((2, 2), (2, 2), np.ones((2, 2))),
    ],
)
def test_fit_to_shape_undoes_broadcasting(grad_shape, shape, expected) -> None:
    got = fit_to_shape(np.ones(grad_shape), shape)
    assert got.shape == shape
    np.testing.assert_array_equal(got, expected)
