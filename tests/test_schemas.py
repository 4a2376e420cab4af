"""``backprop schema``: the config and trace schemas, checked with a standard validator."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from backprop_cli import ops, schemas
from backprop_cli.starters import STARTERS
from backprop_cli.yamlsrc import load

from .conftest import CONFIGS, ROOT
from .helpers import invoke

SHIPPED = sorted(CONFIGS.glob("*.yaml"))
MODELINE = "# yaml-language-server: $schema=../schemas/config.schema.json\n"


def printed(name: str) -> dict:
    result = invoke("schema", name)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def config_validator() -> Draft202012Validator:
    return Draft202012Validator(schemas.config_schema())


@pytest.fixture(scope="module")
def trace_validator() -> Draft202012Validator:
    return Draft202012Validator(schemas.trace_schema())


def errors(validator: Draft202012Validator, instance) -> list[str]:
    """Every error message, with those of the alternatives an anyOf/oneOf tried."""
    out: list[str] = []

    def collect(errs) -> None:
        for e in errs:
            out.append(e.message)
            collect(e.context or [])

    collect(validator.iter_errors(instance))
    return sorted(out)


def yaml_data(text: str):
    return load(text, "test.yaml").data


@pytest.mark.parametrize("name", ["config", "trace", "graph"])
def test_printed_schemas_are_valid_2020_12_and_shipped(name: str) -> None:
    schema = printed(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    shipped = ROOT / "schemas" / f"{name}.schema.json"
    assert invoke("schema", name).stdout == shipped.read_text(encoding="utf-8"), (
        f"schemas/{name}.schema.json is stale: backprop schema {name} > {shipped.name}"
    )


def test_unknown_schema_name_is_a_usage_error() -> None:
    result = invoke("schema", "model")
    assert result.exit_code == 2 and result.stdout == ""


# ---- the config schema -------------------------------------------------------------------


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_configs_carry_the_modeline_and_validate(path, config_validator) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith(MODELINE)
    assert (path.parent / "../schemas/config.schema.json").resolve().exists()
    assert errors(config_validator, yaml_data(text)) == []


@pytest.mark.parametrize("kind", sorted(STARTERS))
def test_starters_validate(kind: str, config_validator) -> None:
    assert errors(config_validator, yaml_data(invoke("init", kind).stdout)) == []


ACCEPTED = [
    "graph: [{name: s, op: sum, args: x}]\ndata: {x: [1, 2]}",
    "params: {w: {value: 2.0, trainable: false}, v: {init: normal, shape: [2, 3], seed: 1, "
    "scale: 0.5}, u: {init: zeros, shape: 4}}\ngraph: [{name: s, op: l2, args: [w, v, u], "
    "lambda: 0.1}]",
    "data: {ŷ: 1.0, y: 2}\ngraph: [{name: L, op: mse, args: [ŷ, y]}]\noptimizer: sgd\nsteps: 5",
    "data: {x: 1.0, y: 2.0}\nmodel: linear",
    "data: {x: [1.0], y: [2.0]}\nmodel: {name: mlp, hidden: [3, 2], activation: tanh, "
    "bias: true, l2: 0.01, init: uniform, seed: 3, loss: mse}",
    "data: {x: [[1.0, 2.0]], y: [0, 1]}\nmodel: {name: mlp, hidden: [3, 2], activation: [tanh, "
    "relu], bias: [true, false, true], l1: 0.1, outputs: 2, loss: softmax_cross_entropy}\n"
    "optimizer: {name: adam, lr: 0.01, beta1: 0.8, eps: 1.0e-6}",
    "data: {z: [[1.0, 2.0], [0.5, 0.1]], y: [0, 1]}\ngraph:\n"
    "  - {name: p, op: softmax, args: z, axis: 0}\n  - {name: m, op: max, args: p, axis: null}\n"
    "  - {name: r, op: reshape, args: z, shape: [-1]}\n"
    "  - {name: L, op: softmax_cross_entropy, args: [z, y], reduction: sum}\n"
    "optimizer: {name: sgd, momentum: 0.9, nesterov: true}",
    "graph: [{name: s, op: sum, args: x}]\ndata: {x: 1}\noptimizer: {lr: 0.05, momentum: 0.9}",
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_configs_the_loader_accepts_validate(text: str, config_validator) -> None:
    from backprop_cli.config import compile_source

    compile_source(load(text, "ok.yaml"))  # the loader accepts it
    assert errors(config_validator, yaml_data(text)) == []


REJECTED = {
    "unknown choice": (
        "graph: [{name: L, op: softmax_cross_entropy, args: [z, y], reduction: avg}]",
        "'avg' is not one of ['mean', 'sum']",
    ),
    "bool option as number": (
        "graph: [{name: s, op: sum, args: x}]\noptimizer: {name: sgd, nesterov: 1}",
        "1 is not of type 'boolean'",
    ),
    "beta above 1": (
        "graph: [{name: s, op: sum, args: x}]\noptimizer: {name: adam, beta1: 1.5}",
        "1.5 is greater than the maximum of 1.0",
    ),
    "adam option without a name (sgd)": (
        "graph: [{name: s, op: sum, args: x}]\noptimizer: {lr: 0.01, beta1: 0.9}",
        "('beta1' was unexpected)",
    ),
    "zero eps": (
        "graph: [{name: s, op: sum, args: x}]\noptimizer: {name: adam, eps: 0}",
        "0 is less than or equal to the minimum of 0.0",
    ),
    "axis as text": (
        "graph: [{name: s, op: sum, args: x, axis: rows}]",
        "'rows' is not of type 'integer', 'null'",
    ),
    "data file field": (
        "data: {x: {file: x.csv, colums: [a]}}\ngraph: [{name: s, op: sum, args: x}]",
        "('colums' was unexpected)",
    ),
    "column and columns": (
        "data: {x: {file: x.csv, column: a, columns: [b]}}\ngraph: [{name: s, op: sum, args: x}]",
        "should not be valid under",
    ),
    "linear with a classifier loss": (
        "data: {x: 1.0, y: 2.0}\nmodel: {name: linear, loss: softmax_cross_entropy}",
        "is not one of",
    ),
    "unknown op": ("graph: [{name: z, op: matmull, args: [a, b]}]", "'matmull' is not one of"),
    "misspelt option": (
        "graph: [{name: s, op: l2, args: [W], lamda: 0.1}]",
        "Additional properties are not allowed ('lamda' was unexpected)",
    ),
    "missing option": ("graph: [{name: s, op: l2, args: [W]}]", "'lambda' is a required property"),
    "negative option": (
        "graph: [{name: s, op: l2, args: [W], lambda: -1}]",
        "-1 is less than the minimum of 0.0",
    ),
    "wrong arity": ("graph: [{name: z, op: matmul, args: [a, b, c]}]", "is too long"),
    "string args for two inputs": (
        "graph: [{name: z, op: add, args: a}]",
        "'a' is not of type 'array'",
    ),
    "missing args": ("graph: [{name: z, op: relu}]", "'args' is a required property"),
    "bad name": ("graph: [{name: 2z, op: relu, args: [x]}]", "does not match"),
    "unknown top-level key": (
        "graph: [{name: z, op: relu, args: [x]}]\nstep: 3",
        "Additional properties are not allowed ('step' was unexpected)",
    ),
    "graph and model": ("graph: [{name: z, op: relu, args: [x]}]\nmodel: mlp", "is valid under"),
    "neither graph nor model": ("data: {x: 1}", "is not valid under any of the given schemas"),
    "value and init": (
        "params: {w: {value: 1, init: zeros}}\ngraph: [{name: s, op: sum, args: w}]",
        "is not valid under any of the given schemas",
    ),
    "string data": (
        "data: {x: 'one'}\ngraph: [{name: s, op: sum, args: x}]",
        "is not valid under any of the given schemas",
    ),
    "zero steps": (
        "graph: [{name: s, op: sum, args: x}]\nsteps: 0",
        "0 is less than the minimum of 1",
    ),
    "unknown optimizer option": (
        "graph: [{name: s, op: sum, args: x}]\noptimizer: {name: sgd, momentun: 0.9}",
        "('momentun' was unexpected)",
    ),
    "unknown model option": (
        "data: {x: [1.0], y: [1.0]}\nmodel: {name: mlp, hiden: [3]}",
        "('hiden' was unexpected)",
    ),
}


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_broken_configs_are_rejected(case: str, config_validator) -> None:
    text, message = REJECTED[case]
    found = errors(config_validator, yaml_data(text))
    assert any(message in e for e in found), found


def test_op_enum_and_options_come_from_the_op_table(monkeypatch) -> None:
    schema = schemas.config_schema()
    assert schema["$defs"]["node"]["properties"]["op"]["enum"] == list(ops.OPS)
    new = ops.Op(
        name="scale",
        summary="c·a",
        arity=1,
        equation="{out} = c·{0}",
        forward=lambda a, o: o["c"] * a[0],
        local=lambda a, out, o: [o["c"]],
        local_text=("c",),
        shape=lambda s: s[0],
        options={"c": ops.Option("the factor", default=1.0)},
    )
    monkeypatch.setitem(ops.OPS, "scale", new)
    validator = Draft202012Validator(schemas.config_schema())
    ok = yaml_data("graph: [{name: y, op: scale, args: x, c: 2.5}]")
    assert errors(validator, ok) == []
    bad = yaml_data("graph: [{name: y, op: scale, args: [x, x], k: 2.5}]")
    assert any("('k' was unexpected)" in e for e in errors(validator, bad))


# ---- the trace schema --------------------------------------------------------------------


@pytest.mark.parametrize("path", [*SHIPPED, "linear", "mlp", "classifier", "expression"], ids=str)
def test_every_json_output_validates(path, trace_validator, tmp_path) -> None:
    if isinstance(path, str):  # a starter
        invoke("init", path, str(tmp_path / "c.yaml"))
        path = tmp_path / "c.yaml"
    doc = json.loads(invoke("trace", str(path), "--format", "json", "--steps", "2").stdout)
    assert errors(trace_validator, doc) == []
    for line in invoke("trace", str(path), "--format", "jsonl", "--steps", "2").stdout.splitlines():
        assert errors(trace_validator, json.loads(line)) == []


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_non_finite_values_validate(trace_validator, tmp_path) -> None:
    config = tmp_path / "inf.yaml"
    config.write_text(
        "data: {x: 1.0e200}\ngraph:\n  - {name: t, op: mul, args: [x, x]}\n"
        "  - {name: p, op: sigmoid, args: [t]}\n  - {name: L, op: sum, args: p}\n"
    )
    doc = json.loads(invoke("trace", str(config), "--format", "json", "--allow-nonfinite").stdout)
    assert doc["steps"][0]["forward"]["t"] == "inf"
    assert errors(trace_validator, doc) == []


def test_a_trace_stopped_by_an_anomaly_validates(trace_validator) -> None:
    config = str(ROOT / "tests" / "configs" / "overflow_logits.yaml")
    doc = json.loads(invoke("trace", config, "--format", "json").stdout)
    assert doc["anomaly"]["node"] == "logits"
    assert errors(trace_validator, doc) == []
    lines = invoke("trace", config, "--format", "jsonl").stdout.splitlines()
    assert [errors(trace_validator, json.loads(line)) for line in lines] == [[], [], []]
    old = invoke("trace", config, "-f", "jsonl", "--schema-version", "1").stdout.splitlines()
    assert [errors(trace_validator, json.loads(line)) for line in old] == [[], []]
    doc["anomaly"]["pass"] = "sideways"
    assert errors(trace_validator, doc) != []


@pytest.mark.parametrize("version", ["1", "2"])
def test_new_keys_may_be_added_but_documented_ones_are_required(trace_validator, version) -> None:
    config = str(CONFIGS / "seed_linear.yaml")
    doc = json.loads(invoke("trace", config, "-f", "json", "--schema-version", version).stdout)
    step = doc["steps"][0]
    step["anomaly"] = {"kind": "nan"}  # a later key within the schema version
    doc["graph"]["optimizer"]["beta1"] = 0.9
    assert errors(trace_validator, doc) == []
    del step["step"]
    step["backward"][0]["formula"].pop("target")
    step["updates"]["w"]["after"] = "lots"
    messages = errors(trace_validator, doc)
    assert "'step' is a required property" in messages
    assert "'target' is a required property" in messages
    assert any(m.startswith("'lots' is not valid under any") for m in messages)
    other = {"1": 2, "2": 1}[version]
    assert errors(trace_validator, {**doc, "schema_version": other}) != []


def test_references_name_a_part_of_the_step(trace_validator) -> None:
    config = str(CONFIGS / "seed_mlp_l2.yaml")
    doc = json.loads(invoke("trace", config, "-f", "json").stdout)
    edge = next(e for e in doc["steps"][0]["backward"] if e["input"] == "W1" and e["node"] == "z")
    assert edge["local"] == {"ref": "forward", "name": "x", "transpose": True, "shape": [1, 3]}
    edge["local"]["ref"] = "elsewhere"
    assert errors(trace_validator, doc) != []


# ---- the graph schema --------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra", [(), ("--step", "2"), ("--backward",), ("--backward", "--step", "1")], ids=" ".join
)
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_graph_json_output_validates(path, extra: tuple[str, ...]) -> None:
    validator = Draft202012Validator(schemas.graph_schema())
    doc = json.loads(invoke("graph", str(path), "--format", "json", *extra).stdout)
    assert errors(validator, doc) == []
    doc["edges"][0].pop("from")
    doc["nodes"][0]["kind"] = "tensor"
    messages = errors(validator, doc)
    assert "'from' is a required property" in messages
    assert "'tensor' is not one of ['data', 'param', 'op']" in messages


def test_data_files_validate(tmp_path, config_validator) -> None:
    (tmp_path / "d.csv").write_text("a,b,label\n1,2,0\n3,4,1\n", encoding="utf-8")
    config = tmp_path / "c.yaml"
    config.write_text(
        "data:\n  x: {file: d.csv, columns: [a, b]}\n"
        "  y: {file: d.csv, column: label, header: true}\n"
        "graph: [{name: L, op: mse, args: [x, x]}]\n",
        encoding="utf-8",
    )
    assert invoke("validate", str(config)).exit_code == 0  # the loader accepts it
    assert errors(config_validator, yaml_data(config.read_text(encoding="utf-8"))) == []


def test_every_key_the_loader_knows_is_described() -> None:
    """A key added to the loader (a top-level section, a model option, a data-file field)
    fails here until the schema says what it takes."""
    from backprop_cli import config, datafiles, models

    schema = schemas.config_schema()
    assert sorted(schema["properties"]) == sorted(config.TOP_LEVEL)
    for rule in schema["$defs"]["model"]["anyOf"][1]["allOf"]:
        model = rule["if"]["properties"]["name"]["const"]
        assert list(rule["then"]["properties"]) == list(models.MODEL_KEYS[model])
        for key, spec in rule["then"]["properties"].items():
            assert key == "name" or spec is not True, f"model {model}: describe '{key}'"
    fields = schema["$defs"]["data_file"]["properties"]
    assert sorted(fields) == sorted(datafiles.KEYS)
    assert all(spec is not True for spec in fields.values())
    param_keys = set(schema["$defs"]["param"]["anyOf"][1]["properties"]) | set(
        schema["$defs"]["param"]["anyOf"][2]["properties"]
    )
    assert param_keys == set(config.PARAM_KEYS)
