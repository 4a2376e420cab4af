"""The terminal tables print what Rich itself would print, byte for byte.

``render/layout.py`` lays the tables out on ``Styled`` text (the part of ``rich.text.Text`` it
needs, at a fraction of the cost), and ``render/table.py``'s ``Lines`` prints the lines without
a ``Text`` each where no style is written. Both are checked against Rich:

- for every shipped config, at several widths, in English and Chinese (double-width
  characters), with and without ``--full`` (lines wider than the console, which Rich crops),
  ``--explain`` and the edges view, the output through ``Lines`` is the output of the same lines
  printed by Rich as ``Text``: on a pipe, on colour terminals, on a terminal under ``NO_COLOR``,
  and in the ``--save-svg`` and ``--save-html`` pictures;
- each ``Styled`` operation gives the plain text, base style and spans ``Text`` gives, and its
  width is ``rich.cells.cell_len``'s;
- ``formula_atoms`` cuts a formula where the character-by-character definition does.
"""

from __future__ import annotations

import gc
import io
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from backprop_cli import cli
from backprop_cli.errors import NumericalAnomaly
from backprop_cli.render import layout, model, table
from backprop_cli.render.layout import Styled
from backprop_cli.render.view import View

from .conftest import CONFIGS, ROOT
from .helpers import invoke, tracer_from_file

SHIPPED = sorted(CONFIGS.glob("*.yaml"))
OVERFLOW = ROOT / "tests" / "configs" / "overflow_logits.yaml"


def _consoles(width: int, monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple[Console, Any]]:
    """The consoles a trace prints to: the CLI's own for a pipe, colour terminals, a terminal
    under NO_COLOR, and the recorder of --save-svg / --save-html."""
    out: dict[str, tuple[Console, Any]] = {}
    pipe = io.StringIO()
    with monkeypatch.context() as m:
        m.setattr(sys, "stdout", pipe)
        out["pipe"] = (cli.make_console(width), pipe)
    options = {"highlight": False, "markup": False, "emoji": False, "soft_wrap": False}
    for system in ("truecolor", "256"):
        buffer = io.StringIO()
        terminal = Console(
            file=buffer, width=width, force_terminal=True, color_system=system, **options
        )
        out[system] = (terminal, buffer)
    buffer = io.StringIO()
    plain = Console(file=buffer, width=width, force_terminal=True, no_color=True, **options)
    out["no_color"] = (plain, buffer)
    out["recorder"] = (cli.make_recorder(width), None)
    return out


def _printed(config: Path, width: int, monkeypatch: pytest.MonkeyPatch, **options: Any) -> dict:
    """Every console's output of a two-step trace, through ``Lines`` and through Rich."""
    monkeypatch.delenv("NO_COLOR", raising=False)  # Rich reads it; the colour consoles need colour
    tracer = tracer_from_file(config)
    view = View(total=2, **options)
    renderables = []
    try:
        for renderable in table.render(
            tracer.run(steps=2, allow_nonfinite=True), tracer, view, width
        ):
            renderables.append(renderable)
    except NumericalAnomaly:  # not with allow_nonfinite, but the report is printed if it does
        pass
    outputs = {}
    for rich in (False, True):
        monkeypatch.setattr(table.Lines, "rich", rich)
        consoles = _consoles(width, monkeypatch)
        for renderable in renderables:
            for console, _ in consoles.values():
                console.print(renderable)
        for name, (console, buffer) in consoles.items():
            if buffer is None:
                outputs[rich, name, "svg"] = console.export_svg(clear=False, unique_id="t")
                outputs[rich, name, "html"] = console.export_html(clear=False)
            else:
                outputs[rich, name] = buffer.getvalue()
    return outputs


def _assert_same(outputs: dict) -> None:
    fast = {key[1:]: text for key, text in outputs.items() if not key[0]}
    for key, text in fast.items():
        assert text == outputs[(True, *key)], key
    assert fast["pipe",].strip(), "nothing was printed"


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("width", [60, 120])
@pytest.mark.parametrize("config", SHIPPED, ids=lambda p: p.stem)
def test_lines_print_what_rich_prints(
    config: Path, width: int, lang: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _assert_same(_printed(config, width, monkeypatch, lang=lang))


@pytest.mark.parametrize(
    "options",
    [
        {"full": True},
        {"explain": True},
        {"view": "edges"},
        {"data_grads": True, "precision": 6},
        {"full": True, "lang": "zh"},
        {"explain": True, "lang": "zh"},
    ],
    ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()),
)
@pytest.mark.parametrize("width", [40, 80])
@pytest.mark.parametrize(
    "config",
    [*(CONFIGS / f"{n}.yaml" for n in ("classifier_softmax", "seed_mlp_l2", "cnn_tiny")), OVERFLOW],
    ids=lambda p: p.stem,
)
def test_lines_print_what_rich_prints_with_options(
    config: Path, width: int, options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs = _printed(config, width, monkeypatch, **options)
    _assert_same(outputs)
    if config == OVERFLOW:
        assert "⚠" in outputs[False, "pipe"]
        assert "\x1b[1;31m" in outputs[False, "truecolor"]  # bold red, as Rich writes it


def _chain(folder: Path, links: int) -> Path:
    """A deep scalar chain, as benchmarks/run.py writes it: u ← tanh(a·u + b), repeated."""
    lines = ["params:", "  a: 0.9", "  b: 0.1", "data:", "  x: 0.5", "graph:"]
    current = "x"
    for i in range(links):
        lines += [
            f"  - {{name: m{i}, op: mul, args: [a, {current}]}}",
            f"  - {{name: s{i}, op: add, args: [m{i}, b]}}",
            f"  - {{name: t{i}, op: tanh, args: [s{i}]}}",
        ]
        current = f"t{i}"
    lines += [f"  - {{name: J, op: mul, args: [{current}, {current}]}}", "steps: 1"]
    lines.append("optimizer: {name: sgd, lr: 0.01}")
    config = folder / f"chain_{links}.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def test_a_deep_chain_prints_what_rich_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _chain(tmp_path, 20)
    for width in (60, 100):
        _assert_same(_printed(config, width, monkeypatch))


def test_the_cli_pipe_is_the_rich_path(monkeypatch: pytest.MonkeyPatch) -> None:
    config = str(CONFIGS / "seed_mlp_l2.yaml")
    fast = invoke("trace", config, "--width", "70", "--lang", "zh", "--explain").stdout
    monkeypatch.setattr(table.Lines, "rich", True)
    assert invoke("trace", config, "--width", "70", "--lang", "zh", "--explain").stdout == fast


# ---- Styled against Text ------------------------------------------------------------------------

# letters, formula characters, CJK (two cells), a combining mark, control codes Text removes,
# whitespace rstrip removes, a zero-width joiner and a variation selector
CHARS = "ab =+()∂·²①ᵀ中文\u0302\r\x07\t \u3000\u200d\ufe0f👍"
TEXTS = st.text(alphabet=CHARS, max_size=12)
STYLES = st.sampled_from(["", "bold", "dim", "cyan", "bold red"])


def _same(styled: Styled, text: Text) -> None:
    assert styled.plain == text.plain
    assert styled.style == text.style
    assert [tuple(s) for s in text.spans] == styled.spans
    assert styled.cells == cell_len(text.plain)
    rebuilt = styled.text()
    assert (rebuilt.plain, rebuilt.style, rebuilt.spans) == (text.plain, text.style, text.spans)


def _operations() -> st.SearchStrategy[list[tuple[Any, ...]]]:
    op = st.one_of(
        st.tuples(st.just("append"), TEXTS),
        st.tuples(st.just("append_text"), TEXTS, STYLES),
        st.tuples(st.just("add"), TEXTS, STYLES),
        st.tuples(st.just("rstrip")),
        st.tuples(st.just("copy")),
        st.tuples(st.just("slice"), st.integers(-3, 14), st.integers(-3, 14)),
    )
    return st.lists(op, max_size=8)


def _apply(styled: Styled, text: Text, operation: tuple[Any, ...]) -> tuple[Styled, Text]:
    name, *args = operation
    if name == "append":
        styled.append(args[0])
        text.append(args[0])
    elif name == "append_text":
        styled.append_text(Styled(args[0], args[1]))
        text.append_text(Text(args[0], style=args[1]))
    elif name == "add":
        return styled + Styled(args[0], args[1]), text + Text(args[0], style=args[1])
    elif name == "rstrip":
        styled.rstrip()
        text.rstrip()
    elif name == "copy":
        return styled.copy(), text.copy()
    else:
        return styled[args[0] : args[1]], text[args[0] : args[1]]
    return styled, text


@settings(max_examples=300, deadline=None, derandomize=True)
@given(start=TEXTS, style=STYLES, operations=_operations())
def test_styled_does_what_text_does(start: str, style: str, operations: list) -> None:
    styled, text = Styled(start, style), Text(start, style=style)
    _same(styled, text)
    for operation in operations:
        styled, text = _apply(styled, text, operation)
        _same(styled, text)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=TEXTS, style=STYLES, keep=st.integers(0, 3))
def test_words_are_the_slices_text_makes(text: str, style: str, keep: int) -> None:
    for sep, keep_sep in ((" ", False), ("  ", False), (", ", True)):
        got = layout.words(Styled(text, style), keep, sep, keep_sep)
        # layout.words only slices and reads .plain: on Rich's Text it gives Rich's slices
        expected = layout.words(cast(Any, Text(text, style=style)), keep, sep, keep_sep)
        assert len(got) == len(expected)
        for styled, rich_text in zip(got, expected, strict=True):
            _same(styled, rich_text)


def test_cell_width_is_rich_cell_len() -> None:
    samples = [
        "",
        "x = 1",
        "∂J/∂W1 = ∂J/∂z · xᵀ + λW1",
        "①②③ (248)",
        "前向传播：节点",
        "m\u0302 v\u0302",
        "👍\ufe0f",
        "👨\u200d👩\u200d👧",
        "\x1b[1m",
        "tab\there",
        "中\u200d文",
    ]
    for text in samples:
        assert layout.cell_width(text) == cell_len(text), text


# ---- the layout on Styled against the layout on Text ----------------------------------------
# The layout as it was written on Text (it built the lines Rich printed): wrap, pad, grid rows
# and stacked rows, where the lines' spans are made.

TextLine = list[Text]


def _wrap_text(atoms: TextLine, width: int) -> list[Text]:
    out: list[Text] = []
    current: Text | None = None
    for atom in atoms:
        if current is None:
            current = atom.copy()
        elif cell_len(current.plain) + 1 + cell_len(atom.plain) <= width:
            current.append(" ")
            current.append_text(atom)
        else:
            out.append(current)
            current = Text(" " * layout.CONTINUATION)
            current.append_text(atom)
    if current is not None:
        out.append(current)
    return out


def _pad_text(text: Text, width: int) -> Text:
    out = text.copy()
    gap = width - cell_len(text.plain)
    if gap > 0:
        out.append(" " * gap)
    return out


def _grid_row_text(cells: list[list[TextLine]], widths: list[int]) -> list[Text]:
    columns = [
        [t for line in cell for t in _wrap_text(line, w)]
        for cell, w in zip(cells, widths, strict=True)
    ]
    out = []
    for i in range(max((len(c) for c in columns), default=0)):
        text = Text()
        for c, (lines, w) in enumerate(zip(columns, widths, strict=True)):
            piece = lines[i] if i < len(lines) else Text()
            if c:
                text.append(" " * layout.GAP)
            text.append_text(_pad_text(piece, w) if c < len(columns) - 1 else piece)
        text.rstrip()
        out.append(text)
    return out


def _line_width(atoms: TextLine) -> int:
    return sum(cell_len(a.plain) for a in atoms) + max(len(atoms) - 1, 0)


def _stacked_row_text(
    build: Callable[[int, int, int | None], list[TextLine]],
    r: int,
    titles: list[Text],
    head: list[bool],
    head_widths: list[int],
    width: int,
) -> list[Text]:
    gap, continuation = layout.GAP, layout.CONTINUATION
    n = len(titles)
    heads = [c for c in range(n) if head[c]]
    rest = [c for c in range(n) if not head[c]]
    out: list[Text] = []
    if heads:
        cells = [build(r, c, None) for c in heads]
        natural = [max((_line_width(line) for line in cell), default=0) for cell in cells]
        widths = [max(head_widths[c], natural[i]) for i, c in enumerate(heads)]
        used = sum(widths[:-1]) + gap * (len(widths) - 1)
        widths[-1] = max(width - used, 1)
        out += _grid_row_text(cells, widths)
    indent = widths[0] + gap if len(heads) > 1 else (continuation if heads else 0)
    label_w = max((cell_len(titles[c].plain) for c in rest), default=0)
    avail = width - indent - label_w - gap
    below = avail < 24
    if below:
        avail = width - indent - continuation
    for c in rest:
        lines = [t for line in build(r, c, avail) for t in _wrap_text(line, avail)]
        if not lines:
            continue
        label = titles[c]
        if below:
            out.append(Text(" " * indent) + label)
            out += [Text(" " * (indent + continuation)) + text for text in lines]
            continue
        for i, text in enumerate(lines):
            prefix = Text(" " * indent)
            prefix.append_text(_pad_text(label, label_w) if i == 0 else Text(" " * label_w))
            prefix.append(" " * gap)
            prefix.append_text(text)
            prefix.rstrip()
            out.append(prefix)
    return out


def _as_text(lines: list[layout.Line]) -> list[TextLine]:
    return [[atom.text() for atom in line.atoms] for line in lines]


def _assert_lines(styled: list[Styled], texts: list[Text]) -> None:
    assert len(styled) == len(texts)
    for line, text in zip(styled, texts, strict=True):
        _same(line, text)


def _check_table(ts: Any, tab: model.Table, width: int) -> None:
    titles = [Styled(ts.t(c.key), "bold") for c in tab.columns]
    head = [c.head for c in tab.columns]
    natural = [[ts.cell(cell, None) for cell in row.cells] for row in tab.rows]
    grid = layout.plan(titles, natural, width)

    def build(r: int, c: int, w: int | None) -> list[layout.Line]:
        return ts.cell(tab.rows[r].cells[c], w)

    def build_text(r: int, c: int, w: int | None) -> list[TextLine]:
        return _as_text(build(r, c, w))

    for r in range(len(tab.rows)):
        if grid.side[r]:
            got = layout.grid_row(natural[r], grid.widths)
            expected = _grid_row_text([_as_text(c) for c in natural[r]], grid.widths)
        else:
            got = layout.stacked_row(build, r, titles, head, grid.widths, width)
            expected = _stacked_row_text(
                build_text, r, [t.text() for t in titles], head, grid.widths, width
            )
        _assert_lines(got, expected)
    for cell in (c for row in natural for c in row):
        for line in cell:
            for w in (10, 30, width):
                _assert_lines(layout.wrap(line, w), _wrap_text(_as_text([line])[0], w))


@pytest.mark.parametrize("width", [40, 70, 120])
@pytest.mark.parametrize("config", [*SHIPPED, OVERFLOW], ids=lambda p: p.stem)
def test_layout_builds_the_text_the_text_layout_built(config: Path, width: int) -> None:
    tracer = tracer_from_file(config)
    step = next(iter(tracer.run(steps=1, allow_nonfinite=True)))
    for lang in ("en", "zh"):
        view = View(lang=lang, explain=True)
        ts = table._Typesetter(view, width)
        for tab in model.step_tables(step, tracer, view):
            _check_table(ts, tab, width)


# ---- plan against its definition --------------------------------------------------------------


def _plan_by_definition(
    title_w: list[int], natural: list[list[int]], minimal: list[list[int]], width: int
) -> tuple[list[int], list[bool]]:
    """``layout.plan`` as first written: every step measures every column over every row."""
    n, gap = len(title_w), layout.GAP
    side = [True] * len(natural)

    def column(values: list[list[int]], c: int) -> int:
        return max([title_w[c]] + [values[r][c] for r in range(len(natural)) if side[r]])

    while True:
        col_min = [column(minimal, c) for c in range(n)]
        if sum(col_min) + gap * (n - 1) <= width or not any(side):
            break
        rows = range(len(natural))
        candidates = sorted(
            {r for c in range(n) for r in rows if side[r] and minimal[r][c] == col_min[c]}
        )

        def narrowed(r: int) -> int:
            side[r] = False
            width_without = sum(column(minimal, c) for c in range(n))
            side[r] = True
            return width_without

        side[min(candidates, key=narrowed)] = False
    # A row stacked early goes back beside the others, in order, if it fits the grid that the
    # rows stacked after it left.
    for r in range(len(natural)):
        if not side[r] and any(side):
            side[r] = True
            if sum(column(minimal, c) for c in range(n)) + gap * (n - 1) > width:
                side[r] = False
    if not any(side):
        return list(title_w), side
    widths = [column(natural, c) for c in range(n)]
    floor = [column(minimal, c) for c in range(n)]
    while sum(widths) + gap * (n - 1) > width:
        c = max(range(n), key=lambda i: widths[i] - floor[i])
        if widths[c] <= floor[c]:
            break
        widths[c] -= 1
    return widths, side


def _cells_of(natural: list[list[int]], minimal: list[list[int]]) -> list[list[list[layout.Line]]]:
    """Cells as wide as ``natural`` side by side and as ``minimal`` at their narrowest: a line
    of one-cell atoms (3 at its narrowest) as wide as ``natural``, and an atom as wide as
    ``minimal`` on a line of its own."""
    out = []
    for wide_row, narrow_row in zip(natural, minimal, strict=True):
        row = []
        for wide, narrow in zip(wide_row, narrow_row, strict=True):
            cell = [layout.Line([Styled("z" * narrow)])]
            if wide > narrow:
                atoms = ["x"] * ((wide + 1) // 2) if wide % 2 else ["xx"] + ["x"] * (wide // 2 - 1)
                cell.append(layout.Line([Styled(a) for a in atoms]))
            row.append(cell)
        out.append(row)
    return out


@st.composite
def _tables(draw: st.DrawFn) -> tuple[list[int], list[list[int]], list[list[int]], int]:
    n = draw(st.integers(1, 5))
    rows = draw(st.integers(0, 12))
    title_w = draw(st.lists(st.integers(1, 8), min_size=n, max_size=n))
    minimal = [draw(st.lists(st.integers(3, 30), min_size=n, max_size=n)) for _ in range(rows)]
    natural = [[m + draw(st.sampled_from([0, 0, 1, 5, 40])) for m in row] for row in minimal]
    return title_w, natural, minimal, draw(st.integers(sum(title_w) + 2 * n, 120))


@settings(max_examples=500, deadline=None, derandomize=True)
@given(table_=_tables())
def test_plan_decides_as_its_definition(table_: tuple) -> None:
    title_w, natural, minimal, width = table_
    cells = _cells_of(natural, minimal)
    # the cells measure as drawn
    for row, wide_row, narrow_row in zip(cells, natural, minimal, strict=True):
        for cell, wide, narrow in zip(row, wide_row, narrow_row, strict=True):
            assert max(line.width for line in cell) == max(wide, narrow)
            assert max(line.min_width for line in cell) == narrow
    natural = [
        [max(w, m) for w, m in zip(a, b, strict=True)]
        for a, b in zip(natural, minimal, strict=True)
    ]
    grid = layout.plan([Text("t" * w) for w in title_w], cells, width)
    assert (grid.widths, grid.side) == _plan_by_definition(title_w, natural, minimal, width)


@pytest.mark.parametrize("width", [60, 80])
def test_a_deep_chain_is_planned_as_defined(tmp_path: Path, width: int) -> None:
    """A deep chain stacks many rows, each chosen among rows that tie (stacking hundreds out of
    a thousand took minutes when every step measured every column over every row)."""
    tracer = tracer_from_file(_chain(tmp_path, 40))
    step = next(iter(tracer.run(steps=1)))
    ts = table._Typesetter(View(), width)
    backward = model.step_tables(step, tracer, View())[1]
    titles = [Styled(ts.t(c.key), "bold") for c in backward.columns]
    natural = [[ts.cell(cell, None) for cell in row.cells] for row in backward.rows]
    grid = layout.plan(titles, natural, width)
    assert grid.side.count(False) > 20
    measured = (
        [cell_len(t.plain) for t in titles],
        [[max(line.width for line in cell) if cell else 0 for cell in row] for row in natural],
        [[max(line.min_width for line in cell) if cell else 0 for cell in row] for row in natural],
    )
    assert (grid.widths, grid.side) == _plan_by_definition(*measured, width)


# ---- formula_atoms ----------------------------------------------------------------------------


def _atoms_by_characters(text: str) -> Iterator[str]:
    """The definition: spaces outside brackets cut the text; a token that does not begin with
    ``=``, ``+=``, ``+``, ``←`` or ``≈`` stays with the one before it."""
    tokens: list[str] = []
    depth = 0
    current = ""
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(depth - 1, 0)
        if ch == " " and depth == 0:
            tokens.append(current)
            current = ""
        else:
            current += ch
    tokens.append(current)
    atoms: list[str] = []
    for token in tokens:
        if not token:
            continue
        if atoms and token not in ("=", "+=", "+", "←", "≈"):
            atoms[-1] += " " + token
        else:
            atoms.append(token)
    yield from atoms


@settings(max_examples=500, deadline=None, derandomize=True)
@given(text=st.text(alphabet="ab =+←≈()[]{}∂", max_size=30))
def test_formula_atoms_cut_where_the_definition_does(text: str) -> None:
    assert layout.formula_atoms(text) == list(_atoms_by_characters(text))


# ---- the collector's pause ----------------------------------------------------------------------


@pytest.mark.parametrize("config", [*SHIPPED, OVERFLOW], ids=lambda p: p.stem)
def test_laying_out_a_step_leaves_no_cyclic_garbage(config: Path) -> None:
    """render_step pauses the cyclic collector: what it allocates must go by reference counts
    alone, and the collector must run again afterwards."""
    tracer = tracer_from_file(config)
    steps = list(tracer.run(steps=2, allow_nonfinite=True))
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        for view in (View(total=2), View(total=2, explain=True, lang="zh", view="edges")):
            for step in steps:
                for width in (40, 100):
                    table.render_step(step, tracer, view, width)
        assert gc.collect() == 0
    finally:
        if was:
            gc.enable()
    table.render_step(steps[0], tracer, View(total=2), 100)
    assert gc.isenabled() == was


@pytest.mark.parametrize("config", SHIPPED, ids=lambda p: p.stem)
def test_reading_a_config_leaves_no_cyclic_garbage(config: Path) -> None:
    """load_config pauses the cyclic collector too (a 1000-node config spent ~13% of its
    reading in collector passes that found nothing): what reading allocates must go by
    reference counts alone, and the collector must run again afterwards."""
    from backprop_cli.config import load_config

    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        graph = load_config(str(config))
        del graph
        assert gc.collect() == 0
    finally:
        if was:
            gc.enable()
    load_config(str(config))
    assert gc.isenabled() == was
