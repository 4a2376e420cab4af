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


# ---- images, normalisation, sequences: from the definitions, one window position at a time ----


def _pad(x, before, after, fill):
    """x padded on axes 1 and 2 (H, W) by concatenation (differentiable in autograd)."""
    for axis, (b, a) in enumerate(zip(before, after, strict=True), start=1):
        shape = list(x.shape)
        parts = []
        if b:
            shape[axis] = b
            parts.append(np.full(shape, fill))
        parts.append(x)
        if a:
            shape[axis] = a
            parts.append(np.full(shape, fill))
        x = anp.concatenate(parts, axis=axis) if len(parts) > 1 else x
    return x


def _out_size(n, k, s, p, d, ceil):
    span = d * (k - 1) + 1
    size = (n + 2 * p - span) / s
    out = (int(np.ceil(size)) if ceil else int(np.floor(size))) + 1
    if ceil and (out - 1) * s >= n + p:
        out -= 1
    return out


def _window_slices(x, kernel, stride, padding, dilation, ceil, fill):
    """{(p, q): x[:, window row p, window col q of every output]} over the padded image."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    ho = _out_size(x.shape[1], kh, sh, ph, dh, ceil)
    wo = _out_size(x.shape[2], kw, sw, pw, dw, ceil)
    need_h, need_w = (ho - 1) * sh + dh * (kh - 1) + 1, (wo - 1) * sw + dw * (kw - 1) + 1
    extra = (max(0, need_h - x.shape[1] - 2 * ph), max(0, need_w - x.shape[2] - 2 * pw))
    xp = _pad(x, (ph, pw), (ph + extra[0], pw + extra[1]), fill)
    return {
        (p, q): xp[
            :, p * dh : p * dh + (ho - 1) * sh + 1 : sh, q * dw : q * dw + (wo - 1) * sw + 1 : sw
        ]
        for p in range(kh)
        for q in range(kw)
    }, (ho, wo)


def _ag_conv2d(a, o):
    x, k = a[0], a[1]
    slices, _ = _window_slices(x, k.shape[2:], o["stride"], o["padding"], o["dilation"], False, 0.0)
    out = sum(anp.tensordot(k[:, :, p, q], s, axes=([1], [0])) for (p, q), s in slices.items())
    if len(a) == 3:
        out = out + anp.reshape(a[2], (-1,) + (1,) * (out.ndim - 1))
    return out


def _ag_max_pool(a, o):
    stride = o["stride"] or o["kernel"]
    slices, _ = _window_slices(
        a[0], o["kernel"], stride, o["padding"], (1, 1), o["ceil_mode"], -np.inf
    )
    return anp.max(anp.stack(list(slices.values())), axis=0)


def _ag_avg_pool(a, o):
    x = a[0]
    stride = o["stride"] or o["kernel"]
    slices, (ho, wo) = _window_slices(
        x, o["kernel"], stride, o["padding"], (1, 1), o["ceil_mode"], 0.0
    )
    divisors = []
    for n, k, s, p, m in zip(
        x.shape[1:3], o["kernel"], stride, o["padding"], (ho, wo), strict=True
    ):
        start = np.arange(m) * s - p
        end = np.minimum(start + k, n + p)
        if o["count_include_pad"]:
            divisors.append(end - start)
        else:
            divisors.append(np.minimum(end, n) - np.maximum(start, 0))
    divisor = np.outer(divisors[0], divisors[1]).reshape((1, ho, wo) + (1,) * (x.ndim - 3))
    return sum(slices.values()) / divisor


def _ag_norm(x, gamma, beta, reduced, kept, eps):
    mu = anp.mean(x, axis=reduced, keepdims=True)
    var = anp.mean((x - mu) ** 2, axis=reduced, keepdims=True)
    shape = [x.shape[i] if i in kept else 1 for i in range(x.ndim)]
    return anp.reshape(gamma, shape) * (x - mu) / anp.sqrt(var + eps) + anp.reshape(beta, shape)


def _ag_batch_norm(a, o):
    x = a[0]
    return _ag_norm(x, a[1], a[2], tuple(range(1, x.ndim)), (0,), o["eps"])


def _ag_layer_norm(a, o):
    axes = tuple(sorted(i % a[0].ndim for i in o["axes"]))
    return _ag_norm(a[0], a[1], a[2], axes, axes, o["eps"])


def _causal_keep(shape):
    keep = np.tril(np.ones(shape[:2], dtype=bool))
    return keep.reshape(keep.shape + (1,) * (len(shape) - 2))


def _dropout_mask(shape, o):
    """Kept entries scaled by 1/(1 − p), drawn from numpy's generator seeded [seed, step]."""
    if o["p"] >= 1.0:
        return np.zeros(shape)
    keep = np.random.default_rng([o["seed"], o["step"]]).random(shape) >= o["p"]
    return keep / (1.0 - o["p"])


def _ag_embedding(a, o):
    ids = np.asarray(getval(a[1]), dtype=int)
    return anp.moveaxis(a[0][ids], -1, 0)


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
    "conv2d": _ag_conv2d,
    "max_pool2d": _ag_max_pool,
    "avg_pool2d": _ag_avg_pool,
    "flatten": lambda a, o: anp.reshape(a[0], (-1, *a[0].shape[3:])),
    "batch_norm": _ag_batch_norm,
    "layer_norm": _ag_layer_norm,
    "select": lambda a, o: anp.moveaxis(a[0], o["axis"], 0)[o["index"]],
    "causal_mask": lambda a, o: anp.where(_causal_keep(a[0].shape), a[0], -np.inf),
    "embedding": _ag_embedding,
    "dropout": lambda a, o: a[0] * _dropout_mask(a[0].shape, o),
}


# The ops that broadcast. backprop-cli's convention, written again here: a vector that meets a
# matrix is a column (n×1), not numpy's row; the libraries then sum its gradient back
# themselves. tests/test_oracle.py checks this list against the op table.
BROADCASTING = ("add", "sub", "mul", "div", "maximum", "minimum")


def _columns(args: list) -> list:
    rank = max((len(np.shape(a)) for a in args), default=0)
    if rank < 2:
        return args
    return [a.reshape((-1,) + (1,) * (rank - 1)) if len(np.shape(a)) == 1 else a for a in args]


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
            values[node.name] = table[node.op.name](args, {**node.options, "step": tracer.step})
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
        if z.dim() >= 3:  # [C, T, B] → PyTorch's [N, C, d1, …]: the class axis moved to 1
            zz = z.movedim(0, 1)
            yy = y.movedim(0, 1) if y.shape == z.shape else y.long()
            return F.cross_entropy(zz, yy, reduction=o["reduction"])
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

    def batch_first(x, image):
        # Our layout has examples last ([C, H, W, B]); PyTorch's first ([B, C, H, W]).
        return torch.movedim(x, -1, 0) if x.dim() == (4 if image else 2) else x[None]

    def batch_last(y, x, image):
        return torch.movedim(y, 0, -1) if x.dim() == (4 if image else 2) else y[0]

    def conv(a, o):
        x = batch_first(a[0], True)
        y = F.conv2d(
            x, a[1], a[2] if len(a) == 3 else None, o["stride"], o["padding"], o["dilation"]
        )
        return batch_last(y, a[0], True)

    def pool(fn, a, o, **extra):
        x = batch_first(a[0], True)
        stride = o["stride"] or o["kernel"]
        y = fn(x, o["kernel"], stride, o["padding"], ceil_mode=o["ceil_mode"], **extra)
        return batch_last(y, a[0], True)

    def batch_norm(a, o):
        x = torch.movedim(a[0], 0, -1).reshape(-1, a[0].shape[0])  # every other axis: a row
        y = F.batch_norm(x, None, None, a[1], a[2], training=True, eps=o["eps"])
        return torch.movedim(y.reshape(a[0].shape[1:] + a[0].shape[:1]), -1, 0)

    def layer_norm(a, o):
        axes = sorted(i % a[0].dim() for i in o["axes"])
        rest = [i for i in range(a[0].dim()) if i not in axes]
        x = a[0].permute(*rest, *axes)  # PyTorch normalises the last axes
        y = F.layer_norm(x, [a[0].shape[i] for i in axes], a[1], a[2], eps=o["eps"])
        return y.permute(*np.argsort(rest + axes).tolist())

    def embedding(a, o):
        return torch.movedim(F.embedding(a[1].long(), a[0]), -1, 0)

    def causal(a, o):
        keep = torch.tensor(_causal_keep(tuple(a[0].shape)))
        return a[0].masked_fill(~keep, float("-inf"))

    table = {
        "conv2d": conv,
        "max_pool2d": lambda a, o: pool(F.max_pool2d, a, o),
        "avg_pool2d": lambda a, o: pool(
            F.avg_pool2d, a, o, count_include_pad=o["count_include_pad"]
        ),
        "flatten": lambda a, o: (
            torch.flatten(batch_first(a[0], True), 1).T if a[0].dim() == 4 else torch.flatten(a[0])
        ),
        "batch_norm": batch_norm,
        "layer_norm": layer_norm,
        "select": lambda a, o: torch.select(a[0], o["axis"], o["index"]),
        "causal_mask": causal,
        "embedding": embedding,
        "dropout": lambda a, o: a[0] * torch.tensor(_dropout_mask(tuple(a[0].shape), o)),
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
