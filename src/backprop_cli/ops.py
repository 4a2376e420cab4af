"""The op table: for every op, its forward, its local gradient and its formula text.

Adding an op is one entry in ``OPS`` plus its tests (``tests/test_ops.py`` is parametrised over
this table and fails for an entry without a finite-difference check or formula text).

Conventions, the same for every entry:

* ``forward(args, opts)`` gets the input values (float64 arrays, in ``args`` order) and the
  node's options, and returns the output value.
* ``local(args, out, opts)`` returns one *local gradient* per input, as the source document
  writes it: ``1`` for a sum, the other operand (transposed) for a matrix product, ``φ′(z)`` for an
  activation, ``ŷ − y`` for the half squared error, ``λW`` for the ℓ2 term. These values are
  recorded and shown; they are not hidden in closures.
* ``chain`` says how the upstream gradient ``∂J/∂out`` meets each local gradient to give the
  gradient handed to that input. Elementwise ops multiply and then undo broadcasting in one place
  (``fit_to_shape``); the matrix product multiplies by the transposed other operand on the left
  or on the right.
* ``shape(shapes)`` infers the output shape, or raises ``ValueError`` saying what was
  expected, so that a config is checked before any math runs.
* Formula text is a template: ``{out}`` is the node's name, ``{0}``, ``{1}`` its inputs,
  ``{self}`` the input the local gradient belongs to, ``{n}`` the element count of the first input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

Array = np.ndarray

ONE = np.float64(1.0)
MINUS_ONE = np.float64(-1.0)


# --------------------------------------------------------------------------------------------
# Shapes and broadcasting
# --------------------------------------------------------------------------------------------


def fit_to_shape(grad: Array, shape: tuple[int, ...]) -> Array:
    """Bring a gradient to the shape of the tensor it belongs to.

    The one place where broadcasting is undone: a scalar local gradient is expanded over the
    input, and dimensions the forward pass broadcast are summed back.
    """
    grad = np.asarray(grad, dtype=np.float64)
    if grad.shape == shape:
        return grad
    full = np.broadcast_shapes(grad.shape, shape)
    grad = np.broadcast_to(grad, full)
    extra = len(full) - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return np.array(grad, dtype=np.float64)  # a fresh, writable array


def shape_text(shape: tuple[int, ...]) -> str:
    """``()`` -> ``scalar``, ``(3,)`` -> ``3``, ``(4, 3)`` -> ``4×3``."""
    return "×".join(str(n) for n in shape) if shape else "scalar"


def _broadcast(shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ValueError("shapes that broadcast against each other") from None


def _same(shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    first = shapes[0]
    if any(s != first for s in shapes[1:]):
        raise ValueError("the same shape on both sides")
    return first


def _same_to_scalar(shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    _same(shapes)
    return ()


def _unary(shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    return shapes[0]


def _scalar(shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    return ()


def _as_matrices(a_shape: tuple[int, ...], b_shape: tuple[int, ...]):
    """numpy's rule for 1-D operands: a vector on the left is a row, on the right a column."""
    if len(a_shape) not in (1, 2) or len(b_shape) not in (1, 2):
        raise ValueError("vectors or matrices (use mul for scalars)")
    a2 = (1, a_shape[0]) if len(a_shape) == 1 else a_shape
    b2 = (b_shape[0], 1) if len(b_shape) == 1 else b_shape
    return a2, b2


def _matmul_shape(shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    a, b = shapes
    a2, b2 = _as_matrices(a, b)
    if a2[1] != b2[0]:
        raise ValueError("the columns of the left operand to match the rows of the right one")
    out = []
    if len(a) == 2:
        out.append(a[0])
    if len(b) == 2:
        out.append(b[1])
    return tuple(out)


# --------------------------------------------------------------------------------------------
# How the upstream gradient meets a local gradient
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chain:
    """``apply(upstream, local, input_shape, options) -> global``, and its formula template."""

    apply: Callable[[Array, Array, tuple[int, ...], dict[str, Any]], Array]
    text: str


def _elementwise(g: Array, local: Array, shape: tuple[int, ...], opts: dict) -> Array:
    return fit_to_shape(g * local, shape)


def _matmul_left(g: Array, local: Array, shape: tuple[int, ...], opts: dict) -> Array:
    # z = A·B: ∂J/∂A = ∂J/∂z · Bᵀ, where local = Bᵀ (k×n) and ∂J/∂z is m×k.
    return (g.reshape(-1, local.shape[0]) @ local).reshape(shape)


def _matmul_right(g: Array, local: Array, shape: tuple[int, ...], opts: dict) -> Array:
    # z = A·B: ∂J/∂B = Aᵀ · ∂J/∂z, where local = Aᵀ (n×m) and ∂J/∂z is m×k.
    return (local @ g.reshape(local.shape[1], -1)).reshape(shape)


ELEMENTWISE = Chain(_elementwise, "{g} ⊙ {local}")
MATMUL_LEFT = Chain(_matmul_left, "{g} · {local}")
MATMUL_RIGHT = Chain(_matmul_right, "{local} · {g}")


# --------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """An op option written beside ``name``/``op``/``args`` in the config."""

    doc: str
    default: Any = None  # None: required
    minimum: float | None = None


@dataclass(frozen=True)
class Op:
    name: str
    summary: str
    arity: int | None  # None: one or more inputs
    equation: str | Callable[..., str]
    forward: Callable[..., Array]
    local: Callable[..., list[Array]]
    local_text: tuple[str, ...]  # one per input; a variadic op gives one, used for each
    shape: Callable[[list[tuple[int, ...]]], tuple[int, ...]]
    chain: tuple[Chain, ...] = (ELEMENTWISE,)  # one per input, or one for all
    options: dict[str, Option] = field(default_factory=dict)
    kink: str = ""  # what the local gradient does where the function has no derivative
    # --explain: per input (or one for all), the kind of sentence that says what the edge does;
    # ``explain.edge.<kind>`` in every language of ``i18n``.
    explain: tuple[str, ...] = ()

    def chain_for(self, position: int) -> Chain:
        return self.chain[position] if len(self.chain) > 1 else self.chain[0]

    def local_text_for(self, position: int) -> str:
        return self.local_text[position] if len(self.local_text) > 1 else self.local_text[0]

    def explain_for(self, position: int) -> str:
        return self.explain[position] if len(self.explain) > 1 else self.explain[0]

    def arity_text(self) -> str:
        if self.arity is None:
            return "one or more inputs"
        return "1 input" if self.arity == 1 else f"{self.arity} inputs"


def _stable_sigmoid(a: Array) -> Array:
    # 1 / (1 + e^(−a)) without overflow for large |a|.
    return np.exp(-np.logaddexp(0.0, -a))


def _equation_mul(out: str, args: list[str], shapes: list[tuple[int, ...]], **_: Any) -> str:
    sign = "·" if any(s == () for s in shapes) else " ⊙ "
    return f"{out} = {args[0]}{sign}{args[1]}"


def _equation_l2(out: str, args: list[str], shapes: list[tuple[int, ...]], **opts: Any) -> str:
    norms = " + ".join(f"‖{a}‖²" for a in args)
    lam = opts["lambda"]
    return f"{out} = λ/2·({norms}), λ = {lam:g}"


def _matmul_local(args: list[Array]) -> list[Array]:
    a, b = args
    a_shape, b_shape = _as_matrices(a.shape, b.shape)
    return [b.reshape(b_shape).T, a.reshape(a_shape).T]


OPS: dict[str, Op] = {
    op.name: op
    for op in [
        # ---- arithmetic -------------------------------------------------------------------
        Op(
            name="add",
            summary="a + b, broadcasting (a bias vector or scalar is summed back)",
            arity=2,
            equation="{out} = {0} + {1}",
            forward=lambda a, o: a[0] + a[1],
            local=lambda a, out, o: [ONE, ONE],
            local_text=("1", "1"),
            shape=_broadcast,
            explain=("pass",),
        ),
        Op(
            name="sub",
            summary="a − b, broadcasting",
            arity=2,
            equation="{out} = {0} − {1}",
            forward=lambda a, o: a[0] - a[1],
            local=lambda a, out, o: [ONE, MINUS_ONE],
            local_text=("1", "−1"),
            shape=_broadcast,
            explain=("pass", "negate"),
        ),
        Op(
            name="mul",
            summary="a ⊙ b, elementwise product (a scalar times a tensor too)",
            arity=2,
            equation=_equation_mul,
            forward=lambda a, o: a[0] * a[1],
            local=lambda a, out, o: [a[1], a[0]],
            local_text=("{1}", "{0}"),
            shape=_broadcast,
            explain=("product",),
        ),
        Op(
            name="matmul",
            summary="A·B, matrix product (a vector on the right is a column)",
            arity=2,
            equation="{out} = {0}·{1}",
            forward=lambda a, o: a[0] @ a[1],
            local=lambda a, out, o: _matmul_local(a),
            local_text=("{1}ᵀ", "{0}ᵀ"),
            shape=_matmul_shape,
            explain=("matmul",),
            chain=(MATMUL_LEFT, MATMUL_RIGHT),
        ),
        # ---- activations ------------------------------------------------------------------
        Op(
            name="relu",
            summary="max(z, 0), elementwise",
            arity=1,
            equation="{out} = relu({0})",
            forward=lambda a, o: np.maximum(a[0], 0.0),
            local=lambda a, out, o: [(a[0] > 0).astype(np.float64)],
            local_text=("1[{0} > 0]",),
            shape=_unary,
            explain=("relu",),
            kink="at z = 0 the local gradient is 0 (the subgradient PyTorch and JAX use too)",
        ),
        Op(
            name="sigmoid",
            summary="σ(z) = 1/(1 + e^(−z)), elementwise, stable for large |z|",
            arity=1,
            equation="{out} = σ({0})",
            forward=lambda a, o: _stable_sigmoid(a[0]),
            local=lambda a, out, o: [out * (1.0 - out)],
            local_text=("σ({0})(1 − σ({0}))",),
            shape=_unary,
            explain=("slope",),
        ),
        Op(
            name="tanh",
            summary="tanh(z), elementwise",
            arity=1,
            equation="{out} = tanh({0})",
            forward=lambda a, o: np.tanh(a[0]),
            local=lambda a, out, o: [1.0 - out * out],
            local_text=("1 − tanh²({0})",),
            shape=_unary,
            explain=("slope",),
        ),
        # ---- reductions -------------------------------------------------------------------
        Op(
            name="sum",
            summary="Σ of all elements, a scalar",
            arity=1,
            equation="{out} = Σ {0}",
            forward=lambda a, o: np.sum(a[0]),
            local=lambda a, out, o: [ONE],
            local_text=("1",),
            shape=_scalar,
            explain=("sum",),
        ),
        Op(
            name="mean",
            summary="mean of all elements, a scalar",
            arity=1,
            equation="{out} = mean({0})",
            forward=lambda a, o: np.mean(a[0]),
            local=lambda a, out, o: [np.float64(1.0 / a[0].size)],
            local_text=("1/{n}",),
            shape=_scalar,
            explain=("mean",),
        ),
        # ---- losses and regularisers ------------------------------------------------------
        Op(
            name="half_squared_error",
            summary="½·Σ(ŷ − y)², the document's loss (sum reduction)",
            arity=2,
            equation="{out} = ½‖{0} − {1}‖²",
            forward=lambda a, o: 0.5 * np.sum((a[0] - a[1]) ** 2),
            local=lambda a, out, o: [a[0] - a[1], a[1] - a[0]],
            local_text=("{0} − {1}", "{1} − {0}"),
            shape=_same_to_scalar,
            explain=("error", "target"),
        ),
        Op(
            name="mse",
            summary="mean of (ŷ − y)² (mean reduction)",
            arity=2,
            equation="{out} = mean(({0} − {1})²)",
            forward=lambda a, o: np.mean((a[0] - a[1]) ** 2),
            local=lambda a, out, o: [
                2.0 * (a[0] - a[1]) / a[0].size,
                2.0 * (a[1] - a[0]) / a[0].size,
            ],
            local_text=("2({0} − {1})/{n}", "2({1} − {0})/{n}"),
            shape=_same_to_scalar,
            explain=("error", "target"),
        ),
        Op(
            name="l2",
            summary="λ/2·Σ‖Wᵢ‖²_F, ℓ2 regularisation of one or more tensors",
            arity=None,
            equation=_equation_l2,
            forward=lambda a, o: 0.5 * o["lambda"] * sum(np.sum(w * w) for w in a),
            local=lambda a, out, o: [o["lambda"] * w for w in a],
            local_text=("λ{self}",),
            shape=_scalar,
            explain=("l2",),
            options={"lambda": Option("the regularisation strength λ ≥ 0", minimum=0.0)},
        ),
    ]
}


def run_forward(op: Op, args: list[Array], options: dict[str, Any]) -> Array:
    return np.asarray(op.forward(args, options), dtype=np.float64)


def run_local(op: Op, args: list[Array], out: Array, options: dict[str, Any]) -> list[Array]:
    return [np.asarray(v, dtype=np.float64) for v in op.local(args, out, options)]


def equation_text(op: Op, out: str, args: list[str], shapes: list[tuple[int, ...]],
                  options: dict[str, Any]) -> str:
    if callable(op.equation):
        return op.equation(out, args, shapes, **options)
    return op.equation.format(*args, out=out, args=", ".join(args))


def local_text(op: Op, position: int, out: str, args: list[str],
               shapes: list[tuple[int, ...]]) -> str:
    n = math.prod(shapes[0]) if shapes else 1
    return op.local_text_for(position).format(*args, out=out, self=args[position], n=n)
