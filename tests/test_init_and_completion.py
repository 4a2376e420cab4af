"""``backprop init``: starter configs that trace as written; shell completion through typer."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from backprop_cli.starters import STARTERS, starter

from .conftest import ROOT
from .helpers import invoke, trace_json

KINDS = ["linear", "mlp", "classifier", "expression"]


def test_the_four_starters() -> None:
    assert sorted(STARTERS) == sorted(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_each_starter_traces_as_written(kind: str, tmp_path) -> None:
    path = tmp_path / f"{kind}.yaml"
    result = invoke("init", kind, str(path))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"wrote {path}; trace it with: backprop trace {path}\n"
    text = path.read_text(encoding="utf-8")
    assert text.startswith(f"# A {kind} starter written by `backprop init {kind}`.")
    assert (
        sum(line.lstrip().startswith("#") or " # " in line for line in text.splitlines()) >= 10
    )  # commented
    doc = trace_json(path)
    objectives = [s["objective"] for s in doc["steps"]]
    assert objectives == sorted(objectives, reverse=True)  # training lowers the objective
    table = invoke("trace", str(path))
    assert table.exit_code == 0 and "Backward pass" in table.stdout
    assert invoke("validate", str(path)).exit_code == 0


def test_linear_starter_gives_the_documents_numbers(tmp_path) -> None:
    path = tmp_path / "line.yaml"
    invoke("init", "linear", str(path))
    step = trace_json(path)["steps"][0]
    assert step["objective"] == pytest.approx(1.805, abs=1e-12)
    assert step["grads"]["w"] == pytest.approx(-3.8, abs=1e-12)
    assert step["updates"]["b"]["after"] == pytest.approx(0.29, abs=1e-12)


def test_expression_starter_sums_two_paths(tmp_path) -> None:
    path = tmp_path / "e.yaml"
    invoke("init", "expression", str(path))
    doc = trace_json(path)
    step = doc["steps"][0]
    assert doc["graph"]["grad_formulas"]["a"] == "∂L/∂a = ∂L/∂ax · x + ∂L/∂f · t"
    terms = [e["global"] for e in step["backward"] if e["input"] == "a"]
    assert len(terms) == 2 and step["grads"]["a"] == pytest.approx(sum(terms), abs=1e-15)


def test_classifier_starter_is_a_batch(tmp_path) -> None:
    path = tmp_path / "c.yaml"
    invoke("init", "classifier", str(path))
    doc = trace_json(path)
    assert {n["name"]: n["shape"] for n in doc["graph"]["nodes"]}["logits"] == [2, 4]
    assert doc["graph"]["nodes"][-1]["op"] == "softmax_cross_entropy"


def test_without_path_the_starter_is_printed() -> None:
    result = invoke("init")
    assert result.exit_code == 0
    assert result.stdout.startswith("# A linear starter written by `backprop init linear`.")
    assert "  backprop trace linear.yaml\n" in result.stdout
    piped = invoke("trace", "-", "--format", "json", input=invoke("init", "mlp").stdout)
    assert json.loads(piped.stdout)["graph"]["objective"] == "J"


def test_an_existing_file_is_kept_without_force(tmp_path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("keep me\n")
    result = invoke("init", "mlp", str(path))
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"backprop: error: {path}: already exists; not overwritten (use --force to replace it)\n"
    )
    assert path.read_text() == "keep me\n"
    assert invoke("init", "mlp", str(path), "--force").exit_code == 0
    assert path.read_text(encoding="utf-8") == starter("mlp", str(path))


def test_unknown_kind_is_a_usage_error() -> None:
    result = invoke("init", "cnn")
    assert result.exit_code == 2 and result.stdout == ""


# ---- shell completion --------------------------------------------------------------------


def _run(*argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("_BACKPROP")}
    return subprocess.run(
        [sys.executable, "-m", "backprop_cli", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**base, **(env or {})},
        timeout=60,
    )


@pytest.mark.parametrize(
    "shell, marker",
    [
        ("bash", "complete -o default -F _backprop_completion backprop"),
        ("zsh", "#compdef backprop"),
        ("fish", "complete --command backprop"),
        ("powershell", "Register-ArgumentCompleter -Native -CommandName backprop"),
    ],
)
def test_show_completion_prints_a_script_for_backprop(shell: str, marker: str) -> None:
    # typer's own testing switch: name the shell instead of detecting the parent process's.
    proc = _run(
        "--show-completion", shell, env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    )
    assert proc.returncode == 0, proc.stderr
    assert "_BACKPROP_COMPLETE" in proc.stdout
    assert marker in proc.stdout


def test_completion_completes_commands_and_choices() -> None:
    def complete(words: str) -> list[str]:
        proc = _run(
            env={
                "_BACKPROP_COMPLETE": "complete_bash",
                "COMP_WORDS": words,
                "COMP_CWORD": str(len(words.split()) - (not words.endswith(" "))),
            }
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.split()

    assert {"trace", "graph", "schema", "init", "validate"} <= set(complete("backprop "))
    assert complete("backprop graph x.yaml --format m") == ["mermaid"]
    assert set(complete("backprop init ")) >= set(KINDS)


def _complete(words: str, shell: str = "bash") -> str:
    """What the completion script gets from ``backprop`` for the words typed so far."""
    proc = _run(
        env={
            "_BACKPROP_COMPLETE": f"complete_{shell}",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - (not words.endswith(" "))),
            "_TYPER_COMPLETE_ARGS": words,  # zsh and fish read the words from here
            "_TYPER_COMPLETE_FISH_ACTION": "get-args",
        }
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_completion_lists_every_op_from_the_op_table() -> None:
    from backprop_cli.ops import OPS

    assert _complete("backprop ops ").split() == list(OPS)
    assert {"sin", "cos", "sqrt", "minimum", "maximum", "clip", "stop_gradient"} <= set(OPS)
    assert _complete("backprop ops s").split() == [n for n in OPS if n.startswith("s")]
    assert _complete("backprop ops cl").split() == ["clip"]
    assert _complete("backprop ops clip mi").split() == ["minimum"]
    # zsh and fish show each op's summary beside its name
    summary = OPS["stop_gradient"].summary
    zsh = _complete("backprop ops st", shell="zsh")
    assert f'"stop_gradient":"{summary}"' in zsh
    assert _complete("backprop ops st", shell="fish") == f"stop_gradient\t{summary}\n"


def test_ops_shows_the_ops_named() -> None:
    from backprop_cli.ops import OPS

    result = invoke("ops", "clip", "sqrt", "--width", "200")
    assert result.exit_code == 0
    rows = [n for n in OPS if re.search(rf"^ {n} ", result.stdout, flags=re.M)]
    assert rows == ["sqrt", "clip"]  # in the table's order
    assert len(invoke("ops", "--width", "200").stdout) > 5 * len(result.stdout)
    assert "at a = min or a = max the local gradient is 1" in " ".join(result.stdout.split())
    unknown = invoke("ops", "clp")
    assert unknown.exit_code == 2
    assert "unknown op 'clp'" in unknown.stderr and "did you mean 'clip'" in unknown.stderr


def test_completion_lists_the_configs_names_for_trace_node() -> None:
    from .helpers import tracer_from_file

    config = "configs/seed_mlp_l2.yaml"
    names = list(tracer_from_file(ROOT / config).shapes)
    assert _complete(f"backprop trace {config} --node ").split() == names
    assert _complete(f"backprop trace -n 3 {config} --full --node W").split() == ["W1", "W2"]
    # a config that cannot be read, or stdin, completes nothing
    assert _complete("backprop trace missing.yaml --node ").split() == []
    assert _complete("backprop trace - --node ").split() == []
