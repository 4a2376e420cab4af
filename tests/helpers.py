"""Shared helpers for the tests."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from backprop_cli.cli import app
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
