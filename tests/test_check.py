"""backprop check: finite differences against the traced gradients, and readable failures."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from backprop_cli import ops

from .conftest import CONFIGS
from .helpers import invoke

SHIPPED = sorted(p.name for p in CONFIGS.glob("*.yaml"))
MLP = str(CONFIGS / "seed_mlp_l2.yaml")


@pytest.mark.parametrize("config", SHIPPED)
def test_check_passes_on_every_shipped_config(config: str) -> None:
    result = invoke("check", str(CONFIGS / config), "--nodes", "--steps", "2", "-f", "json")
    doc = json.loads(result.stdout)
    assert result.exit_code == 0, [t for s in doc["steps"] for t in s["tensors"] if not t["passed"]]
    assert doc["passed"] is True
    assert all(t["max_rel_error"] < 1e-5 for s in doc["steps"] for t in s["tensors"])
    assert not any(t["kinks"] for s in doc["steps"] for t in s["tensors"])  # all compared


@pytest.fixture
def wrong_relu(monkeypatch):
    """relu whose local gradient forgets to zero the negative side: a classic bug."""
    broken = dataclasses.replace(ops.OPS["relu"], local=lambda a, out, o: [np.ones_like(a[0])])
    monkeypatch.setitem(ops.OPS, "relu", broken)


def test_wrong_rule_fails_naming_tensor_element_and_values(wrong_relu) -> None:
    result = invoke("check", MLP, "--width", "120")
    assert result.exit_code == 1
    out = result.stdout
    # z = [0.6, -1.25, -0.45, 0.85]: rows 1 and 2 of ∂J/∂W1 should be only λW1.
    # ∂J/∂W1[1, 1] = ∂J/∂h[1]·x[1] + λW1[1, 1] = 0.336·(−2) + 0.005 instead of 0.005
    assert "FAIL ∂J/∂W1[1, 1]: traced -0.667, finite differences 0.005" in out
    assert "run with --nodes to locate the op" in out
    assert "∂J/∂W2" in out and out.count("pass") >= 1


def test_nodes_locate_the_wrong_op(wrong_relu) -> None:
    result = invoke("check", MLP, "--nodes", "-f", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    step = doc["steps"][0]
    failed = {t["name"] for t in step["tensors"] if not t["passed"]}
    assert failed == {"z", "W1"}
    assert step["suspects"] == [{"node": "h", "equation": "h = relu(z)", "input": "z"}]
    z = next(t for t in step["tensors"] if t["name"] == "z")
    assert z["worst_index"] in ([1], [2])
    assert z["numeric"] == pytest.approx(0.0, abs=1e-8) and z["traced"] != 0.0
    table = invoke("check", MLP, "--nodes", "--width", "160").stdout
    assert "suspect: the local gradient of node 'h' (h = relu(z)) with respect to 'z'" in table


def test_check_reports_errors_as_percentages_of_tolerance() -> None:
    """A tolerance too tight for finite differences fails, and says by how much."""
    result = invoke("check", MLP, "--rtol", "0", "--atol", "1e-14", "-f", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert not doc["passed"]
    assert all(t["max_abs_error"] > 1e-14 for t in doc["steps"][0]["tensors"] if not t["passed"])


@pytest.mark.parametrize("option", ["--eps=0", "--rtol=-1", "--atol=nan"])
def test_bad_tolerances_are_usage_errors(option: str) -> None:
    result = invoke("check", MLP, option)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"backprop: error: {option.split('=')[0]}: expected")


# A ReLU whose input is exactly 0: z = W·x = [0, 0.7]. The traced ∂J/∂z[0] is the rule's 0;
# central differences give ½, the mean of the slopes 0 and 1 on either side.
KINK = """
data: {x: [1.0, 1.0]}
params: {W: [[1.0, -1.0], [0.5, 0.2]]}
graph:
  - {name: z, op: matmul, args: [W, x]}
  - {name: h, op: relu, args: [z]}
  - {name: J, op: sum, args: [h]}
"""


def test_kinks_are_reported_not_compared() -> None:
    result = invoke("check", "-", "--nodes", "-f", "json", input=KINK)
    doc = json.loads(result.stdout)
    assert result.exit_code == 0, doc
    step = doc["steps"][0]
    tensors = {t["name"]: t for t in step["tensors"]}
    assert tensors["z"]["kinks"] == [[0]] and tensors["z"]["numeric_grad"][0] == pytest.approx(0.5)
    assert tensors["W"]["kinks"] == [[0, 0], [0, 1]]
    assert tensors["h"]["kinks"] == [] and step["suspects"] == []
    table = invoke("check", "-", "--nodes", "--width", "200", input=KINK).stdout
    assert "∂J/∂z[0]: at a kink, not compared" in table
    assert "suspect" not in table


def test_a_wrong_rule_is_still_found_next_to_a_kink(wrong_relu) -> None:
    """The kink is excluded, the negative side (z[1] < 0 here) is still compared."""
    text = KINK.replace("[0.5, 0.2]", "[-0.5, 0.2]")
    result = invoke("check", "-", "--nodes", "-f", "json", input=text)
    assert result.exit_code == 1
    step = json.loads(result.stdout)["steps"][0]
    assert step["suspects"] == [{"node": "h", "equation": "h = relu(z)", "input": "z"}]
