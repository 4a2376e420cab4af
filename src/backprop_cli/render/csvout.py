"""One CSV row per step, for plotting tools: ``step``, ``objective`` (the value of the
objective node, as the JSON key of that name) and ``grad_norm_<param>``, the Euclidean norm of
∂J/∂param over all its elements, for every param (frozen ones too) in the config's order.

Numbers are written at full precision (``repr`` of the float: the shortest text that reads back
as the same float); non-finite ones as ``nan``, ``inf`` and ``-inf``, which ``float()`` and
spreadsheet and plotting tools read. Rows go out as the steps are traced, so memory does not grow
with the number of steps. The header goes out with the first row, so an error before any step
leaves stdout empty; a numerical anomaly (exit code 3) ends the output after the rows before it,
and the CLI reports it on stderr.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from typing import TextIO

import numpy as np

from ..engine import Step, Tracer
from ..errors import NumericalAnomaly

# Squares of entries beyond these underflow or overflow float64: the norm is then scaled.
_TINY, _HUGE = 1e-150, 1e150


def grad_norm(grad: np.ndarray) -> float:
    """‖grad‖₂ over all elements, numpy's own result where its squares cannot overflow or
    underflow, else computed on the entries scaled by the largest one."""
    a = np.asarray(grad, dtype=np.float64).ravel()
    if a.size == 0:
        return 0.0
    largest = float(np.max(np.abs(a)))
    if not math.isfinite(largest):
        return float(np.linalg.norm(a))  # nan, or inf
    if largest == 0.0 or _TINY < largest < _HUGE:
        return float(np.linalg.norm(a))
    return largest * float(np.linalg.norm(a / largest))


def header(tracer: Tracer) -> list[str]:
    return ["step", "objective", *(f"grad_norm_{t.name}" for t in tracer.graph.params)]


def row(step: Step, tracer: Tracer) -> list[str]:
    norms = (grad_norm(step.grads[t.name]) for t in tracer.graph.params)
    return [str(step.step), repr(float(step.objective)), *(repr(n) for n in norms)]


def write_rows(steps: Iterable[Step], tracer: Tracer, out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    started = False
    try:
        for step in steps:
            if not started:
                writer.writerow(header(tracer))
                started = True
            writer.writerow(row(step, tracer))
            out.flush()
    except NumericalAnomaly:  # the rows before it are out, under their header
        if not started:
            writer.writerow(header(tracer))
        out.flush()
        raise
