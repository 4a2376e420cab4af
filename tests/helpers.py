"""Shared helpers for the tests."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from backprop_cli.cli import app
from backprop_cli.compare import differences
from backprop_cli.config import compile_source, load_config
from backprop_cli.engine import Tracer
from backprop_cli.yamlsrc import load

runner = CliRunner()


def invoke(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input, catch_exceptions=False)


def trace_json(config: str | Path, *extra: str) -> dict:
    result = invoke("trace", str(config), "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def tracer_from_text(text: str, name: str = "test.yaml") -> Tracer:
    return Tracer(compile_source(load(text, name)))


def tracer_from_file(path: str | Path) -> Tracer:
    return Tracer(load_config(str(path)))


# Golden JSON is compared as numbers: another CPU or BLAS kernel may change the last bit.
RTOL = 1e-12
ATOL = 1e-14


def assert_json_matches(actual_text: str, path: Path) -> None:
    """The parsed documents agree: numbers to RTOL/ATOL, everything else exactly."""
    expected = json.loads(path.read_text(encoding="utf-8"))
    actual = json.loads(actual_text)
    found = list(differences(expected, actual, rtol=RTOL, atol=ATOL))
    shown = "\n".join(f"  {d.path}: expected {d.expected!r}, got {d.actual!r}" for d in found[:10])
    assert not found, (
        f"{len(found)} value(s) differ from {path.name} (rtol {RTOL:g}, atol {ATOL:g}):\n{shown}\n"
        "if the change is intended, run pytest --update-golden"
    )


def assert_matches(actual: str, path: Path, update: bool) -> None:
    if update:
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path.name} is missing: run pytest --update-golden"
    if path.suffix == ".json":
        assert_json_matches(actual, path)
    else:
        assert actual == path.read_text(encoding="utf-8"), (
            f"output differs from {path.name}; if the change is intended, run pytest "
            "--update-golden"
        )
