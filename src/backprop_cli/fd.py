"""Central finite differences of the objective, as an independent check of traced gradients.

For a data or param tensor the tensor itself is nudged; for an intermediate node its computed
value is replaced (``Tracer.forward(override=...)``) so that only what lies downstream of it is
recomputed. The output of an op that stops the gradient (``stop_gradient``) is a constant to
everything upstream of it, so it is held at its value while the inputs are nudged.
"""

from __future__ import annotations

import numpy as np

from .engine import Tracer


def numeric_grad(
    tracer: Tracer, values: dict[str, np.ndarray], name: str, eps: float = 1e-6
) -> np.ndarray:
    """∂J/∂name by central differences around ``values`` (a forward pass's values)."""
    leaves = {n: values[n] for n in tracer.graph.tensors}
    base = np.array(values[name], dtype=np.float64)
    grad = np.zeros_like(base)
    is_leaf = name in leaves
    held = {
        n.name: values[n.name] for n in tracer.graph.nodes if n.op.stops_gradient and n.name != name
    }
    for index in np.ndindex(base.shape):
        results = []
        for sign in (1.0, -1.0):
            nudged = base.copy()
            nudged[index] += sign * eps
            if is_leaf:
                out = tracer.forward({**leaves, name: nudged}, override=held or None)
            else:
                out = tracer.forward(leaves, override={**held, name: nudged})
            results.append(tracer.objective_value(out))
        grad[index] = (results[0] - results[1]) / (2.0 * eps)
    return grad
