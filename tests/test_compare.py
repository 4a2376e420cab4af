"""backprop compare and trace --expect: every differing path, exit 0 / 1 / 2."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from backprop_cli.compare import MISSING, Difference, differences

from .conftest import CONFIGS
from .helpers import invoke, trace_json

MLP = str(CONFIGS / "seed_mlp_l2.yaml")


@pytest.fixture
def golden(tmp_path, monkeypatch):
    """golden.json in the current folder (a temporary one), so paths in the output are short."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "golden.json"
    path.write_text(invoke("trace", MLP, "--format", "json").stdout, encoding="utf-8")
    return path.relative_to(tmp_path)


def _changed_config(tmp_path):
    text = (CONFIGS / "seed_mlp_l2.yaml").read_text(encoding="utf-8")
    changed = text.replace("- [ 0.2, -0.1,  0.4]", "- [ 0.25, -0.1,  0.4]", 1)
    assert changed != text
    path = tmp_path / "copy.yaml"
    path.write_text(changed, encoding="utf-8")
    return path.relative_to(tmp_path)


def test_walk_order_and_paths() -> None:
    expected = {"a": 1.0, "b": [[1.0, 2.0], [3.0, 4.0]], "c": "x", "gone": 1}
    actual = {"a": 1.0, "b": [[1.0, 2.5], [3.0, 4.0]], "c": "y", "new": 2}
    assert list(differences(expected, actual)) == [
        Difference("b[0][1]", 2.0, 2.5),
        Difference("c", "x", "y"),
        Difference("gone", 1, MISSING),
        Difference("new", MISSING, 2),
    ]


def test_numbers_use_rtol_and_atol_against_the_expected_value() -> None:
    assert not list(differences({"v": 1.0}, {"v": 1.0 + 1e-10}))  # within rtol 1e-9
    assert list(differences({"v": 1.0}, {"v": 1.0 + 1e-8}))
    assert not list(differences({"v": 1.0}, {"v": 1.0 + 1e-8}, rtol=1e-7))
    assert not list(differences({"v": 0.0}, {"v": 1e-13}))  # within atol 1e-12
    assert list(differences({"v": 0.0}, {"v": 1e-11}))
    assert not list(differences({"v": 0.0}, {"v": 1e-11}, atol=1e-10))


def test_types_lengths_and_nonfinite_strings_compare_exactly() -> None:
    assert list(differences({"v": [1.0, 2.0]}, {"v": [1.0]})) == [
        Difference("v", [1.0, 2.0], [1.0])
    ]
    assert list(differences({"s": [{"a": 1}]}, {"s": [{"a": 2}, {"a": 3}]})) == [
        Difference("s[0].a", 1, 2),
        Difference("s[1]", MISSING, {"a": 3}),
    ]
    assert list(differences({"v": "nan"}, {"v": 1.0})) == [Difference("v", "nan", 1.0)]
    assert not list(differences({"v": "nan"}, {"v": "nan"}))
    assert list(differences({"v": True}, {"v": 1}))


def test_same_traces_exit_0(golden) -> None:
    result = invoke("compare", str(golden), str(golden))
    assert result.exit_code == 0
    assert result.stdout == (
        f"{golden} matches {golden} (schema_version 2, json; rtol 1e-09, atol 1e-12)\n"
    )


def test_different_traces_exit_1_with_every_path(golden, tmp_path) -> None:
    other = golden.parent / "other.json"
    doc = json.loads(golden.read_text())
    doc["steps"][0]["grads"]["W1"][2][1] = 99.0
    doc["steps"][0]["objective"] += 1e-6
    other.write_text(json.dumps(doc))
    result = invoke("compare", str(golden), str(other), "--width", "120")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[3].split() == ["steps[0].objective", "0.26727499999999993", "0.2672759999999999"]
    assert lines[4].split() == ["steps[0].grads.W1[2][1]", "0.004", "99.0"]
    assert lines[-1] == (
        f"{other} differs from {golden} at 2 path(s) (schema_version 2, json; rtol 1e-09, "
        f"atol 1e-12)"
    )
    # looser tolerances accept the small change
    assert invoke("compare", str(golden), str(other), "--rtol", "1e-3").stdout.count("\n s") == 1


def test_rows_are_capped_but_all_counted(golden, tmp_path) -> None:
    other = golden.parent / "other.json"
    doc = json.loads(golden.read_text())
    doc["steps"][0]["forward"]["W1"] = [[9.0] * 3] * 4
    other.write_text(json.dumps(doc))
    out = invoke("compare", str(golden), str(other), "--max-rows", "5").stdout
    assert out.count("steps[0].forward.W1[") == 5
    assert "… and 7 more (show them with --max-rows)" in out
    assert "at 12 path(s)" in out
    assert (
        invoke("compare", str(golden), str(other), "--max-rows", "0").stdout.count(
            "steps[0].forward.W1["
        )
        == 12
    )


def test_stdin_for_one_side(golden) -> None:
    result = invoke("compare", "-", str(golden), input=golden.read_text())
    assert result.exit_code == 0
    assert result.stdout.startswith(f"{golden} matches <stdin>")


@pytest.mark.parametrize(
    "args, text, message",
    [
        (("-", "-"), "", "only one of EXPECTED and ACTUAL can be - (standard input)"),
        (("missing.json", "-"), "{}", "missing.json: no such file"),
        (
            ("-", "GOLDEN"),
            "{",
            "<stdin>:1:2: not JSON (Expecting property name enclosed in double "
            "quotes); expected the output of 'backprop trace --format json'",
        ),
        (
            ("-", "GOLDEN"),
            "[1]",
            "<stdin>: not a trace; expected the output of 'backprop trace --format json'",
        ),
        (
            ("GOLDEN", "GOLDEN", "--rtol", "-1"),
            "",
            "--rtol: expected a finite tolerance ≥ 0, found -1.0",
        ),
    ],
)
def test_unusable_input_exits_2(golden, args, text, message) -> None:
    _unusable(golden, args, text, message)


@pytest.mark.parametrize(
    "name, make, message",
    [
        ("folder", lambda p: p.mkdir(), "is a directory; expected a trace JSON file"),
        (
            "latin1.json",
            lambda p: p.write_bytes(b"\xff\xfe{}"),
            "is not UTF-8 text; expected a trace JSON file",
        ),
    ],
)
def test_unreadable_trace_files_exit_2(golden, tmp_path, name, make, message) -> None:
    path = tmp_path / name
    make(path)
    _unusable(golden, (str(path), "GOLDEN"), "", f"{path}: {message}")


def _unusable(golden, args, text, message) -> None:
    args = [str(golden) if a == "GOLDEN" else a for a in args]
    result = invoke("compare", *args, input=text)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"backprop: error: {message}\n"


def test_expect_passes_for_the_unchanged_config(golden) -> None:
    result = invoke("trace", MLP, "--expect", str(golden))
    assert result.exit_code == 0
    assert result.stdout == (
        f"trace of {MLP} matches {golden} (schema_version 2, json; rtol 1e-09, atol 1e-12)\n"
    )


def test_expect_names_the_first_differing_paths_when_a_weight_changes(golden, tmp_path) -> None:
    changed = _changed_config(tmp_path)
    result = invoke("trace", str(changed), "--expect", str(golden), "--width", "120")
    assert result.exit_code == 1
    rows = [line.split()[0] for line in result.stdout.splitlines()[3:6]]
    assert rows == ["steps[0].objective", "steps[0].forward.W1[0][0]", "steps[0].forward.z[0]"]
    # every number once: 54 paths differ where version 1, which repeats them, has 96
    assert f"trace of {changed} differs from {golden} at 54 path(s)" in result.stdout
    pinned_v1 = golden.parent / "v1.json"
    pinned_v1.write_text(invoke("trace", MLP, "-f", "json", "--schema-version", "1").stdout)
    result = invoke("trace", str(changed), "--expect", str(pinned_v1), "--width", "120")
    rows = [line.split()[0] for line in result.stdout.splitlines()[3:6]]
    assert rows == ["steps[0].forward.W1[0][0]", "steps[0].forward.z[0]", "steps[0].forward.h[0]"]
    assert (
        f"trace of {changed} differs from {pinned_v1} at 96 path(s) (schema_version 1, json;"
        in result.stdout
    )


def test_expect_uses_the_same_options_as_the_json_it_compares_with(golden, tmp_path) -> None:
    three = golden.parent / "three.json"
    three.write_text(invoke("trace", MLP, "-f", "json", "-n", "3").stdout)
    assert invoke("trace", MLP, "-n", "3", "--expect", str(three)).exit_code == 0
    assert invoke("trace", MLP, "--expect", str(three)).exit_code == 1
    assert (
        invoke("trace", MLP, "-n", "3", "--only-step", "1", "--expect", str(golden)).exit_code == 0
    )


@pytest.mark.parametrize("extra", [("--format", "json"), ("--explain",), ("--every", "2")])
def test_expect_prints_only_the_comparison(golden, extra) -> None:
    result = invoke("trace", MLP, "--expect", str(golden), *extra)
    assert result.exit_code == 2
    assert "--expect prints only the comparison; it does not combine with" in result.stderr


def test_json_round_trip_is_stable() -> None:
    doc = trace_json(CONFIGS / "seed_linear.yaml", "-n", "3")
    assert not list(differences(doc, copy.deepcopy(doc), rtol=0.0, atol=0.0))


# ---- versions and forms -------------------------------------------------------------------


@pytest.fixture
def traces(tmp_path, monkeypatch):
    """The seed MLP's 3 steps in every version and form, named v1.json, v2.json, v1.jsonl, …,
    each with every part of a step (a jsonl stream holds fewer unless --fields all)."""
    monkeypatch.chdir(tmp_path)
    for version in ("1", "2"):
        for form in ("json", "jsonl"):
            out = invoke(
                "trace", MLP, "-n", "3", "-f", form, "--schema-version", version, "--fields", "all"
            ).stdout
            (tmp_path / f"v{version}.{form}").write_text(out, encoding="utf-8")
    return ["v1.json", "v2.json", "v1.jsonl", "v2.jsonl"]


def test_every_version_and_form_matches_every_other(traces) -> None:
    for expected in traces:
        for actual in traces:
            result = invoke("compare", expected, actual)
            assert result.exit_code == 0, (expected, actual, result.stdout)
    assert invoke("compare", "v1.json", "v2.jsonl").stdout == (
        "v2.jsonl matches v1.json (schema_version 2, jsonl against schema_version 1, json, "
        "compared as schema_version 1; rtol 1e-09, atol 1e-12)\n"
    )
    assert invoke("compare", "v2.json", "v2.jsonl").stdout == (
        "v2.jsonl matches v2.json (schema_version 2, jsonl against schema_version 2, json; "
        "rtol 1e-09, atol 1e-12)\n"
    )


@pytest.mark.parametrize("pinned", ["v1.json", "v2.json", "v1.jsonl", "v2.jsonl"])
def test_expect_reads_every_version_and_form_and_says_which(traces, pinned) -> None:
    result = invoke("trace", MLP, "-n", "3", "--expect", pinned)
    version, form = pinned[1], pinned.split(".")[1]
    assert result.stdout == (
        f"trace of {MLP} matches {pinned} (schema_version {version}, {form}; rtol 1e-09, "
        f"atol 1e-12)\n"
    )
    assert invoke("trace", MLP, "-n", "2", "--expect", pinned).exit_code == 1


def test_a_changed_number_is_found_in_jsonl_and_across_versions(traces) -> None:
    lines = Path("v2.jsonl").read_text(encoding="utf-8").splitlines()
    step = json.loads(lines[2])  # the header, step 1, step 2
    step["grads"]["W1"][0][0] += 1.0
    lines[2] = json.dumps(step)
    Path("changed.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for pinned in ("v2.jsonl", "v1.json"):
        result = invoke("compare", pinned, "changed.jsonl", "--width", "120")
        assert result.exit_code == 1
        paths = [line.split()[0] for line in result.stdout.splitlines()[3:-1]]
        if pinned == "v2.jsonl":
            assert paths == ["steps[1].grads.W1[0][0]"]
        else:  # rebuilt as version 1, the gradient is also each update's "grad"
            assert paths == ["steps[1].grads.W1[0][0]", "steps[1].updates.W1.grad[0][0]"]


def test_a_jsonl_stream_cut_short_is_missing_steps(traces) -> None:
    lines = Path("v2.jsonl").read_text(encoding="utf-8").splitlines()
    Path("short.jsonl").write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    result = invoke("compare", "v2.json", "short.jsonl", "--width", "120")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[3].split()[:3] == ["steps[2]", "{step,", "objective,"]
    assert "(missing)" in result.stdout


def test_a_reference_to_a_part_not_written_is_an_error(traces) -> None:
    out = invoke("trace", MLP, "-n", "3", "-f", "json", "--fields", "backward").stdout
    Path("edges.json").write_text(out, encoding="utf-8")
    result = invoke("compare", "v1.json", "edges.json")
    assert result.exit_code == 2
    assert "a reference to grads.o, which the trace does not hold" in result.stderr


def test_errors_in_a_large_document_name_the_line_of_the_file(tmp_path) -> None:
    from backprop_cli.compare import TraceInputError, load_trace

    path = tmp_path / "big.json"
    body = ",\n".join(f'    {{"step": {i}, "objective": 0.5}}' for i in range(1, 20001))
    path.write_text('{\n  "schema_version": 2,\n  "steps": [\n' + body + "\n  ]\n}\n")
    trace = load_trace(str(path))
    assert sum(1 for _ in trace.steps) == 20000  # read in pieces (the file is ~700 kB)
    path.write_text(path.read_text().replace('{"step": 15000,', '{"step": 15000', 1))
    trace = load_trace(str(path))
    with pytest.raises(TraceInputError, match=r"big.json:15003:20: not JSON \(Expecting ','"):
        for _ in trace.steps:
            pass
