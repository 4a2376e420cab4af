"""Hostile, huge and failing input and output: nothing lost, nothing crashes, nothing hangs.

Each test reproduces one numbered finding of a hostile review, with small stand-ins where the
original needed gigabytes (a short-writing stdout, a .npy header that lies, a tiny
--max-memory)."""

from __future__ import annotations

import io
import json
import os
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from backprop_cli.render import jsonout

from .conftest import CONFIGS
from .helpers import invoke, tracer_from_text

LINEAR = str(CONFIGS / "seed_linear.yaml")
SQUARES = """\
params:
  w: {init: normal, shape: [5]}
graph:
  - {name: s, op: mul, args: [w, w]}
  - {name: L, op: sum, args: [s]}
"""


# ---- 1. every write is complete or fails loudly ---------------------------------------------


class ShortWrites(io.RawIOBase):
    """A binary stream that takes at most ``most`` bytes a call, as a pipe or a 2 GiB write
    does."""

    def __init__(self, most: int):
        self.most = most
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:  # type: ignore[override]
        taken = bytes(b[: self.most])
        self.data += taken
        return len(taken)


class Stdout(io.StringIO):
    def __init__(self, buffer) -> None:
        super().__init__()
        self.buffer = buffer


@pytest.mark.parametrize("writer", [jsonout.write_document, jsonout.write_lines])
def test_1_json_short_writes_are_completed(writer) -> None:
    raw = ShortWrites(7)
    writer(tracer_from_text(SQUARES).run(steps=3), tracer_from_text(SQUARES), Stdout(raw))
    expected = io.StringIO()
    writer(tracer_from_text(SQUARES).run(steps=3), tracer_from_text(SQUARES), expected)
    assert raw.data.decode("utf-8") == expected.getvalue()
    if writer is jsonout.write_document:
        assert len(json.loads(raw.data)["steps"]) == 3


def test_1_a_write_that_takes_nothing_fails_loudly() -> None:
    raw = ShortWrites(0)
    with pytest.raises(OSError):
        jsonout.write_document(
            tracer_from_text(SQUARES).run(steps=1), tracer_from_text(SQUARES), Stdout(raw)
        )


# ---- 2. only regular files are written over ------------------------------------------------


def test_2_force_never_replaces_a_device_or_fifo(tmp_path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for target in ("/dev/null", str(fifo)):
        before = os.stat(target).st_mode
        result = invoke("trace", LINEAR, "--save-svg", target, "--force")
        assert result.exit_code == 2
        assert result.stdout == ""
        assert "not a regular file; only regular files are written or replaced" in result.stderr
        assert os.stat(target).st_mode == before
        result = invoke("init", "mlp", target, "--force")
        assert result.exit_code == 2, result.output
        assert os.stat(target).st_mode == before
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_2_force_replaces_a_regular_file(tmp_path) -> None:
    target = tmp_path / "out.svg"
    target.write_text("old")
    assert invoke("trace", LINEAR, "--save-svg", str(target), "--force").exit_code == 0
    assert target.read_text().startswith("<svg")


# ---- 3. file names cannot drive the terminal or break the output format --------------------

EVIL = "evil\x1b]0;PWNED\x1b\\\x1b[31mX\nnew.yaml"


@pytest.fixture
def evil(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / EVIL).write_text(Path(LINEAR).read_text())
    return EVIL


def test_3_graph_title_and_dot_comment_are_escaped(evil) -> None:
    table = invoke("graph", evil)
    assert table.exit_code == 0
    assert "\x1b" not in table.stdout
    assert "of evil\\x1b]0;PWNED\\x1b\\\\x1b[31mX\\nnew.yaml · objective L" in table.stdout
    dot = invoke("graph", evil, "-f", "dot").stdout
    first = dot.splitlines()[0]
    assert first.startswith("// The computational graph of evil\\x1b") and first.endswith(
        "new.yaml, drawn by backprop-cli."
    )
    assert "\x1b" not in dot and dot.splitlines()[1] == "digraph backprop {"


def test_3_svg_title_is_well_formed_xml(evil) -> None:
    result = invoke("trace", evil, "--save-svg", "out.svg")
    assert result.exit_code == 0
    root = ET.parse("out.svg").getroot()  # raises on a control character
    assert any("PWNED" in (e.text or "") for e in root.iter())


def test_3_verdicts_and_init_line_are_escaped(evil) -> None:
    trace = invoke("trace", evil, "-f", "json")
    with open(evil + ".json", "w") as fh:
        fh.write(trace.stdout)
    verdict = invoke("compare", evil + ".json", evil + ".json")
    assert verdict.exit_code == 0 and "\x1b" not in verdict.stdout
    assert verdict.stdout.count("\n") == 1
    expect = invoke("trace", evil, "--expect", evil + ".json")
    assert expect.exit_code == 0 and "\x1b" not in expect.stdout
    init = invoke("init", "mlp", "x" + evil)
    assert init.exit_code == 0 and "\x1b" not in init.stdout
    assert init.stdout.count("\n") == 1
    # the name stands in a YAML comment of the starter: it still parses and traces
    assert invoke("trace", "x" + evil).exit_code == 0


# ---- 4. data files stay inside the config's folder -----------------------------------------


@pytest.fixture
def outside(tmp_path, monkeypatch):
    (tmp_path / "secret.csv").write_text("password,pin\nhunter2,1234\n")
    inner = tmp_path / "course"
    inner.mkdir()
    (inner / "link.csv").symlink_to(tmp_path / "secret.csv")
    monkeypatch.chdir(inner)
    return tmp_path


@pytest.mark.parametrize("where", ["../secret.csv", "ABS", "link.csv"])
def test_4_data_outside_the_config_folder_is_refused(outside, where) -> None:
    path = str(outside / "secret.csv") if where == "ABS" else where
    (outside / "course" / "c.yaml").write_text(
        f"data:\n  x: {{file: '{path}', column: pin}}\n"
        "graph:\n  - {name: s, op: sum, args: [x]}\n"
    )
    result = invoke("trace", "c.yaml")
    assert result.exit_code == 2
    assert result.stderr == (
        f"backprop: error: c.yaml:2:13: data.x.file: {path}: is outside the config's folder; "
        "data files are read from the config's folder and below (use --allow-outside-data "
        "to read it anyway)\n"
    )
    assert "hunter2" not in result.stderr and "password" not in result.stderr
    assert invoke("validate", "c.yaml").exit_code == 2
    lifted = invoke("trace", "c.yaml", "--allow-outside-data", "-f", "json")
    assert lifted.exit_code == 0, lifted.output
    assert json.loads(lifted.stdout)["steps"][0]["forward"]["x"] == [1234.0]


def test_4_stdin_config_reads_from_the_current_folder(outside) -> None:
    text = (
        "data:\n  x: {file: ../secret.csv, column: pin}\n"
        "graph:\n  - {name: s, op: sum, args: [x]}\n"
    )
    result = invoke("trace", "-", input=text)
    assert result.exit_code == 2 and "--allow-outside-data" in result.stderr
    (outside / "course" / "mine.csv").write_text("pin\n5\n")
    ok = invoke("trace", "-", "-f", "json", input=text.replace("../secret.csv", "mine.csv"))
    assert ok.exit_code == 0
