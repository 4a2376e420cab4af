"""A one-op graph per case of ``tests/test_ops.py``, for tests that need every formula text and
every edge an op can produce (LaTeX translation, --explain)."""

from __future__ import annotations

import json

import numpy as np

from backprop_cli.engine import Tracer
from backprop_cli.ops import OPS

from .helpers import tracer_from_text
from .test_ops import CASES, LABELS, _inputs


def op_tracer(name: str, case: int) -> Tracer:
    shapes, options = CASES[name][case]
    values = _inputs(np.random.default_rng(case), shapes, name)
    params, data = {}, {}
    for pos, value in enumerate(values):
        (data if name in LABELS and pos == 1 else params)[f"a{pos}"] = value.tolist()
    opts = "".join(f", {k}: {json.dumps(v)}" for k, v in options.items())
    args = ", ".join(f"a{i}" for i in range(len(values)))
    text = (
        f"data: {json.dumps(data)}\nparams: {json.dumps(params)}\ngraph:\n"
        f"  - {{name: out, op: {name}, args: [{args}]{opts}}}\n"
        + (  # a mask's −∞ are meant for a softmax: summed alone they would make J −∞
            "  - {name: A, op: softmax, args: [out], axis: 1}\n  - {name: J, op: sum, args: [A]}\n"
            if OPS[name].masks
            else "  - {name: J, op: sum, args: [out]}\n"
        )
        + "optimizer: {name: adam, lr: 0.01}\n"
    )
    return tracer_from_text(text)


def all_cases() -> list[tuple[str, int]]:
    return [(name, i) for name in sorted(CASES) for i in range(len(CASES[name]))]


def formula_texts(tracer: Tracer) -> list[str]:
    """Every formula text one step of the tracer records."""
    step = next(tracer.run(1))
    texts = [n.equation for n in tracer.graph.nodes]
    for e in step.edges:
        texts += [e.info.equation, e.info.upstream, e.info.local, e.info.global_, e.info.target]
    texts += list(tracer.grad_formulas.values())
    texts += [u.formula for u in step.updates.values()]
    return texts
