"""The string catalogue: every language has every key, with the same placeholders."""

from __future__ import annotations

import string

import pytest

from backprop_cli.errors import UsageError
from backprop_cli.i18n import DEFAULT, Catalogue, languages, strings
from backprop_cli.ops import OPS


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
