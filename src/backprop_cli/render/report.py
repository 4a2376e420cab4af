"""``backprop report``: one self-contained HTML page that steps through backpropagation.

The page is built from the engine's records (``Step``: values, edges with their upstream, local
and global gradients and formula text, accumulated gradients, updates) and from the table model
of ``render/model.py``; nothing here computes a gradient. Every number shown is formatted by
``fmt`` at ``--precision``; the edge panel also carries each number at full precision as JSON in
``data-upstream``, ``data-local`` and ``data-global`` attributes (what the browser test reads).

The graph is the one ``backprop graph --format dot`` draws, laid out by Graphviz's ``dot`` at
report time when it is installed; without it a simple layered layout (``fallback_svg``) is drawn
and the page says so. Every graph node carries ``data-node="NAME"`` (an op circle
``data-op="NAME"``, an arrow ``data-from``/``data-to``), the hooks the page's script highlights.

The page makes no request: its style, script, data and drawing are inline, and the same config
gives the same bytes (no time, no absolute path: the config is named by its file name).
"""

from __future__ import annotations

import html
import math
import re
import shutil
import subprocess
from collections.abc import Iterable
from importlib import resources
from typing import Any

import numpy as np
import orjson

from .. import fmt
from ..engine import Edge, Step, Tracer
from ..i18n import Catalogue
from ..notation import d
from ..ops import shape_text
from . import graph as draw
from . import model
from .view import View

# A page holds the tables of at most this many steps (the first, every k-th and the last);
# the plot of the objective always shows every step.
MAX_DETAILED_STEPS = 50

DOT_TIMEOUT = 60  # seconds


# ---- numbers ----------------------------------------------------------------------------------


def exact(value: Any) -> Any:
    """A value at full precision for a ``data-*`` attribute: a number or nested lists, with
    non-finite numbers as the strings ``"nan"``, ``"inf"``, ``"-inf"`` (as the JSON trace)."""
    a = np.asarray(value, dtype=np.float64) + 0.0

    def one(x: float) -> Any:
        if math.isfinite(x):
            return x
        return "nan" if x != x else ("inf" if x > 0 else "-inf")

    def walk(x: Any) -> Any:
        return [walk(v) for v in x] if isinstance(x, list) else one(x)

    return walk(a.tolist())


def _attr(value: Any) -> str:
    return html.escape(orjson.dumps(exact(value)).decode(), quote=True)


def matrix(value: np.ndarray, view: View, t: Catalogue) -> str:
    """A scalar as a number; a vector as a column, a matrix as a grid of numbers (HTML tables);
    a tensor too large to read as its shape and statistics, as the tables summarise it."""
    a = np.asarray(value, dtype=np.float64)
    p = view.precision
    if a.ndim == 0:
        return f'<span class="sc">{html.escape(fmt.number(float(a), p))}</span>'
    too_large = a.size > fmt.SHOW_ELEMENTS or max(a.shape) > fmt.SHOW_SIDE or a.ndim > 2
    if (too_large and not view.full) or a.ndim > 2 or a.size == 0:
        return f'<pre class="big">{html.escape(fmt.tensor(a, p, view.full, t))}</pre>'
    grid = a.reshape(-1, 1) if a.ndim == 1 else a
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(fmt.number(x, p))}</td>" for x in row) + "</tr>"
        for row in grid
    )
    return f'<table class="mx">{rows}</table>'


def _f(text: str) -> str:
    """Formula text, as the engine writes it (Unicode)."""
    return f'<span class="f">{html.escape(text)}</span>'


# ---- the tables of a step, from the table model -----------------------------------------------


def _inline(piece: model.Inline, t: Catalogue) -> str:
    if isinstance(piece, model.Formula):
        return _f(piece.text) if not piece.bold else f"<b>{_f(piece.text)}</b>"
    if isinstance(piece, model.Name):
        return f'<span class="n">{html.escape(piece.text)}</span>'
    if isinstance(piece, model.Shape):
        return html.escape(shape_text(piece.shape)) if piece.shape else t("shape.scalar")
    if isinstance(piece, model.Msg):
        return t.compose(piece.key, html.escape, **{k: _inline(v, t) for k, v in piece.values})
    return html.escape(str(piece))


def _piece(piece: model.Piece, style: str, view: View, t: Catalogue) -> str:
    if isinstance(piece, model.Eq):
        label = f"{_f(piece.label)}: " if piece.label else ""
        if piece.formula is not None and np.ndim(piece.value) == 0:
            number = fmt.number(float(piece.value), view.precision)
            if piece.formula == number or piece.formula.endswith(f"= {number}"):
                return f'<div class="eq">{label}{_f(piece.formula)}</div>'  # ∂J/∂L = 1, not = 1 = 1
        head = f"{label}{_f(piece.formula)} = " if piece.formula is not None else label
        return f'<div class="eq">{head}{matrix(piece.value, view, t)}</div>'
    if isinstance(piece, model.Formula) and style == "step":
        return html.escape(fmt.circled(int(piece.text)))
    return _inline(piece, t)


def table_html(table: model.Table, view: View, t: Catalogue) -> str:
    out = [f'<section class="tbl {table.kind}">']
    if table.title is not None:
        out.append(f"<h3>{_inline(table.title, t)}</h3>")
    out.append("<table><thead><tr>")
    out += [f"<th>{html.escape(t(c.key))}</th>" for c in table.columns]
    out.append("</tr></thead><tbody>")
    for row in table.rows:
        out.append("<tr>")
        for column, cell in zip(table.columns, row.cells, strict=True):
            inner = "".join(_piece(p, cell.style, view, t) for p in cell.pieces)
            out.append(f'<td class="{cell.style} a{column.align}">{inner}</td>')
        out.append("</tr>")
    out.append("</tbody></table>")
    out += [f'<p class="cap">{_inline(c, t)}</p>' for c in table.captions]
    out.append("</section>")
    return "".join(out)


# ---- the panels the stepper shows -------------------------------------------------------------


def _term(label: str, formula: str, value: np.ndarray, hook: str, view: View, t: Catalogue) -> str:
    return (
        f'<div class="term"><div class="lbl">{html.escape(label)}</div>{_f(formula)}'
        f'<div class="num" data-{hook}="{_attr(value)}">{matrix(value, view, t)}</div></div>'
    )


def edge_panel(edge: Edge, step: Step, tracer: Tracer, view: View, t: Catalogue) -> str:
    info = edge.info
    total = len(step.edges)
    head = t.compose(
        "report.edge",
        html.escape,
        i=info.index,
        n=total,
        equation=_f(info.equation),
        input=f'<span class="n">{html.escape(info.input)}</span>',
    )
    sign = "=" if info.terms == 1 else "+="
    out = [
        f'<div class="ph">{head}</div><div class="chain">',
        _term(t("col.upstream"), info.upstream, edge.upstream, "upstream", view, t),
        '<div class="op">×</div>',
        _term(t("col.local"), info.local, edge.local, "local", view, t),
        '<div class="op">→</div>',
        _term(
            t("col.global"), f"{info.target} {sign} {info.global_}", edge.global_, "global", view, t
        ),
        "</div>",
    ]
    if info.terms > 1 and info.term == 1:  # the last term to arrive completes the sum
        done = t.compose("report.complete", html.escape, target=_f(info.target), terms=info.terms)
        out.append(
            f'<div class="sum"><div class="lbl">{done}</div>'
            f"{_f(tracer.grad_formulas[info.input])} = "
            f'<div class="num" data-sum="{_attr(step.grads[info.input])}">'
            f"{matrix(step.grads[info.input], view, t)}</div></div>"
        )
    return "".join(out)


def start_panel(step: Step, tracer: Tracer, view: View, t: Catalogue) -> str:
    J = tracer.objective
    formula = _f(f"{d(J, J)} = 1")
    return (
        f'<div class="ph">{t.compose("report.start", html.escape, formula=formula)}</div>'
        f'<div class="chain"><div class="term">{_f(f"{J} = ")}'
        f"{matrix(step.values[J], view, t)}</div></div>"
    )


def forward_panels(step: Step, tracer: Tracer, view: View, t: Catalogue) -> list[str]:
    nodes = tracer.graph.nodes
    out = []
    for i, node in enumerate(nodes, 1):
        head = t.compose("report.node", html.escape, i=i, n=len(nodes), equation=_f(node.equation))
        inputs = "".join(
            f'<div class="term"><div class="lbl">{html.escape(arg)}</div>'
            f"{matrix(step.values[arg], view, t)}</div>"
            for arg in node.args
            if arg in step.values
        )
        out.append(
            f'<div class="ph">{head}</div><div class="chain">{inputs}<div class="op">→</div>'
            f'<div class="term"><div class="lbl">{html.escape(node.name)}</div>'
            f'<div class="num" data-value="{_attr(step.values[node.name])}">'
            f"{matrix(step.values[node.name], view, t)}</div></div></div>"
        )
    return out


def hover(step: Step, tracer: Tracer, view: View, t: Catalogue) -> dict[str, str]:
    J = tracer.objective
    out = {}
    for name, value in step.values.items():
        shape = shape_text(np.shape(value)) if np.ndim(value) else t("shape.scalar")
        out[name] = (
            f'<div class="ph"><span class="n">{html.escape(name)}</span> · '
            f"{html.escape(t('col.shape'))}: {html.escape(shape)}</div>"
            f'<div class="eq">{html.escape(t("col.value"))}: {matrix(value, view, t)}</div>'
            f'<div class="eq">{_f(d(J, name))} = {matrix(step.grads[name], view, t)}</div>'
        )
    return out


def step_record(step: Step, tracer: Tracer, view: View, t: Catalogue) -> dict[str, Any]:
    tables = "".join(table_html(tb, view, t) for tb in model.step_tables(step, tracer, view))
    return {
        "step": step.step,
        "heading": _inline(model.heading(step, tracer, view), t),
        "back": [
            start_panel(step, tracer, view, t),
            *(edge_panel(e, step, tracer, view, t) for e in step.edges),
        ],
        "fwd": forward_panels(step, tracer, view, t),
        "hover": hover(step, tracer, view, t),
        "tables": tables,
    }


# ---- the graph ----------------------------------------------------------------------------------


def graph_svg(tracer: Tracer) -> tuple[str, bool]:
    """The graph as inline SVG, and whether Graphviz laid it out (else the fallback did)."""
    dot = shutil.which("dot")
    if dot is not None:
        text = draw.to_dot(draw.build(tracer))
        try:
            done = subprocess.run(
                [dot, "-Tsvg"],
                input=text.encode("utf-8"),
                capture_output=True,
                timeout=DOT_TIMEOUT,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            pass
        else:
            return tag_dot_svg(done.stdout.decode("utf-8")), True
    return fallback_svg(tracer), False


_DOT_GROUP = re.compile(r'<g id="(?:node|edge)\d+" class="(node|edge)">\s*<title>([^<]*)</title>')


def tag_dot_svg(svg: str) -> str:
    """Graphviz's SVG made fit to inline: no XML prolog, comments, namespaces or link wrappers
    (their tooltips would cover the page's own), and the hooks on every group."""
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(?::xlink)?="[^"]*"', "", svg)
    svg = re.sub(r"</?a\b[^>]*>", "", svg)

    def hook(m: re.Match[str]) -> str:
        kind, title = m.group(1), html.unescape(m.group(2))
        if kind == "edge":
            source, _, target = title.partition("->")
            attrs = f'data-from="{html.escape(source)}" data-to="{html.escape(target)}"'
        elif title.startswith("op:"):
            attrs = f'data-op="{html.escape(title[3:])}"'
        else:
            attrs = f'data-node="{html.escape(title)}"'
        return f'<g class="{kind}" {attrs}><title>{m.group(2)}</title>'

    return _DOT_GROUP.sub(hook, svg).strip()


def fallback_svg(tracer: Tracer) -> str:
    """A simple layered layout, left to right: a tensor's layer is one more than its op's, an
    op's one more than its deepest input's; within a layer, in the config's order."""
    g = tracer.graph
    view = draw.build(tracer)
    layer: dict[str, int] = {name: 0 for name in g.tensors}
    edges: list[tuple[str, str]] = []
    for node in g.nodes:
        op = f"op:{node.name}"
        inputs = [a for a in node.args if a in layer]
        layer[op] = 1 + max((layer[a] for a in inputs), default=0)
        layer[node.name] = layer[op] + 1
        edges += [(a, op) for a in inputs] + [(op, node.name)]
    columns: dict[int, list[str]] = {}
    for name, k in layer.items():
        columns.setdefault(k, []).append(name)
    dx, dy, w, h, r = 100, 64, 64, 40, 18
    tall = max(len(c) for c in columns.values())
    pos = {}
    for k, names in columns.items():
        top = (tall - len(names)) * dy / 2
        for i, name in enumerate(names):
            pos[name] = (40 + k * dx, 30 + top + i * dy)
    width = 80 + max(columns) * dx
    height = 20 + tall * dy
    vertices = {v.name: v for v in view.vertices}
    out = [
        f'<svg viewBox="0 0 {width} {height}" class="fallback">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z" fill="#1f2937"/></marker>'
        "</defs>",
    ]
    for a, b in edges:
        (x1, y1), (x2, y2) = pos[a], pos[b]
        start = x1 + (r if a.startswith("op:") else w / 2)
        end = x2 - (r if b.startswith("op:") else w / 2)
        out.append(
            f'<g class="edge" data-from="{html.escape(a)}" data-to="{html.escape(b)}">'
            f'<path d="M{start:.1f},{y1:.1f}L{end:.1f},{y2:.1f}" stroke="#1f2937" fill="none" '
            f'marker-end="url(#arrow)"/></g>'
        )
    for name, (x, y) in pos.items():
        if name.startswith("op:"):
            v = vertices[name[3:]]
            out.append(
                f'<g class="node" data-op="{html.escape(v.name)}"><circle cx="{x}" cy="{y:.1f}" '
                f'r="{r}" fill="{draw.LIGHT_BLUE}" stroke="#1f2937"/>'
                f'<text x="{x}" y="{y + 5:.1f}" text-anchor="middle">'
                f"{html.escape(draw.symbol(v.op or ''))}</text></g>"
            )
            continue
        v = vertices[name]
        fill = (draw.PALE_BLUE if v.frozen else draw.BLUE) if v.kind == "param" else draw.WHITE
        width_ = 3 if name == tracer.objective else 1
        out.append(
            f'<g class="node" data-node="{html.escape(name)}"><rect x="{x - w / 2}" '
            f'y="{y - h / 2:.1f}" width="{w}" height="{h}" fill="{fill}" stroke="#1f2937" '
            f'stroke-width="{width_}"/><text x="{x}" y="{y - 3:.1f}" text-anchor="middle">'
            f"{html.escape(name)}</text>"
            f'<text x="{x}" y="{y + 13:.1f}" text-anchor="middle" font-size="11">'
            f"{html.escape(shape_text(v.shape))}</text></g>"
        )
    out.append("</svg>")
    return "".join(out)


# ---- the plot of the objective ----------------------------------------------------------------


def plot_svg(objectives: list[float], view: View, label: str) -> str:
    """The objective per step as a line (finite steps only), with its range on the axis."""
    points = [(i, v) for i, v in enumerate(objectives, 1) if math.isfinite(v)]
    W, H, left, pad = 640, 220, 70, 24
    out = [f'<svg viewBox="0 0 {W} {H}" class="plot" role="img" aria-label="{label}">']
    if points:
        low = min(v for _, v in points)
        high = max(v for _, v in points)
        span = (high - low) or 1.0
        n = max(len(objectives) - 1, 1)

        def xy(i: int, v: float) -> str:
            x = left + (i - 1) / n * (W - left - pad)
            y = pad + (1 - (v - low) / span) * (H - 2 * pad)
            return f"{x:.1f},{y:.1f}"

        out.append(
            f'<line x1="{left}" y1="{pad}" x2="{left}" y2="{H - pad}" stroke="#888"/>'
            f'<line x1="{left}" y1="{H - pad}" x2="{W - pad}" y2="{H - pad}" stroke="#888"/>'
            f'<text x="{left - 6}" y="{pad + 4}" text-anchor="end">'
            f"{html.escape(fmt.number(high, view.precision))}</text>"
            f'<text x="{left - 6}" y="{H - pad + 4}" text-anchor="end">'
            f"{html.escape(fmt.number(low, view.precision))}</text>"
            f'<text x="{left}" y="{H - 6}">1</text>'
            f'<text x="{W - pad}" y="{H - 6}" text-anchor="end">{len(objectives)}</text>'
        )
        line = " ".join(xy(i, v) for i, v in points)
        out.append(f'<polyline points="{line}" fill="none" stroke="#1d4ed8" stroke-width="2"/>')
        if len(points) <= 60:
            out += [
                f'<circle cx="{xy(i, v).split(",")[0]}" cy="{xy(i, v).split(",")[1]}" r="3" '
                f'fill="#1d4ed8"><title>{i}: {html.escape(fmt.number(v, view.precision))}'
                f"</title></circle>"
                for i, v in points
            ]
    out.append("</svg>")
    return "".join(out)


def summary_html(objectives: list[float], tracer: Tracer, view: View, t: Catalogue) -> str:
    J = tracer.objective
    finite = [(i, v) for i, v in enumerate(objectives, 1) if math.isfinite(v)]
    key = "summary.title.one" if len(objectives) == 1 else "summary.title"
    title = t.compose(key, html.escape, objective=_f(J), steps=len(objectives))
    rows = [("summary.first", 1, objectives[0]), ("summary.last", len(objectives), objectives[-1])]
    if finite:
        best = min(finite, key=lambda p: p[1])
        rows.append(("summary.best", best[0], best[1]))
    body = "".join(
        f"<tr><td>{html.escape(t(k))}</td><td>{i}</td>"
        f"<td>{html.escape(fmt.number(v, view.precision))}</td></tr>"
        for k, i, v in rows
    )
    plot_label = html.escape(t("report.plot", objective=J))
    return (
        f'<section class="tbl summary"><h3>{title}</h3>'
        f"<p>{t.compose('report.plot', html.escape, objective=_f(J))}</p>"
        f"{plot_svg(objectives, view, plot_label)}"
        f"<table><thead><tr><th></th><th>{html.escape(t('col.step'))}</th>"
        f"<th>{_f(J)}</th></tr></thead><tbody>{body}</tbody></table></section>"
    )


# ---- the page -----------------------------------------------------------------------------------


def _asset(name: str) -> str:
    return (resources.files(__package__) / "report_assets" / name).read_text(encoding="utf-8")


def _script_json(data: Any) -> str:
    """JSON safe inside a <script> element: no ``</`` and no ``<!--`` in it."""
    text = orjson.dumps(data).decode()
    return text.replace("</", "<\\/").replace("<!--", "<\\u0021--")


def detailed(step: int, total: int) -> bool:
    """Whether the page holds the tables of this step: all of at most MAX_DETAILED_STEPS, else
    the first, every k-th and the last."""
    if total <= MAX_DETAILED_STEPS:
        return True
    every = math.ceil(total / (MAX_DETAILED_STEPS - 1))
    return (step - 1) % every == 0 or step == total


def render(steps: Iterable[Step], tracer: Tracer, view: View, config_name: str) -> str:
    """The whole page, for the steps of a run (consumed one by one: only the steps the page
    holds are kept, as text)."""
    t = Catalogue(view.lang)
    records = []
    objectives = []
    for step in steps:
        objectives.append(step.objective)
        if detailed(step.step, view.total):
            records.append(step_record(step, tracer, view, t))
    svg, by_dot = graph_svg(tracer)
    edges = [{"node": e.node, "input": e.input} for e in (tracer.edge_info or [])]
    data = {
        "steps": records,
        "edges": edges,
        "nodes": [n.name for n in tracer.graph.nodes],
        "objective": tracer.objective,
        "text": {
            "edge_of": t("report.position.backward"),
            "node_of": t("report.position.forward"),
        },
    }
    options = "".join(f'<option value="{r["step"]}">{r["step"]}</option>' for r in records)
    sampled = ""
    if len(records) < len(objectives):
        note = t("report.sampled", shown=len(records), total=len(objectives))
        sampled = f'<p class="cap">{html.escape(note)}</p>'

    layout_note = t("report.layout.dot") if by_dot else t("report.layout.fallback")
    title = t("report.title", config=config_name)
    joiner = "" if view.lang == "zh" else " "  # Chinese sentences follow without a space
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{"zh-CN" if view.lang == "zh" else "en"}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_asset('page.css')}</style></head>\n"
        f'<body><header><h1>{html.escape(title)}</h1><div class="controls">'
        f'<label>{html.escape(t("report.step"))} <select id="step">{options}</select></label>'
        f'<button id="prev" type="button">{html.escape(t("report.prev"))}</button>'
        f'<button id="next" type="button">{html.escape(t("report.next"))}</button>'
        f'<button id="mode" type="button" data-backward="{html.escape(t("report.mode.backward"))}"'
        f' data-forward="{html.escape(t("report.mode.forward"))}">'
        f"{html.escape(t('report.mode.backward'))}</button>"
        f'<label><input id="large" type="checkbox"> {html.escape(t("report.large"))}</label>'
        f'<span id="pos"></span></div><p class="hint">{html.escape(t("report.keys"))}</p>'
        f"{sampled}</header>\n"
        f'<main><h2 id="heading"></h2><figure id="graph" class="{"dot" if by_dot else "fallback"}">'
        f"{svg}<figcaption>{html.escape(t('report.legend'))}{joiner}{html.escape(layout_note)}"
        "</figcaption></figure>\n"
        '<section id="edge" aria-live="polite"></section>\n'
        '<div id="tables"></div>\n'
        f"{summary_html(objectives, tracer, view, t) if len(objectives) > 1 else ''}"
        '</main><div id="tip" hidden></div>\n'
        f'<script type="application/json" id="trace-data">{_script_json(data)}</script>\n'
        f"<script>{_asset('page.js')}</script></body></html>\n"
    )
