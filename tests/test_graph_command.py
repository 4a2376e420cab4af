"""``backprop graph``: the document's §3 graph as a terminal tree, Graphviz, Mermaid and JSON."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from .conftest import CONFIGS, GOLDEN
from .helpers import assert_matches, invoke, trace_json

MLP = str(CONFIGS / "seed_mlp_l2.yaml")
LINEAR = str(CONFIGS / "seed_linear.yaml")

# Golden files of the seed MLP's graph: (file name, arguments after the config).
GRAPH_GOLDEN = {
    "seed_mlp_l2.graph.dot": ("--format", "dot"),
    "seed_mlp_l2.graph.mmd": ("--format", "mermaid"),
    "seed_mlp_l2.graph.json": ("--format", "json"),
    "seed_mlp_l2.graph.txt": (),
    "seed_mlp_l2.graph-backward-step1.dot": ("--format", "dot", "--backward", "--step", "1"),
    "seed_mlp_l2.graph-backward-step1.json": ("--format", "json", "--backward", "--step", "1"),
}
DOCUMENT_TENSORS = ("x", "W1", "z", "h", "W2", "o", "y", "L", "s", "J")


def graph(*args: str, input: str | None = None) -> str:
    result = invoke("graph", *args, input=input)
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("name", sorted(GRAPH_GOLDEN))
def test_golden(name: str, update_golden: bool) -> None:
    out = graph(MLP, "--width", "100", *GRAPH_GOLDEN[name])
    assert_matches(out, GOLDEN / name, update_golden)


@pytest.mark.parametrize("fmt", ["table", "dot", "mermaid", "json"])
@pytest.mark.parametrize("extra", [(), ("--step", "2"), ("--backward",)])
def test_output_is_deterministic(fmt: str, extra: tuple[str, ...]) -> None:
    args = (MLP, "--format", fmt, *extra)
    assert invoke("graph", *args).stdout_bytes == invoke("graph", *args).stdout_bytes


# ---- the document's picture --------------------------------------------------------------


def test_dot_draws_the_documents_graph() -> None:
    dot = graph(MLP, "--format", "dot")
    assert "rankdir=LR;" in dot
    for name in ("x", "y", "z", "h", "o", "L", "s"):  # tensors: white boxes
        assert f'"{name}" [shape=box, style="filled", fillcolor="#ffffff"' in dot
    for name in ("W1", "W2"):  # params: blue boxes
        assert f'"{name}" [shape=box, style="filled", fillcolor="#9ecbff"' in dot
    assert (
        '"J" [shape=box, style="filled", fillcolor="#ffffff", label="J\\nscalar\\n", '
        'tooltip="J = L + s", penwidth=2];' in dot
    )
    circles = {
        line.split('"')[1]: line.split('label="')[1].split('"')[0]
        for line in dot.splitlines()
        if "shape=circle" in line
    }
    assert circles == {
        "op:z": "×",
        "op:h": "relu",
        "op:o": "×",
        "op:L": "l",
        "op:s": "ℓ2",
        "op:J": "+",
    }
    edges = [line.strip() for line in dot.splitlines() if " -> " in line]
    assert edges == [
        '"W1" -> "op:z";',
        '"x" -> "op:z";',
        '"op:z" -> "z";',
        '"z" -> "op:h";',
        '"op:h" -> "h";',
        '"W2" -> "op:o";',
        '"h" -> "op:o";',
        '"op:o" -> "o";',
        '"o" -> "op:L";',
        '"y" -> "op:L";',
        '"op:L" -> "L";',
        '"W1" -> "op:s";',
        '"W2" -> "op:s";',
        '"op:s" -> "s";',  # the ℓ2 branch
        '"L" -> "op:J";',
        '"s" -> "op:J";',
        '"op:J" -> "J";',  # L and s join at J
    ]


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("extra", [(), ("--backward", "--step", "1")])
def test_graphviz_renders_it(extra: tuple[str, ...]) -> None:
    proc = subprocess.run(
        ["dot", "-Tsvg"],
        input=graph(MLP, "--format", "dot", *extra),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    texts = set(proc.stdout.replace("</text>", "<text").split("<text")[1::2])
    labels = {t.split(">", 1)[1] for t in texts}
    for name in (*DOCUMENT_TENSORS, "×", "ℓ2", "+", "l"):
        assert name in labels, name


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graphviz_draws_every_label_in_a_monospace_font() -> None:
    """Matrix columns in the labels line up only in a monospace font. Graphviz (Pango) reads
    the family list; an SVG keeps it, so a viewer without DejaVu Sans Mono falls back to its
    own monospace font."""
    dot = graph(MLP, "--format", "dot", "--backward", "--step", "1")
    for what in ("graph", "node", "edge"):
        assert f'  {what} [fontname="DejaVu Sans Mono,monospace", ' in dot, what
    assert "Helvetica" not in dot
    svg = subprocess.run(
        ["dot", "-Tsvg"], input=dot, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert set(re.findall(r'font-family="([^"]*)"', svg)) == {"DejaVu Sans Mono,monospace"}


def test_mermaid_flowchart() -> None:
    text = graph(MLP, "--format", "mermaid")
    assert text.startswith("flowchart LR\n")
    assert '  t_W1["W1<br/>4×3"]:::param\n' in text
    assert '  t_J["J<br/>scalar"]:::objective\n' in text
    assert '  op_s(("ℓ2")):::op\n' in text
    assert "  t_W2 --> op_s\n  op_s --> t_s\n" in text
    assert "  t_L --> op_J\n  t_s --> op_J\n  op_J --> t_J\n" in text


def test_mermaid_escapes_and_ids(tmp_path) -> None:
    config = tmp_path / "u.yaml"
    config.write_text(
        "data: {x: 2.0}\nparams: {ŷ: 1.5, end: 0.5}\n"
        "graph:\n  - {name: r, op: relu, args: [x]}\n"
        "  - {name: a, op: mul, args: [ŷ, r]}\n"
        "  - {name: L, op: add, args: [a, end]}\n",
        encoding="utf-8",
    )
    text = graph(str(config), "--format", "mermaid", "--backward")
    assert '  t1["ŷ<br/>scalar"]:::param\n' in text  # non-ASCII names get index ids
    assert "t_end" in text and " end " not in text  # never a bare Mermaid keyword
    assert '-->|"∂L/∂x = ∂L/∂r · 1[x #gt; 0]"| t_x' in text  # > as an entity


# ---- values, gradients and the backward flow ---------------------------------------------


def test_step_values_and_gradients_are_the_engines() -> None:
    doc = json.loads(graph(MLP, "--format", "json", "--step", "1"))
    trace = trace_json(MLP)["steps"][0]
    assert doc["step"] == 1 and doc["direction"] == "forward"
    nodes = {n["name"]: n for n in doc["nodes"]}
    assert [n["name"] for n in doc["nodes"]] == ["x", "y", "W1", "W2", "z", "h", "o", "L", "s", "J"]
    for name, node in nodes.items():
        assert node["value"] == trace["forward"][name]
        assert node["grad"] == trace["grads"][name]
    assert nodes["J"]["value"] == pytest.approx(0.252125 + 0.01515, abs=1e-12)
    assert nodes["W1"]["grad"][0] == pytest.approx([-0.4475, 0.898, -0.22075], abs=1e-12)
    assert nodes["z"] | {"value": None, "grad": None} == {
        "name": "z",
        "kind": "op",
        "shape": [4],
        "op": "matmul",
        "symbol": "×",
        "args": ["W1", "x"],
        "equation": "z = W1·x",
        "active": True,
        "value": None,
        "grad": None,
    }
    assert nodes["W2"]["trainable"] is True and "trainable" not in nodes["x"]


def test_later_steps_use_the_updated_params() -> None:
    doc = json.loads(graph(LINEAR, "--format", "json", "--step", "2"))
    nodes = {n["name"]: n for n in doc["nodes"]}
    assert nodes["w"]["value"] == pytest.approx(0.88, abs=1e-12)
    assert nodes["b"]["value"] == pytest.approx(0.29, abs=1e-12)
    assert nodes["y_hat"]["value"] == pytest.approx(0.88 * 2 + 0.29, abs=1e-12)


def test_forward_edges_follow_the_data() -> None:
    doc = json.loads(graph(LINEAR, "--format", "json"))
    assert doc["step"] is None and "value" not in doc["nodes"][0]
    assert doc["edges"] == [
        {"from": "w", "to": "wx", "position": 0},
        {"from": "x", "to": "wx", "position": 1},
        {"from": "wx", "to": "y_hat", "position": 0},
        {"from": "b", "to": "y_hat", "position": 1},
        {"from": "y_hat", "to": "L", "position": 0},
        {"from": "y", "to": "L", "position": 1},
    ]


def test_backward_edges_are_reversed_and_carry_their_gradient() -> None:
    doc = json.loads(graph(LINEAR, "--format", "json", "--backward", "--step", "1"))
    assert doc["direction"] == "backward"
    edges = {(e["from"], e["to"]): e for e in doc["edges"]}
    assert list(edges) == [
        ("L", "y_hat"),
        ("L", "y"),
        ("y_hat", "wx"),
        ("y_hat", "b"),
        ("wx", "w"),
        ("wx", "x"),
    ]
    assert edges[("wx", "w")] == {
        "from": "wx",
        "to": "w",
        "position": 0,
        "index": 5,
        "target": "∂L/∂w",
        "gradient": "∂L/∂wx · x",
        "term": 1,
        "terms": 1,
        "value": pytest.approx(-3.8, abs=1e-12),
    }
    assert edges[("L", "y_hat")]["value"] == pytest.approx(-1.9, abs=1e-12)
    without_step = json.loads(graph(LINEAR, "--format", "json", "--backward"))
    assert "value" not in without_step["edges"][0]
    assert without_step["edges"][4]["gradient"] == "∂L/∂wx · x"


def test_backward_dot_labels_every_edge_with_its_gradient() -> None:
    dot = graph(MLP, "--format", "dot", "--backward", "--step", "1")
    assert '"J" -> "op:J" [label="∂J/∂J"];' in dot
    assert '"op:J" -> "L" [label="∂J/∂L = 1\\n= 1\\l"];' in dot
    assert '"op:s" -> "W1" [label="∂J/∂W1 += λW1\\n= [[ 0.002, -0.001,  0.004]\\l' in dot
    assert '"op:z" -> "W1" [label="∂J/∂W1 += ∂J/∂z · xᵀ\\n' in dot
    assert dot.count(" -> ") == 11 + 6  # every edge, and each node's gradient into its circle
    plain = graph(MLP, "--format", "dot", "--backward")
    assert '"op:z" -> "x" [label="∂J/∂x = W1ᵀ · ∂J/∂z"];' in plain


def test_frozen_params_are_paler_and_dashed(tmp_path) -> None:
    config = tmp_path / "frozen.yaml"
    config.write_text(
        "data: {x: 2.0}\nparams: {w: 0.5, b: {value: 0.1, trainable: false}}\n"
        "graph:\n  - {name: y, op: mul, args: [w, x]}\n"
        "  - {name: L, op: add, args: [y, b]}\n"
    )
    dot = graph(str(config), "--format", "dot")
    assert (
        '"b" [shape=box, style="filled,dashed", fillcolor="#dbeafe", '
        'label="b (frozen)\\nscalar\\n"];' in dot
    )
    assert '"w" [shape=box, style="filled", fillcolor="#9ecbff"' in dot
    assert '  t_b["b (frozen)<br/>scalar"]:::frozen\n' in graph(str(config), "-f", "mermaid")
    assert "param (frozen)" in graph(str(config))


def test_terminal_shows_kinds_shapes_values_and_gradients() -> None:
    out = graph(MLP, "--step", "1")
    assert out.startswith("Computational graph of ")
    lines = out.splitlines()
    assert "J  scalar  +  J = L + s" in lines
    assert "└── s  scalar  ℓ2  s = λ/2·(‖W1‖² + ‖W2‖²), λ = 0.01" in lines
    row = next(line for line in lines if line.startswith(" o "))
    assert row.split() == ["o", "op", "×", "matmul", "2", "[0.385,", "0.355]", "[-0.615,", "0.355]"]
    assert next(line for line in lines if line.startswith(" W1 ")).split()[:3] == [
        "W1",
        "param",
        "4×3",
    ]


def test_terminal_backward_lists_every_edge() -> None:
    out = graph(LINEAR, "--backward", "--step", "1")
    assert "├── wx  scalar  ⊙  wx = w·x   ← ∂L/∂wx = ∂L/∂y_hat" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("⑤"))
    assert row.split() == ["⑤", "wx", "→", "w", "∂L/∂w", "=", "∂L/∂wx", "·", "x", "-3.8"]


def test_unused_nodes_are_marked(tmp_path) -> None:
    config = tmp_path / "unused.yaml"
    config.write_text(
        "data: {x: [1.0, 2.0]}\ngraph:\n  - {name: t, op: tanh, args: [x]}\n"
        "  - {name: L, op: sum, args: [x]}\nobjective: L\n"
    )
    assert "tanh (not used by L)" in graph(str(config))
    assert json.loads(graph(str(config), "-f", "json"))["nodes"][1]["active"] is False


def test_config_from_stdin() -> None:
    text = (CONFIGS / "seed_linear.yaml").read_text(encoding="utf-8")
    piped = graph("-", "--format", "dot", input=text)
    assert piped.startswith("// The computational graph of <stdin>, drawn by backprop-cli.\n")
    assert piped.split("\n", 1)[1] == graph(LINEAR, "--format", "dot").split("\n", 1)[1]


def test_errors_are_one_line_and_exit_2() -> None:
    result = invoke("graph", "missing.yaml", "--format", "dot")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == "backprop: error: missing.yaml: no such file\n"
    assert invoke("graph", MLP, "--step", "0").exit_code == 2
