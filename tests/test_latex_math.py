"""Unicode formula text -> LaTeX math: every op's text translates, into balanced ASCII."""

from __future__ import annotations

import pytest

from backprop_cli.notation import d, product
from backprop_cli.ops import OPS, equation_text, local_text
from backprop_cli.render.latex_math import Untranslatable, name_to_latex, to_latex


def _balanced(tex: str) -> bool:
    depth = 0
    for i, ch in enumerate(tex):
        if ch in "{}" and i and tex[i - 1] == "\\":
            continue
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def _texts(name: str) -> list[str]:
    """Every formula text the op can produce: equation, local gradients, chain products."""
    op = OPS[name]
    arity = op.arity or 2
    args = ["W1", "y_hat", "x"][:arity]
    shapes = [(2, 2)] * arity
    options = {k: (o.default if o.default is not None else 0.01) for k, o in op.options.items()}
    texts = [equation_text(op, "out", args, shapes, options)]
    for pos in range(arity):
        loc = local_text(op, pos, "out", args, shapes)
        texts.append(loc)
        for scalar in (True, False):
            texts.append(product(op.chain_for(pos).text, d("J", "out"), loc, scalar=scalar))
    return texts


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_op_formula_translates(name: str) -> None:
    for text in _texts(name):
        tex = to_latex(text)
        assert tex.isascii(), (text, tex)
        assert _balanced(tex), (text, tex)
        assert "$" not in tex


@pytest.mark.parametrize("text, tex", [
    ("∂J/∂o · hᵀ", r"\frac{\partial J}{\partial o}\,h^\top"),
    ("1[z > 0]", "1[z > 0]"),
    ("σ(z)(1 − σ(z))", r"\sigma(z)(1 - \sigma(z))"),
    ("L = ½‖y_hat − y‖²", r"L = \tfrac{1}{2}\lVert \hat{y} - y\rVert^2"),
    ("λW1", r"\lambda W_{1}"),
    ("1 − tanh²(z)", r"1 - \tanh^2(z)"),
    ("w ← w − η·∂L/∂w", r"w \leftarrow w - \eta\,\frac{\partial L}{\partial w}"),
    ("∂J/∂h ⊙ 1[z > 0]", r"\frac{\partial J}{\partial h} \odot 1[z > 0]"),
    ("s = λ/2·(‖W1‖²), λ = 1e-05", r"s = \lambda/2\,(\lVert W_{1}\rVert^2), \lambda = 1\times 10^{-5}"),
    ("z = relu(x)", r"z = \operatorname{relu}(x)"),
])
def test_translations(text: str, tex: str) -> None:
    assert to_latex(text) == tex


@pytest.mark.parametrize("name, tex", [
    ("x", "x"), ("W1", "W_{1}"), ("y_hat", r"\hat{y}"), ("ŷ", r"\hat{y}"),
    ("x_in", r"x_{\mathrm{in}}"), ("h_2", "h_{2}"), ("wx", r"\mathrm{wx}"),
    ("my_loss", r"\mathrm{my\_loss}"),
])
def test_one_rule_for_names(name: str, tex: str) -> None:
    assert name_to_latex(name) == tex


def test_untranslatable_text_is_refused_not_mangled() -> None:
    with pytest.raises(Untranslatable, match="损"):
        to_latex("L = 损 + 1")
    with pytest.raises(Untranslatable):
        to_latex("‖x")
