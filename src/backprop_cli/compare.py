"""Comparing two traces (``--format json`` documents or ``--format jsonl`` streams, schema
version 1 or 2): every differing path, in a fixed order.

Numbers are equal when ``|actual − expected| ≤ atol + rtol·|expected|`` (numpy's ``isclose``
with the expected value as reference); strings, booleans, keys and list lengths must match
exactly. The walk follows the expected document's key order, then keys only the actual one
has, so the same two files always give the same list.

Files are read step by step (a trace of many steps is never held whole), and a trace of
version 2 compared with one of version 1 is first rebuilt as version 1 (``to_v1``: every
reference resolved, ``before`` and ``grad`` of the updates filled in from ``forward`` and
``grads``), so a pinned file of either version keeps working.
"""

from __future__ import annotations

import codecs
import json
import math
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from . import files
from .errors import BackpropError, IOFailure, UsageError, one_line
from .tolerances import ATOL, RTOL

# The most bytes compare and --expect read of one trace (documented in README).
MAX_TRACE_BYTES = 1024 * 1024 * 1024
MAX_DEPTH = 64  # a trace nests about 15 levels (steps, edges, 8-D tensors)
MISSING = object()


class TraceInputError(BackpropError):
    """A file given to compare that is not a readable trace document (exit 2)."""


@dataclass(frozen=True)
class Difference:
    path: str  # steps[0].grads.W1[2][1]
    expected: Any  # MISSING when only the actual trace has it
    actual: Any  # MISSING when only the expected trace has it


NOT_A_TRACE = "not a trace; expected the output of 'backprop trace --format json'"


@dataclass
class Trace:
    """A trace being read: what precedes the steps, the steps one by one, and what follows
    them (``tail``, filled in once ``steps`` is exhausted: the anomaly of a stopped trace)."""

    name: str
    version: int
    form: str  # "json", "jsonl" (or "trace" for one traced in memory by --expect)
    head: dict[str, Any]  # schema_version, fields (version 2), graph (not in version 1 jsonl)
    steps: Iterator[dict[str, Any]]
    tail: dict[str, Any] = field(default_factory=dict)

    @property
    def fields(self) -> tuple[str, ...] | None:
        fields = self.head.get("fields")
        return tuple(fields) if isinstance(fields, list) else None

    def describe(self) -> str:
        return f"schema_version {self.version}, {self.form}"


_WHITESPACE = re.compile(r"[ \t\n\r]*")
CHUNK = 1 << 16  # bytes read at a time


class _Reader:
    """JSON values read one by one from a file of any size, holding only what is being
    parsed: the members of the top-level object, the elements of its ``steps`` list, or the
    lines of a jsonl stream. Positions in errors are those of the whole file."""

    def __init__(self, fh: IO[bytes] | None, text: str | None, name: str):
        self.fh = fh
        self.name = name
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.buf = text or ""
        self.pos = 0
        self.eof = fh is None
        self.lines = 0  # newlines before buf[0]
        self.column = 0  # characters after the last of them, before buf[0]
        self.chunk = CHUNK
        self.read = 0  # bytes read from fh

    def _more(self) -> bool:
        """Read more of the file onto the buffer (dropping what was parsed); False at its end."""
        if self.eof:
            return False
        assert self.fh is not None
        data = self.fh.read(self.chunk)
        self.read += len(data)
        if self.read > MAX_TRACE_BYTES:
            raise TraceInputError(
                f"{self.name}: longer than {MAX_TRACE_BYTES:,} bytes; the limit for a trace read "
                f"by compare and --expect"
            )
        try:
            text = self.decoder.decode(data, final=not data)
        except UnicodeDecodeError:
            raise TraceInputError(
                f"{self.name}: is not UTF-8 text; expected a trace JSON file"
            ) from None
        self.eof = not data
        done = self.buf[: self.pos]
        newlines = done.count("\n")
        if newlines:
            self.lines += newlines
            self.column = len(done) - done.rfind("\n") - 1
        else:
            self.column += len(done)
        self.buf = self.buf[self.pos :] + text
        self.pos = 0
        return True

    def peek(self) -> str:
        """The next character after whitespace ("" at the end of the file)."""
        while True:
            self.pos = _WHITESPACE.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return ""

    def value(self) -> Any:
        self.peek()
        while True:
            try:
                obj, end = _DECODER.raw_decode(self.buf, self.pos)
            except _HugeInt as exc:
                line, column = self.place(self.buf.find(exc.text, self.pos))
                shown = exc.text if len(exc.text) <= 20 else f"{exc.text[:8]}…{exc.text[-4:]}"
                raise TraceInputError(
                    f"{self.name}:{line}:{column}: the integer {shown} ({len(exc.text)} "
                    f"characters) is too large; expected a number of at most about 1.8e308 "
                    f"(float64)"
                ) from None
            except RecursionError:
                raise TraceInputError(
                    f"{self.name}: nested too deeply; expected the output of "
                    f"'backprop trace --format json'"
                ) from None
            except json.JSONDecodeError as exc:
                # the value goes on in the part not read yet: read twice as much each time,
                # so a large value is parsed a few times, not once per piece
                self.chunk = min(self.chunk * 2, 1 << 26)
                if self._more():
                    continue
                raise self.error(exc.msg, exc.pos) from None
            if end == len(self.buf) and not isinstance(obj, (dict, list, str)) and self._more():
                continue  # a number or literal may go on in the next piece
            self.pos = end
            self.chunk = CHUNK  # only what one value needs is ever held
            _check_depth(obj, self.name)
            return obj

    def expect(self, char: str, message: str) -> None:
        if self.peek() != char:
            raise self.error(message, self.pos)
        self.pos += 1

    def place(self, pos: int) -> tuple[int, int]:
        """The 1-based line and column in the whole file of ``buf[pos]``."""
        before = self.buf[:pos]
        newlines = before.count("\n")
        line = self.lines + newlines + 1
        column = pos - before.rfind("\n") if newlines else self.column + pos + 1
        return line, column

    def error(self, message: str, pos: int) -> TraceInputError:
        line, column = self.place(pos)
        return TraceInputError(
            f"{self.name}:{line}:{column}: not JSON ({message}); expected "
            f"the output of 'backprop trace --format json'"
        )

    def members(self, after_value: bool = False) -> Iterator[str]:
        """The keys of an object, the reader left before each value: from after its ``{``,
        or (``after_value``) from after the value of one of its members."""
        if after_value:
            if not self._next_member():
                return
        elif self.peek() == "}":
            self.pos += 1
            return
        while True:
            if self.peek() != '"':
                raise self.error("Expecting property name enclosed in double quotes", self.pos)
            key = self.value()
            self.expect(":", "Expecting ':' delimiter")
            yield key
            if not self._next_member():
                return

    def _next_member(self) -> bool:
        """After a member's value: True at ``,``, False at the object's ``}``."""
        char = self.peek()
        self.pos += 1
        if char == "}":
            return False
        if char != ",":
            raise self.error("Expecting ',' delimiter", self.pos - 1)
        return True

    def elements(self) -> Iterator[Any]:
        """The elements of a list, one at a time (the reader is after ``[``)."""
        if self.peek() == "]":
            self.pos += 1
            return
        while True:
            yield self.value()
            char = self.peek()
            self.pos += 1
            if char == "]":
                return
            if char != ",":
                raise self.error("Expecting ',' delimiter", self.pos - 1)


def load_trace(path: str, stdin_text: str | None = None) -> Trace:
    """The trace in a file (``-`` reads standard input), ready to be read step by step."""
    name = "<stdin>" if path == "-" else one_line(path)  # shown in the verdict line
    try:
        if path == "-" and stdin_text is not None:
            return _open(_Reader(None, stdin_text, name))
        if path == "-":
            if sys.stdin is None:  # closed when we started (<&-)
                raise IOFailure("<stdin>: is closed; nothing can be read (Bad file descriptor)")
            return _open(_Reader(sys.stdin.buffer, None, name))
        # closed when the trace has been read, or collected
        fh = files.open_input(path)
    except files.NotRegularFile as exc:
        raise TraceInputError(f"{name}: is {exc.kind}; expected a trace JSON file") from None
    except FileNotFoundError:
        raise TraceInputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise TraceInputError(f"{name}: is a directory; expected a trace JSON file") from None
    except OSError as exc:
        raise TraceInputError(f"{name}: cannot be read: {exc.strerror or exc}") from None
    try:
        return _open(_Reader(fh, None, name))
    except OSError as exc:
        fh.close()
        if isinstance(exc, IsADirectoryError):
            raise TraceInputError(f"{name}: is a directory; expected a trace JSON file") from None
        raise TraceInputError(f"{name}: cannot be read: {exc.strerror or exc}") from None
    except BaseException:
        fh.close()
        raise


def _version(value: Any, name: str) -> int:
    if type(value) is not int or value not in (1, 2):
        raise TraceInputError(
            f"{name}: schema_version {json.dumps(value)[:40]}; this backprop reads "
            f"schema_version 1 or 2 (the output of 'backprop trace --format json')"
        )
    return value


def _open(reader: _Reader) -> Trace:
    """Read up to the first step: a document's members before ``steps``, or a jsonl stream's
    first line (its header in version 2)."""
    name = reader.name
    if reader.peek() != "{":
        reader.value()  # not JSON at all: the parser's message; else not a trace
        raise TraceInputError(f"{name}: {NOT_A_TRACE}")
    reader.pos += 1
    head: dict[str, Any] = {}
    for key in reader.members():
        if key == "steps" and reader.peek() == "[":
            reader.pos += 1
            if "schema_version" not in head:
                raise TraceInputError(f"{name}: {NOT_A_TRACE}")
            trace = Trace(name, _version(head["schema_version"], name), "json", head, iter(()))
            trace.steps = _document_steps(reader, trace)
            return trace
        head[key] = reader.value()
    # A whole object without a list of steps: the first line of a jsonl stream.
    first = head
    if "schema_version" not in first or not ({"step", "anomaly", "graph"} & set(first)):
        raise TraceInputError(f"{name}: {NOT_A_TRACE}")
    version = _version(first["schema_version"], name)
    if first.get("kind") == "header":
        head = {k: v for k, v in first.items() if k not in ("kind", "steps")}
        trace = Trace(name, version, "jsonl", head, iter(()))
        trace.steps = _lines(reader, trace, None)
    else:  # version 1: no header, the first line is a step (or the anomaly)
        trace = Trace(name, version, "jsonl", {"schema_version": version}, iter(()))
        trace.steps = _lines(reader, trace, first)
    return trace


def _document_steps(reader: _Reader, trace: Trace) -> Iterator[dict[str, Any]]:
    yield from reader.elements()
    for key in reader.members(after_value=True):  # what follows the steps: the anomaly
        trace.tail[key] = reader.value()
    if reader.peek():
        raise reader.error("Extra data", reader.pos)
    _close(reader)


def _lines(reader: _Reader, trace: Trace, first: dict[str, Any] | None) -> Iterator[dict[str, Any]]:
    record = first
    while True:
        if record is None:
            if not reader.peek():
                break
            record = reader.value()
        if not isinstance(record, dict) or record.get("schema_version") != trace.version:
            raise TraceInputError(
                f"{trace.name}: a line that is not a step of a schema_version "
                f"{trace.version} trace: {show(record)}"
            )
        if "anomaly" in record and "step" not in record:
            trace.tail["anomaly"] = record["anomaly"]
        else:
            yield {k: v for k, v in record.items() if k not in ("kind", "schema_version")}
        record = None
    _close(reader)


def _close(reader: _Reader) -> None:
    if reader.fh is not None:
        reader.fh.close()


# ---- version 2 rebuilt as version 1 ----------------------------------------------------------


def _transposed(value: Any, shape: list[int]) -> Any:
    """The matrix of ``shape`` that is ``value`` (read row by row as a matrix of the reversed
    shape) transposed: ``xᵀ`` from ``x``, a vector being a column or a row as ``shape`` says."""
    flat: list[Any] = []

    def walk(v: Any) -> None:
        if isinstance(v, list):
            for x in v:
                walk(x)
        else:
            flat.append(v)

    walk(value)
    rows, cols = shape
    return [[flat[j * rows + i] for j in range(cols)] for i in range(rows)]


def resolve(value: Any, step: dict[str, Any]) -> Any:
    """A value of a version 2 step: inline, or the value a reference names."""
    if not (isinstance(value, dict) and "ref" in value):
        return value
    target = step.get(value["ref"], {}).get(value["name"], MISSING)
    if target is MISSING:
        raise TraceInputError(
            f"step {step.get('step')}: a reference to {value['ref']}.{value['name']}, which "
            f"the trace does not hold (written with --fields without {value['ref']}?)"
        )
    return _transposed(target, value["shape"]) if value.get("transpose") else target


def to_v1(step: dict[str, Any], grad_formulas: dict[str, Any] | None = None) -> dict[str, Any]:
    """A version 2 step record as version 1 writes it: every number inline, and the
    gradients' formulas (``graph.grad_formulas`` in version 2) with the gradients."""
    out: dict[str, Any] = {"step": step.get("step")}
    forward, grads = step.get("forward", {}), step.get("grads", {})
    if "forward" in step:
        out["forward"] = forward
    if "intermediates" in step:
        out["intermediates"] = step["intermediates"]
    if "objective" in step:
        out["objective"] = step["objective"]
    if "backward" in step:
        out["backward"] = [
            {
                **{k: edge[k] for k in ("index", "node", "op", "input") if k in edge},
                **{k: resolve(edge[k], step) for k in ("upstream", "local", "global")},
                **{k: edge[k] for k in ("formula", "term", "terms") if k in edge},
            }
            for edge in step["backward"]
        ]
    if "grads" in step:
        out["grads"] = grads
        if grad_formulas is not None:
            out["grad_formulas"] = grad_formulas
    if "updates" in step:
        out["updates"] = {
            name: {
                "before": forward.get(name, MISSING),
                "grad": grads.get(name, MISSING),
                "after": resolve(u["after"], step),
                "formula": u["formula"],
                "state": {k: resolve(v, step) for k, v in u["state"].items()},
            }
            for name, u in step["updates"].items()
        }
        for u in out["updates"].values():
            for key in ("before", "grad"):
                if u[key] is MISSING:
                    del u[key]
    return out


def compare_traces(
    expected: Trace, actual: Trace, rtol: float = RTOL, atol: float = ATOL
) -> Iterator[Difference]:
    """Every differing path of two traces, step by step. Traces of different versions are
    compared as version 1; the versions themselves are not a difference (the verdict names
    them), nor is the graph a version 1 jsonl stream does not carry."""
    mixed = expected.version != actual.version
    skip = {"schema_version", "fields"} if mixed else set()
    for key in ("graph",):
        if key not in expected.head or key not in actual.head:
            skip.add(key)  # version 1 jsonl has no header
    head_e = {k: v for k, v in expected.head.items() if k not in skip}
    head_a = {k: v for k, v in actual.head.items() if k not in skip}
    # version 2 keeps the gradients' formulas in the graph, version 1 in every step
    formulas_e, formulas_a = _formulas(expected.head), _formulas(actual.head)
    if mixed:
        for head in (head_e, head_a):
            if isinstance(head.get("graph"), dict):
                head["graph"] = {k: v for k, v in head["graph"].items() if k != "grad_formulas"}
    yield from _members(head_e, head_a, rtol, atol, only_expected=True)
    count = 0
    steps_a = iter(actual.steps)
    for e in expected.steps:
        a: Any = next(steps_a, MISSING)
        path = f"steps[{count}]"
        if a is MISSING:
            yield Difference(path, e, MISSING)
        else:
            if mixed:
                e = to_v1(e, formulas_e) if expected.version == 2 else e
                a = to_v1(a, formulas_a) if actual.version == 2 else a
            yield from differences(e, a, rtol, atol, path)
        count += 1
    for a in steps_a:
        yield Difference(f"steps[{count}]", MISSING, a)
        count += 1
    yield from differences(expected.tail, actual.tail, rtol, atol)
    for key, value in head_a.items():
        if key not in head_e:
            yield Difference(_key("", key), MISSING, value)


def _formulas(head: dict[str, Any]) -> dict[str, Any] | None:
    """``graph.grad_formulas`` of a version 2 head: what a version 1 step holds with its
    grads."""
    graph = head.get("graph")
    formulas = graph.get("grad_formulas") if isinstance(graph, dict) else None
    return formulas if isinstance(formulas, dict) else None


def _members(
    expected: dict[str, Any], actual: dict[str, Any], rtol: float, atol: float, only_expected: bool
) -> Iterator[Difference]:
    for key, value in expected.items():
        if key in actual:
            yield from differences(value, actual[key], rtol, atol, _key("", key))
        else:
            yield Difference(_key("", key), value, MISSING)


def _check_depth(doc: Any, name: str) -> None:
    """Refuse a value nested deeper than any trace, before anything recurses into it."""
    stack = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise TraceInputError(
                f"{name}: nested more than {MAX_DEPTH} levels deep; expected the output of "
                f"'backprop trace --format json'"
            )
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values() if isinstance(v, (dict, list)))
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value if isinstance(v, (dict, list)))


class _HugeInt(ValueError):
    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


def _parse_int(text: str) -> int:
    """A JSON integer, refused when float64 cannot hold it (the comparison is in float64)."""
    if len(text) > 400 or abs(int(text)) > sys.float_info.max:
        raise _HugeInt(text)
    return int(text)


_DECODER = json.JSONDecoder(parse_int=_parse_int)


def check_paths(expected: str, actual: str) -> None:
    if expected == "-" and actual == "-":
        raise UsageError("only one of EXPECTED and ACTUAL can be - (standard input)")


def check_tolerances(rtol: float, atol: float) -> None:
    for option, value in (("--rtol", rtol), ("--atol", atol)):
        if not (math.isfinite(value) and value >= 0):
            raise UsageError(f"{option}: expected a finite tolerance ≥ 0, found {value}")


def _key(path: str, key: str) -> str:
    if re.fullmatch(r"\w+", key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def close(expected: float, actual: float, rtol: float, atol: float) -> bool:
    return abs(actual - expected) <= atol + rtol * abs(expected)


def differences(
    expected: Any, actual: Any, rtol: float = RTOL, atol: float = ATOL, path: str = ""
) -> Iterator[Difference]:
    """Every path where the two documents differ, depth first, in the expected's order."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key, value in expected.items():
            sub = _key(path, key)
            if key in actual:
                yield from differences(value, actual[key], rtol, atol, sub)
            else:
                yield Difference(sub, value, MISSING)
        for key, value in actual.items():
            if key not in expected:
                yield Difference(_key(path, key), MISSING, value)
    elif isinstance(expected, list) and isinstance(actual, list):
        records = all(isinstance(x, dict) for x in expected + actual)
        if len(expected) != len(actual) and not records:
            yield Difference(path, expected, actual)  # a tensor of another shape: one row
            return
        for i, (e, a) in enumerate(zip(expected, actual, strict=False)):
            yield from differences(e, a, rtol, atol, f"{path}[{i}]")
        for i in range(len(actual), len(expected)):  # records (steps, edges) one by one
            yield Difference(f"{path}[{i}]", expected[i], MISSING)
        for i in range(len(expected), len(actual)):
            yield Difference(f"{path}[{i}]", MISSING, actual[i])
    elif _is_number(expected) and _is_number(actual):
        e, a = float(expected), float(actual)
        if math.isfinite(e) and math.isfinite(a):
            same = close(e, a, rtol, atol)
        else:  # NaN matches NaN, +inf matches +inf: nothing else is close to them
            same = e == a or (math.isnan(e) and math.isnan(a))
        if not same:
            yield Difference(path, expected, actual)
    elif type(expected) is not type(actual) or expected != actual:
        yield Difference(path, expected, actual)


def show(value: Any, limit: int = 48) -> str:
    """A value for the differences table: numbers at full precision, containers shortened."""
    if value is MISSING:
        return "(missing)"
    if isinstance(value, list):
        shape = []
        v: Any = value
        while isinstance(v, list):
            shape.append(len(v))
            v = v[0] if v else None
        text = json.dumps(value, ensure_ascii=False)
        if len(text) <= limit:
            return text
        return "list of " + "×".join(str(n) for n in shape)
    text = json.dumps(value, ensure_ascii=False)
    if len(text) <= limit:
        return text
    if isinstance(value, dict):
        keys = list(value)
        return "{" + ", ".join(keys[:3]) + (", …" if len(keys) > 3 else "") + "}"
    return text[: limit - 1] + "…"
