"""Central finite differences of the objective, as an independent check of traced gradients.

For a data or param tensor the tensor itself is nudged; for an intermediate node its computed
value is replaced (``Tracer.forward(override=...)``) so that only what lies downstream of it is
recomputed. The output of an op that stops the gradient (``stop_gradient``) is a constant to
everything upstream of it, so it is held at its value while the inputs are nudged.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .engine import Tracer

# One-sided slopes that differ by more than this (relative to the slopes, beyond rounding)
# mean the element sits at a kink: relu, abs, max, clip, leaky_relu at 0, ties of
# maximum/minimum. A smooth function's one-sided slopes differ by about its curvature × eps.
KINK_TOLERANCE = 1e-3


def numeric_grad(
    tracer: Tracer, values: dict[str, np.ndarray], name: str, eps: float = 1e-6
) -> np.ndarray:
    """∂J/∂name by central differences around ``values`` (a forward pass's values)."""
    return numeric_grad_and_kinks(tracer, values, name, eps)[0]


def numeric_grad_and_kinks(
    tracer: Tracer,
    values: dict[str, np.ndarray],
    name: str,
    eps: float = 1e-6,
    indices: np.ndarray | None = None,
    done: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """∂J/∂name by central differences, and where J has a kink along an element: there the
    slopes to the right and to the left differ, and no difference quotient is the derivative.

    With ``indices`` (flat indices into the tensor) only those elements are differenced and
    both arrays are flat, one entry per index; ``done(1)`` is called after each element.
    """
    leaves = {n: values[n] for n in tracer.graph.tensors}
    base = np.array(values[name], dtype=np.float64)
    flat_base = base.reshape(-1)
    wanted = np.arange(base.size) if indices is None else np.asarray(indices, dtype=np.intp)
    grad = np.zeros(wanted.shape, dtype=np.float64)
    kinks = np.zeros(wanted.shape, dtype=bool)
    held = {
        n.name: values[n.name] for n in tracer.graph.nodes if n.op.stops_gradient and n.name != name
    }
    is_leaf = name in leaves
    f0 = tracer.objective_value(values)
    rounding = 1e-13 * abs(f0) / eps  # what float64 rounding of J alone can make of a slope
    # One copy, nudged and restored element by element: a copy per element would make a
    # tensor of n elements cost n² (J is read before the element is restored).
    nudged = base.copy()
    flat = nudged.reshape(-1)
    for k, i in enumerate(wanted):
        results = []
        for sign in (1.0, -1.0):
            flat[i] = flat_base[i] + sign * eps
            if is_leaf:
                out = tracer.forward({**leaves, name: nudged}, override=held or None)
            else:
                out = tracer.forward(leaves, override={**held, name: nudged})
            results.append(tracer.objective_value(out))
        flat[i] = flat_base[i]
        grad[k] = (results[0] - results[1]) / (2.0 * eps)
        right, left = (results[0] - f0) / eps, (f0 - results[1]) / eps
        scale = max(1.0, abs(right), abs(left))
        kinks[k] = abs(right - left) > KINK_TOLERANCE * scale + rounding
        if done is not None:
            done(1)
    if indices is None:
        return grad.reshape(base.shape), kinks.reshape(base.shape)
    return grad, kinks
