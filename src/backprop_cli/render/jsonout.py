"""The JSON contract (``schema_version`` 1): one document, or one object per step (jsonl).

Values are numbers or nested lists of float64 at full precision: the shortest text that reads
back as the same float (``1e-5``, ``0.1``, ``1e+16``); non-finite values are written as the
strings ``"nan"``, ``"inf"`` and ``"-inf"``. The text is made by orjson, which writes numpy arrays
natively (a trace of a real-sized network holds millions of numbers per step, and the standard
library's encoder spends about 0.5 µs on each), and the document form is written step by step,
so memory does not grow with the number of steps.

A trace stopped by a numerical anomaly still writes the steps before it, then the anomaly: the
``anomaly`` key of the document, or a last line ``{"schema_version": 1, "anomaly": {…}}``.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

import numpy as np
import orjson

from ..engine import Anomaly, Step, Tracer, finite_stats, nonfinite_counts
from ..errors import NumericalAnomaly

SCHEMA_VERSION = 1


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


def graph_record(tracer: Tracer) -> dict[str, Any]:
    g = tracer.graph
    constants = {"constants": {k: value(v) for k, v in g.constants.items()}} if g.constants else {}
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
            }
            for n in g.nodes
        ],
        **constants,
    }


def step_record(step: Step, tracer: Tracer) -> dict[str, Any]:
    return {
        "step": step.step,
        "forward": {name: value(v) for name, v in step.values.items()},
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


def dumps_bytes(obj: Any, indent: bool = False, newline: bool = False) -> bytes:
    """UTF-8 JSON of records holding numbers, strings and the arrays ``value`` returns."""
    option = (
        orjson.OPT_SERIALIZE_NUMPY
        | (orjson.OPT_INDENT_2 if indent else 0)
        | (orjson.OPT_APPEND_NEWLINE if newline else 0)
    )
    return orjson.dumps(obj, option=option)


def dumps(obj: Any, indent: bool = False) -> str:
    return dumps_bytes(obj, indent).decode("utf-8")


def _write(out: TextIO, data: bytes) -> None:
    """Bytes to a text stream: straight to its binary buffer where it has one (a trace of a
    large network writes tens of megabytes a step; decoding and re-encoding them would cost
    more than making them)."""
    buffer = getattr(out, "buffer", None)
    if buffer is None:
        out.write(data.decode("utf-8"))
        return
    out.flush()
    write_all(buffer, data)


def write_all(buffer: Any, data: bytes) -> None:
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


def document(steps: Iterable[Step], tracer: Tracer) -> dict[str, Any]:
    """The whole trace as one JSON-ready document."""
    records = [step_record(s, tracer) for s in steps]
    return {"schema_version": SCHEMA_VERSION, "graph": graph_record(tracer), "steps": records}


def document_text(steps: Iterable[Step], tracer: Tracer) -> str:
    return dumps(document(steps, tracer), indent=True) + "\n"


def _chunks(obj: Any, indent: bytes | None) -> Iterator[bytes]:
    """The text ``dumps_bytes(obj, indent=...)`` gives, in pieces: mappings and lists of
    records are walked here, and each array is made on its own, so that a step's record is
    never held as one text (with a param of 10⁷ elements, that text is gigabytes).
    ``indent`` is the indentation of the line ``obj`` starts on (None: compact JSON)."""
    inner = None if indent is None else indent + b"  "
    if isinstance(obj, dict) and obj:
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
        yield dumps_bytes(obj, indent=True).replace(b"\n", b"\n" + indent)


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


def write_document(steps: Iterable[Step], tracer: Tracer, out: TextIO) -> None:
    """One JSON document, the same text ``dumps(document(...), indent=True)`` gives, written
    as each step finishes: only one step's record is held at a time."""
    head = (
        dumps_bytes({"schema_version": SCHEMA_VERSION, "graph": graph_record(tracer)}, indent=True)[
            :-2
        ]
        + b',\n  "steps": ['
    )
    # The head goes out with the first step: an error before it (exit 2) leaves stdout empty.
    count = 0
    try:
        for s in steps:
            record = step_record(s, tracer)
            _write_chunks(out, [(b"," if count else head) + b"\n", *_nested(record)])
            count += 1
    except NumericalAnomaly as exc:
        _write_chunks(
            out,
            [
                (b"\n  ]" if count else head + b"]") + b',\n  "anomaly": ',
                *_chunks(anomaly_record(exc.anomaly), b"    "),
                b"\n}\n",
            ],
        )
        out.flush()
        raise
    _write(out, (b"\n  ]" if count else head + b"]") + b"\n}\n")
    out.flush()


def write_lines(steps: Iterable[Step], tracer: Tracer, out: TextIO) -> None:
    try:
        for s in steps:
            record = {"schema_version": SCHEMA_VERSION, **step_record(s, tracer)}
            _write_chunks(out, [*_chunks(record, None), b"\n"])
            out.flush()
    except NumericalAnomaly as exc:
        _write(
            out,
            dumps_bytes(
                {"schema_version": SCHEMA_VERSION, "anomaly": anomaly_record(exc.anomaly)},
                newline=True,
            ),
        )
        out.flush()
        raise
