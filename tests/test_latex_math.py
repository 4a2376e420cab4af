"""Unicode formula text -> LaTeX math: every op's text translates, into balanced ASCII."""

from __future__ import annotations

import re

import pytest

from backprop_cli.ops import OPS
from backprop_cli.optim import OPTIMIZERS
from backprop_cli.render.latex_math import Untranslatable, name_to_latex, to_latex

from .helpers import tracer_from_text
from .op_tracers import all_cases, formula_texts, op_tracer


def _balanced(tex: str) -> bool:
    depth = 0
    for i, ch in enumerate(tex):
        if ch in "{}" and i and tex[i - 1] == "\\":
            continue
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


@pytest.mark.parametrize("name, case", all_cases())
def test_every_op_formula_translates(name: str, case: int) -> None:
    """Every formula text a one-op graph records (equation, edges, sums, updates)."""
    for text in formula_texts(op_tracer(name, case)):
        tex = to_latex(text)
        assert tex.isascii(), (text, tex)
        assert _balanced(tex), (text, tex)
        assert "$" not in tex


def test_every_op_has_a_translated_case() -> None:
    assert {name for name, _ in all_cases()} == set(OPS)


OPTIMIZER_SETTINGS = [
    "{name: sgd, lr: 0.1}",
    "{name: sgd, lr: 0.1, momentum: 0.9}",
    "{name: sgd, lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 0.01}",
    "{name: adam}",
    "{name: adam, weight_decay: 0.01}",
    "{name: adamw}",
    "{name: rmsprop}",
    "{name: rmsprop, momentum: 0.9, centered: true, eps_in_sqrt: true, maximize: true}",
    "{name: rmsprop, centered: true}",
    "{name: adagrad}",
    "{name: adagrad, lr_decay: 0.1, weight_decay: 0.01, maximize: true}",
    "{name: sgd, lr: 0.1, momentum: 0.9, dampening: 0.5, maximize: true}",
    "{name: sgd, maximize: true}",
]


def test_every_optimizer_is_in_the_settings() -> None:
    assert {re.match(r"\{name: (\w+)", s)[1] for s in OPTIMIZER_SETTINGS} == set(OPTIMIZERS)


@pytest.mark.parametrize("settings", OPTIMIZER_SETTINGS)
def test_every_optimizer_formula_translates(settings: str) -> None:
    tracer = tracer_from_text(
        "params: {w: [1.0, 2.0]}\ngraph:\n"
        "  - {name: J, op: sum, args: [w]}\n"
        f"optimizer: {settings}\n"
    )
    step = next(tracer.run(1))
    for text in [step.optimizer] + [u.formula for u in step.updates.values()]:
        tex = to_latex(text)
        assert tex.isascii() and _balanced(tex), (text, tex)


@pytest.mark.parametrize(
    "text, tex",
    [
        ("∂J/∂o · hᵀ", r"\frac{\partial J}{\partial o}\,h^\top"),
        ("1[z > 0]", "1[z > 0]"),
        ("σ(z)(1 − σ(z))", r"\sigma(z)(1 - \sigma(z))"),
        ("L = ½‖y_hat − y‖²", r"L = \tfrac{1}{2}\lVert \hat{y} - y\rVert^2"),
        ("λW1", r"\lambda W_{1}"),
        ("1 − tanh²(z)", r"1 - \tanh^2(z)"),
        ("w ← w − η·∂L/∂w", r"w \leftarrow w - \eta\,\frac{\partial L}{\partial w}"),
        ("∂J/∂h ⊙ 1[z > 0]", r"\frac{\partial J}{\partial h} \odot 1[z > 0]"),
        (
            "s = λ/2·(‖W1‖²), λ = 1e-05",
            r"s = \lambda/2\,(\lVert W_{1}\rVert^2), \lambda = 1\times 10^{-5}",
        ),
        ("z = relu(x)", r"z = \operatorname{relu}(x)"),
    ],
)
def test_translations(text: str, tex: str) -> None:
    assert to_latex(text) == tex


@pytest.mark.parametrize(
    "name, tex",
    [
        ("x", "x"),
        ("W1", "W_{1}"),
        ("y_hat", r"\hat{y}"),
        ("ŷ", r"\hat{y}"),
        ("x_in", r"x_{\mathrm{in}}"),
        ("h_2", "h_{2}"),
        ("wx", r"\mathrm{wx}"),
        ("my_loss", r"\mathrm{my\_loss}"),
    ],
)
def test_one_rule_for_names(name: str, tex: str) -> None:
    assert name_to_latex(name) == tex


def test_untranslatable_text_is_refused_not_mangled() -> None:
    with pytest.raises(Untranslatable, match="损"):
        to_latex("L = 损 + 1")
    with pytest.raises(Untranslatable):
        to_latex("‖x")
