"""The gradient table mirrors the document, at every width, in every format.

- the default backward table is the document's: one row per operator node, in backward order,
  sums of several paths on the row that completes them, no gradients of data;
- no line is longer than the width, no matrix row or formula term is split, no line ends in a
  space, at 60, 80, 100 and 120 columns for every shipped config;
- the LaTeX of every shipped config compiles with pdflatex without an Overfull \\hbox;
- the Markdown's math survives a CommonMark parser with GitHub's math syntax, backslashes and all;
- ``backprop ops`` states each op's general local gradient.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len

from backprop_cli import fmt
from backprop_cli.ops import OPS
from backprop_cli.render import layout
from backprop_cli.render.table import op_rule

from .conftest import CONFIGS
from .helpers import invoke, trace_json

SHIPPED = sorted(CONFIGS.glob("*.yaml"))
MLP = str(CONFIGS / "seed_mlp_l2.yaml")
LINEAR = str(CONFIGS / "seed_linear.yaml")


def _backward_block(out: str) -> str:
    return out.split("Backward pass", 1)[1].split("Parameter updates", 1)[0]


# ---- the document's view ----------------------------------------------------------------------


def test_default_backward_table_is_the_documents() -> None:
    out = invoke("trace", MLP).stdout
    backward = _backward_block(out)
    rows = re.findall(r"^([①-⑳])\s+(\S+) =", backward, re.M)
    # J, then the ℓ2 and loss nodes, then the output layer, the hidden layer, the input side
    assert rows == [("①", "J"), ("②", "s"), ("③", "L"), ("④", "o"), ("⑤", "h"), ("⑥", "z")]
    # ∂J/∂W2 gathers ∂J/∂o·hᵀ and λW2, shown whole on o's row with the sum's value
    o_row = backward.split("④", 1)[1].split("⑤", 1)[0]
    assert "∂J/∂W2 = ∂J/∂o · hᵀ + λW2" in o_row
    doc = trace_json(MLP)
    w2 = np.array(doc["steps"][0]["grads"]["W2"])
    for row in fmt.tensor(w2, 4).split("\n"):
        assert row.strip("[] ") in o_row
    z_row = backward.split("⑥", 1)[1]
    assert "∂J/∂W1 = ∂J/∂z · xᵀ + λW1" in z_row
    # gradients of data are not shown, and the table says so
    assert "∂J/∂x" not in backward and "∂J/∂y" not in backward
    assert "gradients of data (x, y) are not shown; --data-grads shows them" in backward
    # no separate table of sums in this view
    assert "Gradients summed over several paths" not in out


def test_data_grads_and_the_edges_view() -> None:
    with_data = _backward_block(invoke("trace", MLP, "--data-grads").stdout)
    assert "∂J/∂x = W1ᵀ · ∂J/∂z" in with_data and "∂J/∂y = y − o" in with_data
    edges = invoke("trace", MLP, "--view", "edges", "--width", "200").stdout
    assert re.findall("^ *([①-⑳])", _backward_block(edges), re.M) == [
        chr(0x2460 + i) for i in range(11)
    ]
    assert "Gradients summed over several paths" in edges


def test_view_does_not_change_json() -> None:
    assert trace_json(MLP, "--view", "edges") == trace_json(MLP)


# ---- widths -------------------------------------------------------------------------------------

ROW_START = re.compile(r"\[(?=\s*-?\d)")
BROKEN_ROW = re.compile(r"^\s*(= )?-?\d[\d.e+-]*,")


@pytest.mark.parametrize("width", [60, 80, 100, 120])
@pytest.mark.parametrize("config", SHIPPED, ids=lambda p: p.stem)
def test_nothing_is_split_at_any_width(config: Path, width: int) -> None:
    out = invoke("trace", str(config), "--width", str(width), "--steps", "2").stdout
    previous = ""
    for line in out.splitlines():
        assert cell_len(line) <= width, line
        assert not line.endswith(" "), repr(line)
        # a matrix row that starts on a line ends on it
        for m in ROW_START.finditer(line):
            assert "]" in line[m.end() :], line
        assert not BROKEN_ROW.match(line), line
        # a formula term is never cut inside its brackets (lists, such as an optimiser's
        # settings, may wrap after a comma)
        if "," not in line and not previous.endswith(","):
            assert line.count("(") == line.count(")"), line
        previous = line


@pytest.mark.parametrize("width", [60, 80])
def test_a_row_too_wide_is_stacked_and_a_tensor_too_wide_summarised(width: int) -> None:
    out = invoke("trace", str(CONFIGS / "classifier_softmax.yaml"), "--width", str(width)).stdout
    assert re.search(r"^ +Upstream +∂L/∂", out, re.M)  # stacked rows: titles on the left
    if width == 60:
        assert "3×4 tensor" in out and "corners" in out
        assert (
            "tensors too wide for 60 columns are summarised; --full shows them whole"
            in " ".join(out.split())
        )
        full = invoke(
            "trace", str(CONFIGS / "classifier_softmax.yaml"), "--width", "60", "--full"
        ).stdout
        assert "3×4 tensor" not in full


def test_formula_atoms_break_only_between_terms() -> None:
    assert layout.formula_atoms("∂J/∂W1 = ∂J/∂z · xᵀ + λW1") == ["∂J/∂W1", "= ∂J/∂z · xᵀ", "+ λW1"]
    assert layout.formula_atoms("L = ½(y_hat − y)²") == ["L", "= ½(y_hat − y)²"]
    assert layout.formula_atoms("s = λ/2·(‖W1‖² + ‖W2‖²), λ = 0.01") == [
        "s",
        "= λ/2·(‖W1‖² + ‖W2‖²), λ",
        "= 0.01",
    ]


def test_at_80_columns_the_line_fit_keeps_its_formulas_whole() -> None:
    out = invoke("trace", LINEAR, "--width", "80").stdout
    assert "= y_hat − y" in out  # the term stays whole, wherever its line breaks
    assert "L = ½‖y_hat − y‖²" in out


# ---- LaTeX ------------------------------------------------------------------------------------


HEADINGS = ("Step ", "Forward pass", "Backward pass", "Gradients summed", "Parameter updates")


@pytest.mark.skipif(
    shutil.which("pdflatex") is None or shutil.which("pdftotext") is None,
    reason="pdflatex or pdftotext (poppler-utils) is not installed",
)
@pytest.mark.parametrize("config", ["tanh_adam", "classifier_softmax", "cnn_tiny", "rnn_bptt"])
def test_no_latex_heading_is_left_at_the_foot_of_a_page(config: str, tmp_path: Path) -> None:
    """A table's title, its column titles and its first row share a page, and a step's
    heading stays with its first table: these runs once left "Backward pass" or "Step 2" as
    the last line of a page, its table on the next."""
    tex = invoke(
        "trace", str(CONFIGS / f"{config}.yaml"), "-n", "3", "-f", "latex", "--standalone"
    ).stdout
    (tmp_path / "t.tex").write_text(tex, encoding="utf-8")
    subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
        cwd=tmp_path,
        capture_output=True,
        timeout=300,
        check=True,
    )
    text = subprocess.run(
        ["pdftotext", "-layout", "t.pdf", "-"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pages = text.split("\f")
    assert len(pages) > 4
    for number, page in enumerate(pages, 1):
        lines = [line.strip() for line in page.splitlines() if line.strip()]
        lines = [line for line in lines if not line.isdigit()]  # the page number
        if lines:
            assert not lines[-1].startswith(HEADINGS), f"page {number} ends with {lines[-1]!r}"


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
@pytest.mark.parametrize("config", SHIPPED, ids=lambda p: p.stem)
def test_latex_compiles_without_overfull_boxes(config: Path, tmp_path: Path) -> None:
    tex = invoke("trace", str(config), "--format", "latex", "--standalone").stdout
    assert tex.startswith(f"% backprop trace of {config.name}: compile with pdflatex\n")
    (tmp_path / "t.tex").write_text(tex, encoding="utf-8")
    result = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=300,
        check=False,
    )
    log = (tmp_path / "t.log").read_text(encoding="utf-8", errors="replace")
    assert result.returncode == 0, log[-2000:]
    overfull = [line for line in log.splitlines() if line.startswith("Overfull \\hbox")]
    assert not overfull, overfull[:5]


def test_latex_fragment_names_its_packages() -> None:
    tex = invoke("trace", LINEAR, "--format", "latex").stdout
    assert tex.startswith("% backprop trace: needs \\usepackage{amsmath,array,booktabs,longtable}")
    assert "\\documentclass" not in tex and "\\end{document}" not in tex
    standalone = invoke("trace", LINEAR, "--format", "latex", "--standalone").stdout
    assert standalone.rstrip().endswith("\\end{document}")


# ---- Markdown ----------------------------------------------------------------------------------


def _math_tokens(text: str) -> list[str]:
    markdown_it = pytest.importorskip("markdown_it")
    texmath = pytest.importorskip("mdit_py_plugins.texmath")
    md = markdown_it.MarkdownIt("commonmark").enable("table")
    md.use(texmath.texmath_plugin, delimiters="gitlab")

    def walk(tokens):
        for t in tokens:
            if t.children:
                yield from walk(t.children)
            yield t

    return [t.content for t in walk(md.parse(text)) if t.type == "math_inline"]


@pytest.mark.parametrize("config", SHIPPED, ids=lambda p: p.stem)
def test_markdown_math_survives_a_commonmark_parser(config: Path) -> None:
    out = invoke("trace", str(config), "--format", "markdown", "--steps", "2").stdout
    written = re.findall(r"\$`(.*?)`\$", out)
    assert written and all("\\" in w or w for w in written)
    assert _math_tokens(out) == written  # every formula, with every backslash


def test_markdown_matrices_keep_their_row_breaks() -> None:
    out = invoke("trace", MLP, "--format", "markdown").stdout
    tokens = _math_tokens(out)
    w1 = next(t for t in tokens if t.startswith("\\begin{bmatrix}0.2 & -0.1 & 0.4"))
    assert w1.count(" \\\\ ") == 3  # four rows


# ---- backprop ops -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "rule"),
    [
        ("mean", "∂/∂a: 1/n"),
        ("mse", "∂/∂ŷ: 2(ŷ − y)/n"),
        ("softmax_cross_entropy", "∂/∂z: (softmax(z) − y)/B"),
        ("pow", "∂/∂a: p·a^(p − 1)"),
        ("relu", "∂/∂z: 1[z > 0]"),
        ("log", "∂/∂a: 1/a"),
    ],
)
def test_ops_states_the_general_rule(op: str, rule: str) -> None:
    assert rule in op_rule(OPS[op])


@pytest.mark.parametrize("name", sorted(OPS))
def test_ops_rules_use_the_summarys_variables(name: str) -> None:
    op = OPS[name]
    for line in op_rule(op):
        variable = line.split(":", 1)[0].removeprefix("∂/∂")
        if op.arity == 1 and re.search(r"\b[az]\b", op.summary):
            assert re.search(rf"\b{variable}\b", op.summary), (name, line)
        assert not re.search(r"99\d\d", line), (name, line)  # no stand-in size left over


def test_json_of_the_view_options_is_parsable() -> None:
    json.loads(invoke("trace", MLP, "--format", "json", "--view", "edges").stdout)


# ---- stacked rows line up with the grid ---------------------------------------------------------


def _forward_table(out: str) -> tuple[str, list[str]]:
    """The forward table's title line and its lines under the rule."""
    block = out.split("Forward pass\n", 1)[1].split("\n\n", 1)[0]
    header, rule, *lines = block.split("\n")
    assert set(rule) == {"─"}
    return header, lines


def _starts(line: str, column: int) -> bool:
    """Whether a cell starts at ``column`` cells into the line, after a gap."""
    before = ""
    for i, char in enumerate(line):
        if cell_len(before) == column:
            return char != " " and line[i - 2 : i] == "  "
        before += char
    return False


@pytest.mark.parametrize(
    ("config", "width", "full"),
    [("houses", 60, True), ("houses", 50, True), ("tanh_adam", 60, False)],
)
def test_a_stacked_rows_head_line_lines_up_with_the_titles(
    config: str, width: int, full: bool
) -> None:
    """Every node's equation starts under "Equation" and its shape under "Shape", whether its
    value sits beside them or under them: the Equation column is not squeezed below the
    equations of the rows that are stacked (it once was, to the width of "data", and pushed
    their shapes right and wrapped "W2h = W2·h" over two lines)."""
    args = ["--full"] if full else []
    out = invoke(
        "trace", str(CONFIGS / f"{config}.yaml"), "-n", "1", "--width", str(width), *args
    ).stdout
    header, lines = _forward_table(out)
    equation, shape = (
        cell_len(header[: header.index("Equation")]),
        cell_len(header[: header.index("Shape")]),
    )
    heads = [line for line in lines if not line.startswith(" ")]
    assert len(heads) >= 8
    for line in heads:
        assert _starts(line, equation) and _starts(line, shape), line
    stacked = [line for line in lines if line.lstrip().startswith("Value  ")]
    assert stacked  # some values are under their rows, and their rows still line up
    assert all(cell_len(line) <= width for line in lines if not full)
    if config == "tanh_adam":
        assert "W2h = W2·h" in out and "o = W2h + b2" in out


def test_one_long_equation_is_let_out_of_the_grid() -> None:
    """A single equation much longer than the rest does not widen the Equation column for
    all: its row is stacked with a head line of its own, the others line up."""
    out = invoke("trace", str(CONFIGS / "classifier_softmax.yaml"), "--width", "80").stdout
    header, lines = _forward_table(out)
    shape = cell_len(header[: header.index("Shape")])
    heads = [line for line in lines if not line.startswith(" ")]
    ragged = [line for line in heads if not _starts(line, shape)]
    assert [line.split()[0] for line in ragged] == ["L"]
    assert "L       L = mean[−Σ_classes y·log_softmax(logits)]  scalar" in ragged
    assert re.search(r"^ +Value +0\.9638$", out, re.M)
    assert all(_starts(line, shape) for line in heads if line not in ragged)


def test_at_40_columns_the_rows_still_line_up() -> None:
    """The narrowest width: values too wide go under their rows, the scalars stay beside,
    and only the loss's equation, wider than its column, is let out of the grid."""
    out = invoke("trace", str(CONFIGS / "houses.yaml"), "-n", "1", "--width", "40", "--full").stdout
    header, lines = _forward_table(out)
    assert header.split() == ["Node", "Equation", "Shape", "Value"]
    heads = [line for line in lines if not line.startswith(" ")]
    shape = cell_len(header[: header.index("Shape")])
    assert [line.split()[0] for line in heads if not _starts(line, shape)] == ["L"]
    assert "w      param           scalar  0" in heads


def _cell(text: str) -> list[layout.Line]:
    return [layout.Line([layout.Styled(text)])]


def test_a_grid_of_stacked_rows_in_line_keeps_its_titles() -> None:
    """Every value too wide to sit beside its row: the plan that lines the head cells up
    says so (``lined_up``), and the table prints the titles over the head lines."""
    titles = [layout.Styled(t) for t in ("Node", "Equation", "Shape", "Value")]
    wide = "[" + ", ".join(["0.125"] * 8) + "]"
    rows = [
        [_cell("a"), _cell("data"), _cell("8"), _cell(wide)],
        [_cell("b"), _cell("b = a·0.5"), _cell("8"), _cell(wide)],
        [_cell("c"), _cell("c = b + a"), _cell("8"), _cell(wide)],
    ]
    grid = layout.plan(titles, rows, 40, [True, True, True, False])
    assert grid.side == [False, False, False] and grid.lined_up
    assert grid.widths[:3] == [4, len("b = a·0.5"), 5]
    assert not layout.plan(titles, rows, 40).lined_up  # without head columns: as before


@given(
    st.lists(st.integers(min_value=1, max_value=30), min_size=1, max_size=12),
    st.integers(min_value=4, max_value=60),
)
def test_height_counts_the_lines_wrap_makes(atoms: list[int], width: int) -> None:
    """The plan scores a grid by the lines its rows take without making them: the count is
    the one ``wrap`` gives."""
    line = layout.Line([layout.Styled("x" * n) for n in atoms])
    assert layout._height(line, width) == len(layout.wrap(line, width))
