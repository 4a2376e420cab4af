"""The op table: for every op, its forward, its local gradient and its formula text.

Adding an op is one entry in ``OPS`` plus its tests (``tests/test_ops.py`` is parametrised over
this table and fails for an entry without a finite-difference case or formula text).

Conventions, the same for every entry:

* ``forward(args, opts)`` gets the input values (float64 arrays, in ``args`` order) and the
  node's options, and returns the output value.
* ``local(args, out, opts)`` returns one *local gradient* per input, as the source document
  writes it: ``1`` for a sum, the other operand (transposed) for a matrix product, ``φ′(z)`` for an
  activation, ``ŷ − y`` for the half squared error, ``λW`` for the ℓ2 term, the Jacobian
  ``diag(s) − s·sᵀ`` for a softmax. These values are recorded and shown, not hidden in closures.
* ``chain`` says how the upstream gradient ``∂J/∂out`` meets each local gradient to give the
  gradient handed to that input. Elementwise ops multiply and undo broadcasting in one place
  (``fit_to_shape``). In an op that broadcasts (its shape rule is ``_broadcast``), a vector
  that meets a matrix is a column, n×1 (``as_columns``, applied by ``run_forward`` and
  ``run_local``), and ``fit_to_shape`` sums its gradient over the columns. The matrix product
  multiplies by the transposed other operand on the left or on the right; a Jacobian is applied
  along the op's axis.
* ``shape(shapes, opts)`` infers the output shape, or raises ``ValueError`` saying what was
  expected, so that a config is checked before any math runs.
* Formula text is a template: ``{out}`` is the node's name, ``{0}``, ``{1}`` its inputs,
  ``{self}`` the input the local gradient belongs to, ``{n}`` the element count of the first
  input, and the node's options by name; or a function ``(out, args, shapes, opts, position)``.

Where a function has no derivative (a kink), the rule used is written in ``kink``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .options import Option

Array = np.ndarray
Shape = tuple[int, ...]
Opts = dict[str, Any]  # an op's options, checked against its Option table
# (out, args, shapes, opts) -> the node's equation, e.g. "z = W1·x"
EquationText = Callable[[str, list[str], list[Shape], Opts], str]

ONE = np.float64(1.0)
ZERO = np.float64(0.0)
MINUS_ONE = np.float64(-1.0)
GELU_C = math.sqrt(2.0 / math.pi)
GELU_A = 0.044715


# --------------------------------------------------------------------------------------------
# Shapes and broadcasting
# --------------------------------------------------------------------------------------------


def fit_to_shape(grad: Array, shape: Shape) -> Array:
    """Bring a gradient to the shape of the tensor it belongs to.

    The one place where broadcasting is undone: a scalar local gradient is expanded over the
    input, and dimensions the forward pass broadcast are summed back. A vector that met a
    matrix took part as a column (``as_columns``), so its gradient is summed along the rows'
    other axes, over the examples, and not down the columns.
    """
    grad = np.asarray(grad, dtype=np.float64)
    if grad.shape == shape:
        return grad
    if len(shape) == 1 and grad.ndim >= 2:
        return fit_to_shape(grad, (shape[0],) + (1,) * (grad.ndim - 1)).reshape(shape)
    full = np.broadcast_shapes(grad.shape, shape)
    grad = np.broadcast_to(grad, full)
    extra = len(full) - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return np.array(grad, dtype=np.float64)  # a fresh, writable array


def shape_text(shape: Shape) -> str:
    """``()`` -> ``scalar``, ``(3,)`` -> ``3``, ``(4, 3)`` -> ``4×3``."""
    return "×".join(str(n) for n in shape) if shape else "scalar"


def column_shapes(shapes: list[Shape]) -> list[Shape]:
    """A vector is a column: in an op that broadcasts, a vector of n meeting a matrix takes
    part as n×1, so a bias of n is added to every example; meeting a tensor of rank 3 or 4
    ([C, T, B], [C, H, W, B]) it lies along axis 0 as n×1×1(×1), one value per feature or
    channel. Vectors among vectors and scalars broadcast as they are."""
    rank = max((len(s) for s in shapes), default=0)
    if rank < 2:
        return list(shapes)
    return [(s[0],) + (1,) * (rank - 1) if len(s) == 1 else s for s in shapes]


def as_columns(args: list[Array]) -> list[Array]:
    """The values of ``column_shapes``: every vector that meets a matrix as an n×1 column."""
    shapes = column_shapes([a.shape for a in args])
    return [a.reshape(s) if a.shape != s else a for a, s in zip(args, shapes, strict=True)]


def _broadcast(shapes: list[Shape], opts: Opts) -> Shape:
    columns = column_shapes(shapes)
    vectors = [s[0] for s, c in zip(shapes, columns, strict=True) if s != c]
    matrices = max(len(c) for c in columns) == 2  # (at rank 3 and 4 a vector lies along axis 0)
    for n in vectors:
        for other in shapes:
            # As a column the vector would spread a 1×n row over n rows; as a row it fits:
            # which one was meant is not for us to guess.
            if n > 1 and matrices and other == (1, n):
                spread = shape_text(np.broadcast_shapes(other, (n, 1)))
                raise ValueError(
                    f"shapes that say what they mean: the vector of {n} is a column ({n}×1, "
                    f"as every vector), which against {shape_text(other)} gives {spread}; "
                    f"write its shape as [1, {n}] for a row (one value per column), or "
                    f"[{n}, 1] if {spread} is meant"
                )
    try:
        return tuple(np.broadcast_shapes(*columns))
    except ValueError:
        pass
    text = "shapes that broadcast against each other"
    if vectors:
        n = vectors[0]
        try:
            np.broadcast_shapes(*shapes)  # numpy's reading: the vector as a row
        except ValueError:
            raise ValueError(f"{text} (a vector is a column: {n} is {n}×1 here)") from None
        raise ValueError(
            f"{text}; a vector is a column, and {n}×1 does not fit "
            f"{shape_text(max(shapes, key=len))}: write its shape as [1, {n}] for a row "
            f"(one value per column)"
        ) from None
    raise ValueError(text) from None


def _same(shapes: list[Shape]) -> Shape:
    if any(s != shapes[0] for s in shapes[1:]):
        # A vector against a matrix of as many elements: say which shape to write, as a
        # vector is a column and the matrix may be a row (1×n).
        vector = next((s for s in shapes if len(s) == 1), None)
        matrix = next((s for s in shapes if len(s) >= 2), None)
        if vector and matrix and math.prod(matrix) == vector[0] == max(matrix):
            wanted = ", ".join(str(n) for n in matrix)
            raise ValueError(
                f"the same shape on both sides; write the vector's shape as [{wanted}] "
                f"to match {shape_text(matrix)}"
            )
        raise ValueError("the same shape on both sides")
    return shapes[0]


def _same_to_scalar(shapes: list[Shape], opts: Opts) -> Shape:
    _same(shapes)
    return ()


def _unary(shapes: list[Shape], opts: Opts) -> Shape:
    return shapes[0]


def _scalar(shapes: list[Shape], opts: Opts) -> Shape:
    return ()


def _axis(shape: Shape, axis: int | None) -> int | None:
    """A valid non-negative axis of ``shape`` (or None for all elements)."""
    if axis is None:
        return None
    if not shape:
        raise ValueError("a tensor with axes (a scalar has none; leave out 'axis')")
    if not -len(shape) <= axis < len(shape):
        raise ValueError(
            f"an axis from {-len(shape)} to {len(shape) - 1} for an input of "
            f"shape {shape_text(shape)}, but axis is {axis}"
        )
    return axis % len(shape)


def _reduce_shape(shapes: list[Shape], opts: Opts) -> Shape:
    axis = _axis(shapes[0], opts.get("axis"))
    if axis is None:
        return ()
    return shapes[0][:axis] + shapes[0][axis + 1 :]


def _along_axis_shape(shapes: list[Shape], opts: Opts) -> Shape:
    if not shapes[0]:
        raise ValueError("a vector or a matrix (a softmax over one number is always 1)")
    _axis(shapes[0], opts["axis"])
    return shapes[0]


def _as_matrices(a_shape: Shape, b_shape: Shape) -> tuple[Shape, Shape]:
    """numpy's rule for 1-D operands: a vector on the left is a row, on the right a column."""
    if len(a_shape) not in (1, 2) or len(b_shape) not in (1, 2):
        raise ValueError("vectors or matrices (use mul for scalars)")
    a2 = (1, a_shape[0]) if len(a_shape) == 1 else a_shape
    b2 = (b_shape[0], 1) if len(b_shape) == 1 else b_shape
    return a2, b2


def _matmul_shape(shapes: list[Shape], opts: Opts) -> Shape:
    a, b = shapes
    a2, b2 = _as_matrices(a, b)
    if a2[1] != b2[0]:
        raise ValueError("the columns of the left operand to match the rows of the right one")
    return tuple([a[0]] if len(a) == 2 else []) + tuple([b[1]] if len(b) == 2 else [])


def _transpose_shape(shapes: list[Shape], opts: Opts) -> Shape:
    if len(shapes[0]) > 2:
        raise ValueError("a scalar, a vector or a matrix")
    return shapes[0][::-1]


def _reshape_shape(shapes: list[Shape], opts: Opts) -> Shape:
    size = math.prod(shapes[0])
    target = list(opts["shape"])
    known = math.prod(n for n in target if n != -1)
    if -1 in target:
        if known == 0 or size % known:
            raise ValueError(f"a shape whose size divides {size}, found {target}")
        target[target.index(-1)] = size // known
    if math.prod(target) != size:
        raise ValueError(f"a shape of {size} elements, but {target} has {math.prod(target)}")
    return tuple(target)


def _concat_shape(shapes: list[Shape], opts: Opts) -> Shape:
    first = shapes[0]
    if not first or len(first) > 2:
        raise ValueError("vectors or matrices")
    axis = _axis(first, opts["axis"])
    assert axis is not None  # concat's axis option has a default and is never None
    for s in shapes[1:]:
        if len(s) != len(first) or any(s[i] != first[i] for i in range(len(s)) if i != axis):
            raise ValueError(f"inputs that agree in every dimension but axis {axis}")
    return (*first[:axis], sum(s[axis] for s in shapes), *first[axis + 1 :])


def _cross_entropy_shape(shapes: list[Shape], opts: Opts) -> Shape:
    logits, targets = shapes
    if not logits:
        raise ValueError(
            "logits as a vector (one example), a classes × examples matrix, or classes first "
            "and positions after ([C, T, B], [C, H, W, B])"
        )
    if targets != logits and targets != logits[1:]:
        raise ValueError(
            "targets as integer labels (one per example, shape "
            f"{shape_text(logits[1:])}) or one-hot/probabilities of the logits' "
            f"shape {shape_text(logits)}"
        )
    return ()


# --------------------------------------------------------------------------------------------
# How the upstream gradient meets a local gradient
# --------------------------------------------------------------------------------------------


class Chain(NamedTuple):
    """``apply(upstream, local, input_shape, opts) -> global``, and its formula template
    (``{g}`` the upstream gradient, ``{local}`` the local one, ``{shape}`` the input's shape)."""

    apply: Callable[[Array, Array, Shape, Opts], Array]
    text: str
    elementwise: bool = False


def _elementwise(g: Array, local: Array, shape: Shape, opts: Opts) -> Array:
    if local.ndim == 0 and local == 1.0 and g.shape == shape:
        return g  # × 1: the upstream gradient itself (arrays are never changed in place)
    return fit_to_shape(g * local, shape)


def _reduce(g: Array, local: Array, shape: Shape, opts: Opts) -> Array:
    # A reduction over an axis: put the reduced axis back, then broadcast over it.
    axis = opts.get("axis")
    if axis is not None:
        g = np.expand_dims(g, axis % len(shape))
    return fit_to_shape(g * local, shape)


def _matmul_left(g: Array, local: Array, shape: Shape, opts: Opts) -> Array:
    # z = A·B: ∂J/∂A = ∂J/∂z · Bᵀ, where local = Bᵀ (k×n) and ∂J/∂z is m×k.
    return (g.reshape(-1, local.shape[0]) @ local).reshape(shape)


def _matmul_right(g: Array, local: Array, shape: Shape, opts: Opts) -> Array:
    # z = A·B: ∂J/∂B = Aᵀ · ∂J/∂z, where local = Aᵀ (n×m) and ∂J/∂z is m×k.
    return (local @ g.reshape(local.shape[1], -1)).reshape(shape)


def _jacobian(g: Array, local: Array, shape: Shape, opts: Opts) -> Array:
    # local holds one Jacobian per slice along the op's axis: (..., n, n), the axis moved last.
    axis = opts["axis"] % len(shape)
    moved = np.moveaxis(g, axis, -1)
    out = np.einsum("...ji,...j->...i", local, moved)  # Jᵀ · g for every slice
    return np.moveaxis(out, -1, axis)


def _transpose_back(g: Array, local: Array, shape: Shape, opts: Opts) -> Array:
    return np.transpose(g).reshape(shape)


def _reshape_back(g: Array, local: Array, shape: Shape, opts: Opts) -> Array:
    return np.reshape(g, shape)


def _select(g: Array, local: Array, shape: Shape, opts: Opts) -> Array:
    # local is this input's selection matrix S (nᵢ × n) for axis 0, or Sᵀ for axis 1.
    if len(shape) == 2 and opts["axis"] % 2 == 1:
        return g @ local
    return local @ g


ELEMENTWISE = Chain(_elementwise, "{g} ⊙ {local}", elementwise=True)
REDUCE = Chain(_reduce, "{g} ⊙ {local}", elementwise=True)
MATMUL_LEFT = Chain(_matmul_left, "{g} · {local}")
MATMUL_RIGHT = Chain(_matmul_right, "{local} · {g}")
JACOBIAN = Chain(_jacobian, "{local}ᵀ · {g}")
TRANSPOSE_BACK = Chain(_transpose_back, "({g})ᵀ")
RESHAPE_BACK = Chain(_reshape_back, "reshape({g}, {shape})")
SELECT = Chain(_select, "{local} · {g}")


# --------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------

Text = str | Callable[..., str]


class Op(NamedTuple):
    name: str
    summary: str
    arity: int | None  # None: one or more inputs
    equation: Text
    forward: Callable[[list[Array], Opts], Array]
    local: Callable[[list[Array], Array, Opts], list[Array]]
    local_text: tuple[Text, ...]  # one per input; a variadic op gives one, used for each
    shape: Callable[[list[Shape], Opts], Shape]
    chain: tuple[Chain, ...] = (ELEMENTWISE,)  # one per input, or one for all
    options: dict[str, Option] = {}  # noqa: RUF012  # read only: shared by the ops without options
    kink: str = ""  # the rule used where the function has no derivative
    loss: bool = False  # a loss or regulariser: reduces to a scalar, states its reduction
    # The backward pass stops here: no gradient reaches the inputs, and finite differences hold
    # the output fixed (it is a constant to everything upstream).
    stops_gradient: bool = False
    # --explain: per input (or one for all), the kind of sentence that says what the edge does;
    # ``explain.edge.<kind>`` in every language of ``i18n``.
    explain: tuple[str, ...] = ()
    # How many of the last inputs may be left out (conv2d's bias): arity 3, optional 1 takes 2
    # or 3 inputs.
    optional: int = 0
    # The output holds −∞ by design (causal_mask's masked entries): ``masks(shape)`` is True
    # where. The anomaly check lets −∞ through there (and only there), the tables show it as −∞
    # without a warning; the op after it (a softmax) makes it finite.
    masks: Callable[[Shape], Array] | None = None
    # The forward pass draws random numbers (dropout): it gets the step number as the option
    # ``step``, so that a step's draw is the same every time it is computed.
    stochastic: bool = False
    # Named intermediate values the forward pass computes on its way (batch_norm's μ, σ², x̂):
    # ``parts(args, opts)`` returns the output and them, in the order they are shown; the tables
    # show them under the node as ``node.name``, JSON holds them in ``intermediates``. The local
    # gradients and chains get them as the option ``parts`` (recomputed when it is absent).
    parts: Callable[[list[Array], Opts], tuple[Array, dict[str, Array]]] | None = None
    # Their equations: ``(out, args, shapes, opts) -> {name: "μ = mean(z, axis=1)"}``.
    parts_text: Callable[[str, list[str], list[Shape], Opts], dict[str, str]] | None = None
    # The names of the inputs as ``backprop ops`` and the summary write them (x, K, b); a, b, c
    # (z for an activation) when empty.
    inputs: tuple[str, ...] = ()

    @property
    def broadcasts(self) -> bool:
        """Whether the op broadcasts its inputs (its shape rule says so): a vector that meets
        a matrix is then a column (``as_columns``)."""
        return self.shape is _broadcast

    def chain_for(self, position: int) -> Chain:
        return self.chain[position] if len(self.chain) > 1 else self.chain[0]

    def local_text_for(self, position: int) -> Text:
        return self.local_text[position] if len(self.local_text) > 1 else self.local_text[0]

    def explain_for(self, position: int) -> str:
        return self.explain[position] if len(self.explain) > 1 else self.explain[0]

    def takes(self, count: int) -> bool:
        """Whether the op takes ``count`` inputs."""
        if self.arity is None:
            return count >= 1
        return self.arity - self.optional <= count <= self.arity

    def arity_text(self) -> str:
        if self.arity is None:
            return "one or more inputs"
        if self.optional:
            return f"{self.arity - self.optional} or {self.arity} inputs"
        return "1 input" if self.arity == 1 else f"{self.arity} inputs"


# ---- helpers for the entries -----------------------------------------------------------------


def _stable_sigmoid(a: Array) -> Array:
    # 1 / (1 + e^(−a)) without overflow for large |a|.
    return np.exp(-np.logaddexp(0.0, -a))


def _mean(a: Array, axis: int | None) -> Array:
    # np.mean sums first, so [1e308, 1e308] overflows although its mean is finite: where that
    # happens, the mean is taken of the rescaled values.
    with np.errstate(over="ignore", invalid="ignore"):
        m = np.mean(a, axis=axis)
    if np.isfinite(m).all() or not np.isfinite(a).all():
        return m
    scale = np.max(np.abs(a))
    return np.where(np.isfinite(m), m, scale * np.mean(a / scale, axis=axis))


def _logsumexp(a: Array, axis: int) -> Array:
    peak = np.max(a, axis=axis, keepdims=True)
    return peak + np.log(np.sum(np.exp(a - peak), axis=axis, keepdims=True))


def _softmax(a: Array, axis: int) -> Array:
    e = np.exp(a - np.max(a, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _softmax_jacobian(s: Array, axis: int) -> Array:
    """diag(s) − s·sᵀ for every slice along ``axis`` (the axis moved last)."""
    m = np.moveaxis(s, axis, -1)
    eye = np.eye(m.shape[-1])
    return m[..., :, None] * eye - m[..., :, None] * m[..., None, :]


def _log_softmax_jacobian(a: Array, axis: int) -> Array:
    """I − 1·softmax(z)ᵀ for every slice along ``axis`` (the axis moved last)."""
    m = np.moveaxis(_softmax(a, axis), axis, -1)
    eye = np.eye(m.shape[-1])
    return eye - m[..., None, :] * np.ones_like(m)[..., :, None]


def _labels(targets: Array, logits: Array) -> Array:
    """Integer labels as an index array, checked against the number of classes."""
    labels = np.rint(targets).astype(np.int64)
    classes = logits.shape[0]
    bad = (labels != targets) | (labels < 0) | (labels >= classes)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0]) if bad.ndim else ()
        at = f" at [{', '.join(map(str, index))}]" if index else ""
        raise ValueError(
            f"integer labels from 0 to {classes - 1} (one per example), found "
            f"{float(targets[index]):g}{at}"
        )
    return labels


def _onehot(targets: Array, logits: Array) -> Array:
    """Targets of the logits' shape, from integer labels where needed."""
    if targets.shape == logits.shape:
        return targets
    labels = _labels(targets, logits)
    return (np.arange(logits.shape[0]).reshape((-1,) + (1,) * labels.ndim) == labels) * 1.0


def _examples(logits: Array, opts: Opts) -> float:
    """The divisor a mean reduction uses: the number of examples (columns)."""
    if opts["reduction"] == "sum":
        return 1.0
    return float(math.prod(logits.shape[1:]))


def _ce_forward(a: list[Array], o: Opts) -> Array:
    logits, targets = a
    log_p = logits - _logsumexp(logits, 0)
    return -np.sum(_onehot(targets, logits) * log_p) / _examples(logits, o)


def _ce_local(a: list[Array], out: Array, o: Opts) -> list[Array]:
    logits, targets = a
    n = _examples(logits, o)
    onehot = _onehot(targets, logits)
    d_logits = (_softmax(logits, 0) * onehot.sum(axis=0) - onehot) / n
    if targets.shape == logits.shape:  # soft targets: the loss is linear in them
        return [d_logits, -(logits - _logsumexp(logits, 0)) / n]
    return [d_logits, np.zeros_like(targets)]  # integer labels carry no gradient


def _bce_forward(a: list[Array], o: Opts) -> Array:
    z, y = a
    # max(z, 0) − z·y + log(1 + e^(−|z|)): log σ and log(1 − σ) without overflow.
    loss = np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z)))
    return np.sum(loss) / (1.0 if o["reduction"] == "sum" else z.size)


def _bce_local(a: list[Array], out: Array, o: Opts) -> list[Array]:
    z, y = a
    n = 1.0 if o["reduction"] == "sum" else z.size
    return [(_stable_sigmoid(z) - y) / n, -z / n]


def _max_local(a: list[Array], out: Array, o: Opts) -> list[Array]:
    x = a[0]
    axis = o.get("axis")
    peak = np.max(x, axis=axis, keepdims=True)
    ties = (x == peak) * 1.0
    return [ties / np.sum(ties, axis=axis, keepdims=True)]


def _pick_local(a: list[Array], out: Array, o: Opts, larger: bool) -> list[Array]:
    """maximum (``larger``) or minimum of two tensors: 1 where an input is the one taken, ½ at a
    tie (as ``max`` shares among ties), 0 elsewhere; broadcast to the output's shape."""
    x, y = a
    tie = (x == y) * 0.5
    if larger:
        return [(x > y) + tie, (y > x) + tie]
    return [(x < y) + tie, (y < x) + tie]


def _clip_bounds(o: Opts) -> tuple[float, float]:
    lo, hi = o.get("min"), o.get("max")
    return (-math.inf if lo is None else lo, math.inf if hi is None else hi)


def _clip_shape(shapes: list[Shape], opts: Opts) -> Shape:
    lo, hi = opts.get("min"), opts.get("max")
    if lo is None and hi is None:
        raise ValueError("at least one of the options min and max")
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"min ≤ max, but min = {_num(lo)} and max = {_num(hi)}")
    return shapes[0]


def _clip_forward(a: list[Array], o: Opts) -> Array:
    lo, hi = _clip_bounds(o)
    return np.clip(a[0], lo, hi)


def _clip_local(a: list[Array], out: Array, o: Opts) -> list[Array]:
    # 1 inside [min, max], bounds included (as torch.clamp), 0 outside.
    lo, hi = _clip_bounds(o)
    return [((a[0] >= lo) & (a[0] <= hi)) * 1.0]


def _gelu(z: Array) -> Array:
    return 0.5 * z * (1.0 + np.tanh(GELU_C * (z + GELU_A * z**3)))


def _gelu_local(z: Array) -> Array:
    t = np.tanh(GELU_C * (z + GELU_A * z**3))
    return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * GELU_C * (1.0 + 3.0 * GELU_A * z * z)


def _selection(shapes: list[Shape], axis: int) -> list[Array]:
    """Each input's block of the identity: which rows (axis 0) or columns (axis 1) it fills."""
    total = sum(s[axis] for s in shapes)
    out, start = [], 0
    for s in shapes:
        block = np.zeros((s[axis], total))
        block[:, start : start + s[axis]] = np.eye(s[axis])
        out.append(block if axis == 0 else block.T)
        start += s[axis]
    return out


def _axis_text(opts: Opts, default: str = "") -> str:
    axis = opts.get("axis")
    return default if axis is None else f", axis={axis}"


def _num(x: float) -> str:
    return f"{x:g}".replace("-", "−")


# ---- formula texts that need more than a template -------------------------------------------


def _equation_mul(out: str, args: list[str], shapes: list[Shape], opts: Opts) -> str:
    sign = "·" if any(s == () for s in shapes) else " ⊙ "
    return f"{out} = {args[0]}{sign}{args[1]}"


def _equation_norms(symbol: str, norm: str, option: str) -> EquationText:
    def text(out: str, args: list[str], shapes: list[Shape], opts: Opts) -> str:
        norms = " + ".join(norm.format(a) for a in args)
        return f"{out} = {symbol}({norms}), {symbol[0]} = {opts[option]:g}"

    return text


def _equation_reduce(name: str) -> EquationText:
    def text(out: str, args: list[str], shapes: list[Shape], opts: Opts) -> str:
        return f"{out} = {name}({args[0]}{_axis_text(opts)})"

    return text


def _equation_loss(body: str) -> EquationText:
    def text(out: str, args: list[str], shapes: list[Shape], opts: Opts) -> str:
        reduce = "mean" if opts["reduction"] == "mean" else "Σ"
        return f"{out} = {reduce}[{body.format(*args)}]"

    return text


def _equation_clip(out: str, args: list[str], shapes: list[Shape], opts: Opts) -> str:
    lo, hi = opts.get("min"), opts.get("max")
    low = "−∞" if lo is None else _num(lo)
    high = "∞" if hi is None else _num(hi)
    return f"{out} = clip({args[0]}, {low}, {high})"


def _clip_local_text(
    out: str, args: list[str], shapes: list[Shape], opts: Opts, position: int
) -> str:
    lo, hi = opts.get("min"), opts.get("max")
    x = args[0]
    if lo is not None and hi is not None:
        return f"1[{_num(lo)} ≤ {x} ≤ {_num(hi)}]"
    if lo is not None:
        return f"1[{x} ≥ {_num(lo)}]"
    if hi is not None:
        return f"1[{x} ≤ {_num(hi)}]"
    return f"1[min ≤ {x} ≤ max]"


def _mean_local_text(
    out: str, args: list[str], shapes: list[Shape], opts: Opts, position: int
) -> str:
    axis = opts.get("axis")
    n = math.prod(shapes[0]) if axis is None else shapes[0][axis]
    return f"1/{n}"


def _pow_local_text(
    out: str, args: list[str], shapes: list[Shape], opts: Opts, position: int
) -> str:
    p = opts["exponent"]
    if p == 2:
        return f"2{args[0]}"
    return f"{_num(p)}·{args[0]}^{_num(p - 1)}"


def _concat_local_text(
    out: str, args: list[str], shapes: list[Shape], opts: Opts, position: int
) -> str:
    blocks = ["0"] * len(args)
    blocks[position] = "I"
    text = "[" + " ".join(blocks) + "]"
    return text if opts["axis"] % len(shapes[0]) == 0 else text + "ᵀ"


def _ce_local_text(
    out: str, args: list[str], shapes: list[Shape], opts: Opts, position: int
) -> str:
    z, y = args
    divide = "" if opts["reduction"] == "sum" else f"/{math.prod(shapes[0][1:])}"
    if position == 0:
        target = y if shapes[1] == shapes[0] else f"onehot({y})"
        return f"(softmax({z}) − {target}){divide}" if divide else f"softmax({z}) − {target}"
    if shapes[1] != shapes[0]:
        return "0 (labels)"
    return f"−log_softmax({z}){divide}"


def _bce_local_text(
    out: str, args: list[str], shapes: list[Shape], opts: Opts, position: int
) -> str:
    z, y = args
    divide = "" if opts["reduction"] == "sum" else f"/{math.prod(shapes[0])}"
    if position == 0:
        return f"(σ({z}) − {y}){divide}" if divide else f"σ({z}) − {y}"
    return f"−{z}{divide}"


# ---- images: convolution and pooling ---------------------------------------------------------
# An image is [C, H, W], a batch of images [C, H, W, B] (examples in the last axis). The windows
# of the padded image are gathered as [C, kH, kW, Ho, Wo(, B)] (the im2col form): a convolution
# is one tensor product with them, and every backward rule scatters a gradient of that shape
# back onto the image. No rule builds the dense Jacobian of an image op.

Pair = tuple[int, int]


def _image(shape: Shape) -> None:
    if len(shape) not in (3, 4):
        raise ValueError("an image [C, H, W] or a batch of images [C, H, W, B]")


def _windows_along(n: int, k: int, s: int, p: int, d: int, ceil: bool) -> int:
    """How many windows fit along an axis of ``n`` (PyTorch's rule, ``ceil_mode`` included)."""
    span = d * (k - 1) + 1
    if n + 2 * p < span:
        raise ValueError(
            f"a window of {span} positions to fit in the padded size {n + 2 * p} of an axis"
        )
    steps = n + 2 * p - span
    out = (-(-steps // s) if ceil else steps // s) + 1
    if ceil and (out - 1) * s >= n + p:  # the last window must start inside the image or its
        out -= 1  # left padding
    return out


class Windows(NamedTuple):
    """Where the windows of an image lie: kernel, stride, padding and dilation per axis."""

    size: Pair  # H, W of the image
    kernel: Pair
    stride: Pair
    padding: Pair
    dilation: Pair
    ceil: bool = False

    @property
    def out(self) -> Pair:
        h, w = (
            _windows_along(n, k, s, p, d, self.ceil)
            for n, k, s, p, d in zip(
                self.size, self.kernel, self.stride, self.padding, self.dilation, strict=True
            )
        )
        return (h, w)

    def _index(self) -> tuple[Array, Array]:
        (kh, kw), (ho, wo) = self.kernel, self.out
        (sh, sw), (dh, dw) = self.stride, self.dilation
        rows = np.arange(kh)[:, None] * dh + np.arange(ho)[None, :] * sh  # kH × Ho
        cols = np.arange(kw)[:, None] * dw + np.arange(wo)[None, :] * sw  # kW × Wo
        return rows[:, None, :, None], cols[None, :, None, :]

    def _pads(self, ndim: int) -> list[tuple[int, int]]:
        """Padding, and past it on the right what a ceil-mode window reaches beyond."""
        pads = [(0, 0)]
        for n, k, s, p, d, o in zip(
            self.size, self.kernel, self.stride, self.padding, self.dilation, self.out, strict=True
        ):
            reach = (o - 1) * s + d * (k - 1) + 1
            pads.append((p, p + max(0, reach - n - 2 * p)))
        return pads + [(0, 0)] * (ndim - 3)

    def gather(self, x: Array, fill: float) -> Array:
        """[C, H, W(, B)] → its windows [C, kH, kW, Ho, Wo(, B)], padding with ``fill``."""
        padded = np.pad(x, self._pads(x.ndim), constant_values=fill)
        rows, cols = self._index()
        return padded[:, rows, cols]

    def scatter(self, windows: Array, shape: Shape) -> Array:
        """The adjoint of ``gather``: each window entry added back where it came from."""
        pads = self._pads(len(shape))
        padded = np.zeros([n + a + b for n, (a, b) in zip(shape, pads, strict=True)])
        rows, cols = self._index()
        np.add.at(padded, (slice(None), rows, cols), windows)  # type: ignore[arg-type]
        (ph, _), (pw, _) = pads[1], pads[2]
        return padded[:, ph : ph + shape[1], pw : pw + shape[2]]


def _conv_windows(x: Shape, k: Shape, o: Opts) -> Windows:
    return Windows((x[1], x[2]), (k[2], k[3]), o["stride"], o["padding"], o["dilation"])


def _conv2d_shape(shapes: list[Shape], opts: Opts) -> Shape:
    x, k = shapes[0], shapes[1]
    _image(x)
    if len(k) != 4:
        raise ValueError("a kernel K of shape [C_out, C_in, kH, kW]")
    if k[1] != x[0]:
        raise ValueError(f"the kernel's C_in ({k[1]}) to be the image's channel count ({x[0]})")
    if len(shapes) == 3 and shapes[2] != (k[0],):
        raise ValueError(f"a bias b of shape {k[0]}, one per output channel")
    return (k[0], *_conv_windows(x, k, opts).out, *x[3:])


def _conv2d_forward(a: list[Array], o: Opts) -> Array:
    x, k = a[0], a[1]
    windows = _conv_windows(x.shape, k.shape, o).gather(x, 0.0)
    out = np.tensordot(k, windows, axes=([1, 2, 3], [0, 1, 2]))  # [C_out, Ho, Wo(, B)]
    if len(a) == 3:
        out = out + a[2].reshape((-1,) + (1,) * (out.ndim - 1))
    return out


def _conv2d_local(a: list[Array], out: Array, o: Opts) -> list[Array]:
    # ∂y/∂x is the kernel turned by 180° (met in "full" mode), ∂y/∂K is the image itself,
    # ∂y/∂b is 1: what the rules need, never a dense Jacobian.
    x, k = a[0], a[1]
    return [k[:, :, ::-1, ::-1], x, ONE][: len(a)]


def _conv_input_back(g: Array, local: Array, shape: Shape, opts: Opts) -> Array:
    # ∂J/∂x = ∂J/∂y ⋆ rot180(K), full: every window gets Σ_o K[o]·∂J/∂y[o], scattered back.
    k = local[:, :, ::-1, ::-1]
    windows = np.tensordot(k, g, axes=([0], [0]))  # [C_in, kH, kW, Ho, Wo(, B)]
    return _conv_windows(shape, k.shape, opts).scatter(windows, shape)


def _conv_kernel_back(g: Array, local: Array, shape: Shape, opts: Opts) -> Array:
    # ∂J/∂K = x ⋆ ∂J/∂y: each kernel entry meets the image entries it multiplied.
    windows = _conv_windows(local.shape, shape, opts).gather(local, 0.0)
    spatial = list(range(1, g.ndim))
    return np.tensordot(g, windows, axes=(spatial, [a + 2 for a in spatial]))


def _channel_sum(g: Array, local: Array, shape: Shape, opts: Opts) -> Array:
    # A per-channel (axis 0) param added or scaled at every other position: summed over them.
    return np.sum(g * local, axis=tuple(range(1, g.ndim))).reshape(shape)


CONV_INPUT = Chain(_conv_input_back, "{g} ⋆ {local} (full)")
CONV_KERNEL = Chain(_conv_kernel_back, "{local} ⋆ {g}")
CHANNEL_SUM = Chain(_channel_sum, "Σ_positions({g} ⊙ {local})")


def _conv2d_local_text(
    out: str, args: list[str], shapes: list[Shape], opts: Opts, position: int
) -> str:
    return [f"rot180({args[1]})", args[0], "1"][position]


def _equation_conv2d(out: str, args: list[str], shapes: list[Shape], opts: Opts) -> str:
    bias = f" + {args[2]}" if len(args) == 3 else ""
    settings = ", ".join(
        f"{name}={_pair_text(opts[name])}"
        for name, default in (("stride", (1, 1)), ("padding", (0, 0)), ("dilation", (1, 1)))
        if tuple(opts[name]) != default
    )
    return f"{out} = {args[0]} ⋆ {args[1]}{bias}" + (f", {settings}" if settings else "")


def _pair_text(pair: Pair) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"({pair[0]}, {pair[1]})"


def _pool_windows(x: Shape, o: Opts) -> Windows:
    kernel, padding = o["kernel"], o["padding"]
    if any(2 * p > k for p, k in zip(padding, kernel, strict=True)):
        raise ValueError(
            f"padding at most half the kernel (as PyTorch), but kernel is "
            f"{_pair_text(kernel)} and padding {_pair_text(padding)}"
        )
    stride = o["stride"] or kernel
    return Windows((x[1], x[2]), kernel, stride, padding, (1, 1), o["ceil_mode"])


def _pool_shape(shapes: list[Shape], opts: Opts) -> Shape:
    x = shapes[0]
    _image(x)
    return (x[0], *_pool_windows(x, opts).out, *x[3:])


def _max_pool_forward(a: list[Array], o: Opts) -> Array:
    windows = _pool_windows(a[0].shape, o).gather(a[0], -np.inf)
    return np.max(windows, axis=(1, 2))


def _max_pool_local(a: list[Array], out: Array, o: Opts) -> list[Array]:
    # Per window, 1 at its maximum: the first in row-major order on a tie, as PyTorch.
    windows = _pool_windows(a[0].shape, o).gather(a[0], -np.inf)
    c, kh, kw = windows.shape[:3]
    flat = windows.reshape(c, kh * kw, *windows.shape[3:])
    first = np.argmax(flat, axis=1)
    picks = np.arange(kh * kw).reshape((1, -1) + (1,) * (flat.ndim - 2))
    onehot = (picks == first[:, None]) * 1.0
    return [onehot.reshape(windows.shape)]


def _avg_weights(n: int, k: int, s: int, p: int, out: int, include_pad: bool) -> Array:
    """Along one axis, each window position's weight 1/divisor (k × out); 0 off the image."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, n + p)  # a ceil-mode window is cut at the padding's end
    real_start, real_end = np.maximum(start, 0), np.minimum(end, n)
    divisor = end - start if include_pad else real_end - real_start
    position = start[None, :] + np.arange(k)[:, None]
    return ((position >= 0) & (position < n)) / divisor


def _avg_pool_local(a: list[Array], out: Array, o: Opts) -> list[Array]:
    # Per window, 1/divisor at every image entry it averages (PyTorch's divisor: the window's
    # size within the padding, or only its image entries without count_include_pad).
    x = a[0]
    w = _pool_windows(x.shape, o)
    rows, cols = (
        _avg_weights(n, k, s, p, m, o["count_include_pad"])
        for n, k, s, p, m in zip(w.size, w.kernel, w.stride, w.padding, w.out, strict=True)
    )
    weights = rows[:, None, :, None] * cols[None, :, None, :]
    return [weights.reshape((1, *weights.shape) + (1,) * (x.ndim - 3))]


def _avg_pool_forward(a: list[Array], o: Opts) -> Array:
    windows = _pool_windows(a[0].shape, o).gather(a[0], 0.0)
    return np.sum(windows * _avg_pool_local(a, windows, o)[0], axis=(1, 2))


def _pool_back(g: Array, local: Array, shape: Shape, opts: Opts) -> Array:
    # Each window's gradient goes to its entries by their weights, scattered back.
    return _pool_windows(shape, opts).scatter(local * g[:, None, None], shape)


POOL = Chain(_pool_back, "scatter({local} ⊙ {g})")


def _equation_pool(name: str) -> EquationText:
    def text(out: str, args: list[str], shapes: list[Shape], opts: Opts) -> str:
        extra = ""
        if opts["stride"] is not None and tuple(opts["stride"]) != tuple(opts["kernel"]):
            extra += f", stride={_pair_text(opts['stride'])}"
        if tuple(opts["padding"]) != (0, 0):
            extra += f", padding={_pair_text(opts['padding'])}"
        if opts["ceil_mode"]:
            extra += ", ceil_mode"
        if not opts.get("count_include_pad", True):
            extra += ", padding not counted"
        return f"{out} = {name}({args[0]}, {_pair_text(opts['kernel'])}{extra})"

    return text


def _flatten_shape(shapes: list[Shape], opts: Opts) -> Shape:
    x = shapes[0]
    _image(x)
    return (x[0] * x[1] * x[2], *x[3:])


POOL_OPTIONS = {
    "kernel": Option("the window size: kH, or [kH, kW]", kind="pair", minimum=1),
    "stride": Option(
        "the step between windows (default: the kernel, as PyTorch)",
        default=None,
        kind="pair",
        minimum=1,
    ),
    "padding": Option("padding on each side, at most half the kernel", default=(0, 0), kind="pair"),
    "ceil_mode": Option(
        "count a last partial window (PyTorch's ceil_mode)", default=False, kind="bool"
    ),
}


# ---- normalisation ---------------------------------------------------------------------------
# batch_norm and layer_norm are one computation over different axes: μ and the biased variance
# σ² over the reduced axes, x̂ = (x − μ)/√(σ² + ε), then y = γ⊙x̂ + β, where γ and β run along
# the kept axes. μ, σ² and x̂ are the op's named intermediate values (``parts``), shown under the
# node. The local gradient of x is the scale s = γ/√(σ² + ε) (one number per feature for
# batch_norm), and the chain is the compact rule ∂J/∂x = ĝ − mean(ĝ) − x̂⊙mean(ĝ⊙x̂) with
# ĝ = s⊙∂J/∂y and the means over the reduced axes (s is constant over them, so batch_norm writes
# it outside: s⊙(g − mean(g) − x̂⊙mean(g⊙x̂))). Nothing N × N per group is built.


def _norm_axes(op: str, ndim: int, opts: Opts) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(the axes statistics are taken over, the axes gamma and beta run along)."""
    if op == "batch_norm":
        return tuple(range(1, ndim)), (0,)
    axes = tuple(sorted(a % ndim for a in opts["axes"]))
    return axes, axes


def _norm_param_shape(op: str, x: Shape, opts: Opts) -> Shape:
    return tuple(x[a] for a in _norm_axes(op, len(x), opts)[1])


def _along(p: Array, ndim: int, axes: tuple[int, ...], x: Shape) -> Array:
    """A param of the kept axes, reshaped to broadcast against x."""
    return p.reshape([x[a] if a in axes else 1 for a in range(ndim)])


def _norm_shape(op: str) -> Callable[[list[Shape], Opts], Shape]:
    def shape(shapes: list[Shape], opts: Opts) -> Shape:
        x = shapes[0]
        if op == "batch_norm":
            if len(x) < 2:
                raise ValueError("features × examples [F, B] or a batch of images [C, H, W, B]")
            if math.prod(x[1:]) < 2:
                raise ValueError(
                    "more than one value per feature or channel to take statistics over "
                    "(as PyTorch in training mode)"
                )
        else:
            if not x:
                raise ValueError("a tensor with axes (a scalar has none)")
            for a in opts["axes"]:
                _axis(x, a)
            if len({a % len(x) for a in opts["axes"]}) != len(opts["axes"]):
                raise ValueError("distinct axes")
        want = _norm_param_shape(op, x, opts)
        if shapes[1] != want or shapes[2] != want:
            raise ValueError(f"gamma and beta of shape {shape_text(want)}")
        return x

    return shape


def _norm_stats(op: str, x: Array, o: Opts) -> dict[str, Array]:
    """μ and σ² (x's shape without the reduced axes), and x̂ (x's shape)."""
    reduced = _norm_axes(op, x.ndim, o)[0]
    mu = np.mean(x, axis=reduced, keepdims=True)
    var = np.mean((x - mu) ** 2, axis=reduced, keepdims=True)
    xhat = (x - mu) / np.sqrt(var + o["eps"])
    return {"μ": np.squeeze(mu, reduced), "σ²": np.squeeze(var, reduced), "x̂": xhat}


def _norm_parts(op: str) -> Callable[[list[Array], Opts], tuple[Array, dict[str, Array]]]:
    def parts(a: list[Array], o: Opts) -> tuple[Array, dict[str, Array]]:
        x, gamma, beta = a
        kept = _norm_axes(op, x.ndim, o)[1]
        named = _norm_stats(op, x, o)
        scale, shift = (_along(p, x.ndim, kept, x.shape) for p in (gamma, beta))
        out = scale * named["x̂"] + shift
        return out, named

    return parts


def _norm_forward(op: str) -> Callable[[list[Array], Opts], Array]:
    parts = _norm_parts(op)

    def forward(a: list[Array], o: Opts) -> Array:
        return parts(a, o)[0]

    return forward


def _norm_named(op: str, a: list[Array], o: Opts) -> dict[str, Array]:
    """The node's μ, σ² and x̂: as the forward pass recorded them, or computed again."""
    named: dict[str, Array] | None = o.get("parts")
    return named if named is not None else _norm_stats(op, a[0], o)


def _norm_scale(op: str, x: Shape, gamma: Array, var: Array, o: Opts) -> Array:
    """s = γ/√(σ² + ε): [F] for batch_norm (γ and σ² are both per feature); for layer_norm γ
    runs along the reduced axes and σ² along the others, so s has x's shape."""
    reduced, kept = _norm_axes(op, len(x), o)
    inv = 1.0 / np.sqrt(var + o["eps"])
    if op == "batch_norm":
        return gamma * inv
    inv_b = np.expand_dims(inv, reduced)
    return _along(gamma, len(x), kept, x) * inv_b


def _norm_local(op: str) -> Callable[[list[Array], Array, Opts], list[Array]]:
    def local(a: list[Array], out: Array, o: Opts) -> list[Array]:
        named = _norm_named(op, a, o)
        return [_norm_scale(op, a[0].shape, a[1], named["σ²"], o), named["x̂"], ONE]

    return local


def _norm_input_back(op: str) -> Callable[[Array, Array, Shape, Opts], Array]:
    def back(g: Array, local: Array, shape: Shape, opts: Opts) -> Array:
        # ∂J/∂x = ĝ − mean(ĝ) − x̂⊙mean(ĝ⊙x̂), ĝ = s⊙g, means over the reduced axes.
        reduced = _norm_axes(op, len(shape), opts)[0]
        xhat = opts["parts"]["x̂"]
        scale = _along(local, len(shape), (0,), shape) if op == "batch_norm" else local
        gg = scale * g
        mean_g = np.mean(gg, axis=reduced, keepdims=True)
        mean_gx = np.mean(gg * xhat, axis=reduced, keepdims=True)
        return np.asarray(gg - mean_g - xhat * mean_gx, dtype=np.float64)

    return back


def _norm_param_back(op: str) -> Callable[[Array, Array, Shape, Opts], Array]:
    def back(g: Array, local: Array, shape: Shape, opts: Opts) -> Array:
        # γ and β act at every position of the axes they do not run along: summed over them.
        kept = _norm_axes(op, g.ndim, opts)[1]
        other = tuple(a for a in range(g.ndim) if a not in kept)
        return np.sum(g * local, axis=other).reshape(shape)

    return back


def _axes_text(axes: tuple[int, ...]) -> str:
    return str(axes[0]) if len(axes) == 1 else "(" + ", ".join(map(str, axes)) + ")"


# ĝ − mean(ĝ) − x̂⊙mean(ĝ⊙x̂), the means over the axes of μ and σ² (their rows say which): short
# terms, so that a narrow table breaks it at its "=" and loses nothing.
NORM_INPUT_TEXT = "ĝ − mean(ĝ) − x̂ ⊙ mean(ĝ ⊙ x̂), ĝ = {local} ⊙ {g}"


def _norm_chains(op: str) -> tuple[Chain, Chain, Chain]:
    where = "Σ_examples" if op == "batch_norm" else "Σ_columns"
    return (
        Chain(_norm_input_back(op), NORM_INPUT_TEXT),
        Chain(_norm_param_back(op), where + "({g} ⊙ {local})"),
        Chain(_norm_param_back(op), where + "({g} ⊙ {local})"),
    )


def _equation_norm(out: str, args: list[str], shapes: list[Shape], opts: Opts) -> str:
    x, gamma, beta = args
    return f"{out} = {gamma}⊙x̂ + {beta}, x̂ = ({x} − μ)/√(σ² + ε)"


def _norm_parts_text(op: str) -> Callable[[str, list[str], list[Shape], Opts], dict[str, str]]:
    def text(out: str, args: list[str], shapes: list[Shape], opts: Opts) -> dict[str, str]:
        x = args[0]
        over = _axes_text(_norm_axes(op, len(shapes[0]), opts)[0])
        return {
            "μ": f"μ = mean({x}, axis={over})",
            "σ²": f"σ² = mean(({x} − μ)², axis={over})",
            "x̂": f"x̂ = ({x} − μ)/√(σ² + ε), ε = {opts['eps']:g}",
        }

    return text


def _norm_scale_text(
    out: str, args: list[str], shapes: list[Shape], opts: Opts, position: int
) -> str:
    return [f"{args[1]}/√(σ² + ε)", "x̂", "1"][position]


EPS_OPTION = Option("ε, added to the variance inside the square root", default=1e-5, minimum=0.0)


# ---- sequences, masks, embeddings, dropout ---------------------------------------------------


def _select_shape(shapes: list[Shape], opts: Opts) -> Shape:
    x = shapes[0]
    axis = _axis(x, opts["axis"])
    assert axis is not None  # select's axis is required and never None
    if not -x[axis] <= opts["index"] < x[axis]:
        raise ValueError(
            f"an index from {-x[axis]} to {x[axis] - 1} along axis {opts['axis']}, "
            f"but index is {opts['index']}"
        )
    return x[:axis] + x[axis + 1 :]


def _select_back(g: Array, local: Array, shape: Shape, opts: Opts) -> Array:
    # The gradient goes to the selected position; every other position gets 0.
    axis = opts["axis"] % len(shape)
    out = np.zeros(shape)
    index = [slice(None)] * len(shape)
    index[axis] = opts["index"]
    out[tuple(index)] = g
    return out


SELECT_BACK = Chain(_select_back, "{local}·{g}")


def _mask_shape(shapes: list[Shape], opts: Opts) -> Shape:
    if len(shapes[0]) not in (2, 3):
        raise ValueError("scores S [T_query, T_key], or [T_query, T_key, B]")
    return shapes[0]


def _causal(shape: Shape) -> Array:
    """1 where the key (column) does not come after the query (row)."""
    t_query, t_key = shape[:2]
    keep = np.arange(t_key)[None, :] <= np.arange(t_query)[:, None]
    return keep.reshape(keep.shape + (1,) * (len(shape) - 2))


def _embedding_shape(shapes: list[Shape], opts: Opts) -> Shape:
    table, ids = shapes
    if len(table) != 2:
        raise ValueError("an embedding table E of shape [V, D] (one row per id)")
    if len(ids) not in (1, 2):
        raise ValueError("integer ids [T] or [T, B]")
    return (table[1], *ids)


def _ids(ids: Array, vocabulary: int) -> Array:
    index = np.rint(ids).astype(np.int64)
    bad = (index != ids) | (index < 0) | (index >= vocabulary)
    if bad.any():
        at = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"integer ids from 0 to {vocabulary - 1} (a row of E), found "
            f"{float(ids[at]):g} at [{', '.join(map(str, at))}]"
        )
    return index


def _embedding_forward(a: list[Array], o: Opts) -> Array:
    table, ids = a
    return np.moveaxis(table[_ids(ids, table.shape[0])], -1, 0)  # one column per id


def _embedding_back(g: Array, local: Array, shape: Shape, opts: Opts) -> Array:
    # Row v of ∂J/∂E: the sum of the columns of ∂J/∂y whose id is v (repeated ids add up).
    out = np.zeros(shape)
    np.add.at(out, local.astype(np.int64), np.moveaxis(g, 0, -1))
    return out


EMBEDDING = Chain(_embedding_back, "Σ_same_id({g})")
NO_GRADIENT = Chain(lambda g, local, shape, opts: np.zeros(shape), "0")


def _dropout_scale(shape: Shape, o: Opts) -> Array:
    """mask/(1 − p): 0 where dropped, 1/(1 − p) where kept, drawn from (seed, step)."""
    p = o["p"]
    if p >= 1.0:
        return np.zeros(shape)
    draw = np.random.default_rng([o["seed"], o.get("step", 1)]).random(shape)
    return (draw >= p) / (1.0 - p)


REDUCTION = Option(
    "sum or mean over the examples", default="mean", kind="choice", choices=("mean", "sum")
)
AXIS_ALL = Option("the axis to reduce, or null for all elements", default=None, kind="axis")
AXIS_ROWS = Option(
    "the axis along which the values sum to 1 (0: down each column, one example per column)",
    default=0,
    kind="axis",
)


OPS: dict[str, Op] = {
    op.name: op
    for op in [
        # ---- arithmetic ---------------------------------------------------------------------
        Op(
            name="add",
            summary="a + b, broadcasting (a vector is a column; a bias is summed back)",
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
            name="neg",
            summary="−a",
            arity=1,
            equation="{out} = −{0}",
            forward=lambda a, o: -a[0],
            local=lambda a, out, o: [MINUS_ONE],
            local_text=("−1",),
            shape=_unary,
            explain=("negate",),
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
            name="div",
            summary="a / b, elementwise, broadcasting",
            arity=2,
            equation="{out} = {0}/{1}",
            forward=lambda a, o: a[0] / a[1],
            local=lambda a, out, o: [1.0 / a[1], -a[0] / (a[1] * a[1])],
            local_text=("1/{1}", "−{0}/{1}²"),
            shape=_broadcast,
            explain=("slope",),
        ),
        Op(
            name="pow",
            summary="a^p for a constant exponent p (option exponent)",
            arity=1,
            equation=lambda out, args, shapes, o: f"{out} = {args[0]}^{_num(o['exponent'])}",
            forward=lambda a, o: np.power(a[0], o["exponent"]),
            local=lambda a, out, o: [o["exponent"] * np.power(a[0], o["exponent"] - 1.0)],
            local_text=(_pow_local_text,),
            shape=_unary,
            options={"exponent": Option("the constant exponent p")},
            explain=("slope",),
        ),
        Op(
            name="matmul",
            summary="A·B, matrix product (a vector on the right is a column)",
            arity=2,
            equation="{out} = {0}·{1}",
            forward=lambda a, o: a[0] @ a[1],
            local=lambda a, out, o: [
                a[1].reshape(_as_matrices(a[0].shape, a[1].shape)[1]).T,
                a[0].reshape(_as_matrices(a[0].shape, a[1].shape)[0]).T,
            ],
            local_text=("{1}ᵀ", "{0}ᵀ"),
            shape=_matmul_shape,
            chain=(MATMUL_LEFT, MATMUL_RIGHT),
            explain=("matmul",),
        ),
        # ---- elementwise functions ---------------------------------------------------------
        Op(
            name="exp",
            summary="e^a, elementwise",
            arity=1,
            equation="{out} = exp({0})",
            forward=lambda a, o: np.exp(a[0]),
            local=lambda a, out, o: [out],
            local_text=("exp({0})",),
            shape=_unary,
            explain=("slope",),
        ),
        Op(
            name="log",
            summary="ln a, elementwise (a > 0)",
            arity=1,
            equation="{out} = log({0})",
            forward=lambda a, o: np.log(a[0]),
            local=lambda a, out, o: [1.0 / a[0]],
            local_text=("1/{0}",),
            shape=_unary,
            explain=("slope",),
        ),
        Op(
            name="abs",
            summary="|a|, elementwise",
            arity=1,
            equation="{out} = |{0}|",
            forward=lambda a, o: np.abs(a[0]),
            local=lambda a, out, o: [np.sign(a[0])],
            local_text=("sign({0})",),
            shape=_unary,
            kink="at a = 0 the local gradient is sign(0) = 0",
            explain=("slope",),
        ),
        Op(
            name="sin",
            summary="sin a, elementwise (radians)",
            arity=1,
            equation="{out} = sin({0})",
            forward=lambda a, o: np.sin(a[0]),
            local=lambda a, out, o: [np.cos(a[0])],
            local_text=("cos({0})",),
            shape=_unary,
            explain=("slope",),
        ),
        Op(
            name="cos",
            summary="cos a, elementwise (radians)",
            arity=1,
            equation="{out} = cos({0})",
            forward=lambda a, o: np.cos(a[0]),
            local=lambda a, out, o: [-np.sin(a[0])],
            local_text=("−sin({0})",),
            shape=_unary,
            explain=("slope",),
        ),
        Op(
            name="sqrt",
            summary="√a, elementwise (a ≥ 0; the gradient is infinite at 0)",
            arity=1,
            equation="{out} = √{0}",
            forward=lambda a, o: np.sqrt(a[0]),
            local=lambda a, out, o: [0.5 / out],
            local_text=("1/(2√{0})",),
            shape=_unary,
            explain=("slope",),
        ),
        Op(
            name="maximum",
            summary="the larger of a and b, elementwise, broadcasting",
            arity=2,
            equation="{out} = maximum({0}, {1})",
            forward=lambda a, o: np.maximum(a[0], a[1]),
            local=lambda a, out, o: _pick_local(a, out, o, larger=True),
            local_text=("1[{0} > {1}] + ½·1[{0} = {1}]", "1[{1} > {0}] + ½·1[{0} = {1}]"),
            shape=_broadcast,
            kink="at a tie the gradient is split equally (½ each), as max shares among ties",
            explain=("pick",),
        ),
        Op(
            name="minimum",
            summary="the smaller of a and b, elementwise, broadcasting",
            arity=2,
            equation="{out} = minimum({0}, {1})",
            forward=lambda a, o: np.minimum(a[0], a[1]),
            local=lambda a, out, o: _pick_local(a, out, o, larger=False),
            local_text=("1[{0} < {1}] + ½·1[{0} = {1}]", "1[{1} < {0}] + ½·1[{0} = {1}]"),
            shape=_broadcast,
            kink="at a tie the gradient is split equally (½ each), as max shares among ties",
            explain=("pick",),
        ),
        Op(
            name="clip",
            summary="a limited to [min, max], elementwise (options min, max; one may be left out)",
            arity=1,
            equation=_equation_clip,
            forward=_clip_forward,
            local=_clip_local,
            local_text=(_clip_local_text,),
            shape=_clip_shape,
            options={
                "min": Option("the lower bound (none if left out)", default=None),
                "max": Option("the upper bound (none if left out)", default=None),
            },
            kink="at a = min or a = max the local gradient is 1 (the bound is inside, as "
            "torch.clamp)",
            explain=("slope",),
        ),
        # ---- gradient control --------------------------------------------------------------
        Op(
            name="stop_gradient",
            summary="a unchanged; the backward pass passes nothing back (a constant to J)",
            arity=1,
            equation="{out} = stop_gradient({0})",
            forward=lambda a, o: a[0],
            local=lambda a, out, o: [ZERO],
            local_text=("0 (gradient stopped)",),
            shape=_unary,
            stops_gradient=True,
            explain=("stop",),
        ),
        # ---- activations -------------------------------------------------------------------
        Op(
            name="relu",
            summary="max(z, 0), elementwise",
            arity=1,
            equation="{out} = relu({0})",
            forward=lambda a, o: np.maximum(a[0], 0.0),
            local=lambda a, out, o: [(a[0] > 0).astype(np.float64)],
            local_text=("1[{0} > 0]",),
            shape=_unary,
            kink="at z = 0 the local gradient is 0 (the subgradient PyTorch and JAX use too)",
            explain=("relu",),
        ),
        Op(
            name="leaky_relu",
            summary="z for z > 0, α·z otherwise (option alpha, default 0.01)",
            arity=1,
            equation=lambda out, args, shapes, o: (
                f"{out} = leaky_relu({args[0]}), α = {o['alpha']:g}"
            ),
            forward=lambda a, o: np.where(a[0] > 0, a[0], o["alpha"] * a[0]),
            local=lambda a, out, o: [np.where(a[0] > 0, 1.0, o["alpha"])],
            local_text=("1[{0} > 0] + α·1[{0} ≤ 0]",),
            shape=_unary,
            options={"alpha": Option("the slope α for z ≤ 0", default=0.01)},
            kink="at z = 0 the local gradient is α",
            explain=("slope",),
        ),
        Op(
            name="elu",
            summary="z for z > 0, α(e^z − 1) otherwise (option alpha, default 1)",
            arity=1,
            equation=lambda out, args, shapes, o: f"{out} = elu({args[0]}), α = {o['alpha']:g}",
            forward=lambda a, o: np.where(
                a[0] > 0, a[0], o["alpha"] * np.expm1(np.minimum(a[0], 0.0))
            ),
            local=lambda a, out, o: [np.where(a[0] > 0, 1.0, out + o["alpha"])],
            local_text=("1[{0} > 0] + ({out} + α)·1[{0} ≤ 0]",),
            shape=_unary,
            options={"alpha": Option("the scale α of the negative part", default=1.0)},
            kink="at z = 0 the local gradient is α (1 for the default α = 1: no kink)",
            explain=("slope",),
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
        Op(
            name="softplus",
            summary="log(1 + e^z), elementwise, stable for large |z|",
            arity=1,
            equation="{out} = softplus({0})",
            forward=lambda a, o: np.logaddexp(0.0, a[0]),
            local=lambda a, out, o: [_stable_sigmoid(a[0])],
            local_text=("σ({0})",),
            shape=_unary,
            explain=("slope",),
        ),
        Op(
            name="gelu",
            summary="½z(1 + tanh(√(2/π)(z + 0.044715z³))), the tanh form",
            arity=1,
            equation="{out} = gelu({0})",
            forward=lambda a, o: _gelu(a[0]),
            local=lambda a, out, o: [_gelu_local(a[0])],
            local_text=(
                "½(1 + t) + ½{0}(1 − t²)·√(2/π)(1 + 0.134145{0}²), "
                "t = tanh(√(2/π)({0} + 0.044715{0}³))",
            ),
            shape=_unary,
            explain=("slope",),
        ),
        Op(
            name="softmax",
            summary="e^z / Σe^z along an axis (option axis, default 0: each column), "
            "computed with the max subtracted",
            arity=1,
            equation=lambda out, args, shapes, o: f"{out} = softmax({args[0]}, axis={o['axis']})",
            forward=lambda a, o: _softmax(a[0], o["axis"]),
            local=lambda a, out, o: [_softmax_jacobian(out, o["axis"])],
            local_text=("diag({out}) − {out}·{out}ᵀ",),
            shape=_along_axis_shape,
            chain=(JACOBIAN,),
            options={"axis": AXIS_ROWS},
            explain=("jacobian",),
        ),
        Op(
            name="log_softmax",
            summary="z − log Σe^z along an axis (option axis, default 0), via log-sum-exp",
            arity=1,
            equation=lambda out, args, shapes, o: (
                f"{out} = log_softmax({args[0]}, axis={o['axis']})"
            ),
            forward=lambda a, o: a[0] - _logsumexp(a[0], o["axis"]),
            local=lambda a, out, o: [_log_softmax_jacobian(a[0], o["axis"])],
            local_text=("I − 1·softmax({0})ᵀ",),
            shape=_along_axis_shape,
            chain=(JACOBIAN,),
            options={"axis": AXIS_ROWS},
            explain=("jacobian",),
        ),
        # ---- shape ------------------------------------------------------------------------
        Op(
            name="transpose",
            summary="Aᵀ (a vector or scalar is unchanged)",
            arity=1,
            equation="{out} = {0}ᵀ",
            forward=lambda a, o: np.transpose(a[0]),
            local=lambda a, out, o: [ONE],
            local_text=("transpose back",),
            shape=_transpose_shape,
            chain=(TRANSPOSE_BACK,),
            explain=("rearrange",),
        ),
        Op(
            name="reshape",
            summary="the same elements in a new shape (option shape; one entry may be -1)",
            arity=1,
            equation=lambda out, args, shapes, o: (
                f"{out} = reshape({args[0]}, {shape_text(_reshape_shape(shapes, o))})"
            ),
            forward=lambda a, o: np.reshape(a[0], o["shape"]),
            local=lambda a, out, o: [ONE],
            local_text=("reshape back",),
            shape=_reshape_shape,
            chain=(RESHAPE_BACK,),
            options={"shape": Option("the new shape", kind="shape")},
            explain=("rearrange",),
        ),
        Op(
            name="concat",
            summary="inputs joined along an axis (option axis, default 0: stack rows)",
            arity=None,
            equation=lambda out, args, shapes, o: (
                f"{out} = concat({', '.join(args)}, axis={o['axis']})"
            ),
            forward=lambda a, o: np.concatenate(a, axis=o["axis"]),
            local=lambda a, out, o: _selection([x.shape for x in a], o["axis"] % a[0].ndim),
            local_text=(_concat_local_text,),
            shape=_concat_shape,
            chain=(SELECT,),
            options={"axis": Option("the axis to join along", default=0, kind="axis")},
            explain=("rearrange",),
        ),
        # ---- reductions --------------------------------------------------------------------
        Op(
            name="sum",
            summary="Σ of all elements, or along an axis (option axis)",
            arity=1,
            equation=lambda out, args, shapes, o: (
                f"{out} = Σ {args[0]}"
                if o["axis"] is None
                else f"{out} = Σ({args[0]}, axis={o['axis']})"
            ),
            forward=lambda a, o: np.sum(a[0], axis=o["axis"]),
            local=lambda a, out, o: [ONE],
            local_text=("1",),
            shape=_reduce_shape,
            chain=(REDUCE,),
            options={"axis": AXIS_ALL},
            explain=("sum",),
        ),
        Op(
            name="mean",
            summary="mean of all elements, or along an axis (option axis)",
            arity=1,
            equation=_equation_reduce("mean"),
            forward=lambda a, o: _mean(a[0], o["axis"]),
            local=lambda a, out, o: [
                np.float64(1.0 / (a[0].size if o["axis"] is None else a[0].shape[o["axis"]]))
            ],
            local_text=(_mean_local_text,),
            shape=_reduce_shape,
            chain=(REDUCE,),
            options={"axis": AXIS_ALL},
            explain=("mean",),
        ),
        Op(
            name="max",
            summary="the largest element, or the largest along an axis (option axis)",
            arity=1,
            equation=_equation_reduce("max"),
            forward=lambda a, o: np.max(a[0], axis=o["axis"]),
            local=_max_local,
            local_text=("1[{0} = max]/#ties",),
            shape=_reduce_shape,
            chain=(REDUCE,),
            options={"axis": AXIS_ALL},
            kink="ties share the gradient equally (as torch.amax does); one maximum takes it all",
            explain=("max",),
        ),
        # ---- images ------------------------------------------------------------------------
        Op(
            name="conv2d",
            summary="y = x ⋆ K (+ b): 2-D cross-correlation, exactly PyTorch's Conv2d; x [C_in, "
            "H, W(, B)], K [C_out, C_in, kH, kW], b [C_out] (options stride, padding, dilation)",
            arity=3,
            optional=1,
            equation=_equation_conv2d,
            forward=_conv2d_forward,
            local=_conv2d_local,
            local_text=(_conv2d_local_text,),
            shape=_conv2d_shape,
            chain=(CONV_INPUT, CONV_KERNEL, CHANNEL_SUM),
            inputs=("x", "K", "b"),
            options={
                "stride": Option(
                    "the step between windows: s, or [sh, sw]",
                    default=(1, 1),
                    kind="pair",
                    minimum=1,
                ),
                "padding": Option(
                    "zeros added on each side: p, or [ph, pw]", default=(0, 0), kind="pair"
                ),
                "dilation": Option(
                    "the spacing of kernel entries: d, or [dh, dw]",
                    default=(1, 1),
                    kind="pair",
                    minimum=1,
                ),
            },
            explain=("conv", "conv", "bias"),
        ),
        Op(
            name="max_pool2d",
            summary="the largest entry of each window, exactly PyTorch's max_pool2d (padding "
            "−∞; options kernel, stride, padding, ceil_mode)",
            arity=1,
            equation=_equation_pool("max_pool2d"),
            forward=_max_pool_forward,
            local=_max_pool_local,
            local_text=("1[window arg-max]",),
            shape=_pool_shape,
            chain=(POOL,),
            options=POOL_OPTIONS,
            kink="on a tie the first maximum of the window in row-major order takes the whole "
            "gradient, as PyTorch",
            explain=("pool_max",),
            inputs=("x",),
        ),
        Op(
            name="avg_pool2d",
            summary="the mean of each window, exactly PyTorch's avg_pool2d (padding 0; options "
            "kernel, stride, padding, ceil_mode, count_include_pad)",
            arity=1,
            equation=_equation_pool("avg_pool2d"),
            forward=_avg_pool_forward,
            local=_avg_pool_local,
            local_text=("1/window size",),
            shape=_pool_shape,
            chain=(POOL,),
            options={
                **POOL_OPTIONS,
                "count_include_pad": Option(
                    "divide by the whole window, padding included (PyTorch's default)",
                    default=True,
                    kind="bool",
                ),
            },
            explain=("pool_avg",),
            inputs=("x",),
        ),
        Op(
            name="flatten",
            summary="[C, H, W(, B)] → [C·H·W(, B)], in C order as torch.flatten(x, 1)",
            arity=1,
            equation="{out} = flatten({0})",
            forward=lambda a, o: a[0].reshape(math.prod(a[0].shape[:3]), *a[0].shape[3:]),
            local=lambda a, out, o: [ONE],
            local_text=("reshape back",),
            shape=_flatten_shape,
            chain=(RESHAPE_BACK,),
            explain=("rearrange",),
            inputs=("x",),
        ),
        # ---- normalisation -----------------------------------------------------------------
        Op(
            name="batch_norm",
            summary="γ⊙(x − μ)/√(σ² + ε) + β with μ, σ² (biased) of each index of axis 0 over all "
            "other axes: PyTorch's training-mode batch_norm; γ, β [F] or [C] (option eps)",
            arity=3,
            equation=_equation_norm,
            forward=_norm_forward("batch_norm"),
            local=_norm_local("batch_norm"),
            local_text=(_norm_scale_text,),
            shape=_norm_shape("batch_norm"),
            chain=_norm_chains("batch_norm"),
            parts=_norm_parts("batch_norm"),
            parts_text=_norm_parts_text("batch_norm"),
            inputs=("x", "γ", "β"),
            options={"eps": EPS_OPTION},
            explain=("norm", "scale", "bias"),
        ),
        Op(
            name="layer_norm",
            summary="γ⊙(x − μ)/√(σ² + ε) + β with μ, σ² (biased) over the axes in option axes "
            "(default [0]: each column over its features), as PyTorch's layer_norm",
            arity=3,
            equation=_equation_norm,
            forward=_norm_forward("layer_norm"),
            local=_norm_local("layer_norm"),
            local_text=(_norm_scale_text,),
            shape=_norm_shape("layer_norm"),
            chain=_norm_chains("layer_norm"),
            parts=_norm_parts("layer_norm"),
            parts_text=_norm_parts_text("layer_norm"),
            inputs=("x", "γ", "β"),
            options={
                "axes": Option(
                    "the axes to normalise over; gamma and beta have their shape",
                    default=(0,),
                    kind="axes",
                ),
                "eps": EPS_OPTION,
            },
            explain=("norm", "scale", "bias"),
        ),
        # ---- sequences, attention, embeddings ----------------------------------------------
        Op(
            name="select",
            summary="one position along an axis, that axis removed, as torch.select (options "
            "axis, index)",
            arity=1,
            equation=lambda out, args, shapes, o: (
                f"{out} = select({args[0]}, axis={o['axis']}, index={o['index']})"
            ),
            forward=lambda a, o: np.take(a[0], o["index"], axis=o["axis"]),
            local=lambda a, out, o: [ONE],
            local_text=("1[i = {index}]",),
            shape=_select_shape,
            chain=(SELECT_BACK,),
            options={
                "axis": Option("the axis to pick along", kind="int"),
                "index": Option("the position to pick (negative counts from the end)", kind="int"),
            },
            explain=("rearrange",),
            inputs=("x",),
        ),
        Op(
            name="causal_mask",
            summary="scores S [T_query, T_key] with −∞ where the key comes after the query "
            "(column > row); the softmax after it gives those 0 weight",
            arity=1,
            equation="{out} = causal_mask({0})",
            forward=lambda a, o: np.where(_causal(a[0].shape), a[0], -np.inf),
            local=lambda a, out, o: [_causal(a[0].shape) * 1.0],
            local_text=("1[key ≤ query]",),
            shape=_mask_shape,
            masks=lambda shape: np.broadcast_to(~_causal(shape), shape),
            inputs=("S",),
            explain=("mask",),
        ),
        Op(
            name="embedding",
            summary="E's rows for integer ids, one column each: E [V, D], ids [T] or [T, B] → "
            "[D, T] or [D, T, B]; ids are labels and get no gradient",
            arity=2,
            equation="{out} = {0}[{1}]ᵀ",
            forward=_embedding_forward,
            local=lambda a, out, o: [_ids(a[1], a[0].shape[0]) * 1.0, ZERO],
            local_text=("{1}", "0 (ids)"),
            shape=_embedding_shape,
            chain=(EMBEDDING, NO_GRADIENT),
            inputs=("E", "ids"),
            explain=("embedding", "ids"),
        ),
        Op(
            name="dropout",
            summary="x ⊙ mask/(1 − p): each entry kept with probability 1 − p, the mask drawn "
            "per step from the seed (options p, seed)",
            arity=1,
            equation=lambda out, args, shapes, o: (
                f"{out} = dropout({args[0]}, p={o['p']:g}, seed={o['seed']})"
            ),
            forward=lambda a, o: a[0] * _dropout_scale(a[0].shape, o),
            local=lambda a, out, o: [_dropout_scale(a[0].shape, o)],
            local_text=("mask/(1 − p)",),
            shape=_unary,
            options={
                "p": Option(
                    "the probability of dropping an entry", default=0.5, minimum=0.0, maximum=1.0
                ),
                "seed": Option(
                    "the seed the masks are drawn from", default=0, kind="int", minimum=0
                ),
            },
            stochastic=True,
            explain=("dropout",),
            inputs=("x",),
        ),
        # ---- losses and regularisers -------------------------------------------------------
        Op(
            name="half_squared_error",
            summary="½·Σ(ŷ − y)², the document's loss (sum reduction)",
            arity=2,
            equation="{out} = ½‖{0} − {1}‖²",
            # ½ inside the sum (exact: a power of 2) keeps Σ from overflowing needlessly.
            forward=lambda a, o: np.sum(0.5 * (a[0] - a[1]) ** 2),
            local=lambda a, out, o: [a[0] - a[1], a[1] - a[0]],
            local_text=("{0} − {1}", "{1} − {0}"),
            shape=_same_to_scalar,
            loss=True,
            explain=("error", "target"),
            inputs=("ŷ", "y"),
        ),
        Op(
            name="mse",
            summary="mean of (ŷ − y)² over all elements (mean reduction)",
            arity=2,
            equation="{out} = mean(({0} − {1})²)",
            forward=lambda a, o: np.mean((a[0] - a[1]) ** 2),
            local=lambda a, out, o: [
                2.0 * (a[0] - a[1]) / a[0].size,
                2.0 * (a[1] - a[0]) / a[0].size,
            ],
            local_text=("2({0} − {1})/{n}", "2({1} − {0})/{n}"),
            shape=_same_to_scalar,
            loss=True,
            explain=("error", "target"),
            inputs=("ŷ", "y"),
        ),
        Op(
            name="softmax_cross_entropy",
            summary="−Σ onehot(y)·log_softmax(z) over classes (axis 0), averaged over examples "
            "(every other axis: [C, B], [C, T, B], …; option reduction: mean or sum); y integer "
            "labels or one-hot/probabilities",
            arity=2,
            equation=_equation_loss("−Σ_classes {1}·log_softmax({0})"),
            forward=_ce_forward,
            local=_ce_local,
            local_text=(_ce_local_text,),
            shape=_cross_entropy_shape,
            options={"reduction": REDUCTION},
            loss=True,
            explain=("cross_entropy", "target"),
            inputs=("z", "y"),
        ),
        Op(
            name="binary_cross_entropy",
            summary="−[y·log σ(z) + (1 − y)·log(1 − σ(z))] from logits z, stable; averaged "
            "(option reduction: mean or sum)",
            arity=2,
            equation=_equation_loss("max({0}, 0) − {0}·{1} + log(1 + e^−|{0}|)"),
            forward=_bce_forward,
            local=_bce_local,
            local_text=(_bce_local_text,),
            shape=_same_to_scalar,
            options={"reduction": REDUCTION},
            loss=True,
            explain=("cross_entropy", "target"),
            inputs=("z", "y"),
        ),
        Op(
            name="l2",
            summary="λ/2·Σ‖Wᵢ‖²_F, ℓ2 regularisation of one or more tensors",
            arity=None,
            equation=_equation_norms("λ/2·", "‖{}‖²", "lambda"),
            forward=lambda a, o: 0.5 * o["lambda"] * sum(np.sum(w * w) for w in a),
            local=lambda a, out, o: [o["lambda"] * w for w in a],
            local_text=("λ{self}",),
            shape=_scalar,
            options={"lambda": Option("the regularisation strength λ", minimum=0.0)},
            loss=True,
            explain=("l2",),
        ),
        Op(
            name="l1",
            summary="λ·Σ|Wᵢ|, ℓ1 regularisation of one or more tensors",
            arity=None,
            equation=_equation_norms("λ·", "‖{}‖₁", "lambda"),
            forward=lambda a, o: o["lambda"] * sum(np.sum(np.abs(w)) for w in a),
            local=lambda a, out, o: [o["lambda"] * np.sign(w) for w in a],
            local_text=("λ·sign({self})",),
            shape=_scalar,
            options={"lambda": Option("the regularisation strength λ", minimum=0.0)},
            kink="at Wᵢ = 0 the local gradient is λ·sign(0) = 0",
            loss=True,
            explain=("l1",),
        ),
    ]
}


def intended_nonfinite(op: Op, value: Array) -> Array | None:
    """Where ``value``, the output of ``op``, is −∞ by design (the masked entries of an op that
    masks); None for every other op. NaN, +∞ and a −∞ anywhere else are never intended."""
    if op.masks is None:
        return None
    return np.isneginf(value) & op.masks(np.shape(value))


def run_forward(op: Op, args: list[Array], options: dict[str, Any]) -> Array:
    if op.broadcasts:
        args = as_columns(args)
    return np.asarray(op.forward(args, options), dtype=np.float64)


def with_parts(op: Op, args: list[Array], options: dict[str, Any]) -> dict[str, Any]:
    """The options an op's local gradients and chains run with: an op with named intermediate
    values gets them as ``parts`` (computed here unless the forward pass's are given)."""
    if op.parts is None or "parts" in options:
        return options
    return {**options, "parts": op.parts(args, options)[1]}


def run_local(op: Op, args: list[Array], out: Array, options: dict[str, Any]) -> list[Array]:
    """Each input's local gradient; for a vector that met a matrix, in its column form (the
    chain's ``fit_to_shape`` brings the gradient back to the vector)."""
    if op.broadcasts:
        args = as_columns(args)
    return [np.asarray(v, dtype=np.float64) for v in op.local(args, out, options)]


def equation_text(
    op: Op, out: str, args: list[str], shapes: list[Shape], options: dict[str, Any]
) -> str:
    if callable(op.equation):
        return op.equation(out, args, shapes, options)
    return op.equation.format(*args, out=out, **options)


def local_text(
    op: Op,
    position: int,
    out: str,
    args: list[str],
    shapes: list[Shape],
    options: dict[str, Any] | None = None,
) -> str:
    options = options or {}
    template = op.local_text_for(position)
    if callable(template):
        return template(out, args, shapes, options, position)
    n = math.prod(shapes[0]) if shapes else 1
    return template.format(*args, out=out, self=args[position], n=n, **options)
