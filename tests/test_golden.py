"""Golden files: the exact output of every shipped config in every format and language.

After an intended change of output, regenerate them with ``pytest --update-golden`` and review
the diff like any other change.
"""

from __future__ import annotations

import pytest

from .conftest import CONFIGS, GOLDEN
from .helpers import invoke
from .test_graph_command import GRAPH_GOLDEN

SHIPPED = sorted(p.stem for p in CONFIGS.glob("*.yaml"))
# golden file suffix -> the options of `backprop trace` that produce it
VARIANTS = {
    "txt": ("--format", "table"),
    "json": ("--format", "json"),
    "md": ("--format", "markdown"),
    "tex": ("--format", "latex"),
    "zh.txt": ("--format", "table", "--lang", "zh"),
    "zh.md": ("--format", "markdown", "--lang", "zh"),
    "zh.tex": ("--format", "latex", "--lang", "zh"),
    "explain.txt": ("--format", "table", "--explain"),
    "explain.md": ("--format", "markdown", "--explain"),
    "explain.zh.md": ("--format", "markdown", "--explain", "--lang", "zh"),
}

# Configs that train for hundreds of steps are pinned with full tables every 100 steps (one line
# for each other step) and, in JSON, their last step: the whole run in every format would be
# megabytes.
LONG_RUNS = {"houses": "300"}


def _options(config: str, variant: str) -> tuple[str, ...]:
    if config not in LONG_RUNS:
        return VARIANTS[variant]
    extra = ("--only-step", LONG_RUNS[config]) if variant == "json" else ("--every", "100")
    return (*VARIANTS[variant], *extra)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("config", SHIPPED)
def test_golden(config: str, variant: str, update_golden: bool) -> None:
    result = invoke(
        "trace", str(CONFIGS / f"{config}.yaml"), *_options(config, variant), "--width", "100"
    )
    assert result.exit_code == 0, result.stderr
    path = GOLDEN / f"{config}.{variant}"
    if update_golden:
        path.write_text(result.stdout, encoding="utf-8")
    assert path.exists(), f"{path.name} is missing: run pytest --update-golden"
    assert result.stdout == path.read_text(encoding="utf-8"), (
        f"output differs from {path.name}; if the change is intended, run pytest --update-golden"
    )


def test_no_stale_golden_files() -> None:
    expected = {f"{c}.{ext}" for c in SHIPPED for ext in VARIANTS}
    expected |= set(GRAPH_GOLDEN)
    assert {p.name for p in GOLDEN.iterdir()} == expected
