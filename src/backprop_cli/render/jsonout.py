"""The JSON contract: one document (``--format json``), or one object per line (jsonl).

``schema_version`` 2 (the default) writes every tensor of a step once: ``forward`` holds every
value, ``grads`` every accumulated gradient, ``updates`` the params after the step and the
optimiser's state; a ``backward`` edge holds its formula text and only the numbers that exist
nowhere else (a term of a gradient summed over several paths, a local gradient that is no value
of the step). Every other number of an edge is a reference into the same step:
``{"ref": "grads", "name": "z"}`` is ``grads.z`` (``"intermediates"``: an op's named
intermediate value, ``"bn.x̂"``, written with ``forward``); with ``"transpose": true`` it is
that value transposed, read as a matrix of the reversed ``shape`` (``x``ᵀ of ``z = W1·x``).
``--fields`` selects the parts of each step; a jsonl stream starts with a ``"kind": "header"`` line.
``schema_version`` 1 (``--schema-version 1``) writes every number inline, repeats included.

Values are numbers or nested lists of float64 at full precision: the shortest text that reads
back as the same float (``1e-5``, ``0.1``, ``1e+16``); non-finite values are written as the
strings ``"nan"``, ``"inf"`` and ``"-inf"``. The text is made by orjson, which writes numpy arrays
natively (a trace of a real-sized network holds millions of numbers per step). The engine has
already checked every value it records unless ``--allow-nonfinite`` is given, so version 2 does
not check them again (the optimiser's state, which the engine does not check, is). Output is
written step by step, each step's bytes once, so memory does not grow with the number of steps.

A trace stopped by a numerical anomaly still writes the steps before it, then the anomaly: the
``anomaly`` key of the document, or a last line with ``anomaly``.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple, TextIO

import numpy as np
import orjson

from ..engine import Anomaly, Step, Tracer, finite_stats, nonfinite_counts
from ..errors import NumericalAnomaly, UsageError

SCHEMA_VERSION = 2  # what ``trace`` writes unless --schema-version says otherwise
SCHEMA_VERSIONS = (1, 2)
# The parts of a step --fields selects, in the order a step record holds them.
FIELDS = ("objective", "forward", "backward", "grads", "updates")
# What a jsonl stream holds unless --fields says otherwise: the objective, one number a step.
# A stream is for many steps, and its cost is the numbers' text: orjson writes ~3 ms per MB
# (~40 ns a float64), so every gradient of a 784-256-10 MLP on a batch of 64 (304,203 numbers,
# 6.4 MB) is ~2.4× the engine's step by itself, and every part (16.8 MB) ~6×. The tensors are
# one --fields away; a json document (and schema version 1) holds every part.
STREAM_FIELDS = ("objective",)


def default_fields(format: str, version: int) -> tuple[str, ...]:
    """The parts of a step written when --fields is not given."""
    return STREAM_FIELDS if format == "jsonl" and version >= 2 else FIELDS


class Contract(NamedTuple):
    """What to write: the schema version, the parts of each step, and whether the engine
    checked every value it recorded (it stops at the first non-finite one unless
    --allow-nonfinite), so that version 2 need not check them again."""

    version: int = SCHEMA_VERSION
    fields: tuple[str, ...] = FIELDS
    checked: bool = True


def parse_fields(text: str) -> tuple[str, ...]:
    """``objective,grads`` → the named parts, in the order of ``FIELDS``; ``all``: every part."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if names == ["all"]:
        return FIELDS
    unknown = [name for name in names if name not in FIELDS]
    if unknown or not names:
        found = (
            f"unknown field{'s' * (len(unknown) > 1)} {', '.join(unknown)}"
            if unknown
            else ("no field")
        )
        raise UsageError(f"--fields: {found}; choose from {','.join(FIELDS)}, or all")
    return tuple(name for name in FIELDS if name in names)


# An anomaly's inputs are written whole up to this many elements, else only summarised.
INPUT_ELEMENTS = 32


def value(a: Any) -> Any:
    """A number, or an array ``dumps`` writes as nested lists (JSON-ready either way)."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 0:
        x = float(arr)
        return x if x - x == 0.0 else _nonfinite(x)
    if np.isfinite(arr).all():
        return np.ascontiguousarray(arr)
    return _nonfinite(arr.tolist())


def gradient(a: Any) -> Any:
    """A gradient is a sum of terms, written as 0 + its terms: −0.0 reads 0.0."""
    return value(np.asarray(a, dtype=np.float64) + 0.0)


def _nonfinite(x: Any) -> Any:
    if isinstance(x, list):
        return [_nonfinite(v) for v in x]
    if x != x:
        return "nan"
    if x in (float("inf"), float("-inf")):
        return "inf" if x > 0 else "-inf"
    return x


def graph_record(tracer: Tracer, formulas: bool = False) -> dict[str, Any]:
    """The config after expansion; with ``formulas`` (version 2) also each gradient's formula,
    the same at every step (the engine writes them out in the first step: a record made
    before it has none)."""
    g = tracer.graph
    constants = {"constants": {k: value(v) for k, v in g.constants.items()}} if g.constants else {}
    grad_formulas = (
        {"grad_formulas": dict(tracer.grad_formulas)} if formulas and tracer.grad_formulas else {}
    )
    return {
        "objective": g.objective,
        "optimizer": {"name": g.optimizer.name, "lr": g.optimizer.lr, **g.optimizer.options},
        "tensors": [
            {"name": t.name, "kind": t.kind, "shape": list(t.value.shape), "trainable": t.trainable}
            for t in g.tensors.values()
        ],
        "nodes": [
            {
                "name": n.name,
                "op": n.op.name,
                "args": list(n.args),
                "equation": n.equation,
                "shape": list(n.shape),
                **n.options,
                **_parts_of(tracer, n.name),
            }
            for n in g.nodes
        ],
        **constants,
        **grad_formulas,
    }


def _parts_of(tracer: Tracer, node: str) -> dict[str, Any]:
    """A node's named intermediate values and their equations (``"bn.μ": "μ = mean(z, …)"``),
    where its op has them."""
    texts = {name: text for name, (owner, _, text) in tracer.parts.items() if owner == node}
    return {"intermediates": texts} if texts else {}


def step_record(step: Step, tracer: Tracer, fields: tuple[str, ...] = FIELDS) -> dict[str, Any]:
    """A step in schema version 1: every number inline."""
    record: dict[str, Any] = {
        "step": step.step,
        "forward": {name: value(v) for name, v in step.values.items()},
        **({"intermediates": {k: value(v) for k, v in step.parts.items()}} if step.parts else {}),
        "objective": value(step.objective),
        "backward": [
            {
                "index": e.info.index,
                "node": e.info.node,
                "op": e.info.op,
                "input": e.info.input,
                "upstream": gradient(e.upstream),
                "local": value(e.local),
                "global": gradient(e.global_),
                "formula": {
                    "equation": e.info.equation,
                    "upstream": e.info.upstream,
                    "local": e.info.local,
                    "global": e.info.global_,
                    "target": e.info.target,
                },
                "term": e.info.term,
                "terms": e.info.terms,
            }
            for e in step.edges
        ],
        "grads": {name: gradient(g) for name, g in step.grads.items()},
        "grad_formulas": dict(tracer.grad_formulas),
        "updates": {
            name: {
                "before": value(u.before),
                "grad": gradient(u.grad),
                "after": value(u.after),
                "formula": u.formula,
                "state": {k: value(v) for k, v in u.state.items()},
            }
            for name, u in step.updates.items()
        },
    }
    return _select(record, fields)


def _select(record: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    if fields == FIELDS:
        return record
    keep = {
        "step",
        *fields,
        *(("grad_formulas",) if "grads" in fields else ()),
        *(("intermediates",) if "forward" in fields else ()),
    }
    return {key: v for key, v in record.items() if key in keep}


def anomaly_record(anomaly: Anomaly) -> dict[str, Any]:
    """Where the first non-finite value appeared, which elements, and what went into it."""
    a = np.asarray(anomaly.value)
    record: dict[str, Any] = {
        "step": anomaly.step,
        "pass": anomaly.pass_,
        "node": anomaly.node,
        "input": anomaly.input,
        "equation": anomaly.equation,
        "quantity": anomaly.quantity,
        "shape": list(a.shape),
        "nonfinite": anomaly.counts,
        "elements": [{"index": list(i), "value": v} for i, v in anomaly.elements()],
        "inputs": [],
        "message": anomaly.message(),
    }
    for label, v in anomaly.inputs:
        arr = np.asarray(v, dtype=np.float64)
        summary = {
            "name": label,
            "shape": list(arr.shape),
            **finite_stats(arr),
            "nonfinite": nonfinite_counts(arr),
        }
        if arr.size <= INPUT_ELEMENTS:
            summary["value"] = value(arr)
        record["inputs"].append(summary)
    return record


# ---- schema version 2: every tensor once -----------------------------------------------------


def _plain(a: Any) -> Any:
    """A value the engine checked: a float, or the array itself for orjson (no copy unless
    the array is not C-contiguous, which orjson cannot read)."""
    if getattr(a, "ndim", 0) == 0:
        return float(a)
    return (
        a if a.flags.c_contiguous and a.dtype == np.float64 else np.ascontiguousarray(a, np.float64)
    )


class _Step:
    """Where each array of one step is written, so that an edge or an update refers to it
    instead of writing its numbers again."""

    def __init__(self, step: Step, checked: bool):
        self.write = _plain if checked else value
        self.known: dict[int, dict[str, Any]] = {}  # id of an array → its reference
        self.owners: dict[int, list[tuple[str, np.ndarray]]] = {}  # memory owner → forward values
        for name, v in step.values.items():
            self.known.setdefault(id(v), {"ref": "forward", "name": name})
            if isinstance(v, np.ndarray) and v.ndim:
                owner = v if v.base is None else v.base
                self.owners.setdefault(id(owner), []).append((name, v))
        for name, v in step.parts.items():
            self.known.setdefault(id(v), {"ref": "intermediates", "name": name})
        self.grads = step.grads
        for name, g in step.grads.items():
            self.known.setdefault(id(g), {"ref": "grads", "name": name})

    def ref(self, a: Any, grad_of: str | None = None) -> dict[str, Any] | None:
        """The reference to an array written elsewhere in the step, or None; ``grad_of``
        names the gradient it is expected to be (two names can hold the same array: a node
        ``z = W1x + b1`` hands its gradient to ``W1x`` as it is)."""
        if np.size(a) <= 1:
            return None  # a number is no longer than a reference to it
        if grad_of is not None and self.grads.get(grad_of) is a:
            return {"ref": "grads", "name": grad_of}
        found = self.known.get(id(a))
        if found is not None:
            return found
        base = getattr(a, "base", None)
        if base is not None and a.ndim == 2:  # a transposed view: xᵀ of z = W1·x
            for name, v in self.owners.get(id(base), ()):
                if v.size == a.size and np.array_equal(a, np.reshape(v, a.shape[::-1]).T):
                    return {
                        "ref": "forward",
                        "name": name,
                        "transpose": True,
                        "shape": list(a.shape),
                    }
        return None

    def emit(self, a: Any, checked: bool = True, grad_of: str | None = None) -> Any:
        found = self.ref(a, grad_of)
        if found is not None:
            return found
        return self.write(a) if checked else value(a)


class StepWriter:
    """Step records of schema version 2."""

    def __init__(self, tracer: Tracer, contract: Contract):
        self.tracer = tracer
        self.contract = contract
        self.fields = set(contract.fields)
        # An op that masks (causal_mask) leaves −∞ in its output by design, which the engine
        # lets through: such a graph's values are checked here too, and written as strings.
        self.checked = contract.checked and not any(n.op.masks for n in tracer.graph.nodes)

    def record(self, step: Step, head: dict[str, Any] | None = None) -> dict[str, Any]:
        where = _Step(step, self.checked)
        emit, write = where.emit, where.write
        record: dict[str, Any] = dict(head or {})
        record["step"] = step.step
        fields = self.fields
        if "objective" in fields:
            record["objective"] = value(step.objective)
        if "forward" in fields:
            record["forward"] = {name: write(v) for name, v in step.values.items()}
            if step.parts:  # an op's named intermediate values, "bn.x̂"
                record["intermediates"] = {name: write(v) for name, v in step.parts.items()}
        if "backward" in fields:
            record["backward"] = [self._edge(e, where) for e in step.edges]
        if "grads" in fields:  # their formulas, the same at every step, are in the graph
            record["grads"] = {name: write(g) for name, g in step.grads.items()}
        if "updates" in fields:
            record["updates"] = {
                name: {
                    "after": emit(u.after),
                    "formula": u.formula,
                    # the engine checks the params it updates, not the optimiser's state
                    "state": {k: emit(v, checked=False) for k, v in u.state.items()},
                }
                for name, u in step.updates.items()
            }
        return record

    @staticmethod
    def _edge(e: Any, where: _Step) -> dict[str, Any]:
        info = e.info
        glob = where.emit(e.global_, grad_of=info.input)
        local = where.ref(e.local)
        if local is None:
            same = isinstance(glob, dict) and np.shape(e.local) == np.shape(e.global_)
            # × an upstream gradient of 1: the local gradient is the global one
            local = glob if same and np.array_equal(e.local, e.global_) else where.write(e.local)
        return {
            "index": info.index,
            "node": info.node,
            "op": info.op,
            "input": info.input,
            "upstream": where.emit(e.upstream, grad_of=info.node),
            "local": local,
            "global": glob,
            "formula": {
                "equation": info.equation,
                "upstream": info.upstream,
                "local": info.local,
                "global": info.global_,
                "target": info.target,
            },
            "term": info.term,
            "terms": info.terms,
        }


def records(
    steps: Iterable[Step], tracer: Tracer, contract: Contract, head: dict[str, Any] | None = None
) -> Iterator[dict[str, Any]]:
    """The JSON-ready record of each step, in the contract's version."""
    if contract.version == 1:
        for s in steps:
            yield {**(head or {}), **step_record(s, tracer, contract.fields)}
        return
    writer = StepWriter(tracer, contract)
    for s in steps:
        yield writer.record(s, head)


def header(tracer: Tracer, contract: Contract) -> dict[str, Any]:
    """What comes before the steps: the version, the parts of each step and the graph."""
    if contract.version == 1:
        return {"schema_version": 1, "graph": graph_record(tracer)}
    return {
        "schema_version": contract.version,
        "fields": list(contract.fields),
        "graph": graph_record(tracer, formulas="grads" in contract.fields),
    }


# ---- writing --------------------------------------------------------------------------------


def dumps_bytes(obj: Any, indent: bool = False, newline: bool = False) -> bytes:
    """UTF-8 JSON of records holding numbers, strings and the arrays ``value`` returns:
    compact, or indented by two spaces with a list of numbers on one line and a matrix one
    row to a line (``_chunks``)."""
    if indent:
        return b"".join(_chunks(obj, b"")) + (b"\n" if newline else b"")
    option = orjson.OPT_SERIALIZE_NUMPY | (orjson.OPT_APPEND_NEWLINE if newline else 0)
    return orjson.dumps(obj, option=option)


def dumps(obj: Any, indent: bool = False) -> str:
    return dumps_bytes(obj, indent).decode("utf-8")


def _write(out: TextIO, data: bytes | memoryview) -> None:
    """Bytes to a text stream, every one of them: straight to its binary buffer where it has
    one (a trace of a large network writes megabytes a step; decoding and re-encoding them
    would cost more than making them), looping until the buffer has taken all of them."""
    buffer = getattr(out, "buffer", None)
    if buffer is None:
        out.write(bytes(data).decode("utf-8"))
        return
    out.flush()
    write_all(buffer, data)


def write_all(buffer: Any, data: bytes | memoryview) -> None:
    """Every byte of ``data``, or an ``OSError``: a ``write`` may take fewer bytes than it is
    given (one system call writes at most about 2 GiB, a pipe or a socket may take less), and
    a short count ignored would leave a truncated document with exit 0."""
    view = memoryview(data)
    while view:
        written = buffer.write(view)
        if written is None:  # a non-blocking stream that would block: nothing was taken
            raise BlockingIOError(errno.EAGAIN, "the output would block")
        if written <= 0:
            raise OSError(errno.EIO, "the output took no bytes")
        view = view[written:]


def document(
    steps: Iterable[Step], tracer: Tracer, contract: Contract = Contract()
) -> dict[str, Any]:
    """The whole trace as one JSON-ready document (held in memory: for tests and small runs)."""
    done = list(records(steps, tracer, contract))  # the graph's formulas come with step 1
    return {**header(tracer, contract), "steps": done}


def document_text(steps: Iterable[Step], tracer: Tracer, contract: Contract = Contract()) -> str:
    return dumps(document(steps, tracer, contract), indent=True) + "\n"


def _chunks(obj: Any, indent: bytes | None) -> Iterator[bytes]:
    """The text ``dumps_bytes(obj, indent=...)`` gives, in pieces: mappings and lists of
    records are walked here, and each array is made on its own, so that a step's record is
    never held as one text (with a param of 10⁷ elements, that text is gigabytes).
    ``indent`` is the indentation of the line ``obj`` starts on (None: compact JSON).

    Indented, a list of numbers (or of strings) is one line, ``[0.1, -2, 3]``, a matrix one
    row to a line, a tensor of rank 3 or more a list of such matrices, and a reference
    ``{"ref": "grads", "name": "z"}`` one line: a 256×784 weight is 256 lines, not 200,704."""
    inner = None if indent is None else indent + b"  "
    if indent is not None and isinstance(obj, dict) and isinstance(obj.get("ref"), str):
        yield _inline(obj)
    elif isinstance(obj, dict) and obj:
        for i, (key, value) in enumerate(obj.items()):
            if indent is None or inner is None:
                yield (b"{" if i == 0 else b",") + orjson.dumps(key) + b":"
            else:
                yield (b"{\n" if i == 0 else b",\n") + inner + orjson.dumps(key) + b": "
            yield from _chunks(value, inner)
        yield b"}" if indent is None else b"\n" + indent + b"}"
    elif isinstance(obj, list) and obj and any(isinstance(v, dict) for v in obj):
        for i, value in enumerate(obj):
            if indent is None or inner is None:
                yield b"[" if i == 0 else b","
            else:
                yield (b"[\n" if i == 0 else b",\n") + inner
            yield from _chunks(value, inner)
        yield b"]" if indent is None else b"\n" + indent + b"]"
    elif indent is None:
        yield dumps_bytes(obj)
    else:
        yield from _rows(obj, indent)


def _rows(obj: Any, indent: bytes) -> Iterator[bytes]:
    """A value of the indented text that is no mapping: one line, or a line per row."""
    inner = indent + b"  "
    if isinstance(obj, np.ndarray) and obj.ndim == 2 and obj.size:
        # a row at a time (one bytes.replace of the whole text to cut it into rows costs more
        # than orjson writing it), joined without another copy of the matrix's text
        yield b"[\n" + inner
        yield (b",\n" + inner).join([_inline(row) for row in obj])
        yield b"\n" + indent + b"]"
    elif (isinstance(obj, np.ndarray) and obj.ndim > 2 and obj.size) or (
        isinstance(obj, list) and any(isinstance(v, list | dict | np.ndarray) for v in obj)
    ):
        for i, part in enumerate(obj):
            yield (b"[\n" if i == 0 else b",\n") + inner
            yield from _chunks(part, inner)
        yield b"\n" + indent + b"]"
    else:
        yield _inline(obj)


def _inline(obj: Any) -> bytes:
    """A number, a string, a list of them or a reference, on one line with a space after
    each comma (and colon): ``[0.5, -1, "nan"]``."""
    if isinstance(obj, np.ndarray):
        return dumps_bytes(obj).replace(b",", b", ")  # numbers hold no comma
    if isinstance(obj, list):
        return b"[" + b", ".join(_inline(v) for v in obj) + b"]"
    if isinstance(obj, dict):
        return (
            b"{" + b", ".join(orjson.dumps(k) + b": " + _inline(v) for k, v in obj.items()) + b"}"
        )
    return dumps_bytes(obj)


CHUNK = 1 << 20  # bytes gathered before a write


def _write_chunks(out: TextIO, pieces: Iterable[bytes]) -> None:
    """Write the pieces, gathered into writes of about ``CHUNK`` bytes."""
    pending: list[bytes] = []
    size = 0
    for piece in pieces:
        if size + len(piece) > CHUNK and pending:
            _write(out, b"".join(pending))
            pending, size = [], 0
        if len(piece) >= CHUNK:
            _write(out, piece)
            continue
        pending.append(piece)
        size += len(piece)
    if pending:
        _write(out, b"".join(pending))


def _nested(obj: Any) -> Iterator[bytes]:
    """``obj`` as it reads one level down in an indented document (under "steps": [)."""
    yield b"    "
    yield from _chunks(obj, b"    ")


def write_document(
    steps: Iterable[Step], tracer: Tracer, out: TextIO, contract: Contract = Contract()
) -> None:
    """One JSON document, the same text ``dumps(document(...), indent=True)`` gives, written
    as each step finishes: only one step's record and text are held at a time."""

    def head() -> bytes:  # made after step 1, which writes out the gradients' formulas
        return dumps_bytes(header(tracer, contract), indent=True)[:-2] + b',\n  "steps": ['

    # The head goes out with the first step: an error before it (exit 2) leaves stdout empty.
    count = 0
    try:
        for record in records(steps, tracer, contract):
            _write_chunks(out, [(b"," if count else head()) + b"\n", *_nested(record)])
            del record
            count += 1
    except NumericalAnomaly as exc:
        _write_chunks(
            out,
            [
                (b"\n  ]" if count else head() + b"]") + b',\n  "anomaly": ',
                *_chunks(anomaly_record(exc.anomaly), b"    "),
                b"\n}\n",
            ],
        )
        out.flush()
        raise
    _write(out, (b"\n  ]" if count else head() + b"]") + b"\n}\n")
    out.flush()


def write_lines(
    steps: Iterable[Step],
    tracer: Tracer,
    out: TextIO,
    contract: Contract = Contract(),
    total: int | None = None,
) -> None:
    """One line per step, each as soon as it is traced. Version 2 starts with a header line
    (``"kind": "header"``: version, fields, number of steps, graph with its optimiser), so a
    stream is self-describing; version 1 has none. The header goes out with the first step."""
    version = contract.version
    kind: dict[str, Any] = {"kind": "step"} if version > 1 else {}
    started = version == 1

    def start() -> None:
        nonlocal started
        if not started:
            head = header(tracer, contract)
            steps_count = {} if total is None else {"steps": total}
            line = {"kind": "header", "schema_version": version, **steps_count, **head}
            _write(out, dumps_bytes(line, newline=True))
            started = True

    try:
        for record in records(steps, tracer, contract, {**kind, "schema_version": version}):
            start()
            _write_chunks(out, [*_chunks(record, None), b"\n"])
            out.flush()
            del record
    except NumericalAnomaly as exc:
        start()
        kind = {"kind": "anomaly"} if version > 1 else {}
        _write(
            out,
            dumps_bytes(
                {**kind, "schema_version": version, "anomaly": anomaly_record(exc.anomaly)},
                newline=True,
            ),
        )
        out.flush()
        raise
