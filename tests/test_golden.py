"""Golden files: the pinned output of the shipped configs.

Every shipped config is pinned in JSON and in the English table. Each other format, language and
option is pinned on one or two configs chosen to cover it, so the set grows with what the output
can do, not with configs × formats × languages.

JSON is compared as numbers, with the project's own comparison at relative 1e-12: another CPU (or
another BLAS kernel, or thread count) may sum a matrix product in another order and change the last
bit, and that must not fail the suite, while a real change of a value must. Text formats print 4
significant digits and are compared byte for byte.

After an intended change of output, regenerate them with ``pytest --update-golden`` and review the
diff like any other change.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from .conftest import CONFIGS, GOLDEN
from .helpers import assert_json_matches, assert_matches, invoke
from .test_graph_command import GRAPH_GOLDEN

SHIPPED = sorted(p.stem for p in CONFIGS.glob("*.yaml"))
# Configs whose output is by design the same as another's: pinned against that file, not copied.
SAME_AS = {"seed_mlp_l2_model": "seed_mlp_l2"}

# golden file suffix -> the options of `backprop trace` that produce it
VARIANTS: dict[str, tuple[str, ...]] = {
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
EVERY_CONFIG = ("json", "txt")
# Each other variant on the configs that exercise it: the document's two examples (scalars; the
# two-layer network with its ℓ2 term), a batch with softmax and labels, and a many-step Adam run.
COVERAGE: dict[str, tuple[str, ...]] = {
    "md": ("seed_mlp_l2", "classifier_softmax"),
    "tex": ("seed_mlp_l2", "tanh_adam"),
    "zh.txt": ("seed_linear", "seed_mlp_l2"),
    "zh.md": ("seed_mlp_l2",),
    "zh.tex": ("seed_linear",),
    "explain.txt": ("seed_mlp_l2", "frozen_layer"),
    "explain.md": ("classifier_softmax",),
    "explain.zh.md": ("seed_linear", "expression"),
}

CASES = sorted(
    {(c, v) for c in SHIPPED for v in EVERY_CONFIG}
    | {(c, v) for v, configs in COVERAGE.items() for c in configs}
)

# Configs that train for hundreds of steps are pinned with full tables every 100 steps (one line
# for each other step) and, in JSON, their last step: the whole run in every format would be
# megabytes.
LONG_RUNS = {"houses": "300"}


def _options(config: str, variant: str) -> tuple[str, ...]:
    if config not in LONG_RUNS:
        return VARIANTS[variant]
    extra = ("--only-step", LONG_RUNS[config]) if variant == "json" else ("--every", "100")
    return (*VARIANTS[variant], *extra)


def golden_path(config: str, variant: str) -> Path:
    return GOLDEN / f"{SAME_AS.get(config, config)}.{variant}"


@pytest.mark.parametrize(("config", "variant"), CASES)
def test_golden(config: str, variant: str, update_golden: bool) -> None:
    result = invoke(
        "trace", str(CONFIGS / f"{config}.yaml"), *_options(config, variant), "--width", "100"
    )
    assert result.exit_code == 0, result.stderr
    # A config pinned against another's file never rewrites it.
    update = update_golden and config not in SAME_AS
    assert_matches(result.stdout, golden_path(config, variant), update)


def test_every_variant_is_pinned_somewhere() -> None:
    assert set(VARIANTS) == set(EVERY_CONFIG) | set(COVERAGE)
    assert all(c in SHIPPED for configs in COVERAGE.values() for c in configs)


def test_no_stale_or_duplicate_golden_files() -> None:
    expected = {golden_path(c, v).name for c, v in CASES} | set(GRAPH_GOLDEN)
    present = {p.name for p in GOLDEN.iterdir()}
    assert present == expected
    contents = [p.read_bytes() for p in sorted(GOLDEN.iterdir())]
    assert len(set(contents)) == len(contents), "two golden files have the same bytes"


# ---- the comparison itself: last-bit differences pass, real changes fail ----------------------


def _map_numbers(doc: Any, change: Any) -> Any:
    if isinstance(doc, dict):
        return {k: _map_numbers(v, change) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_map_numbers(v, change) for v in doc]
    if isinstance(doc, float) and math.isfinite(doc):
        return change(doc)
    return doc


def _nudge(x: float, ulps: int = 3) -> float:
    for _ in range(ulps):
        x = float(np.nextafter(x, math.inf))
    return x


@pytest.mark.parametrize("config", ["tanh_adam", "seed_mlp_l2"])
def test_json_golden_tolerates_last_bit_differences(config: str, tmp_path: Path) -> None:
    path = golden_path(config, "json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    nudged = _map_numbers(doc, _nudge)
    assert nudged != doc  # every float moved by 3 ulps
    assert_json_matches(json.dumps(nudged), path)


def test_json_golden_fails_on_a_real_change(tmp_path: Path) -> None:
    path = golden_path("tanh_adam", "json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    w = doc["steps"][0]["grads"]["W1"]
    w[0][0] *= 1 + 1e-6
    with pytest.raises(AssertionError, match=r"steps\[0\]\.grads\.W1\[0\]\[0\]"):
        assert_json_matches(json.dumps(doc), path)
