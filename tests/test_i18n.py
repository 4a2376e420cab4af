"""The string catalogue: every language has every key, with the same placeholders; every key
the renderers use exists; Chinese output puts full-width punctuation next to Chinese text."""

from __future__ import annotations

import ast
import json
import re
import string
from pathlib import Path

import pytest

import backprop_cli
from backprop_cli.errors import UsageError
from backprop_cli.i18n import DEFAULT, Catalogue, languages, strings
from backprop_cli.ops import OPS
from backprop_cli.render import document
from backprop_cli.render.explain import PLAIN, Typeset, edge_sentence, update_sentence
from backprop_cli.render.view import View

from .conftest import CONFIGS, ROOT
from .helpers import invoke
from .op_tracers import all_cases, op_tracer


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_english_and_chinese_are_shipped() -> None:
    assert DEFAULT == "en"
    assert {"en", "zh"} <= set(languages())


@pytest.mark.parametrize("lang", languages())
def test_every_language_has_every_key_with_the_same_placeholders(lang: str) -> None:
    reference, other = strings(DEFAULT), strings(lang)
    assert set(other) == set(reference), set(other) ^ set(reference)
    for key, text in reference.items():
        assert _fields(other[key]) == _fields(text), key


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_op_input_has_an_explanation_in_every_language(name: str) -> None:
    op = OPS[name]
    assert op.explain, f"op '{name}' has no explain kind in ops.py"
    arity = op.arity or 1
    assert len(op.explain) in (1, arity)
    for lang in languages():
        for pos in range(arity):
            assert f"explain.edge.{op.explain_for(pos)}" in strings(lang), (lang, name, pos)


def test_the_documents_own_words() -> None:
    t = Catalogue("zh")
    assert [
        t(k) for k in ("col.step", "col.target", "col.upstream", "col.local", "col.global")
    ] == ["步骤", "目标", "上游梯度", "局部梯度", "全局梯度"]
    assert t("forward.title") == "前向传播"
    assert t("backward.title").startswith("反向传播")
    assert t("updates.title", optimizer="sgd", lr="0.1").startswith("参数更新")


def test_unknown_language_is_a_usage_error_naming_the_known_ones() -> None:
    with pytest.raises(UsageError, match="unknown language 'fr'; expected one of en, zh"):
        Catalogue("fr")


# ---- every key the renderers use exists ---------------------------------------------------

SOURCE = Path(backprop_cli.__file__).parent
SECTIONS = {k.split(".", 1)[0] for k in strings(DEFAULT)}
KEY = re.compile(rf"^(?:{'|'.join(sorted(SECTIONS))})\.[a-z_.]*[a-z_]$")


def _keys_in_source() -> set[str]:
    """String literals that look like catalogue keys (``"col.step"``), and the keys built from
    a prefix: ``f"explain.edge.{kind}"`` and ``f"explain.update.{key}"`` for every kind and
    direction ``explain.py`` assigns, and ``f"anomaly.pass.{pass_}"`` for every pass the
    engine reports. (Each op's own explain kind is checked above.)"""
    keys = set()
    for path in SOURCE.rglob("*.py"):
        if path.parent.name == "i18n":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and KEY.match(node.value)
            ):
                keys.add(node.value)
    explain = ast.parse((SOURCE / "render" / "explain.py").read_text(encoding="utf-8"))
    assigned: dict[str, set[str]] = {"kind": set(), "direction": set()}
    for node in ast.walk(explain):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in assigned:
                    assigned[target.id] |= {
                        c.value
                        for c in ast.walk(node.value)
                        if isinstance(c, ast.Constant) and isinstance(c.value, str)
                    }
    keys |= {f"explain.edge.{kind}" for kind in assigned["kind"]}
    for direction in assigned["direction"]:  # "grows", and "grows_by_state" under momentum
        keys.add(f"explain.update.{direction}")
        if direction != "stays":
            keys.add(f"explain.update.{direction}_by_state")
    keys |= {f"anomaly.pass.{p}" for p in ("forward", "backward", "update")}
    return keys


def test_the_source_names_keys() -> None:
    keys = _keys_in_source()
    assert {
        "col.step",
        "explain.edge.relu.scalar.open",
        "explain.update.shrinks_by_state",
        "anomaly.pass.update",
    } <= keys


@pytest.mark.parametrize("lang", languages())
def test_every_key_the_renderers_use_is_in_the_catalogue(lang: str) -> None:
    missing = sorted(_keys_in_source() - set(strings(lang)))
    assert not missing, missing


# ---- Chinese: full-width punctuation next to Chinese text ---------------------------------
# ASCII punctuation stays inside formulas and numbers (λ = 0.01, [1, 2], (sgd, η = 0.1)); where
# it would touch a Chinese character (CJK Unified Ideographs) the catalogue uses ：，（）； or a
# space between its text and the value put into it.

HALF_WIDTH_NEXT_TO_HAN = re.compile(r"[\u4e00-\u9fff][:;,()]|[:;,()][\u4e00-\u9fff]")


def _half_width_next_to_han(text: str) -> list[str]:
    return [
        text[max(m.start() - 12, 0) : m.end() + 12] for m in HALF_WIDTH_NEXT_TO_HAN.finditer(text)
    ]


def test_the_check_finds_what_it_should() -> None:
    assert _half_width_next_to_han("反向传播:上游梯度") == ["反向传播:上游梯度"]
    assert _half_width_next_to_han("参数更新(sgd, η = 0.1)")
    assert _half_width_next_to_han("传给 L(在 s 上")
    assert not _half_width_next_to_han("参数更新（sgd, η = 0.1）：W1 = [1, 2]，λ = 0.01")


# A value put into a template may itself start or end in ASCII punctuation: a formula such as
# "(o − y)/2", a name list "a, b". Fields filled with Chinese catalogue text are exempt.
CHINESE_FIELDS = {"pass_name"}


@pytest.mark.parametrize("key", sorted(strings("zh")))
def test_chinese_templates_keep_values_apart_from_chinese(key: str) -> None:
    template = strings("zh")[key]
    values = {f: "(1, 2)" for f in _fields(template) if f not in CHINESE_FIELDS}
    values |= {f: "前向传播" for f in _fields(template) & CHINESE_FIELDS}
    assert not _half_width_next_to_han(template.format(**values)), template


TRACES = [
    (config.name, fmt, explain)
    for config in sorted(CONFIGS.glob("*.yaml"))
    for fmt in ("table", "markdown", "latex")
    for explain in (False, True)
]


@pytest.mark.parametrize("config, fmt, explain", TRACES)
def test_chinese_trace_has_full_width_punctuation_next_to_chinese(
    config: str, fmt: str, explain: bool
) -> None:
    args = ["trace", str(CONFIGS / config), "--format", fmt, "--lang", "zh"]
    result = invoke(*args, *(["--explain"] if explain else []))
    assert result.exit_code == 0, result.output
    assert not _half_width_next_to_han(result.stdout)


@pytest.mark.parametrize(
    "config, extra",
    [
        ("seed_mlp_l2.yaml", ("--node", "W1", "--explain")),  # the caption naming the node
        ("tanh_adam.yaml", ("--every", "2", "-n", "5")),  # one-line steps and the summary
        ("tanh_adam.yaml", ("--full", "--explain", "-n", "40")),  # the summary's per-mark note
    ],
)
@pytest.mark.parametrize("fmt", ["table", "markdown", "latex"])
def test_chinese_captions_and_summaries_too(config: str, extra: tuple[str, ...], fmt: str) -> None:
    result = invoke("trace", str(CONFIGS / config), "--format", fmt, "--lang", "zh", *extra)
    assert result.exit_code == 0, result.output
    assert not _half_width_next_to_han(result.stdout)


@pytest.mark.parametrize("fmt", ["table", "markdown", "latex"])
def test_chinese_anomaly_report_has_full_width_punctuation(fmt: str) -> None:
    config = ROOT / "tests" / "configs" / "overflow_logits.yaml"
    result = invoke("trace", str(config), "--format", fmt, "--lang", "zh")
    assert result.exit_code == 3
    assert "数值异常" in result.stdout
    assert not _half_width_next_to_han(result.stdout)


def test_chinese_comparison_has_full_width_punctuation(tmp_path: Path) -> None:
    expected = tmp_path / "expected.json"
    pinned = invoke("trace", str(CONFIGS / "seed_linear.yaml"), "--format", "json").stdout
    expected.write_text(pinned, encoding="utf-8")
    same = invoke(
        "trace", str(CONFIGS / "seed_linear.yaml"), "--expect", str(expected), "--lang", "zh"
    )
    doc = json.loads(pinned)
    doc["steps"][0]["objective"] += 1
    expected.write_text(json.dumps(doc), encoding="utf-8")
    differ = invoke(
        "trace", str(CONFIGS / "seed_linear.yaml"), "--expect", str(expected), "--lang", "zh"
    )
    assert (same.exit_code, differ.exit_code) == (0, 1)
    for out in (same.stdout, differ.stdout):
        assert not _half_width_next_to_han(out), out


@pytest.mark.parametrize("name, case", all_cases())
def test_every_chinese_explanation_has_full_width_punctuation(name: str, case: int) -> None:
    """Every op's sentences, also the kinds no shipped config reaches, as each format sets
    them (values in ``$…$`` for Markdown, LaTeX prose escaped)."""
    tracer = op_tracer(name, case)
    step = next(tracer.run(1))
    t = Catalogue("zh")
    styles: list[Typeset] = [
        PLAIN,
        document.Markdown(View(lang="zh")).ts,
        document.Latex(View(lang="zh")).ts,
    ]
    for ts in styles:
        sentences = [edge_sentence(e, tracer, t, ts, 4) for e in step.edges]
        sentences += [update_sentence(u, t, ts, 4) for u in step.updates.values()]
        for sentence in sentences:
            assert not _half_width_next_to_han(sentence), sentence
