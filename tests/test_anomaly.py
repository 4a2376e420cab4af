"""Numerical anomalies: the first NaN or ±Inf stops the trace with a report and exit code 3;
the steps before it are still printed. ``--allow-nonfinite`` traces on and marks the cells."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from backprop_cli.errors import NumericalAnomaly
from backprop_cli.ops import OPS, run_forward, run_local

from .conftest import ROOT
from .helpers import invoke, tracer_from_text

OVERFLOW = str(ROOT / "tests" / "configs" / "overflow_logits.yaml")
OVERFLOW_MESSAGE = (
    "backprop: error: numerical anomaly in step 2, forward pass, node 'logits' "
    "(logits = W·x): logits has 1 of 2 elements non-finite: inf at [0]\n"
)


def run_text(tmp_path, text: str, *args: str):
    path = tmp_path / "net.yaml"
    path.write_text(text, encoding="utf-8")
    return invoke("trace", str(path), *args)


# ---- the overflowing logits: table, JSON, JSONL ------------------------------------------------


def test_overflowing_logits_stop_at_the_node_with_earlier_steps_printed() -> None:
    result = invoke("trace", OVERFLOW)
    assert result.exit_code == 3
    assert result.stderr == OVERFLOW_MESSAGE
    out = result.stdout
    assert out.startswith("Step 1 · L = 0.5 ─")
    assert "Step 2 · L" not in out and "Step 3" not in out
    report = out[out.index("Step 2 · numerical anomaly") :]
    lines = [line.rstrip() for line in report.splitlines()]
    assert lines[1:] == [
        " Node         logits",
        " Equation     logits = W·x",
        " Not finite   logits",
        " Elements     1 of 2 (1 inf): [0] inf",
        " Value        [inf, 0] ⚠",
        " Input W      [[1e+159, 0.1]",
        "               [     0,   0]]",
        " Input x      [1e+160, 1]",
        "",
        "The trace stops here (exit code 3); --allow-nonfinite traces on and marks non-finite "
        "values with ⚠.",
    ]


def test_overflow_in_json_keeps_the_steps_and_adds_the_anomaly() -> None:
    result = invoke("trace", OVERFLOW, "--format", "json")
    assert result.exit_code == 3
    assert result.stderr == OVERFLOW_MESSAGE
    doc = json.loads(result.stdout)
    assert [s["step"] for s in doc["steps"]] == [1]
    assert doc["steps"][0]["updates"]["W"]["after"] == [[0.1 * 1e160, 0.1], [0.0, 0.0]]
    assert doc["anomaly"] == {
        "step": 2,
        "pass": "forward",
        "node": "logits",
        "input": None,
        "equation": "logits = W·x",
        "quantity": "logits",
        "shape": [2],
        "nonfinite": {"nan": 0, "inf": 1, "-inf": 0},
        "elements": [{"index": [0], "value": "inf"}],
        "inputs": [
            {
                "name": "W",
                "shape": [2, 2],
                "min": 0.0,
                "max": 0.1 * 1e160,
                "nonfinite": {"nan": 0, "inf": 0, "-inf": 0},
                "value": [[0.1 * 1e160, 0.1], [0.0, 0.0]],
            },
            {
                "name": "x",
                "shape": [2],
                "min": 1.0,
                "max": 1e160,
                "nonfinite": {"nan": 0, "inf": 0, "-inf": 0},
                "value": [1e160, 1.0],
            },
        ],
        "message": OVERFLOW_MESSAGE[len("backprop: error: ") : -1],
    }


def test_overflow_in_jsonl_ends_with_an_anomaly_line() -> None:
    result = invoke("trace", OVERFLOW, "--format", "jsonl")
    assert result.exit_code == 3
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["kind"] for r in records] == ["header", "step", "anomaly"]
    assert [r.get("step") for r in records[1:]] == [1, None]
    assert set(records[2]) == {"kind", "schema_version", "anomaly"}
    assert records[2]["schema_version"] == 2
    assert (
        records[2]["anomaly"]
        == json.loads(invoke("trace", OVERFLOW, "--format", "json").stdout)["anomaly"]
    )


def test_allow_nonfinite_traces_on_and_marks_cells() -> None:
    result = invoke("trace", OVERFLOW, "--allow-nonfinite")
    assert result.exit_code == 0
    assert result.stderr == ""
    out = result.stdout
    assert "Step 3 · L = inf ⚠" in out
    assert "numerical anomaly" not in out
    logits_row = next(
        line for line in out.splitlines() if line.startswith("logits") and "inf" in line
    )
    assert logits_row.rstrip().endswith("[inf, 0] ⚠")
    finite_rows = [line for line in out.splitlines() if line.startswith("x ")]
    assert finite_rows and all("⚠" not in line for line in finite_rows)


def test_allow_nonfinite_json_writes_nonfinite_as_strings() -> None:
    result = invoke("trace", OVERFLOW, "--allow-nonfinite", "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert "anomaly" not in doc
    assert [s["step"] for s in doc["steps"]] == [1, 2, 3]
    assert doc["steps"][1]["forward"]["logits"] == ["inf", 0.0]
    assert doc["steps"][1]["objective"] == "inf"


# ---- every place a value is checked ------------------------------------------------------------


def test_backward_term_overflow(tmp_path) -> None:
    # z = w·x = 1 and L = z·c = 1e200 are finite; ∂L/∂w = c·x = 1e400 is not.
    result = run_text(
        tmp_path,
        "data: {x: 1.0e200, c: 1.0e200}\nparams: {w: 1.0e-200}\n"
        "graph:\n  - {name: z, op: mul, args: [w, x]}\n"
        "  - {name: L, op: mul, args: [z, c]}\n",
        "-f",
        "json",
    )
    assert result.exit_code == 3
    assert result.stderr == (
        "backprop: error: numerical anomaly in step 1, backward pass, node 'z' (z = w·x), edge "
        "to 'w': the term ∂L/∂z × x of ∂L/∂w is inf\n"
    )
    anomaly = json.loads(result.stdout)["anomaly"]
    assert (anomaly["pass"], anomaly["node"], anomaly["input"]) == ("backward", "z", "w")
    assert [(i["name"], i["value"]) for i in anomaly["inputs"]] == [("∂L/∂z", 1e200), ("x", 1e200)]
    assert json.loads(result.stdout)["steps"] == []


def test_gradient_summed_over_paths_overflows(tmp_path) -> None:
    # Each path gives ∂L/∂a = 1e308; their sum does not fit in float64.
    text = (
        "data: {k: 1.0e308, m: -1.0e308}\nparams: {a: 1.0e-10}\n"
        "graph:\n  - {name: p, op: mul, args: [a, k]}\n"
        "  - {name: q, op: mul, args: [a, m]}\n"
        "  - {name: L, op: sub, args: [p, q]}\n"
    )
    result = run_text(tmp_path, text)
    assert result.exit_code == 3
    assert result.stderr == (
        "backprop: error: numerical anomaly in step 1, backward pass, node 'p' (p = a·k), edge "
        "to 'a': ∂L/∂a, summed over its paths is inf\n"
    )
    assert "Step 1 · numerical anomaly in the backward pass" in result.stdout
    anomaly = json.loads(run_text(tmp_path, text, "-f", "json").stdout)["anomaly"]
    assert [(i["name"], i["value"]) for i in anomaly["inputs"]] == [
        ("∂L/∂a so far", 1e308),
        ("the term ∂L/∂p × k of ∂L/∂a", 1e308),
    ]


def test_update_overflow(tmp_path) -> None:
    result = run_text(
        tmp_path,
        "data: {x: 1.0}\nparams: {w: -1.0e308}\n"
        "graph:\n  - {name: L, op: mul, args: [w, x]}\n"
        "optimizer: {lr: 1.0e308}\n",
    )
    assert result.exit_code == 3
    assert result.stderr == (
        "backprop: error: numerical anomaly in step 1, update pass, node 'w' "
        "(w ← w − η·∂L/∂w): w after the update is -inf\n"
    )


def test_nonfinite_data_is_caught_before_any_op(tmp_path) -> None:
    result = run_text(
        tmp_path, "data: {x: [1.0, .nan, -.inf]}\ngraph:\n  - {name: s, op: sum, args: [x]}\n"
    )
    assert result.exit_code == 3
    assert result.stderr == (
        "backprop: error: numerical anomaly in step 1, forward pass, node 'x' (data): x has 2 of "
        "3 elements non-finite: nan at [1], -inf at [2]\n"
    )


def test_nonfinite_local_gradient() -> None:
    tracer = tracer_from_text(
        "data: {x: 1.0}\nparams: {w: 2.0}\ngraph:\n  - {name: L, op: mul, args: [w, x]}\n"
    )
    values = {"x": np.float64("inf"), "w": np.float64(2.0), "L": np.float64(1.0)}
    with pytest.raises(NumericalAnomaly) as caught:
        tracer.backward(values, check=4)
    anomaly = caught.value.anomaly
    assert (anomaly.step, anomaly.pass_, anomaly.node, anomaly.input) == (4, "backward", "L", "w")
    assert anomaly.quantity == "the local gradient ∂L/∂w = x"
    assert anomaly.elements() == [((), "inf")]


def test_many_nonfinite_elements_are_counted_and_the_first_listed(tmp_path) -> None:
    result = run_text(
        tmp_path,
        "data: {x: 1.0e300}\nparams: {w: {init: uniform, shape: [6, 6], "
        "seed: 1, scale: 1.0e10}}\n"
        "graph:\n  - {name: z, op: mul, args: [w, x]}\n"
        "  - {name: s, op: sum, args: [z]}\n",
        "-f",
        "json",
    )
    assert result.exit_code == 3
    anomaly = json.loads(result.stdout)["anomaly"]
    counts = anomaly["nonfinite"]
    assert counts["nan"] == 0 and counts["inf"] + counts["-inf"] == 36
    assert len(anomaly["elements"]) == 10
    assert anomaly["elements"][0]["index"] == [0, 0]
    w, x = anomaly["inputs"]
    assert (w["name"], w["shape"], "value" in w) == ("w", [6, 6], False)  # summarised only
    assert (x["name"], x["value"]) == ("x", 1e300)
    assert -1e10 <= w["min"] < w["max"] <= 1e10
    assert result.stderr.endswith(", …\n")


def test_the_check_is_off_with_allow_nonfinite() -> None:
    tracer = tracer_from_text("data: {x: [1.0, .nan]}\ngraph:\n  - {name: s, op: sum, args: [x]}\n")
    steps = list(tracer.run(allow_nonfinite=True))
    assert len(steps) == 1 and math.isnan(steps[0].objective)
    with pytest.raises(NumericalAnomaly):
        list(tracer.run())


def test_no_numpy_warning_reaches_stderr(tmp_path) -> None:
    result = run_text(
        tmp_path,
        "data: {x: 1.0e300}\ngraph:\n  - {name: z, op: mul, args: [x, x]}\n",
        "--allow-nonfinite",
    )
    assert result.exit_code == 0
    assert result.stderr == ""


# ---- ops stay finite where the math is finite -------------------------------------------------

BIG = 1e300

LARGE_INPUTS = [
    # (op, inputs, expected forward value)
    ("sigmoid", [np.array([1000.0, -1000.0, 0.0])], np.array([1.0, 0.0, 0.5])),
    ("tanh", [np.array([1000.0, -1000.0])], np.array([1.0, -1.0])),
    ("relu", [np.array([BIG, -BIG])], np.array([BIG, 0.0])),
    ("mean", [np.array([1e308, 1e308])], np.float64(1e308)),
    (
        "half_squared_error",
        [np.array([1.3e154, 1.3e154]), np.zeros(2)],
        np.float64(0.5 * 1.3e154**2 * 2),
    ),
    ("sum", [np.array([BIG, -BIG, 1.0])], np.float64(1.0)),
]


@pytest.mark.parametrize(
    ("name", "inputs", "expected"), LARGE_INPUTS, ids=[c[0] for c in LARGE_INPUTS]
)
def test_large_inputs_stay_finite(name: str, inputs: list, expected) -> None:
    op = OPS[name]
    options = {key: spec.default for key, spec in op.options.items()}
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # not even in between
        out = run_forward(op, inputs, options)
        local = run_local(op, inputs, out, options)
    np.testing.assert_allclose(out, expected, rtol=1e-15)
    assert all(np.isfinite(v).all() for v in local)


def test_sigmoid_config_with_large_logits_traces() -> None:
    tracer = tracer_from_text(
        "data: {z: [800.0, -800.0]}\n"
        "graph:\n  - {name: p, op: sigmoid, args: [z]}\n"
        "  - {name: s, op: sum, args: [p]}\n"
    )
    step = next(tracer.run())
    assert step.values["p"].tolist() == [1.0, 0.0]
    assert step.grads["z"].tolist() == [0.0, 0.0]


def test_the_readme_shows_the_real_report_line() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"\n{OVERFLOW_MESSAGE}" in readme


@pytest.mark.parametrize("fmt", ["markdown", "latex"])
def test_documents_report_the_anomaly_after_the_steps_before_it(fmt: str) -> None:
    result = invoke("trace", OVERFLOW, "--format", fmt)
    assert result.exit_code == 3
    assert result.stderr == OVERFLOW_MESSAGE
    out = result.stdout
    assert out.index("Step 1") < out.index("numerical anomaly in the forward pass")
    assert out.count("numerical anomaly") == 1
    assert "Node & \\texttt{logits}" in out if fmt == "latex" else "| Node | `logits` |" in out
    assert out.rstrip().endswith("The trace stops here (exit code 3); --allow-nonfinite traces on.")


def test_a_saved_picture_keeps_the_report(tmp_path) -> None:
    svg = tmp_path / "trace.svg"
    result = invoke("trace", OVERFLOW, "--save-svg", str(svg))
    assert result.exit_code == 3
    assert result.stderr == OVERFLOW_MESSAGE
    picture = svg.read_text(encoding="utf-8")
    assert "numerical" in picture and "anomaly" in picture
    assert [p.name for p in tmp_path.iterdir()] == ["trace.svg"]


def test_the_anomaly_report_speaks_the_chosen_language() -> None:
    from .conftest import ROOT
    from .helpers import invoke

    config = str(ROOT / "tests" / "configs" / "overflow_logits.yaml")
    out = invoke("trace", config, "--lang", "zh").stdout
    assert "第 2 步 · 前向传播中出现数值异常" in out
    assert "元素" in out and "2 个中有 1 个（1 inf）：[0] inf" in out
    assert "追踪到此停止（退出码 3）" in out
    markdown = invoke("trace", config, "-f", "markdown", "--lang", "zh").stdout
    assert "第 2 步 · 前向传播中出现数值异常" in markdown and "Not finite" not in markdown
