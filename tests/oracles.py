"""Independent implementations of every op, for the oracle tests.

Each op is written again here in ``autograd.numpy`` (HIPS autograd) and in PyTorch, from its
textbook definition and without importing backprop-cli's op code; the two libraries then derive
the gradients themselves. A graph traced by backprop-cli is replayed through these and every
recorded gradient is compared.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from backprop_cli.engine import Tracer


def ag_logsumexp(a, axis, keepdims):
    # The textbook form (no max subtracted): the oracle's inputs are moderate.
    return anp.log(anp.sum(anp.exp(a), axis=axis, keepdims=keepdims))


def _ag_onehot(targets, logits):
    if targets.shape == logits.shape:
        return targets
    labels = np.asarray(getattr(targets, "_value", targets), dtype=int)  # constants, not traced
    return (np.arange(logits.shape[0]).reshape((-1,) + (1,) * labels.ndim) == labels) * 1.0


def _ag_ce(a, o):
    z, y = a
    log_p = z - ag_logsumexp(z, axis=0, keepdims=True)
    n = 1.0 if o["reduction"] == "sum" else float(np.prod(z.shape[1:]))
    return -anp.sum(_ag_onehot(y, z) * log_p) / n


def _ag_bce(a, o):
    z, y = a
    p = 1.0 / (1.0 + anp.exp(-z))
    loss = -(y * anp.log(p) + (1.0 - y) * anp.log(1.0 - p))
    return anp.sum(loss) / (1.0 if o["reduction"] == "sum" else z.size)


def _ag_softmax(a, axis):
    e = anp.exp(a - anp.max(a, axis=axis, keepdims=True))
    return e / anp.sum(e, axis=axis, keepdims=True)


def _ag_clip(x, o):
    # From the definition, with the bounds inside (as torch.clamp): where() passes the gradient
    # of x exactly where x is kept.
    lo = -np.inf if o["min"] is None else o["min"]
    hi = np.inf if o["max"] is None else o["max"]
    return anp.where(x < lo, lo, anp.where(x > hi, hi, x))


def _ag_gelu(z):
    return 0.5 * z * (1.0 + anp.tanh(np.sqrt(2.0 / np.pi) * (z + 0.044715 * z**3)))


AUTOGRAD_OPS: dict[str, Callable[[list, dict], Any]] = {
    "add": lambda a, o: a[0] + a[1],
    "sub": lambda a, o: a[0] - a[1],
    "neg": lambda a, o: -a[0],
    "mul": lambda a, o: a[0] * a[1],
    "div": lambda a, o: a[0] / a[1],
    "pow": lambda a, o: a[0] ** o["exponent"],
    "matmul": lambda a, o: anp.matmul(a[0], a[1]),
    "exp": lambda a, o: anp.exp(a[0]),
    "log": lambda a, o: anp.log(a[0]),
    "abs": lambda a, o: anp.abs(a[0]),
    "sin": lambda a, o: anp.sin(a[0]),
    "cos": lambda a, o: anp.cos(a[0]),
    "sqrt": lambda a, o: anp.sqrt(a[0]),
    # autograd's maximum and minimum split the gradient equally at a tie.
    "maximum": lambda a, o: anp.maximum(a[0], a[1]),
    "minimum": lambda a, o: anp.minimum(a[0], a[1]),
    "clip": lambda a, o: _ag_clip(a[0], o),
    "stop_gradient": lambda a, o: getval(a[0]),  # the value, untraced: a constant
    "relu": lambda a, o: anp.where(a[0] > 0, a[0], 0.0),
    "leaky_relu": lambda a, o: anp.where(a[0] > 0, a[0], o["alpha"] * a[0]),
    # where(), not minimum(): autograd splits minimum's gradient at a tie (z = 0 exactly).
    "elu": lambda a, o: anp.where(
        a[0] > 0, a[0], o["alpha"] * (anp.exp(anp.where(a[0] > 0, 0.0, a[0])) - 1.0)
    ),
    "sigmoid": lambda a, o: 1.0 / (1.0 + anp.exp(-a[0])),
    "tanh": lambda a, o: anp.tanh(a[0]),
    "softplus": lambda a, o: anp.logaddexp(0.0, a[0]),
    "gelu": lambda a, o: _ag_gelu(a[0]),
    "softmax": lambda a, o: _ag_softmax(a[0], o["axis"]),
    "log_softmax": lambda a, o: a[0] - ag_logsumexp(a[0], axis=o["axis"], keepdims=True),
    "transpose": lambda a, o: anp.transpose(a[0]),
    "reshape": lambda a, o: anp.reshape(a[0], o["shape"]),
    "concat": lambda a, o: anp.concatenate(a, axis=o["axis"]),
    "sum": lambda a, o: anp.sum(a[0], axis=o["axis"]),
    "mean": lambda a, o: anp.mean(a[0], axis=o["axis"]),
    "max": lambda a, o: anp.max(a[0], axis=o["axis"]),
    "half_squared_error": lambda a, o: 0.5 * anp.sum((a[0] - a[1]) ** 2),
    "mse": lambda a, o: anp.mean((a[0] - a[1]) ** 2),
    "softmax_cross_entropy": _ag_ce,
    "binary_cross_entropy": _ag_bce,
    "l2": lambda a, o: 0.5 * o["lambda"] * sum(anp.sum(w**2) for w in a),
    "l1": lambda a, o: o["lambda"] * sum(anp.sum(anp.abs(w)) for w in a),
}


# The ops that broadcast. backprop-cli's convention, written again here: a vector that meets a
# matrix is a column (n×1), not numpy's row; the libraries then sum its gradient back
# themselves. tests/test_oracle.py checks this list against the op table.
BROADCASTING = ("add", "sub", "mul", "div", "maximum", "minimum")


def _columns(args: list) -> list:
    if not any(len(np.shape(a)) >= 2 for a in args):
        return args
    return [a.reshape(-1, 1) if len(np.shape(a)) == 1 else a for a in args]


def _evaluate(
    tracer: Tracer, table: dict, leaves: dict, override: dict | None = None, constants=None
) -> dict:
    values = dict(leaves)
    constants = tracer.graph.constants if constants is None else constants
    for node in tracer.graph.nodes:
        if override and node.name in override:
            values[node.name] = override[node.name]
        else:
            args = [values[a] if a in values else constants[a] for a in node.args]
            if node.op.name in BROADCASTING:
                args = _columns(args)
            values[node.name] = table[node.op.name](args, node.options)
    return values


def autograd_grads(tracer: Tracer, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """∂J/∂name for every data, param and node, derived by HIPS autograd."""
    J = tracer.objective
    leaves = {n: values[n] for n in tracer.graph.tensors}

    def objective_of_leaves(ls):
        return anp.sum(_evaluate(tracer, AUTOGRAD_OPS, ls)[J])

    with warnings.catch_warnings():  # J may depend on no leaf (behind a stop_gradient)
        warnings.filterwarnings("ignore", "Output seems independent of input")
        grads = dict(autograd.grad(objective_of_leaves)(leaves))
    for node in tracer.graph.nodes:

        def objective_of_node(v, name=node.name):
            return anp.sum(_evaluate(tracer, AUTOGRAD_OPS, leaves, {name: v})[J])

        if node.name == J:
            grads[J] = np.ones(np.shape(values[J]))
        else:
            with warnings.catch_warnings():  # a node J does not depend on has gradient 0
                warnings.filterwarnings("ignore", "Output seems independent of input")
                grads[node.name] = autograd.grad(objective_of_node)(values[node.name])
    return {k: np.asarray(v, dtype=np.float64) for k, v in grads.items()}


# ---- PyTorch (optional) -------------------------------------------------------------------


def torch_grads(tracer: Tracer, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """∂J/∂name for every name, from PyTorch with ``retain_grad`` on every intermediate."""
    import torch
    import torch.nn.functional as F

    def ce(a, o):
        z, y = a
        zz = z.T if z.dim() == 2 else z[None]
        if y.shape == z.shape:
            yy = y.T if y.dim() == 2 else y[None]
        else:
            yy = y.long() if y.dim() else y.long()[None]
        return F.cross_entropy(zz, yy, reduction=o["reduction"])

    def amax(x, axis):
        return torch.amax(x) if axis is None else torch.amax(x, dim=axis)

    def reduce(fn, x, axis):
        return fn(x) if axis is None else fn(x, dim=axis)

    table = {
        "add": lambda a, o: a[0] + a[1],
        "sub": lambda a, o: a[0] - a[1],
        "neg": lambda a, o: -a[0],
        "mul": lambda a, o: a[0] * a[1],
        "div": lambda a, o: a[0] / a[1],
        "pow": lambda a, o: a[0] ** o["exponent"],
        "matmul": lambda a, o: torch.matmul(a[0], a[1]),
        "exp": lambda a, o: torch.exp(a[0]),
        "log": lambda a, o: torch.log(a[0]),
        "abs": lambda a, o: torch.abs(a[0]),
        "sin": lambda a, o: torch.sin(a[0]),
        "cos": lambda a, o: torch.cos(a[0]),
        "sqrt": lambda a, o: torch.sqrt(a[0]),
        "maximum": lambda a, o: torch.maximum(a[0], a[1]),
        "minimum": lambda a, o: torch.minimum(a[0], a[1]),
        "clip": lambda a, o: torch.clamp(a[0], o["min"], o["max"]),
        # detach() cuts the graph; the detached tensor is a new leaf, so ∂J/∂u is still read.
        "stop_gradient": lambda a, o: a[0].detach().requires_grad_(True),
        "relu": lambda a, o: torch.relu(a[0]),
        "leaky_relu": lambda a, o: F.leaky_relu(a[0], o["alpha"]),
        "elu": lambda a, o: F.elu(a[0], o["alpha"]),
        "sigmoid": lambda a, o: torch.sigmoid(a[0]),
        "tanh": lambda a, o: torch.tanh(a[0]),
        "softplus": lambda a, o: torch.logaddexp(torch.zeros_like(a[0]), a[0]),
        "gelu": lambda a, o: F.gelu(a[0], approximate="tanh"),
        "softmax": lambda a, o: torch.softmax(a[0], dim=o["axis"]),
        "log_softmax": lambda a, o: torch.log_softmax(a[0], dim=o["axis"]),
        "transpose": lambda a, o: a[0].T if a[0].dim() == 2 else a[0],
        "reshape": lambda a, o: torch.reshape(a[0], o["shape"]),
        "concat": lambda a, o: torch.cat(a, dim=o["axis"]),
        "sum": lambda a, o: reduce(torch.sum, a[0], o["axis"]),
        "mean": lambda a, o: reduce(torch.mean, a[0], o["axis"]),
        "max": lambda a, o: amax(a[0], o["axis"]),
        "half_squared_error": lambda a, o: 0.5 * torch.sum((a[0] - a[1]) ** 2),
        "mse": lambda a, o: F.mse_loss(a[0], a[1]),
        "softmax_cross_entropy": ce,
        "binary_cross_entropy": lambda a, o: F.binary_cross_entropy_with_logits(
            a[0], a[1], reduction=o["reduction"]
        ),
        "l2": lambda a, o: 0.5 * o["lambda"] * sum(torch.sum(w**2) for w in a),
        "l1": lambda a, o: o["lambda"] * sum(torch.sum(torch.abs(w)) for w in a),
    }
    tensors = {
        n: torch.tensor(values[n], dtype=torch.float64, requires_grad=True)
        for n in tracer.graph.tensors
    }
    constants = {k: torch.tensor(v, dtype=torch.float64) for k, v in tracer.graph.constants.items()}
    computed = _evaluate(tracer, table, tensors, constants=constants)
    for node in tracer.graph.nodes:
        if computed[node.name].requires_grad:
            computed[node.name].retain_grad()
    computed[tracer.objective].sum().backward()
    out = {}
    for name, t in computed.items():
        grad = t.grad
        out[name] = (
            np.zeros(np.shape(values[name]))
            if grad is None
            else grad.detach().numpy().astype(np.float64)
        )
    return out
