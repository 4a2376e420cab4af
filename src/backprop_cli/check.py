"""``backprop check``: every traced gradient against central finite differences of J.

The comparison is numpy's ``isclose`` rule, ``|traced − numeric| ≤ atol + rtol·|numeric|``,
element by element. A failure names the tensor, the worst element and both values; with node
checks, the op whose local gradient is wrong is located: its output's gradient agrees with the
finite differences while the gradient it hands to an input does not. Elements where J has a
kink (relu at 0, a tie of max) are reported as such and not compared: there the one-sided
slopes differ, and the traced value is the rule written in the op table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
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
    # The flat indices of the elements compared (--max-elements), None when all were; the
    # numeric gradient is NaN at the others.
    sample: np.ndarray | None = None

    @property
    def elements(self) -> int:
        return int(self.traced.size)

    @property
    def checked(self) -> int:
        return self.elements if self.sample is None else int(self.sample.size)


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


def sample(traced: np.ndarray, value: np.ndarray, limit: int | None) -> np.ndarray | None:
    """The flat indices of at most ``limit`` elements to difference (sorted), or None for all.

    Deterministic, and biased towards where a wrong rule or rounding shows first, all found in
    linear time: a quarter are the largest traced gradients (non-finite ones first), an eighth
    the largest values and an eighth the values nearest 0 (where relu, abs and max have their
    kinks); the rest are evenly spaced over the tensor, first and last element included.
    """
    size = int(traced.size)
    if limit is None or size <= limit:
        return None
    g = np.abs(np.asarray(traced, dtype=np.float64).reshape(-1))
    g = np.where(np.isfinite(g), g, np.inf)
    v = np.abs(np.asarray(value, dtype=np.float64).reshape(-1))
    v = np.where(np.isnan(v), np.inf, v)
    chosen: list[np.ndarray] = []
    for key, count in ((-g, limit // 4), (-v, limit // 8), (v, limit // 8)):
        if count:
            part = np.argpartition(key, count - 1)[:count]
            chosen.append(part[np.lexsort((part, key[part]))])  # ties: the lower index
    picked = np.unique(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.intp)
    rest = limit - picked.size
    # evenly spaced among the elements not yet picked, so that exactly ``limit`` are checked
    others = np.setdiff1d(np.arange(size), picked, assume_unique=True)
    spaced = others[np.round(np.linspace(0, others.size - 1, rest)).astype(np.intp)]
    return np.union1d(picked, spaced).astype(np.intp)


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
    indices: np.ndarray | None = None,
) -> TensorCheck:
    """Compare element by element; with ``indices`` (flat), ``numeric`` and ``kinks`` hold
    one entry per index, and only those elements of ``traced`` are compared."""
    full = np.asarray(traced, dtype=np.float64)
    if indices is not None:
        check = _compare(
            full.reshape(-1)[indices], np.asarray(numeric), kinks, rtol, atol, rounding
        )
        known = np.full(full.size, np.nan)
        known[indices] = check.numeric
        worst = np.unravel_index(int(indices[check.worst_index[0]]), full.shape)
        kinked = [np.unravel_index(int(indices[i[0]]), full.shape) for i in check.kinks]
        return dataclasses.replace(
            check,
            name=name,
            kind=kind,
            traced=full,
            numeric=known.reshape(full.shape),
            worst_index=tuple(int(i) for i in worst),
            kinks=tuple(tuple(int(i) for i in index) for index in kinked),
            sample=np.asarray(indices),
        )
    return dataclasses.replace(
        _compare(full, np.asarray(numeric), kinks, rtol, atol, rounding), name=name, kind=kind
    )


def _compare(
    traced: np.ndarray,
    numeric: np.ndarray,
    kinks: np.ndarray | None,
    rtol: float,
    atol: float,
    rounding: float,
) -> TensorCheck:
    name, kind = "", ""
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
    max_elements: int | None = None,
    done: Callable[[int], None] | None = None,
) -> Iterator[CheckStep]:
    """Check the gradients at the start of each of the first ``steps`` training steps: of at
    most ``max_elements`` elements per tensor (``sample``); ``done(k)`` after k elements."""
    graph = tracer.graph
    kinds = {t.name: t.kind for t in graph.tensors.values()}
    kinds.update({n.name: "node" for n in tracer.active})
    names = checked_names(tracer, nodes)
    for step in tracer.run(steps=steps):
        # the allowance for rounding shrinks with a tighter rtol (none at rtol 0), so that a
        # tolerance asked for explicitly is still what is checked
        rounding = rounding_error(step.values, eps) * min(1.0, rtol / DEFAULT_RTOL)
        checks = []
        for name in names:
            traced = step.grads[name]
            indices = sample(traced, step.values[name], max_elements)
            numeric, kinks = numeric_grad_and_kinks(tracer, step.values, name, eps, indices, done)
            checks.append(
                compare(name, kinds[name], traced, numeric, rtol, atol, kinks, rounding, indices)
            )
        yield CheckStep(step.step, checks, _suspects(tracer, checks))


def checked_names(tracer: Tracer, nodes: bool) -> list[str]:
    """The tensors checked: the params, and with ``nodes`` every node but the objective."""
    names = [t.name for t in tracer.graph.params]
    if nodes:  # data are constants (and labels are not even continuous): they are left out
        names += [n.name for n in tracer.active if n.name != tracer.objective]
    return names


def elements_to_check(tracer: Tracer, nodes: bool, max_elements: int | None) -> int:
    """How many elements one step differences (each costs two forward passes)."""
    sizes = (
        int(np.prod(tracer.shapes[name], dtype=np.int64)) for name in checked_names(tracer, nodes)
    )
    return sum(size if max_elements is None else min(size, max_elements) for size in sizes)


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
