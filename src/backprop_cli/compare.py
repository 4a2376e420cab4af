"""Comparing two traces (``--format json`` documents): every differing path, in a fixed order.

Numbers are equal when ``|actual − expected| ≤ atol + rtol·|expected|`` (numpy's ``isclose``
with the expected value as reference); strings, booleans, keys and list lengths must match
exactly. The walk follows the expected document's key order, then keys only the actual one
has, so the same two files always give the same list.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import files
from .errors import BackpropError, IOFailure, UsageError, one_line

# The largest trace document compare and --expect read (documented in README).
MAX_TRACE_BYTES = 1024 * 1024 * 1024
SCHEMA_VERSION = 1  # of the trace documents compared (render.jsonout writes them)
RTOL = 1e-9
ATOL = 1e-12
MISSING = object()


class TraceInputError(BackpropError):
    """A file given to compare that is not a readable trace document (exit 2)."""


@dataclass(frozen=True)
class Difference:
    path: str  # steps[0].grads.W1[2][1]
    expected: Any  # MISSING when only the actual trace has it
    actual: Any  # MISSING when only the expected trace has it


def load_trace(path: str, stdin_text: str | None = None) -> tuple[Any, str]:
    """The parsed document and the name messages use for it; ``-`` reads standard input."""
    name = "<stdin>" if path == "-" else one_line(path)  # shown in the verdict line
    try:
        if path == "-" and stdin_text is not None:
            text = stdin_text
        elif path == "-":
            if sys.stdin is None:  # closed when we started (<&-)
                raise IOFailure("<stdin>: is closed; nothing can be read (Bad file descriptor)")
            text = _read_limited(sys.stdin.buffer, name).decode("utf-8")
        else:
            with files.open_input(path) as fh:
                text = _read_limited(fh, name).decode("utf-8")
    except files.NotRegularFile as exc:
        raise TraceInputError(f"{name}: is {exc.kind}; expected a trace JSON file") from None
    except FileNotFoundError:
        raise TraceInputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise TraceInputError(f"{name}: is a directory; expected a trace JSON file") from None
    except UnicodeDecodeError:
        raise TraceInputError(f"{name}: is not UTF-8 text; expected a trace JSON file") from None
    except OSError as exc:
        raise TraceInputError(f"{name}: cannot be read: {exc.strerror or exc}") from None
    try:
        doc = json.loads(text, parse_int=_parse_int)
    except _HugeInt as exc:
        at = text.find(exc.text)
        line = text.count("\n", 0, at) + 1
        column = at - (text.rfind("\n", 0, at) + 1) + 1
        shown = exc.text if len(exc.text) <= 20 else f"{exc.text[:8]}…{exc.text[-4:]}"
        raise TraceInputError(
            f"{name}:{line}:{column}: the integer {shown} ({len(exc.text)} characters) is too "
            f"large; expected a number of at most about 1.8e308 (float64)"
        ) from None
    except RecursionError:
        raise TraceInputError(
            f"{name}: nested too deeply; expected the output of 'backprop trace --format json'"
        ) from None
    except json.JSONDecodeError as exc:
        raise TraceInputError(
            f"{name}:{exc.lineno}:{exc.colno}: not JSON ({exc.msg}); expected "
            f"the output of 'backprop trace --format json'"
        ) from None
    _check_depth(doc, name)
    if not isinstance(doc, dict) or "schema_version" not in doc or "steps" not in doc:
        raise TraceInputError(
            f"{name}: not a trace; expected the output of 'backprop trace --format json'"
        )
    version = doc["schema_version"]
    if type(version) is not int or version != SCHEMA_VERSION:
        raise TraceInputError(
            f"{name}: schema_version {json.dumps(version)[:40]}; this backprop reads "
            f"schema_version {SCHEMA_VERSION} (the output of 'backprop trace --format json')"
        )
    return doc, name


def stream_differences(
    expected: dict[str, Any],
    head: dict[str, Any],
    steps: Iterator[Any],
    rtol: float = RTOL,
    atol: float = ATOL,
) -> Iterator[Difference]:
    """``differences(expected, {**head, "steps": list(steps)})``, in the same order, with the
    actual steps compared as they come: one step is held at a time, however long the run."""
    for key, value in expected.items():
        if key == "steps" and isinstance(value, list):
            count = 0
            for count, step in enumerate(steps, start=1):
                i = count - 1
                if i < len(value):
                    yield from differences(value[i], step, rtol, atol, f"steps[{i}]")
                else:
                    yield Difference(f"steps[{i}]", MISSING, step)
            for i in range(count, len(value)):
                yield Difference(f"steps[{i}]", value[i], MISSING)
        elif key == "steps":
            yield Difference("steps", value, list(steps))
        elif key in head:
            yield from differences(value, head[key], rtol, atol, _key("", key))
        else:
            yield Difference(_key("", key), value, MISSING)
    for key, value in head.items():
        if key not in expected:
            yield Difference(_key("", key), MISSING, value)


MAX_DEPTH = 64  # a trace nests about 15 levels (steps, edges, 8-D tensors)


def _check_depth(doc: Any, name: str) -> None:
    """Refuse a document nested deeper than any trace, before anything recurses into it."""
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


def _read_limited(fh: Any, name: str) -> bytes:
    """At most ``MAX_TRACE_BYTES`` of a trace, refused beyond (``/dev/zero`` never ends)."""
    data = fh.read(MAX_TRACE_BYTES + 1)
    if len(data) > MAX_TRACE_BYTES:
        raise TraceInputError(
            f"{name}: longer than {MAX_TRACE_BYTES:,} bytes; the limit for a trace read by "
            f"compare and --expect"
        )
    return bytes(data)


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
