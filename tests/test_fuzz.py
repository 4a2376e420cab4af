"""Fuzzing: random and mutated configs never crash the loader or the CLI.

Every config, however broken, ends with exit code 0, 2 or 3, one message on stderr when it fails,
no traceback, and within a bounded time. An internal error found here is a bug in the loader: fix
it there, never filter it out of this test.

The default example counts keep ``pytest`` fast; ``BACKPROP_FUZZ_EXAMPLES=5000 pytest
tests/test_fuzz.py`` runs a long fuzz.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import time

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backprop_cli import yamlsrc
from backprop_cli.cli import app
from backprop_cli.config import TOP_LEVEL, compile_source
from backprop_cli.engine import Tracer
from backprop_cli.errors import ConfigError, NodeError, NumericalAnomaly
from backprop_cli.models import MODEL_KEYS
from backprop_cli.ops import OPS

from .conftest import CONFIGS, ROOT
from .helpers import runner

EXAMPLES = int(os.environ.get("BACKPROP_FUZZ_EXAMPLES", "0")) or None
SECONDS = 5.0  # the longest one in-process run may take
SHIPPED = {p.name: p.read_text(encoding="utf-8") for p in sorted(CONFIGS.glob("*.yaml"))}
TREES = {name: yaml.safe_load(text) for name, text in SHIPPED.items()}
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's, when there, is faster


def fuzz_settings(default: int) -> settings:
    return settings(
        max_examples=EXAMPLES or default,
        deadline=None,
        derandomize=EXAMPLES is None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )


# ---- what the CLI must do with any config ---------------------------------------------------


def check_cli(text: str | bytes, tmp_path, *args: str) -> None:
    path = tmp_path / "fuzz.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    start = time.monotonic()
    # catch_exceptions=False: an exception that escapes the command is a bug and fails here.
    result = runner.invoke(app, [args[0], str(path), *args[1:]], catch_exceptions=False)
    elapsed = time.monotonic() - start
    assert result.exit_code in (0, 2, 3), (result.exit_code, result.stderr, text)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    if result.exit_code:
        lines = result.stderr.splitlines()
        assert lines and all(line.startswith("backprop: error: ") for line in lines), (
            result.stderr,
            text,
        )
        assert result.stderr.endswith("\n")
        if args[0] == "trace":
            assert len(lines) == 1, result.stderr
    if result.exit_code == 2:
        assert result.stdout == "", text
    assert elapsed < SECONDS, (elapsed, text)


COMMANDS = st.sampled_from(
    [
        ("validate",),
        ("trace", "--steps", "2", "--format", "json"),
        ("trace", "--steps", "2", "--format", "jsonl"),
        ("trace", "--steps", "1"),
        ("trace", "--steps", "2", "--allow-nonfinite", "--format", "json"),
        ("trace", "--steps", "2", "--format", "markdown"),
        ("trace", "--steps", "2", "--format", "csv"),
        ("graph", "--backward", "--step", "2"),
    ]
)


# ---- random YAML values ----------------------------------------------------------------------

WORDS = sorted(
    set(TOP_LEVEL)
    | set(OPS)
    | {k for keys in MODEL_KEYS.values() for k in keys}
    | {
        "name",
        "op",
        "args",
        "value",
        "init",
        "shape",
        "seed",
        "scale",
        "trainable",
        "lambda",
        "lr",
        "sgd",
        "mlp",
        "linear",
        "x",
        "y",
        "W1",
        "W2",
        "z",
        "h",
        "J",
        "zeros",
        "normal",
        "xavier",
        "relu",
    }
)
KEYS = st.sampled_from(WORDS) | st.text(max_size=6)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-3, 5)
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(WORDS)
    | st.text(max_size=8)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=20,
)
TOP = st.dictionaries(st.sampled_from(TOP_LEVEL) | KEYS, VALUES, max_size=6)


def dump(value) -> str:
    return yaml.dump(value, Dumper=DUMPER, allow_unicode=True, sort_keys=False)


@fuzz_settings(50)
@given(value=TOP | VALUES, command=COMMANDS)
def test_random_yaml_values(value, command, tmp_path_factory) -> None:
    check_cli(dump(value), tmp_path_factory.mktemp("fuzz"), *command)


# ---- the shipped configs, mutated ------------------------------------------------------------


def paths(tree, prefix=()):
    """Every path into a nested value: ("graph", 2, "args")."""
    yield prefix
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from paths(v, (*prefix, i))


def get(tree, path):
    for part in path:
        tree = tree[part]
    return tree


def put(tree, path, value):
    get(tree, path[:-1])[path[-1]] = value


def delete(tree, path):
    parent = get(tree, path[:-1])
    del parent[path[-1]]


@st.composite
def mutated(draw) -> str:
    tree = copy.deepcopy(TREES[draw(st.sampled_from(sorted(TREES)))])
    for _ in range(draw(st.integers(1, 3))):
        where = [p for p in paths(tree) if p]
        if not where:
            break
        path = draw(st.sampled_from(where))
        kind = draw(st.sampled_from(["delete", "swap", "retype", "copy"]))
        if kind == "delete":
            delete(tree, path)
        elif kind == "swap":
            other = draw(st.sampled_from(where))
            if other[: len(path)] != path and path[: len(other)] != other:
                a, b = get(tree, path), get(tree, other)
                put(tree, path, b)
                put(tree, other, a)
        elif kind == "retype":
            put(tree, path, draw(VALUES))
        else:  # copy a value to another place: duplicate names, wrong shapes
            put(tree, path, copy.deepcopy(get(tree, draw(st.sampled_from(where)))))
    return dump(tree)


@fuzz_settings(50)
@given(text=mutated(), command=COMMANDS)
def test_mutated_shipped_configs(text, command, tmp_path_factory) -> None:
    check_cli(text, tmp_path_factory.mktemp("fuzz"), *command)


@st.composite
def damaged_text(draw) -> bytes:
    raw = SHIPPED[draw(st.sampled_from(sorted(SHIPPED)))].encode("utf-8")
    kind = draw(st.sampled_from(["truncate", "insert", "flip", "drop_line", "dup_line"]))
    if kind == "truncate":
        return raw[: draw(st.integers(0, len(raw)))]
    if kind == "insert":
        at = draw(st.integers(0, len(raw)))
        junk = draw(
            st.sampled_from(
                [
                    b"[",
                    b"]",
                    b"{",
                    b"}",
                    b":",
                    b"- ",
                    b"&a ",
                    b"*a",
                    b"!!",
                    b"\t",
                    b"'",
                    b'"',
                    b"#",
                    b"\n  ",
                    b"\xff",
                    b"\x00",
                    b"1e999",
                ]
            )
        )
        return raw[:at] + junk + raw[at:]
    if kind == "flip":
        at = draw(st.integers(0, len(raw) - 1))
        return raw[:at] + bytes([draw(st.integers(0, 255))]) + raw[at + 1 :]
    lines = raw.split(b"\n")
    i = draw(st.integers(0, len(lines) - 1))
    if kind == "drop_line":
        return b"\n".join(lines[:i] + lines[i + 1 :])
    return b"\n".join(lines[: i + 1] + lines[i:])


@fuzz_settings(50)
@given(raw=damaged_text(), command=COMMANDS)
def test_damaged_shipped_text(raw, command, tmp_path_factory) -> None:
    check_cli(raw, tmp_path_factory.mktemp("fuzz"), *command)


# ---- the loader and the tracer directly: many more examples in the same time ----------------


def check_loader(text: str) -> None:
    """Loading raises ConfigError or gives a graph; tracing it raises only NumericalAnomaly
    or NodeError."""
    try:
        graph = compile_source(yamlsrc.load(text, "fuzz.yaml"))
    except ConfigError as exc:
        lines = exc.lines()
        assert lines and all(line.startswith("fuzz.yaml") and "\n" not in line for line in lines), (
            lines
        )
        return
    try:
        for _ in Tracer(graph).run(steps=2):
            pass
    except NumericalAnomaly as exc:
        assert str(exc).startswith("numerical anomaly in step ")
    except NodeError as exc:  # values an op cannot take (labels out of range): exit 2
        assert re.match(r"fuzz\.yaml:\d+:\d+: [^\n]*: node '", str(exc)), str(exc)
        assert "\n" not in str(exc)


@fuzz_settings(200)
@given(text=mutated() | TOP.map(dump))
def test_loader_and_tracer(text) -> None:
    check_loader(text)


# ---- a few as real processes -----------------------------------------------------------------


@settings(
    max_examples=EXAMPLES // 50 if EXAMPLES else 2,
    deadline=None,
    derandomize=EXAMPLES is None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(text=mutated())
def test_mutated_configs_as_processes(text, tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "BACKPROP_DEBUG"}
    proc = subprocess.run(
        [sys.executable, "-m", "backprop_cli", "trace", str(path), "-n", "2", "-f", "jsonl"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=30,
    )
    assert proc.returncode in (0, 2, 3), (proc.returncode, proc.stderr, text)
    assert "Traceback" not in proc.stderr
    if proc.returncode:
        assert proc.stderr.startswith("backprop: error: ") and proc.stderr.endswith("\n")


# ---- hostile shapes: huge integers, deep and wide graphs, special files ----------------------

HUGE_INTS = st.integers(min_value=10**300, max_value=10**600) | st.integers(
    min_value=-(10**600), max_value=-(10**300)
)


@fuzz_settings(30)
@given(data=st.data(), command=COMMANDS)
def test_huge_integers_anywhere(data, command, tmp_path_factory) -> None:
    tree = copy.deepcopy(TREES[data.draw(st.sampled_from(sorted(TREES)))])
    for _ in range(data.draw(st.integers(1, 3))):
        where = [p for p in paths(tree) if p]
        put(tree, data.draw(st.sampled_from(where)), data.draw(HUGE_INTS))
    check_cli(dump(tree), tmp_path_factory.mktemp("fuzz"), *command)


UNARY = ["tanh", "sigmoid", "relu", "exp", "neg", "abs", "softplus"]


@st.composite
def big_graphs(draw) -> str:
    """A long chain, a wide fan of nodes over one input, or both, with some inputs pointing
    forward (cycles), nowhere (undefined) or at the node itself."""
    depth = draw(st.integers(1, 400))
    width = draw(st.integers(0, 400))
    nodes = []
    for i in range(1, depth + 1):
        arg = f"n{i - 1}"
        roll = draw(st.integers(0, 200))
        if roll == 0:
            arg = f"n{draw(st.integers(i, depth + 5))}"  # later, self, or undefined
        elif roll == 1:
            arg = f"undefined{i}"
        nodes.append(f"  - {{name: n{i}, op: {draw(st.sampled_from(UNARY))}, args: [{arg}]}}")
    nodes += [f"  - {{name: w{i}, op: tanh, args: [n0]}}" for i in range(width)]
    nodes.append(f"  - {{name: L, op: sum, args: [n{depth}]}}")
    return "params:\n  n0: [0.1, -0.2]\ngraph:\n" + "\n".join(nodes) + "\n"


GRAPH_COMMANDS = st.sampled_from(
    [
        ("validate",),
        ("trace", "--format", "json"),
        ("graph",),
        ("graph", "--format", "dot"),
        ("graph", "--backward", "--step", "1", "--format", "mermaid"),
    ]
)


@fuzz_settings(10)
@given(text=big_graphs(), command=GRAPH_COMMANDS)
def test_deep_and_wide_graphs(text, command, tmp_path_factory) -> None:
    check_cli(text, tmp_path_factory.mktemp("fuzz"), *command)


def _special_files(folder) -> list[str]:
    """Data files that are not what they claim: devices, a FIFO, links that lead nowhere or
    round in a loop, a folder, a .npy whose header lies, an empty file."""
    os.mkfifo(folder / "fifo.csv")
    (folder / "loop.csv").symlink_to("loop.csv")
    (folder / "dangling.npy").symlink_to(folder / "gone.npy")
    (folder / "zero.npy").symlink_to("/dev/zero")
    (folder / "dir.csv").mkdir()
    (folder / "empty.csv").write_bytes(b"")
    meta = "{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000,), }".ljust(117)
    (folder / "lie.npy").write_bytes(
        b"\x93NUMPY\x01\x00" + (len(meta) + 1).to_bytes(2, "little") + meta.encode() + b"\n"
    )
    (folder / "nul.csv").write_bytes(b"a\n1\x00\n")
    return [
        "fifo.csv",
        "loop.csv",
        "dangling.npy",
        "zero.npy",
        "dir.csv",
        "empty.csv",
        "lie.npy",
        "nul.csv",
        "/dev/zero",
        "/dev/null",
        "/dev/full",
        "../outside.csv",
        "/etc/passwd",
    ]


@fuzz_settings(30)
@given(data=st.data(), command=COMMANDS, outside=st.booleans())
def test_special_data_files(data, command, outside, tmp_path_factory) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    name = data.draw(st.sampled_from(_special_files(folder)))
    column = data.draw(st.sampled_from(["", ", column: 0", ", columns: [a]", ", transpose: 1"]))
    text = f"data:\n  x: {{file: '{name}'{column}}}\ngraph:\n  - {{name: L, op: sum, args: [x]}}\n"
    extra = ("--allow-outside-data",) if outside else ()
    check_cli(text, folder, *command, *extra)


@fuzz_settings(20)
@given(data=st.data(), command=COMMANDS | st.sampled_from([("check",), ("compare", "-")]))
def test_special_files_as_the_config(data, command, tmp_path_factory) -> None:
    """The config (or a trace given to compare) that is a device, a FIFO, a link to /dev/zero,
    a loop, a folder or a binary file: one line, exit 2, nothing on stdout, within seconds."""
    folder = tmp_path_factory.mktemp("fuzz")
    name = data.draw(st.sampled_from(_special_files(folder)))
    path = name if name.startswith("/") else str(folder / name)
    start = time.monotonic()
    result = runner.invoke(app, [command[0], path, *command[1:]], catch_exceptions=False)
    assert time.monotonic() - start < SECONDS
    assert (result.exit_code, result.stdout) == (2, ""), (name, result.stderr)
    assert result.stderr.startswith("backprop: error: ") and result.stderr.count("\n") == 1


# smooth, and finite for any chain of three over N(0, 0.5²) (exp of exp of exp overflows)
SMOOTH = ["tanh", "sigmoid", "neg", "softplus"]


@fuzz_settings(20)
@given(
    size=st.integers(1, 3000),
    limit=st.integers(1, 40),
    chain=st.lists(st.sampled_from(SMOOTH), min_size=1, max_size=3),
    seed=st.integers(0, 2**31),
)
def test_check_max_elements_checks_exactly_the_sample(size, limit, chain, seed) -> None:
    """Any size and --max-elements: min(size, N) elements of each tensor are differenced, as
    many are in the JSON, and a smooth chain passes."""
    lines = [f"params: {{h0: {{init: normal, shape: [{size}], seed: {seed}, scale: 0.5}}}}"]
    lines.append("graph:")
    for i, op in enumerate(chain, 1):
        lines.append(f"  - {{name: h{i}, op: {op}, args: [h{i - 1}]}}")
    lines.append(f"  - {{name: L, op: mean, args: [h{len(chain)}]}}")
    text = "\n".join(lines) + "\n"
    args = ["check", "-", "--nodes", "--max-elements", str(limit), "-f", "json"]
    result = runner.invoke(app, args, input=text, catch_exceptions=False)
    assert result.exit_code == 0, (text, result.stdout[-800:], result.stderr)
    doc = json.loads(result.stdout)
    for tensor in doc["steps"][0]["tensors"]:
        assert tensor["elements"] == size
        assert tensor["checked"] == min(size, limit)
        assert sum(x is not None for x in tensor["numeric_grad"]) == tensor["checked"]
