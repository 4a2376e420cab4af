"""JSON schema version 2: every tensor once, every version 1 number still reachable, --fields,
the jsonl header, and the jq expressions the README gives."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from backprop_cli.compare import differences, to_v1
from backprop_cli.config import compile_source
from backprop_cli.engine import Tracer
from backprop_cli.render import jsonout
from backprop_cli.yamlsrc import load

from .conftest import CONFIGS, ROOT
from .helpers import invoke

SHIPPED = sorted(p.name for p in CONFIGS.glob("*.yaml"))

# Graphs the shipped configs do not have: a batch with biases and ℓ2 (terms summed over
# paths), momentum (optimiser state), broadcasting, concat, softmax and a vector on the left of
# a matmul (a transposed reference of another shape).
EXTRA = {
    "batch_mlp": """
data:
  x: [[1.0, -2.0, 0.5, 0.3], [0.5, 0.1, -1.5, 2.0], [-0.7, 0.4, 0.9, -1.1]]
  y: [[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]]
model: {name: mlp, hidden: [5, 3], activation: tanh, bias: true, loss: mse, l2: 0.05, seed: 3}
optimizer: {name: sgd, lr: 0.1, momentum: 0.9, nesterov: true}
""",
    "shapes": """
data:
  r: [1.0, -2.0]
  y: 0.5
params:
  M: [[0.5, -0.2, 0.1], [0.3, 0.8, -0.4]]
  c: [[0.1], [0.2], [0.3]]
graph:
  - {name: v, op: matmul, args: [r, M]}
  - {name: w, op: add, args: [v, 1.0]}
  - {name: s, op: softmax, args: [w]}
  - {name: k, op: concat, args: [s, r]}
  - {name: q, op: mul, args: [k, k]}
  - {name: t, op: sum, args: [q]}
  - {name: m, op: matmul, args: [M, c]}
  - {name: u, op: sum, args: [m]}
  - {name: a, op: add, args: [t, u]}
  - {name: L, op: mse, args: [a, y]}
optimizer: {name: adam, lr: 0.01}
""",
}


def _v1_and_v2(source: str, *extra: str) -> tuple[dict, dict]:
    if source in EXTRA:
        run = lambda *a: invoke("trace", "-", *a, input=EXTRA[source])  # noqa: E731
    else:
        run = lambda *a: invoke("trace", str(CONFIGS / source), *a)  # noqa: E731
    v1 = json.loads(run("-f", "json", "-n", "3", "--schema-version", "1", *extra).stdout)
    v2 = json.loads(run("-f", "json", "-n", "3", *extra).stdout)
    return v1, v2


@pytest.mark.parametrize("source", [*SHIPPED, *EXTRA])
def test_every_version_1_number_is_rebuilt_from_version_2(source: str) -> None:
    v1, v2 = _v1_and_v2(source)
    assert (v1["schema_version"], v2["schema_version"]) == (1, 2)
    formulas = v2["graph"].pop("grad_formulas")  # version 1 repeats them in every step
    assert v2["graph"] == v1["graph"]
    assert all(step["grad_formulas"] == formulas for step in v1["steps"])
    rebuilt = [to_v1(step, formulas) for step in v2["steps"]]
    # exactly: the same float64 numbers (version 1 wrote a gradient's −0.0 as 0.0, equal to it)
    assert list(differences(v1["steps"], rebuilt, rtol=0.0, atol=0.0)) == []
    assert json.dumps(rebuilt, sort_keys=False).count('"local"') == json.dumps(v1["steps"]).count(
        '"local"'
    )


def test_rebuilding_resolves_references_of_every_kind() -> None:
    kinds = set()
    for source in EXTRA:
        _, v2 = _v1_and_v2(source)
        kinds |= {
            (value["ref"], "transpose" in value)
            for step in v2["steps"]
            for edge in step["backward"]
            for value in (edge["upstream"], edge["local"], edge["global"])
            if isinstance(value, dict)
        }
    assert kinds == {("grads", False), ("forward", False), ("forward", True)}
    _, shapes = _v1_and_v2("shapes")
    edge = next(e for e in shapes["steps"][0]["backward"] if e["node"] == "v" and e["input"] == "M")
    assert edge["local"] == {"ref": "forward", "name": "r", "transpose": True, "shape": [2, 1]}
    assert to_v1(shapes["steps"][0])["backward"][edge["index"] - 1]["local"] == [[1.0], [-2.0]]


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_non_finite_values_are_rebuilt_too(tmp_path) -> None:
    config = tmp_path / "inf.yaml"
    config.write_text(
        "data: {x: [[1.0e200, 2.0], [3.0, 4.0]]}\nparams: {W: [[1.0e200, 2.0], [3.0, 4.0]]}\n"
        "graph:\n  - {name: t, op: matmul, args: [W, x]}\n  - {name: L, op: sum, args: [t]}\n"
    )
    v1 = json.loads(
        invoke(
            "trace", str(config), "-f", "json", "--allow-nonfinite", "--schema-version", "1"
        ).stdout
    )
    v2 = json.loads(invoke("trace", str(config), "-f", "json", "--allow-nonfinite").stdout)
    assert v2["steps"][0]["forward"]["t"][0][0] == "inf"
    formulas = v2["graph"]["grad_formulas"]
    assert list(differences(v1["steps"], [to_v1(s, formulas) for s in v2["steps"]], 0.0, 0.0)) == []


def _numbers(obj: object) -> int:
    """The numbers of a JSON value (a non-finite value written as a string is one)."""
    if isinstance(obj, dict):
        if "ref" in obj:
            return 0
        return sum(_numbers(v) for v in obj.values())
    if isinstance(obj, list):
        return sum(_numbers(v) for v in obj)
    return 1 if isinstance(obj, float) or obj in ("nan", "inf", "-inf") else 0


def _distinct_elements(step) -> int:
    """Elements of the distinct tensors the engine recorded for the step (equal values
    counted once)."""
    arrays = [*step.values.values(), *step.grads.values()]
    for e in step.edges:
        arrays += [e.upstream, e.local, e.global_]
    for u in step.updates.values():
        arrays += [u.before, u.grad, u.after, *u.state.values()]
    seen = {}
    for a in arrays:
        a = np.asarray(a, dtype=np.float64)
        seen.setdefault((a.shape, (a + 0.0).tobytes()), a.size)
    return sum(seen.values())


def test_no_number_is_written_twice() -> None:
    """A 64-32-10 network on a batch of 16, with biases: the step's JSON holds at most 1.2×
    the elements of the distinct tensors (version 1 holds nearly twice as many)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 16)).round(3).tolist()
    y = rng.integers(0, 10, 16).tolist()
    source = (
        f"data:\n  x: {x}\n  y: {y}\nmodel: {{name: mlp, hidden: [32], outputs: 10, "
        f"bias: true, activation: relu, loss: softmax_cross_entropy, seed: 1}}\n"
    )
    tracer = Tracer(compile_source(load(source, "mlp.yaml")))
    step = next(tracer.run(steps=1))
    distinct = _distinct_elements(step)
    v2 = json.loads(jsonout.dumps(next(jsonout.records([step], tracer, jsonout.Contract()))))
    v1 = json.loads(jsonout.dumps(jsonout.step_record(step, tracer)))
    assert _numbers(v2) <= 1.2 * distinct
    assert _numbers(v1) > 1.8 * distinct


def test_fields_select_the_parts_of_each_step() -> None:
    config = str(CONFIGS / "tanh_adam.yaml")
    full = json.loads(invoke("trace", config, "-f", "json").stdout)
    doc = json.loads(invoke("trace", config, "-f", "json", "--fields", "grads,objective").stdout)
    assert doc["fields"] == ["objective", "grads"]
    for mine, whole in zip(doc["steps"], full["steps"], strict=True):
        assert set(mine) == {"step", "objective", "grads"}
        assert mine == {k: whole[k] for k in mine}
    assert doc["graph"] == full["graph"]  # the gradients' formulas with them
    lines = invoke("trace", config, "-f", "jsonl", "--fields", "updates").stdout.splitlines()
    header, *steps = (json.loads(line) for line in lines)
    assert header["fields"] == ["updates"] and header["steps"] == 5
    assert "grad_formulas" not in header["graph"]  # no grads, no formulas of them
    assert [set(s) for s in steps] == [{"kind", "schema_version", "step", "updates"}] * 5
    assert steps[4]["updates"] == full["steps"][4]["updates"]
    old = json.loads(
        invoke(
            "trace", config, "-f", "json", "--fields", "backward", "--schema-version", "1"
        ).stdout
    )
    assert set(old["steps"][0]) == {"step", "backward"}
    assert isinstance(old["steps"][0]["backward"][0]["global"], list)  # version 1: inline


@pytest.mark.parametrize(
    "args, message",
    [
        (("-f", "json", "--fields", "grads,weights"), "--fields: unknown field weights; choose"),
        (("-f", "json", "--fields", ","), "--fields: no field; choose from objective,forward,"),
        (("--fields", "grads"), "--fields: shapes the JSON output; use with --format json or"),
        (("-f", "csv", "--schema-version", "1"), "--schema-version: shapes the JSON output"),
        (("--expect", "x.json", "--fields", "grads"), "--expect compares in the schema version"),
        (("-f", "json", "--schema-version", "3"), "Invalid value for '--schema-version'"),
    ],
)
def test_json_options_are_checked(args, message) -> None:
    result = invoke("trace", str(CONFIGS / "seed_linear.yaml"), *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_jsonl_header_comes_with_the_first_step_and_says_what_follows() -> None:
    config = str(CONFIGS / "seed_mlp_l2.yaml")
    lines = invoke("trace", config, "-f", "jsonl", "-n", "3").stdout.splitlines()
    header = json.loads(lines[0])
    assert list(header) == ["kind", "schema_version", "steps", "fields", "graph"]
    assert (header["kind"], header["schema_version"], header["steps"]) == ("header", 2, 3)
    assert header["graph"]["optimizer"] == {"name": "sgd", "lr": 0.1, **_sgd_defaults()}
    assert len(lines) == 4
    # a config that fails before the first step writes nothing at all
    broken = "data: {x: [1.0, 2.0]}\nparams: {W: [[1.0, 2.0, 3.0]]}\n"
    broken += "graph:\n  - {name: z, op: matmul, args: [W, x]}\n"
    result = invoke("trace", "-", "-f", "jsonl", input=broken)
    assert result.exit_code == 2 and result.stdout == ""


def _sgd_defaults() -> dict:
    return {
        "momentum": 0.0,
        "dampening": 0.0,
        "nesterov": False,
        "weight_decay": 0.0,
        "maximize": False,
    }


def test_a_gradient_keeps_the_sign_of_its_zero() -> None:
    """Version 2 writes the engine's float64 as it is; version 1 wrote 0 + the gradient."""
    _, v2 = _v1_and_v2("seed_mlp_l2.yaml")
    text = json.dumps(v2["steps"][0]["grads"]["z"])
    assert "-0.0" in text


# ---- the README's jq expressions ------------------------------------------------------------

GRAD_PER_STEP = "jq -c '.steps[] | {step, dW1: .grads.W1}' trace.json"
EDGES = """jq -c '.steps[] as $s | $s.backward[]
  | def v: if type == "object" then (.transpose // false) as $t | .shape as $shape
        | $s[.ref][.name]
        | if $t | not then . elif (.[0] | type) == "array" then transpose
          elif $shape[0] == 1 then [.] else map([.]) end
      else . end;
    {step: $s.step, node, input, upstream: (.upstream | v), local: (.local | v),
     global: (.global | v)}' trace.json"""


def test_readme_gives_the_jq_expressions_tested_here() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert GRAD_PER_STEP in readme
    assert EDGES in readme


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
@pytest.mark.parametrize("source", ["seed_mlp_l2.yaml", "batch_mlp", "shapes"])
def test_jq_expressions_give_every_edge_and_gradient(source: str, tmp_path) -> None:
    v1, v2 = _v1_and_v2(source)
    (tmp_path / "trace.json").write_text(json.dumps(v2), encoding="utf-8")

    def jq(command: str) -> list:
        out = subprocess.run(
            command, shell=True, cwd=tmp_path, capture_output=True, text=True, check=True
        ).stdout
        return [json.loads(line) for line in out.splitlines()]

    if "W1" in v2["steps"][0]["grads"]:
        expected = [{"step": s["step"], "dW1": s["grads"]["W1"]} for s in v1["steps"]]
        assert list(differences(expected, jq(GRAD_PER_STEP), 0.0, 0.0)) == []
    edges = [
        {"step": s["step"], **{k: e[k] for k in ("node", "input", "upstream", "local", "global")}}
        for s in v1["steps"]
        for e in s["backward"]
    ]
    assert list(differences(edges, jq(EDGES), 0.0, 0.0)) == []


def test_an_indented_document_writes_a_matrix_row_to_a_line() -> None:
    """Indented JSON keeps numbers readable and diffs small: a list of numbers (or strings)
    on one line, a matrix one row to a line, a rank-3 tensor a list of such matrices, a
    reference on one line; empty lists and mappings as such. It parses to the same values."""
    obj = {
        "m": np.array([[1.0, -2.5], [0.1, 3e-8]]),
        "v": np.array([0.5, -0.0]),
        "t": np.arange(4.0).reshape(2, 1, 2),
        "nonfinite": [[1.0, "nan"], ["-inf", 2.0]],
        "local": {"ref": "forward", "name": "x", "transpose": True, "shape": [1, 3]},
        "names": ["W1", "x"],
        "empty": [],
        "none": {},
        "hollow": np.zeros((0,)),
        "scalar": 1.25,
    }
    text = jsonout.dumps(obj, indent=True)
    assert text == (
        "{\n"
        '  "m": [\n'
        "    [1.0, -2.5],\n"
        "    [0.1, 3e-8]\n"
        "  ],\n"
        '  "v": [0.5, -0.0],\n'
        '  "t": [\n'
        "    [\n"
        "      [0.0, 1.0]\n"
        "    ],\n"
        "    [\n"
        "      [2.0, 3.0]\n"
        "    ]\n"
        "  ],\n"
        '  "nonfinite": [\n'
        '    [1.0, "nan"],\n'
        '    ["-inf", 2.0]\n'
        "  ],\n"
        '  "local": {"ref": "forward", "name": "x", "transpose": true, "shape": [1, 3]},\n'
        '  "names": ["W1", "x"],\n'
        '  "empty": [],\n'
        '  "none": {},\n'
        '  "hollow": [],\n'
        '  "scalar": 1.25\n'
        "}"
    )
    back = json.loads(text)
    assert back["m"] == [[1.0, -2.5], [0.1, 3e-8]] and back["t"] == [[[0.0, 1.0]], [[2.0, 3.0]]]
    assert back["nonfinite"] == obj["nonfinite"] and back["local"] == obj["local"]


def test_a_traced_documents_weights_are_a_row_to_a_line() -> None:
    out = invoke("trace", str(CONFIGS / "seed_mlp_l2.yaml"), "-f", "json", "-n", "1").stdout
    assert (
        '        "W1": [\n'
        "          [0.2, -0.1, 0.4],\n"
        "          [-0.3, 0.5, 0.1],\n"
        "          [0.6, 0.4, -0.5],\n"
        "          [-0.1, -0.4, 0.3]\n"
        "        ],\n"
    ) in out
    assert '        "x": [1.0, -2.0, 0.5],\n' in out
    assert '          "upstream": {"ref": "grads", "name": "o"},\n' in out
    assert '        "shape": [4, 3],\n' in out
    # a 3-step document of this network is a few hundred lines, not thousands
    assert len(out.splitlines()) < 600
