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


def _block(after: str) -> str:
    return README.split(after, 1)[1].split("```", 1)[0]


def test_readme_markdown_excerpt_is_real_output() -> None:
    excerpt = _block("```markdown\n")
    actual = invoke(
        "trace", str(CONFIGS / "seed_linear.yaml"), "--format", "markdown", "--lang", "zh"
    ).stdout.splitlines()
    for line in excerpt.splitlines():
        assert not line or line in actual, f"README's markdown excerpt drifted: {line}"


def test_readme_shell_regression_test_works(tmp_path) -> None:
    """The README's pin-trace.sh, run by sh: pins, passes, then fails on a changed weight."""
    import os
    import shutil
    import subprocess
    import sys

    script = "#!/bin/sh\n" + _block("```sh\n#!/bin/sh\n")
    (tmp_path / "pin-trace.sh").write_text(script, encoding="utf-8")
    shutil.copytree(CONFIGS, tmp_path / "configs")
    env = dict(
        os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    )

    def run() -> subprocess.CompletedProcess:
        return subprocess.run(
            ["sh", "pin-trace.sh"],
            cwd=tmp_path,
            env=env,
            text=True,
            capture_output=True,
            timeout=60,
        )

    first = run()
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "pinned" / "seed_mlp_l2.json").exists()
    assert run().returncode == 0
    config = tmp_path / "configs" / "seed_mlp_l2.yaml"
    config.write_text(config.read_text().replace("[ 0.2, -0.1,  0.4]", "[ 0.25, -0.1,  0.4]", 1))
    changed = run()
    assert changed.returncode == 1
    assert "steps[0].forward.W1[0][0]" in changed.stdout
    assert "steps[0].forward.W1[0][0]" in README and "steps[0].forward.z[0]" in README


@pytest.mark.parametrize("config", ["seed_linear", "seed_mlp_l2"])
def test_docs_pictures_are_real_output(
    config: str, tmp_path, monkeypatch, update_golden: bool
) -> None:
    """docs/*.svg are what `backprop trace configs/X.yaml --save-svg` writes today."""
    monkeypatch.chdir(ROOT)
    picture = ROOT / "docs" / f"{config}.svg"
    fresh = tmp_path / "fresh.svg"
    result = invoke("trace", f"configs/{config}.yaml", "--width", "100", "--save-svg", str(fresh))
    assert result.exit_code == 0, result.stderr
    if update_golden:
        picture.write_bytes(fresh.read_bytes())
    assert picture.read_bytes() == fresh.read_bytes(), (
        f"docs/{config}.svg drifted: run pytest --update-golden"
    )
    assert f"]({'docs/' + config}.svg)" in README
