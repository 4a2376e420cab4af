"""--format csv: one row per step (step, objective, each param's gradient norm), at full
precision, streamed, with the same numbers as the JSON trace."""

from __future__ import annotations

import csv
import io
import math
import weakref

import numpy as np
import pytest

from backprop_cli.render import csvout

from .conftest import CONFIGS, ROOT
from .helpers import invoke, trace_json, tracer_from_file

LINEAR = str(CONFIGS / "seed_linear.yaml")
MLP = str(CONFIGS / "seed_mlp_l2.yaml")
OVERFLOW = str(ROOT / "tests" / "configs" / "overflow_logits.yaml")
OVERFLOW_MESSAGE = (
    "backprop: error: numerical anomaly in step 2, forward pass, node 'logits' "
    "(logits = W·x): logits has 1 of 2 elements non-finite: inf at [0]\n"
)


def rows(*args: str, code: int = 0) -> list[dict[str, str]]:
    result = invoke("trace", *args, "--format", "csv")
    assert result.exit_code == code, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout, newline="")))


def norm(value) -> float:
    """‖value‖₂ from the JSON lists, overflow-free: math.hypot scales internally."""
    return math.hypot(*np.asarray(value, dtype=np.float64).ravel())


def test_500_steps_parse_into_500_rows() -> None:
    result = invoke("trace", LINEAR, "--steps", "500", "--format", "csv")
    assert result.exit_code == 0 and result.stderr == ""
    table = list(csv.reader(io.StringIO(result.stdout, newline="")))
    assert table[0] == ["step", "objective", "grad_norm_w", "grad_norm_b"]
    assert len(table) == 501
    assert [int(r[0]) for r in table[1:]] == list(range(1, 501))
    assert table[1] == ["1", "1.805", "3.8", "1.9"]  # ∂L/∂w = −3.8, ∂L/∂b = −1.9 (§4)
    assert result.stdout.endswith("\n") and "\r" not in result.stdout


@pytest.mark.parametrize("config", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_rows_hold_the_numbers_of_the_json_trace(config: str) -> None:
    path = str(CONFIGS / config)
    doc = trace_json(path, "--steps", "3")
    table = rows(path, "--steps", "3")
    params = [t["name"] for t in doc["graph"]["tensors"] if t["kind"] == "param"]
    assert list(table[0]) == ["step", "objective", *(f"grad_norm_{p}" for p in params)]
    assert len(table) == len(doc["steps"]) == 3
    for row, step in zip(table, doc["steps"], strict=True):
        assert int(row["step"]) == step["step"]
        assert float(row["objective"]) == step["objective"]  # full precision: the same float
        for p in params:
            assert float(row[f"grad_norm_{p}"]) == pytest.approx(
                norm(step["grads"][p]), rel=1e-12, abs=0
            )


def test_frozen_params_have_a_column_too() -> None:
    table = rows(str(CONFIGS / "frozen_layer.yaml"))
    doc = trace_json(str(CONFIGS / "frozen_layer.yaml"))
    frozen = [t["name"] for t in doc["graph"]["tensors"] if t["kind"] == "param"]
    frozen = [n for n in frozen if n not in doc["steps"][0]["updates"]]
    assert frozen and all(f"grad_norm_{n}" in table[0] for n in frozen)


def test_only_step_gives_one_row_and_lang_changes_nothing() -> None:
    table = rows(MLP, "--steps", "3", "--only-step", "2")
    assert [r["step"] for r in table] == ["2"]
    doc = trace_json(MLP, "--steps", "3")
    assert float(table[0]["objective"]) == doc["steps"][1]["objective"]
    en = invoke("trace", MLP, "-n", "2", "-f", "csv").stdout
    assert invoke("trace", MLP, "-n", "2", "-f", "csv", "--lang", "zh").stdout == en


def test_an_anomaly_ends_the_rows_and_goes_to_stderr() -> None:
    result = invoke("trace", OVERFLOW, "--format", "csv")
    assert result.exit_code == 3
    assert result.stderr == OVERFLOW_MESSAGE  # as for jsonl: the one-line message
    assert invoke("trace", OVERFLOW, "--format", "jsonl").stderr == OVERFLOW_MESSAGE
    # step 1's gradient holds 1e160: its square overflows, its norm does not
    assert result.stdout == "step,objective,grad_norm_W\n1,0.5,1e+160\n"


def test_nonfinite_values_are_written_as_float_reads_them() -> None:
    table = rows(OVERFLOW, "--allow-nonfinite")
    assert [(r["step"], r["objective"], r["grad_norm_W"]) for r in table] == [
        ("1", "0.5", "1e+160"),
        ("2", "inf", "inf"),
        ("3", "inf", "inf"),
    ]
    assert math.isinf(float(table[1]["objective"]))


def test_an_error_before_any_step_leaves_stdout_empty() -> None:
    result = invoke(
        "trace",
        "-",
        "-f",
        "csv",
        input="data: {z: [[1.0, 2.0], [0.5, 0.1]], y: [0, 2]}\n"
        "graph:\n  - {name: L, op: softmax_cross_entropy, args: [z, y]}\n",
    )
    assert result.exit_code == 2
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args, names",
    [
        (("--every", "2"), "--every: shapes"),
        (("--node", "w"), "--node: shapes"),
        (("--explain",), "--explain: shapes"),
        (("--explain", "--every", "3"), "--explain, --every: shape"),
    ],
)
def test_options_that_shape_tables_are_refused(args, names) -> None:
    result = invoke("trace", LINEAR, "-f", "csv", *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"backprop: error: {names} the table, markdown and latex formats; CSV always has "
        f"one row for every step (use --only-step to pick one step)\n"
    )


def test_pictures_are_refused(tmp_path) -> None:
    svg = tmp_path / "t.svg"
    result = invoke("trace", LINEAR, "-f", "csv", "--save-svg", str(svg))
    assert result.exit_code == 2
    assert result.stderr == (
        "backprop: error: --save-svg: record the terminal tables; use with --format table\n"
    )
    assert not svg.exists()


def test_rows_stream_and_no_step_is_kept() -> None:
    """Each row is written as soon as its step is traced, and the step is then let go."""
    tracer = tracer_from_file(LINEAR)
    refs: list[weakref.ref] = []
    traced_at_write: list[int] = []

    class Out(io.StringIO):
        def write(self, text: str) -> int:
            traced_at_write.append(len(refs))
            return super().write(text)

    def steps():
        for step in tracer.run(50):
            refs.append(weakref.ref(step))
            yield step

    out = Out()
    csvout.write_rows(steps(), tracer, out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 51
    # the header and row 1 go out before step 2 is traced, row k before step k + 1
    assert traced_at_write[0] == 1 and traced_at_write == sorted(traced_at_write)
    assert sum(r() is not None for r in refs) <= 1


@pytest.mark.parametrize(
    "grad, expected",
    [
        (np.array(-3.0), 3.0),
        (np.array([[3.0, -4.0], [0.0, 0.0]]), 5.0),
        (np.zeros((2, 2)), 0.0),
        (np.array([3e-170, 4e-170]), 5e-170),  # the squares underflow
        (np.array([3e200, -4e200]), 5e200),  # the squares overflow
        (np.array([1.0, np.inf]), np.inf),
    ],
)
def test_grad_norm(grad: np.ndarray, expected: float) -> None:
    assert csvout.grad_norm(grad) == pytest.approx(expected, rel=1e-15, abs=0)


def test_grad_norm_of_nan_is_nan() -> None:
    assert math.isnan(csvout.grad_norm(np.array([1.0, np.nan])))


def test_json_and_csv_agree_for_a_long_run() -> None:
    doc = trace_json(LINEAR, "--steps", "60")
    table = rows(LINEAR, "--steps", "60")
    assert [float(r["objective"]) for r in table] == [s["objective"] for s in doc["steps"]]
    assert [int(r["step"]) for r in table] == [s["step"] for s in doc["steps"]] == [*range(1, 61)]


def test_the_readme_example_is_real_output() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = "$ backprop trace configs/seed_linear.yaml --steps 3 --format csv\n"
    block = readme.split(command, 1)[1].split("```", 1)[0]
    assert block == invoke("trace", LINEAR, "--steps", "3", "--format", "csv").stdout
