"""The README documents every command, and its graph examples are the real output."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from backprop_cli.cli import app

from .conftest import CONFIGS, ROOT
from .helpers import invoke

README = (ROOT / "README.md").read_text(encoding="utf-8")
COMMANDS = sorted(c.name or c.callback.__name__ for c in app.registered_commands)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_documented_and_lists_exit_codes(command: str) -> None:
    assert re.search(rf"backprop {command}\b", README), f"document 'backprop {command}'"
    help_text = invoke(command, "--help").stdout
    assert "Exit codes: 0 success" in " ".join(help_text.split())


def test_readme_mermaid_block_is_real_output() -> None:
    block = README.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert (
        block == invoke("graph", str(CONFIGS / "seed_mlp_l2.yaml"), "--format", "mermaid").stdout
    ), (
        "README's mermaid block drifted: paste 'backprop graph configs/seed_mlp_l2.yaml "
        "--format mermaid'"
    )


@pytest.mark.parametrize("svg", ["seed_mlp_l2.graph.svg", "seed_mlp_l2.backward.svg"])
def test_readme_pictures_exist_and_show_the_documents_graph(svg: str) -> None:
    assert f"](docs/{svg})" in README
    text = (ROOT / "docs" / svg).read_text(encoding="utf-8")
    labels = set(re.findall(r">([^<>]+)</text>", text))
    for name in ("x", "W1", "z", "h", "W2", "o", "y", "L", "s", "J", "ℓ2", "×", "+"):
        assert name in labels, name


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
@pytest.mark.parametrize(
    "svg, extra",
    [("seed_mlp_l2.graph.svg", ()), ("seed_mlp_l2.backward.svg", ("--backward", "--step", "1"))],
)
def test_readme_pictures_are_current(svg: str, extra: tuple[str, ...]) -> None:
    """The labels of docs/*.svg are those Graphviz draws from today's output (the layout may
    differ between Graphviz versions, the text may not)."""
    dot = invoke("graph", str(CONFIGS / "seed_mlp_l2.yaml"), "--format", "dot", *extra).stdout
    fresh = subprocess.run(
        ["dot", "-Tsvg"], input=dot, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    shipped = (ROOT / "docs" / svg).read_text(encoding="utf-8")
    assert re.findall(r">([^<>]+)</text>", fresh) == re.findall(r">([^<>]+)</text>", shipped), (
        f"docs/{svg} is stale: regenerate it with 'backprop graph configs/seed_mlp_l2.yaml "
        f"--format dot {' '.join(extra)} | dot -Tsvg > docs/{svg}'"
    )


def test_completion_is_documented() -> None:
    assert "backprop --install-completion" in README
    assert "backprop --show-completion" in README


def test_readme_names_every_op_symbol() -> None:
    from backprop_cli.render.graph import OP_SYMBOLS

    section = README.split("## The computational graph", 1)[1].split("```", 1)[0]
    for op, symbol in OP_SYMBOLS.items():
        assert f"`{symbol}`" in section and op in section, op
