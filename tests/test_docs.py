"""The README documents what the code does: every op, and the real output of a trace."""

from __future__ import annotations

import re

import pytest

from backprop_cli.ops import OPS

from .conftest import CONFIGS, ROOT
from .helpers import invoke

README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_op_is_in_the_readme_table(name: str) -> None:
    assert re.search(rf"^\| `{name}` \|", README, re.M), f"document op '{name}' in README.md"


def test_readme_excerpt_is_real_output() -> None:
    block = README.split("$ backprop trace configs/seed_linear.yaml\n```\n\n```text\n", 1)[1]
    excerpt = block.split("```", 1)[0]
    actual = invoke("trace", str(CONFIGS / "seed_linear.yaml")).stdout
    strip = "\n".join(line.rstrip() for line in actual.splitlines()).strip() + "\n"
    assert excerpt == strip, "README's excerpt drifted: paste the current output"


def test_readme_gives_the_two_setup_commands_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for command in ("pip install -e '.[test]'", "pytest"):
        assert f"\n{command}\n" in README
        assert f"\n{command}\n" in ci
