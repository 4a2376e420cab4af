"""How much memory a run needs, estimated from the shapes before any math runs (--max-memory).

One traced step holds, for every node, its value and its gradient, and for every edge the
local gradient (a Jacobian for softmax, a selection matrix for concat, the other operand for
matmul) and the product it is multiplied into before a broadcast is summed away; for every param the
update record and the optimiser's state. A config whose estimate exceeds the limit is refused
with the node that needs the most, so that a typo in a shape is an error, not a machine brought
to a halt.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .limits import DEFAULT_MAX_MEMORY

FLOAT = 8  # bytes of a float64
# Arrays an optimiser keeps per param in an update record: before, grad, after and its state.
UPDATE_ARRAYS = {"sgd": 3, "adam": 7, "adamw": 7, "rmsprop": 4}
UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1000,
    "kib": 1024,
    "m": 1024**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gb": 1000**3,
    "gib": 1024**3,
    "t": 1024**4,
    "tb": 1000**4,
    "tib": 1024**4,
}


def parse_size(text: str) -> int:
    """``2GiB``, ``512M``, ``1.5 GB`` or a number of bytes; ``ValueError`` says why not."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", text)
    unit = match.group(2).lower() if match else ""
    if not match or unit not in UNITS:
        raise ValueError(f"expected a size such as 2GiB, 512MiB or 1000000 (bytes), found {text!r}")
    size = float(match.group(1)) * UNITS[unit]
    if not math.isfinite(size) or size < 1:
        raise ValueError(f"expected a size of at least 1 byte, found {text!r}")
    return int(size)


def size_text(n: float) -> str:
    """``74.5 GiB``: a byte count as people read it."""
    for unit, scale in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} bytes"


def leaf_bytes(size: int, trainable: bool, optimizer: str, kind: str = "param") -> int:
    """A data tensor or param: its value and gradient, and a param's update record."""
    arrays = 2 + (UPDATE_ARRAYS.get(optimizer, 7) if kind == "param" and trainable else 0)
    return arrays * size * FLOAT


def node_bytes(node: Any, shapes: dict[str, tuple[int, ...]]) -> int:
    """A node's value and gradient, and for each of its edges the local gradient and the
    product it makes before a broadcast is summed away."""
    from .ops import JACOBIAN, MATMUL_LEFT, MATMUL_RIGHT, REDUCE, SELECT

    out = math.prod(node.shape)
    total = 2 * out
    for pos, arg in enumerate(node.args):
        chain = node.op.chain_for(pos)
        size = math.prod(shapes[arg])
        if chain is JACOBIAN:  # one n×n Jacobian per slice along the axis
            axis = node.options.get("axis", -1) % max(len(node.shape), 1)
            local = out * (node.shape[axis] if node.shape else 1)
        elif chain is SELECT:  # this input's block of the identity, nᵢ × n
            axis = node.options.get("axis", 0) % max(len(shapes[arg]), 1)
            local = (shapes[arg][axis] if shapes[arg] else 1) * (
                node.shape[axis] if node.shape else 1
            )
        elif chain in (MATMUL_LEFT, MATMUL_RIGHT):  # the other operand, transposed
            local = math.prod(shapes[node.args[1 - pos]])
        elif chain is REDUCE:  # 1, or a mask of the input (max); the term is the gradient
            local = size if node.op.name == "max" else 1
        else:  # elementwise: at most the broadcast output, and g ⊙ local before it is summed
            local = max(out, size) + (out if out > size else 0)
        # the term handed to the input is (or is added into) the input's own gradient,
        # counted with the input
        total += local
    return int(total * FLOAT)


def estimate(graph: Any) -> tuple[int, list[tuple[str, int]]]:
    """The bytes one traced step needs, and each node's and tensor's share, largest first."""
    shapes = {name: tuple(t.value.shape) for name, t in graph.tensors.items()}
    shapes.update({name: tuple(v.shape) for name, v in graph.constants.items()})
    shapes.update({n.name: tuple(n.shape) for n in graph.nodes})
    shares = [
        (t.name, leaf_bytes(t.value.size, t.trainable, graph.optimizer.name, t.kind))
        for t in graph.tensors.values()
    ]
    shares += [(n.name, node_bytes(n, shapes)) for n in graph.nodes]
    shares.sort(key=lambda s: -s[1])
    return sum(b for _, b in shares), shares


def reserve(src: Any, name: str, size: int, optimizer: str, path: tuple[Any, ...]) -> None:
    """Count a param about to be initialised against the limit, and refuse it (before it is
    allocated) when the params alone would exceed it."""
    src.reserved += leaf_bytes(size, True, optimizer)
    if src.max_memory is not None and src.reserved > src.max_memory:
        raise src.error(
            path,
            f"the params up to '{name}' need about {size_text(src.reserved)} of memory in a "
            f"step; the limit is {size_text(src.max_memory)} (raise it with --max-memory)",
        )


__all__ = [
    "DEFAULT_MAX_MEMORY",
    "estimate",
    "leaf_bytes",
    "node_bytes",
    "parse_size",
    "reserve",
    "size_text",
]
