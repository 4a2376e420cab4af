"""``backprop check``: every traced gradient against central finite differences of J.

The comparison is numpy's ``isclose`` rule, ``|traced − numeric| ≤ atol + rtol·|numeric|``,
element by element. A failure names the tensor, the worst element and both values; with node
checks, the op whose local gradient is wrong is located: its output's gradient agrees with the
finite differences while the gradient it hands to an input does not. Elements where J has a
kink (relu at 0, a tie of max) are reported as such and not compared: there the one-sided
slopes differ, and the traced value is the rule written in the op table.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .engine import Tracer
from .fd import numeric_grad_and_kinks


@dataclass
class TensorCheck:
    name: str
    kind: str  # data, param or node
    traced: np.ndarray
    numeric: np.ndarray
    max_abs_error: float
    max_rel_error: float
    worst_index: tuple[int, ...]
    passed: bool
    # Elements where J has a kink (the one-sided slopes differ): finite differences say
    # nothing there, so they are not compared.
    kinks: tuple[tuple[int, ...], ...] = ()
    rounding: float = 0.0  # the finite differences' rounding error bound, added to atol
    # failed, but within ROUNDING_LIKELY × that bound: rounding, not the rule, is the likely cause
    rounding_likely: bool = False


@dataclass
class Suspect:
    """An edge whose recorded local gradient disagrees with the finite differences."""

    node: str
    equation: str
    input: str


@dataclass
class CheckStep:
    step: int
    tensors: list[TensorCheck]
    suspects: list[Suspect]

    @property
    def passed(self) -> bool:
        return all(t.passed for t in self.tensors)


ROUNDING_LIKELY = 100.0
DEFAULT_RTOL = 1e-5


def rounding_error(values: dict[str, np.ndarray], eps: float) -> float:
    """A bound on the rounding error of a central difference of J: each evaluation of J is off
    by about ε·√n·Σ|terms| (n the size of the largest sum, Σ|terms| its conditioning: the
    largest Σ|value| of any tensor), and the difference divides two of them by 2·eps. A sum
    of 20,000 squares is off by 1e-4 this way, far above rtol·|gradient|, with a correct rule."""
    n, total = 1, 0.0
    for v in values.values():
        a = np.asarray(v, dtype=np.float64)
        n = max(n, a.size)
        with np.errstate(all="ignore"):
            s = float(np.abs(a).sum())
        if np.isfinite(s):
            total = max(total, s)
    return float(np.finfo(np.float64).eps * np.sqrt(n) * total / eps)


def compare(
    name: str,
    kind: str,
    traced: np.ndarray,
    numeric: np.ndarray,
    rtol: float,
    atol: float,
    kinks: np.ndarray | None = None,
    rounding: float = 0.0,
) -> TensorCheck:
    traced = np.asarray(traced, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    at_kink = np.zeros(traced.shape, dtype=bool) if kinks is None else kinks
    diff = np.where(at_kink, 0.0, np.abs(traced - numeric))
    allowed = atol + rounding + rtol * np.abs(numeric)
    scale = np.maximum(np.abs(traced), np.abs(numeric))
    rel = np.divide(diff, scale, out=np.zeros_like(diff), where=scale > 0)
    ok = diff <= allowed
    ok &= np.isfinite(traced) == np.isfinite(numeric)
    excess = np.where(ok, -np.inf, diff - allowed) if not ok.all() else diff
    excess = np.nan_to_num(excess, nan=np.inf)
    worst = np.unravel_index(int(np.argmax(excess)), traced.shape) if traced.ndim else ()
    passed = bool(ok.all())
    max_abs = float(np.nanmax(diff, initial=0.0))
    return TensorCheck(
        name,
        kind,
        traced,
        numeric,
        max_abs,
        float(np.nanmax(rel, initial=0.0)),
        tuple(int(i) for i in worst),
        passed,
        tuple(tuple(int(i) for i in index) for index in np.argwhere(at_kink)),
        rounding,
        not passed and rounding > 0 and max_abs <= ROUNDING_LIKELY * rounding,
    )


def run(
    tracer: Tracer,
    steps: int = 1,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    nodes: bool = False,
) -> Iterator[CheckStep]:
    """Check the gradients at the start of each of the first ``steps`` training steps."""
    graph = tracer.graph
    kinds = {t.name: t.kind for t in graph.tensors.values()}
    kinds.update({n.name: "node" for n in tracer.active})
    names = [t.name for t in graph.params]
    if nodes:  # data are constants (and labels are not even continuous): they are left out
        names += [n.name for n in tracer.active if n.name != tracer.objective]
    for step in tracer.run(steps=steps):
        # the allowance for rounding shrinks with a tighter rtol (none at rtol 0), so that a
        # tolerance asked for explicitly is still what is checked
        rounding = rounding_error(step.values, eps) * min(1.0, rtol / DEFAULT_RTOL)
        checks = []
        for name in names:
            numeric, kinks = numeric_grad_and_kinks(tracer, step.values, name, eps)
            checks.append(
                compare(name, kinds[name], step.grads[name], numeric, rtol, atol, kinks, rounding)
            )
        yield CheckStep(step.step, checks, _suspects(tracer, checks))


def _suspects(tracer: Tracer, checks: list[TensorCheck]) -> list[Suspect]:
    """Edges consumer → input where the consumer's gradient is right and the input's is not.

    Only meaningful when every consumer of the failing tensor was checked too (``--nodes``).
    """
    result = {c.name: c.passed for c in checks}
    result[tracer.objective] = True  # ∂J/∂J = 1 by definition
    by_name = {n.name: n for n in tracer.active}
    out = []
    for c in checks:
        if c.passed:
            continue
        consumers = tracer.consumers.get(c.name, [])
        if consumers and all(result.get(node, False) for node, _ in consumers):
            for node, _ in consumers:
                if Suspect(node, by_name[node].equation, c.name) not in out:
                    out.append(Suspect(node, by_name[node].equation, c.name))
    return out
