"""trace options for people: --format markdown/latex, --lang, --explain, --every, --only-step,
--node, --save-svg/--save-html."""

from __future__ import annotations

import gc
import json
import re
import weakref

import pytest
from rich.cells import cell_len

from backprop_cli.i18n import Catalogue
from backprop_cli.render import document, table
from backprop_cli.render.explain import PLAIN, edge_sentence, update_sentence
from backprop_cli.render.summary import Summary
from backprop_cli.render.view import View

from .conftest import CONFIGS
from .helpers import invoke, tracer_from_file
from .op_tracers import all_cases, op_tracer

LINEAR = str(CONFIGS / "seed_linear.yaml")
MLP = str(CONFIGS / "seed_mlp_l2.yaml")


# ---- markdown and latex --------------------------------------------------------------------


def test_markdown_zh_reproduces_the_documents_section_4() -> None:
    out = invoke("trace", LINEAR, "--format", "markdown", "--lang", "zh").stdout
    for heading in (
        "## 第 1 步 · $`L`$ = $`1.805`$",
        "### 前向传播",
        "### 反向传播",
        "### 参数更新",
    ):
        assert heading in out
    assert "| 步骤 | 目标 | 上游梯度 | 局部梯度 | 全局梯度 |" in out
    assert r"| $`\hat{y}`$ | $`\hat{y} = \mathrm{wx} + b`$ | 标量 | $`1.1`$ |" in out
    assert r"| $`L`$ | $`L = \tfrac{1}{2}\lVert \hat{y} - y\rVert^2`$ | 标量 | $`1.805`$ |" in out
    # ∂L/∂ŷ = ŷ − y = −1.9; ∂L/∂w = (−1.9)·2 = −3.8; ∂L/∂b = −1.9
    assert r"$`\frac{\partial L}{\partial \hat{y}} = \hat{y} - y = -1.9`$ |" in out
    assert (
        r"$`\frac{\partial L}{\partial w} = \frac{\partial L}{\partial \mathrm{wx}}\,x = -3.8`$"
        in out
    )
    assert r"$`\frac{\partial L}{\partial b} = \frac{\partial L}{\partial \hat{y}} = -1.9`$" in out
    assert (
        r"| $`w`$ | $`w \leftarrow w - \eta\,\frac{\partial L}{\partial w}`$ | $`0.5`$ | "
        r"$`-3.8`$ | $`0.88`$ |" in out
    )
    assert "| $`0.1`$ | $`-1.9`$ | $`0.29`$ |" in out
    prose = re.sub(r"\$`[^$]*`\$|\\[a-z]+|sgd|<br>|--[a-z-]+", "", out)
    assert not re.search("[A-Za-z]{4,}", prose), "English words left in the Chinese output"


def _outside_math(line: str) -> str:
    return re.sub(r"\$[^$]*\$", "", line)


@pytest.mark.parametrize("config", sorted(p.name for p in CONFIGS.glob("*.yaml")))
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_latex_tables_are_well_formed(config: str, lang: str) -> None:
    out = invoke(
        "trace", str(CONFIGS / config), "--format", "latex", "--lang", lang, "--explain", "-n", "2"
    ).stdout
    assert out.startswith("% backprop trace: needs \\usepackage{amsmath,array,booktabs,longtable}")
    assert out.count(r"\begin{longtable}") == out.count(r"\end{longtable}") > 0
    assert (
        out.count(r"\toprule")
        == out.count(r"\midrule")
        == out.count(r"\bottomrule")
        == out.count(r"\begin{longtable}")
    )
    assert out.count("$") % 2 == 0
    assert out.count(r"\begin{bmatrix}") == out.count(r"\end{bmatrix}")
    depth = 0
    for i, ch in enumerate(out):
        if ch in "{}" and out[i - 1] != "\\":
            depth += 1 if ch == "{" else -1
            assert depth >= 0
    assert depth == 0
    columns = 0
    for line in out.splitlines():
        m = re.match(r"\\begin\{longtable\}\{@\{\}(.*)@\{\}\}$", line)
        if m:
            spec = m[1]
            columns = spec.count(r"p{\dimexpr") or len(re.findall("[lcr]", spec))
        elif line.endswith(r"\\") and not line.startswith(r"\multicolumn"):
            assert _outside_math(line).count("&") == columns - 1, line
    text = _outside_math(out)
    if lang == "en":
        assert text.isascii(), [c for c in text if not c.isascii()][:5]


def test_untranslatable_names_are_shown_verbatim_not_broken(tmp_path) -> None:
    config = tmp_path / "cjk.yaml"
    config.write_text(
        "data: {x: 2.0}\nparams: {w: 0.5}\ngraph:\n  - {name: 损失, op: mul, args: [w, x]}\n",
        encoding="utf-8",
    )
    md = invoke("trace", str(config), "--format", "markdown").stdout
    assert "| `损失` | `损失 = w·x` | scalar | $`1`$ |" in md
    tex = invoke("trace", str(config), "--format", "latex").stdout
    assert r"\texttt{损失} & \texttt{损失 = w$\cdot$x} & scalar & $1$ \\" in tex


# ---- --explain -----------------------------------------------------------------------------


def test_explain_in_the_terminal() -> None:
    out = invoke("trace", LINEAR, "--explain", "--view", "edges").stdout
    assert (
        "① The loss's local gradient is the error y_hat − y = -1.9: negative, the "
        "prediction is too low." in out
    )
    assert (
        "③ The + node hands ∂L/∂y_hat = -1.9 unchanged to wx (and the same to b): its "
        "local gradient is 1." in out
    )
    assert "⑤ At a · node multiply the upstream gradient by the other input, x." in out
    assert "The gradient is negative (-3.8), so w grows: 0.5 → 0.88." in out
    assert "The gradient is negative (-1.9), so b grows: 0.1 → 0.29." in out


def test_explain_for_the_documents_network() -> None:
    out = invoke("trace", MLP, "--explain", "--view", "edges", "--width", "200").stdout
    assert (
        "① The + node hands ∂J/∂J = 1 unchanged to L (and the same to s): its local "
        "gradient is 1." in out
    )
    assert (
        "⑦ At a × node multiply by the transpose of the other input: ∂J/∂o · hᵀ. This is "
        "term 1 of 2 of ∂J/∂W2; the other paths add to it." in out
    )
    assert (
        "⑨ ReLU lets the gradient through where z > 0 and stops it elsewhere (2 of 4 "
        "entries pass)." in out
    )
    assert (
        "W1: 5 entries grow, 7 shrink, 0 do not move; 12 of the 12 that move go against "
        "their gradient." in out
    )


def test_explain_in_chinese_uses_the_documents_words() -> None:
    out = invoke(
        "trace", MLP, "--explain", "--view", "edges", "--lang", "zh", "--width", "200"
    ).stdout
    assert "① + 节点把 ∂J/∂J = 1 原样传给 L（也同样传给 s），因为它的局部梯度是 1。" in out
    assert "× 节点要用矩阵微积分的结果：把梯度乘以另一侧输入的转置，即 ∂J/∂o · hᵀ。" in out
    assert "③ ℓ₂ 节点的局部导数是 λW1，立刻得到正则项对 W1 的梯度：把 W1 往 0 拉。" in out


@pytest.mark.parametrize("name, case", all_cases())
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_op_explains_every_edge(name: str, case: int, lang: str) -> None:
    tracer = op_tracer(name, case)
    step = next(tracer.run(1))
    t = Catalogue(lang)
    latex = document.Latex(View(lang=lang)).ts
    for edge in step.edges:
        sentence = edge_sentence(edge, tracer, t, PLAIN, 4)
        assert sentence and "{" not in sentence
        tex = _outside_math(edge_sentence(edge, tracer, t, latex, 4))
        assert "{" not in tex and (lang != "en" or tex.isascii()), tex
    for update in step.updates.values():
        assert update_sentence(update, t, PLAIN, 4)
        tex = _outside_math(update_sentence(update, t, latex, 4))
        assert lang != "en" or tex.isascii(), tex


# ---- many steps ----------------------------------------------------------------------------


def test_a_long_run_ends_with_a_summary() -> None:
    out = invoke("trace", LINEAR, "-n", "5").stdout
    tail = [line.rstrip() for line in out.split("L over 5 steps", 1)[1].splitlines()]
    assert tail[1:] == [
        "         Step          L",
        "─" * 25,
        " first      1      1.805",
        " last       5   0.007051",
        " best       5   0.007051",
        "",
        "L per step: █▆▄▃▁",  # 1.805 to 0.007051: over two decades, so a log scale
        "Log scale: ▁ is 0.007051, █ is 1.805.",
    ]


def test_every_k_prints_full_tables_for_steps_1_k_plus_1_and_the_last() -> None:
    out = invoke("trace", LINEAR, "-n", "6", "--every", "4").stdout
    assert out.count("Forward pass") == 3  # steps 1 and 5, and 6, the last
    headings = re.findall(r"^Step (\d) · L = ([\d.e-]+)( ─+)?$", out, re.M)
    assert [(s, bool(rule)) for s, _, rule in headings] == [("1", True), ("5", True), ("6", True)]
    assert "Step 2" not in out and "Step 3" not in out and "Step 4" not in out


def test_every_counts_the_last_step_once() -> None:
    out = invoke("trace", LINEAR, "-n", "5", "--every", "2").stdout
    assert out.count("Forward pass") == 3  # 1, 3, 5


def test_only_step() -> None:
    out = invoke("trace", LINEAR, "-n", "3", "--only-step", "2").stdout
    assert out.startswith("Step 2 · L = 0.4513 ")
    assert "Step 1" not in out and "Step 3" not in out and "over" not in out
    doc = json.loads(invoke("trace", LINEAR, "-n", "3", "--only-step", "2", "-f", "json").stdout)
    assert [s["step"] for s in doc["steps"]] == [2]
    lines = invoke("trace", LINEAR, "-n", "3", "--only-step", "3", "-f", "jsonl").stdout
    records = [json.loads(x) for x in lines.splitlines()]
    assert records[0]["steps"] == 1  # the header: one step follows
    assert [r["step"] for r in records[1:]] == [3]


def test_only_step_beyond_the_run_is_a_usage_error() -> None:
    result = invoke("trace", LINEAR, "--only-step", "4")
    assert result.exit_code == 2
    assert (
        result.stderr == "backprop: error: --only-step 4: the run has 1 step; trace more "
        "with --steps\n"
    )


def test_node_restricts_the_backward_table() -> None:
    out = invoke("trace", MLP, "--node", "W1", "--view", "edges", "--width", "160").stdout
    backward = out.split("Backward pass", 1)[1].split("Gradients summed", 1)[0]
    assert re.findall("[①-⑪]", backward) == ["③", "⑩"]
    assert "rows touching W1 only" in backward
    sums = out.split("Gradients summed", 1)[1].split("Parameter updates", 1)[0]
    assert "W1 " in sums and "W2 " not in sums
    md = invoke("trace", MLP, "--node", "h", "--view", "edges", "-f", "markdown").stdout
    assert re.findall(r"^\| ([①-⑪]) \|", md, re.M) == ["⑧", "⑨"]


def test_unknown_node_is_a_usage_error_naming_the_known_ones() -> None:
    result = invoke("trace", MLP, "--node", "W11")
    assert result.exit_code == 2
    assert (
        result.stderr == "backprop: error: --node: unknown node 'W11' (did you mean 'W1'?); "
        "known nodes: x, y, W1, W2, z, h, o, L, s, J\n"
    )


@pytest.mark.parametrize("option", [("--every", "2"), ("--node", "w"), ("--explain",)])
@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_table_shaping_options_are_refused_with_json(option, fmt) -> None:
    result = invoke("trace", LINEAR, "-f", fmt, *option)
    assert result.exit_code == 2
    assert (
        "JSON always holds every step and edge (use --only-step to pick one step)" in result.stderr
    )


def test_sparkline_buckets_long_runs() -> None:
    class S:
        def __init__(self, step, objective):
            self.step, self.objective = step, objective

    summary = Summary(total=1000)
    for i in range(1, 1001):
        summary.add(S(i, 1000.0 - i))
    line = summary.sparkline()
    assert len(line) == 60 and line[0] == "█" and line[-1] == "▁"
    assert summary.steps_per_mark() == (16, 17)  # 1000 = 40·17 + 20·16
    assert summary.scale() == (True, 7.5, pytest.approx(991.0))  # means 991 to 7.5: log scale
    assert [(k, p.step, p.value) for k, p in summary.rows()] == [
        ("summary.first", 1, 999.0),
        ("summary.last", 1000, 0.0),
        ("summary.best", 1000, 0.0),
    ]
    flat = Summary(total=3)
    for i in range(1, 4):
        flat.add(S(i, float("nan") if i == 2 else 1.0))
    assert flat.sparkline() == "▁×▁"


@pytest.mark.parametrize("kind", ["table", "markdown"])
def test_rendering_streams_and_keeps_no_step(kind: str) -> None:
    """Each step is rendered as soon as it is traced, and then let go."""
    tracer = tracer_from_file(LINEAR)
    refs = []

    def steps():
        for step in tracer.run(50):
            refs.append(weakref.ref(step))
            yield step

    view = View(total=50, every=10)
    pieces = (
        table.render(steps(), tracer, view)
        if kind == "table"
        else document.render(steps(), tracer, view, "markdown")
    )
    first = next(pieces)
    assert len(refs) == 1 and first is not None  # rendered before step 2 is traced
    for _ in pieces:
        pass
    gc.collect()
    assert sum(r() is not None for r in refs) <= 1


# ---- pictures ------------------------------------------------------------------------------


def test_save_svg_and_html_write_what_the_terminal_shows(tmp_path) -> None:
    svg, html = tmp_path / "trace.svg", tmp_path / "trace.html"
    result = invoke("trace", LINEAR, "--save-svg", str(svg), "--save-html", str(html))
    assert result.exit_code == 0
    assert result.stdout == invoke("trace", LINEAR).stdout
    picture = svg.read_text(encoding="utf-8")
    assert picture.startswith('<svg class="rich-terminal"')
    assert "backprop-matrix" in picture and "Backward&#160;pass" in picture
    assert "#00823d" in picture or "font-weight: bold" in picture  # colours and bold
    page = html.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Backward pass" in page
    again = tmp_path / "again.svg"
    invoke("trace", LINEAR, "--save-svg", str(again))
    assert again.read_bytes() == svg.read_bytes()  # deterministic


def test_a_full_trace_picture_is_as_wide_as_its_widest_row(tmp_path) -> None:
    """--full keeps each tensor's rows whole past the width (the terminal wraps them); the
    SVG and HTML pictures are made as wide as the widest, instead of cutting it off."""
    houses = str(CONFIGS / "houses.yaml")
    svg, html = tmp_path / "full.svg", tmp_path / "full.html"
    args = ("trace", houses, "-n", "1", "--width", "60", "--full")
    result = invoke(*args, "--save-svg", str(svg), "--save-html", str(html))
    assert result.exit_code == 0, result.stderr
    widest = max(cell_len(line) for line in result.stdout.splitlines())
    assert widest > 100
    picture = svg.read_text(encoding="utf-8")
    # the last numbers of the widest rows are in the picture, and its view holds them
    assert "0.732]" in picture and "-0.122]" in picture
    view = re.search(r'viewBox="0 0 ([0-9.]+) ', picture)
    assert view is not None
    narrow = tmp_path / "narrow.svg"
    invoke("trace", houses, "-n", "1", "--width", "60", "--save-svg", str(narrow))
    narrow_view = re.search(r'viewBox="0 0 ([0-9.]+) ', narrow.read_text(encoding="utf-8"))
    assert narrow_view is not None
    ratio = float(view.group(1)) / float(narrow_view.group(1))
    assert ratio == pytest.approx(widest / 60, rel=0.05)
    assert "0.732]" in html.read_text(encoding="utf-8")


def test_saved_pictures_are_never_overwritten_without_force(tmp_path) -> None:
    svg = tmp_path / "trace.svg"
    svg.write_text("precious")
    result = invoke("trace", LINEAR, "--save-svg", str(svg))
    assert result.exit_code == 2
    assert result.stdout == ""  # refused before tracing
    assert (
        result.stderr == f"backprop: error: {svg}: already exists; not overwritten (use "
        f"--force to replace it)\n"
    )
    assert svg.read_text() == "precious"
    assert invoke("trace", LINEAR, "--save-svg", str(svg), "--force").exit_code == 0
    assert svg.read_text().startswith("<svg")


def test_pictures_need_the_table_format(tmp_path) -> None:
    result = invoke("trace", LINEAR, "-f", "markdown", "--save-html", str(tmp_path / "x.html"))
    assert result.exit_code == 2
    assert "--save-html: record the terminal tables; use with --format table" in result.stderr


def test_unknown_language() -> None:
    result = invoke("trace", LINEAR, "--lang", "fr")
    assert result.exit_code == 2
    assert (
        result.stderr == "backprop: error: --lang: unknown language 'fr'; expected one of en, zh\n"
    )


def test_large_tensor_summaries_speak_the_language(tmp_path) -> None:
    config = tmp_path / "big.yaml"
    config.write_text(
        "params:\n  W: {init: normal, shape: [12, 12], seed: 1}\n"
        "graph:\n  - {name: s, op: sum, args: [W]}\n"
    )
    zh = invoke("trace", str(config), "--lang", "zh").stdout
    assert "12×12 张量" in zh and "均值 -0.08061 标准差 0.8878" in zh and "mean" not in zh
    md = invoke("trace", str(config), "-f", "markdown").stdout
    assert (
        r"| $`\begin{array}{@{}l@{}}12\times 12\text{ tensor} \\ \text{mean }-0.08061 \\ "
        r"\text{std }0.8878 \\ \text{min }-2.711 \\ \text{max }2.548\end{array}`$ |" in md
    )


def test_explain_says_when_momentum_carries_a_param(tmp_path) -> None:
    config = tmp_path / "momentum.yaml"
    config.write_text(
        "params: {w: 1.0}\ngraph:\n  - {name: J, op: mul, args: [w, w]}\n"
        "optimizer: {name: sgd, lr: 0.6, momentum: 0.9}\nsteps: 3\n"
    )
    out = invoke("trace", str(config), "--explain", "--width", "200").stdout
    assert "The gradient is positive (2), so w shrinks: 1 → -0.2." in out
    assert (
        "w shrinks (-0.2 → -1.04) although its gradient is -0.4: the optimiser's state "
        "(momentum, running averages) carries it." in out
    )
