"""Output of ``backprop check``: a Rich table per step, or one JSON document."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from .. import fmt
from ..check import ROUNDING_LIKELY, CheckStep, TensorCheck
from ..notation import d
from .jsonout import dumps, value

# The version of the contract of 'backprop check --format json' (not that of a trace).
SCHEMA_VERSION = 1


def _index(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(map(str, index)) + "]" if index else ""


def _at(t: TensorCheck, which: str) -> float:
    array = t.traced if which == "traced" else t.numeric
    return float(array[t.worst_index]) if t.worst_index else float(array)


def failure_line(t: TensorCheck, objective: str, precision: int) -> str:
    return (
        f"{d(objective, t.name)}{_index(t.worst_index)}: traced "
        f"{fmt.number(_at(t, 'traced'), precision)}, finite differences "
        f"{fmt.number(_at(t, 'numeric'), precision)}"
    )


def sampled_line(t: TensorCheck, objective: str, max_elements: int | None) -> str:
    return (
        f"{d(objective, t.name)}: {t.checked:,} of {t.elements:,} elements checked "
        f"(--max-elements {max_elements}: the largest gradients and values, those nearest 0, "
        f"and evenly spaced ones)"
    )


def table(
    step: CheckStep,
    objective: str,
    eps: float,
    rtol: float,
    atol: float,
    precision: int,
    max_elements: int | None = None,
) -> RenderableType:
    out = Table(
        title=f"Step {step.step}: traced gradients vs central finite differences "
        f"(eps = {eps:g}, rtol = {rtol:g}, atol = {atol:g})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    for column in (
        "Gradient",
        "Kind",
        "Max abs error",
        "Max rel error",
        "Worst element",
        "Traced",
        "Finite diff.",
        "Result",
    ):
        out.add_column(column, no_wrap=column in ("Gradient", "Result"))
    for t in step.tensors:
        verdict = Text("pass", style="green") if t.passed else Text("FAIL", style="bold red")
        if t.kinks:
            verdict.append(f" ({len(t.kinks)} at a kink)", style="yellow")
        out.add_row(
            d(objective, t.name),
            t.kind,
            f"{t.max_abs_error:.2e}",
            f"{t.max_rel_error:.2e}",
            _index(t.worst_index) or "(scalar)",
            fmt.number(_at(t, "traced"), precision),
            fmt.number(_at(t, "numeric"), precision),
            verdict,
        )
    lines: list[RenderableType] = [out]
    sampled = [t for t in step.tensors if t.sample is not None]
    for t in sampled:
        lines.append(Text(sampled_line(t, objective, max_elements)))
    for t in step.tensors:
        if t.kinks:
            where = ", ".join(f"{d(objective, t.name)}{_index(i)}" for i in t.kinks[:5])
            more = f" and {len(t.kinks) - 5} more" if len(t.kinks) > 5 else ""
            lines.append(
                Text(
                    f"{where}{more}: at a kink, not compared (the slopes to the left and right "
                    f"differ; the traced value follows the op's rule there)",
                    style="yellow",
                )
            )
    failed = [t for t in step.tensors if not t.passed]
    if failed:
        for t in failed:
            lines.append(Text("FAIL " + failure_line(t, objective, precision), style="red"))
        for s in step.suspects:
            lines.append(
                Text(
                    f"suspect: the local gradient of node '{s.node}' ({s.equation}) "
                    f"with respect to '{s.input}': the gradient of '{s.node}' agrees "
                    f"with finite differences, the one it hands to '{s.input}' "
                    f"does not"
                )
            )
        if all(t.rounding_likely for t in failed):
            bound = max(t.rounding for t in failed)
            lines.append(
                Text(
                    f"likely rounding, not a wrong rule: every difference is within "
                    f"{ROUNDING_LIKELY:g}× the finite differences' rounding error "
                    f"({bound:.1e}, from the size and magnitude of the sums); try a larger "
                    f"--eps or a looser --atol"
                )
            )
        elif not step.suspects and not any(t.kind == "node" for t in step.tensors):
            lines.append(Text("run with --nodes to locate the op whose gradient rule is wrong"))
    else:
        where = " at the elements checked" if sampled else ""
        lines.append(Text(f"all {len(step.tensors)} gradients agree{where}", style="green"))
    return Group(*lines, Text(""))


def _numeric_grad(t: TensorCheck) -> Any:
    """The finite differences; with a sample, null at the elements not checked."""
    if t.sample is None:
        return value(t.numeric)
    out = np.full(t.elements, None, dtype=object)
    out[t.sample] = [value(x) for x in t.numeric.reshape(-1)[t.sample]]
    return out.reshape(t.numeric.shape).tolist()


def document(
    steps: Iterable[CheckStep],
    objective: str,
    eps: float,
    rtol: float,
    atol: float,
    max_elements: int | None = None,
) -> str:
    records: list[dict[str, Any]] = []
    passed = True
    for step in steps:
        passed &= step.passed
        records.append(
            {
                "step": step.step,
                "passed": step.passed,
                "tensors": [
                    {
                        "name": t.name,
                        "kind": t.kind,
                        "shape": list(t.traced.shape),
                        "elements": t.elements,
                        "checked": t.checked,
                        "passed": t.passed,
                        "max_abs_error": t.max_abs_error,
                        "max_rel_error": t.max_rel_error,
                        "worst_index": list(t.worst_index),
                        "traced": value(_at(t, "traced")),
                        "numeric": value(_at(t, "numeric")),
                        "traced_grad": value(t.traced),
                        "numeric_grad": _numeric_grad(t),
                        "kinks": [list(i) for i in t.kinks],
                    }
                    for t in step.tensors
                ],
                "suspects": [
                    {"node": s.node, "equation": s.equation, "input": s.input}
                    for s in step.suspects
                ],
            }
        )
    doc = {
        "schema_version": SCHEMA_VERSION,
        "objective": objective,
        "eps": eps,
        "rtol": rtol,
        "atol": atol,
        "max_elements": max_elements,
        "passed": passed,
        "steps": records,
    }
    return dumps(doc, indent=True) + "\n"
