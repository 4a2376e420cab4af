"""backprop check: finite differences against the traced gradients, and readable failures."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from backprop_cli import check, ops, progress

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
    broken = ops.OPS["relu"]._replace(local=lambda a, out, o: [np.ones_like(a[0])])
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


# ---- --max-elements: a sample of each tensor, chosen deterministically ----------------------

SQUARES = """\
params:
  w: {init: normal, shape: [SIZE]}
graph:
  - {name: s, op: mul, args: [w, w]}
  - {name: L, op: sum, args: [s]}
"""


def test_max_elements_checks_a_million_element_param_in_seconds() -> None:
    text = SQUARES.replace("SIZE", "1000000")
    start = time.monotonic()
    result = invoke("check", "-", "--max-elements", "100", "-f", "json", input=text)
    assert time.monotonic() - start < 60  # all 10⁶ elements: hours
    assert result.exit_code == 0, result.stdout[-500:]
    doc = json.loads(result.stdout)
    assert doc["max_elements"] == 100
    w = doc["steps"][0]["tensors"][0]
    assert (w["elements"], w["checked"], w["passed"]) == (1_000_000, 100, True)
    numeric = np.array([np.nan if x is None else x for x in w["numeric_grad"]])
    checked = ~np.isnan(numeric)
    assert checked.sum() == 100
    traced = np.array(w["traced_grad"])
    assert np.allclose(numeric[checked], traced[checked], rtol=1e-4, atol=1e-4)  # = 2w
    assert checked[int(np.argmax(np.abs(traced)))]  # the largest gradient is among them


def test_max_elements_is_said_in_the_table() -> None:
    text = SQUARES.replace("SIZE", "3000")
    result = invoke("check", "-", "--max-elements", "10", "--width", "200", input=text)
    assert result.exit_code == 0
    assert "∂L/∂w: 10 of 3,000 elements checked (--max-elements 10" in result.stdout
    assert "all 1 gradients agree at the elements checked" in result.stdout
    whole = invoke("check", "-", "--max-elements", "3000", "--width", "200", input=text)
    assert "elements checked" not in whole.stdout and "all 1 gradients agree\n" in whole.stdout


def test_a_wrong_rule_at_one_element_is_caught_by_the_sample(monkeypatch) -> None:
    """mul's rule wrong only where |a| is largest (as an overflow bug would be): one element
    of 100,000, which an evenly spaced sample of 40 would miss; the sample takes the largest
    values and gradients, and finds it."""

    def local(a, out, o):
        wrong = a[1].copy()
        wrong.flat[np.argmax(np.abs(a[1]))] *= 3
        return [wrong, a[0]]

    monkeypatch.setitem(ops.OPS, "mul", ops.OPS["mul"]._replace(local=local))
    text = SQUARES.replace("SIZE", "100000")
    result = invoke("check", "-", "--max-elements", "40", "-f", "json", input=text)
    assert result.exit_code == 1
    w = json.loads(result.stdout)["steps"][0]["tensors"][0]
    assert (w["checked"], w["passed"]) == (40, False)
    traced = np.array(w["traced_grad"])
    assert w["worst_index"] == [int(np.argmax(np.abs(traced)))]


def test_wrong_relu_is_caught_in_a_sample_of_nodes(wrong_relu) -> None:
    text = (
        "params:\n  w: {init: normal, shape: [5000], seed: 3}\n"
        "graph:\n  - {name: h, op: relu, args: [w]}\n  - {name: L, op: sum, args: [h]}\n"
    )
    result = invoke("check", "-", "--nodes", "--max-elements", "20", "-f", "json", input=text)
    assert result.exit_code == 1
    step = json.loads(result.stdout)["steps"][0]
    assert [(t["name"], t["checked"], t["passed"]) for t in step["tensors"]] == [
        ("w", 20, False),
        ("h", 20, True),
    ]
    assert step["suspects"] == [{"node": "h", "equation": "h = relu(w)", "input": "w"}]


def test_sample_is_deterministic_exact_and_takes_the_candidates() -> None:
    rng = np.random.default_rng(0)
    grad = rng.normal(size=(100, 50))
    value = rng.normal(size=(100, 50))
    grad[7, 3] = np.nan
    value[11, 0] = 0.0
    value[90, 9] = 1e9
    picked = check.sample(grad, value, 64)
    assert picked is not None and picked.size == 64
    assert np.array_equal(picked, np.unique(picked))  # sorted, no element twice
    assert np.array_equal(picked, check.sample(grad.copy(), value.copy(), 64))
    flat = np.abs(grad).reshape(-1)
    largest = np.argsort(np.where(np.isnan(flat), np.inf, flat))[::-1][:16]
    assert set(largest) <= set(picked)  # the largest gradients, the non-finite one first
    assert {7 * 50 + 3, 11 * 50, 90 * 50 + 9, 0, grad.size - 1} <= set(picked)
    assert check.sample(grad, value, 5000) is None and check.sample(grad, value, 9999) is None
    assert check.sample(grad, value, 1).tolist() == [0]


def test_progress_goes_to_stderr_and_leaves_stdout_alone(monkeypatch) -> None:
    text = SQUARES.replace("SIZE", "200")
    quiet = invoke("check", "-", "-f", "json", input=text)
    assert quiet.stderr == ""
    monkeypatch.setattr(progress, "EVERY", 0.0)  # a line after every element, as a long run
    loud = invoke("check", "-", "-f", "json", input=text)
    assert loud.stdout == quiet.stdout
    lines = loud.stderr.splitlines()
    assert len(lines) == 200
    assert lines[-1] == (
        "backprop: check: 200 of 200 elements (100%); --max-elements N checks a sample of each "
        "tensor"
    )
    sampled = invoke("check", "-", "--max-elements", "7", "--steps", "2", input=text)
    assert sampled.stderr.splitlines()[-1] == "backprop: check: 14 of 14 elements (100%)"


def test_progress_bar_on_a_terminal_is_erased(monkeypatch) -> None:
    """On a terminal a Rich bar is drawn on stderr (and erased); stdout is unchanged."""
    text = SQUARES.replace("SIZE", "50")
    quiet = invoke("check", "-", input=text)
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: True)
    monkeypatch.setattr(progress, "DELAY", 0.0)
    result = invoke("check", "-", input=text)
    assert result.stdout == quiet.stdout
    assert "elements" in result.stderr and "backprop:" not in result.stderr
