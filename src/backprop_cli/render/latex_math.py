"""Formula text, as the engine records it in Unicode, translated to LaTeX math.

One deterministic translation used by the Markdown and LaTeX renderers:

* ``∂J/∂o`` -> ``\\frac{\\partial J}{\\partial o}``; ``ᵀ`` -> ``^\\top``; ``²`` -> ``^2``;
  ``·`` -> ``\\,`` (a thin space, as the document writes products); ``⊙`` -> ``\\odot``;
  ``−`` -> ``-``; ``½`` -> ``\\tfrac{1}{2}``;
  ``‖x‖`` -> ``\\lVert x\\rVert``; ``σ λ η φ Σ`` -> ``\\sigma \\lambda \\eta \\varphi \\sum``;
  ``relu(z)`` -> ``\\operatorname{relu}(z)``; ``1e-05`` -> ``1\\times 10^{-5}``.
* Names, one rule: a single letter stays (``x``); a letter and digits takes them as a
  subscript (``W1`` -> ``W_{1}``); a letter with ``_hat``, ``_bar``, ``_tilde`` or a combining
  accent takes the accent (``y_hat``, ``ŷ`` -> ``\\hat{y}``); a letter, ``_`` and a word takes an
  upright subscript (``x_in`` -> ``x_{\\mathrm{in}}``); any other name is upright
  (``wx`` -> ``\\mathrm{wx}``, ``my_loss`` -> ``\\mathrm{my\\_loss}``).

A character with no translation raises ``Untranslatable``: the renderers then show the original
text visibly (verbatim) instead of emitting LaTeX that would not compile.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["Untranslatable", "name_to_latex", "number_to_latex", "to_latex"]


class Untranslatable(ValueError):
    """A formula holds a character this module cannot put into LaTeX math."""


SYMBOLS = {
    "·": r"\,",
    "⊙": r"\odot",
    "⋆": r"\star",
    "×": r"\times",
    "−": "-",
    "←": r"\leftarrow",
    "→": r"\to",
    "½": r"\tfrac{1}{2}",
    "Σ": r"\sum",
    "σ": r"\sigma",
    "λ": r"\lambda",
    "η": r"\eta",
    "φ": r"\varphi",
    "ϕ": r"\phi",
    "∂": r"\partial",
    "ᵀ": r"^\top",
    "²": "^2",
    "³": "^3",
    "′": "'",
    "≤": r"\le",
    "≥": r"\ge",
    "≠": r"\ne",
    "|": r"\vert",
    "{": r"\{",
    "}": r"\}",
    "%": r"\%",
    "&": r"\&",
    "#": r"\#",
    "∞": r"\infty",
    "ℓ": r"\ell",
    "ᵗ": "^t",
    "ⁿ": "^n",
    **{chr(0x2080 + i): f"_{i}" for i in range(10)},  # ₀ … ₉
}
GREEK = {
    "α": r"\alpha",
    "β": r"\beta",
    "γ": r"\gamma",
    "δ": r"\delta",
    "ε": r"\varepsilon",
    "ζ": r"\zeta",
    "θ": r"\theta",
    "κ": r"\kappa",
    "μ": r"\mu",
    "ν": r"\nu",
    "ξ": r"\xi",
    "π": r"\pi",
    "ρ": r"\rho",
    "τ": r"\tau",
    "χ": r"\chi",
    "ψ": r"\psi",
    "ω": r"\omega",
    "Γ": r"\Gamma",
    "Δ": r"\Delta",
    "Θ": r"\Theta",
    "Λ": r"\Lambda",
    "Π": r"\Pi",
    "Φ": r"\Phi",
    "Ψ": r"\Psi",
    "Ω": r"\Omega",
}
SYMBOLS.update(GREEK)
PLAIN = set("()[]+-=,<>/:;!'.*")
FUNCTIONS = {
    "tanh": r"\tanh",
    "exp": r"\exp",
    "log": r"\log",
    "max": r"\max",
    "min": r"\min",
    "sin": r"\sin",
    "cos": r"\cos",
}
OPERATOR_NAMES = {
    "relu",
    "mean",
    "unbroadcast",
    "softmax",
    "log_softmax",
    "sign",
    "diag",
    "elu",
    "gelu",
    "leaky_relu",
    "softplus",
    "onehot",
    "sigmoid",
    "maximum",
    "minimum",
    "clip",
    "stop_gradient",
    "rot180",
    "scatter",
    "flatten",
    "max_pool2d",
    "avg_pool2d",
    "select",
    "causal_mask",
    "dropout",
}
ACCENT_SUFFIXES = {"hat": r"\hat", "bar": r"\bar", "tilde": r"\tilde"}
COMBINING = {"\u0302": r"\hat", "\u0304": r"\bar", "\u0303": r"\tilde", "\u0307": r"\dot"}

_FRAC = re.compile(r"∂(\w+)/∂(\w+)")
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e[+-]?\d+)?")
_NAME_CHARS = re.compile(r"\w")


def _is_name_char(ch: str) -> bool:
    return ch not in SYMBOLS and (bool(_NAME_CHARS.match(ch)) or ch in COMBINING)


def _group_end(text: str, i: int) -> int:
    """The end of the operand starting at ``text[i]``: a parenthesised group, |…|, a signed
    number or name, or one character."""
    if i >= len(text):
        raise Untranslatable(f"a missing operand at the end of {text!r}")
    ch = text[i]
    if ch in "−-+":
        return _group_end(text, i + 1)
    if ch in "([":
        close, depth = {"(": ")", "[": "]"}[ch], 0
        for j in range(i, len(text)):
            depth += (text[j] == ch) - (text[j] == close)
            if depth == 0:
                return j + 1
        raise Untranslatable(f"an unmatched {ch} in {text!r}")
    if ch == "|":
        j = text.find("|", i + 1)
        if j < 0:
            raise Untranslatable(f"an unmatched | in {text!r}")
        return j + 1
    m = _NUMBER.match(text, i)
    if m:
        return m.end()
    j = i
    while j < len(text) and _is_name_char(text[j]):
        j += 1
    return max(j, i + 1)


def name_to_latex(name: str) -> str:
    """A graph name in math, by the rule in the module docstring."""
    if len(name) == 1 or (len(name) == 2 and name[1] in COMBINING):
        return _letter(name)
    m = re.fullmatch(r"([A-Za-z])(\d+)", name)
    if m:
        return f"{m[1]}_{{{m[2]}}}"
    m = re.fullmatch(r"([A-Za-z])_([A-Za-z0-9]+)", name)
    if m:
        base, sub = m[1], m[2]
        if sub in ACCENT_SUFFIXES:
            return f"{ACCENT_SUFFIXES[sub]}{{{base}}}"
        return f"{base}_{{{sub}}}" if sub.isdigit() else f"{base}_{{\\mathrm{{{sub}}}}}"
    if re.fullmatch(r"[A-Za-z0-9_]+", name):
        return r"\mathrm{" + name.replace("_", r"\_") + "}"
    raise Untranslatable(f"the name {name!r}")


def _letter(ch: str) -> str:
    if ch.isascii() and ch.isalpha():
        return ch
    if ch.isdigit() and ch.isascii():
        return ch
    parts = unicodedata.normalize("NFD", ch)  # ŷ or y + U+0302 -> y, U+0302
    if len(parts) == 2 and parts[0].isascii() and parts[0].isalpha() and parts[1] in COMBINING:
        return f"{COMBINING[parts[1]]}{{{parts[0]}}}"
    raise Untranslatable(f"the name {ch!r}")


def number_to_latex(text: str) -> str:
    """``-1.9`` stays; ``1e-05`` -> ``1\\times 10^{-5}``; ``nan``/``inf`` are words/symbols."""
    if text in ("nan", "-nan"):
        return r"\mathrm{nan}"
    if text in ("inf", "-inf"):
        return ("-" if text[0] == "-" else "") + r"\infty"
    m = re.fullmatch(r"(-?[\d.]+)e([+-])(\d+)", text)
    if m:
        exp = int(m[3])
        return f"{m[1]}\\times 10^{{{'-' if m[2] == '-' else ''}{exp}}}"
    return text


class _Out:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def add(self, piece: str) -> None:
        # A control word followed by a letter needs a space: \lambda W, not \lambdaW.
        if (
            self.parts
            and re.search(r"\\[A-Za-z]+$", self.parts[-1])
            and re.match(r"[A-Za-z0-9]", piece)
        ):
            self.parts.append(" ")
        self.parts.append(piece)

    def text(self) -> str:
        return "".join(self.parts)


def to_latex(text: str) -> str:
    """The LaTeX math for a Unicode formula (without ``$``), or ``Untranslatable``."""
    if text.strip() == "·":  # the product sign on its own ("a · node"), not a product
        return r"\cdot"
    out = _Out()
    norms = 0  # ‖ opens and closes in turn
    i = 0
    words = False  # whether the last token was a word (a space after it may separate two)
    while i < len(text):
        ch = text[i]
        if ch != " " and not _is_name_char(ch):
            words = False
        frac = _FRAC.match(text, i)
        if frac:
            out.add(
                rf"\frac{{\partial {name_to_latex(frac[1])}}}"
                rf"{{\partial {name_to_latex(frac[2])}}}"
            )
            i = frac.end()
            continue
        if text.startswith("+=", i):  # ∂J/∂W1 += …, a term of a sum
            out.add(r"\mathrel{+}=")
            i += 2
            continue
        if ch == "‖":
            out.add(r"\lVert " if norms % 2 == 0 else r"\rVert")
            norms += 1
            i += 1
            continue
        if ch == "·":  # a product: a thin space, without the spaces around it
            while out.parts and out.parts[-1] == " ":
                out.parts.pop()
            out.add(SYMBOLS[ch])
            i += 1
            while i < len(text) and text[i] == " ":
                i += 1
            continue
        if ch == "^" or ch == "√":  # a^−0.5, e^−|z|, √(2/π), √v̂: the operand in braces
            end = _group_end(text, i + 1)
            inner = text[i + 1 : end]
            if ch == "√" and inner[:1] == "(" and inner[-1:] == ")":
                inner = inner[1:-1]
            out.add(("^{" if ch == "^" else r"\sqrt{") + to_latex(inner) + "}")
            i = end
            continue
        if ch in GREEK:  # β1 -> \beta_{1}
            out.add(GREEK[ch])
            m = re.match(r"\d+", text[i + 1 :])
            if m:
                out.add(f"_{{{m[0]}}}")
            i += 1 + (len(m[0]) if m else 0)
            continue
        if ch in SYMBOLS:
            out.add(SYMBOLS[ch])
            i += 1
            continue
        if ch.isascii() and ch.isdigit():
            m = _NUMBER.match(text, i)
            assert m is not None  # _NUMBER matches any digit
            out.add(number_to_latex(m[0]))
            i = m.end()
            continue
        if _is_name_char(ch):
            j = i
            while j < len(text) and _is_name_char(text[j]):
                j += 1
            word = text[i:j]
            if words and out.parts and out.parts[-1] == " ":
                out.parts[-1] = r"\ "  # two words in a row: "transpose back"
            words = True
            if word.startswith("_") and len(word) > 1:  # Σ_classes
                out.add(r"_{\mathrm{" + word[1:].replace("_", r"\_") + "}}")
            elif word in FUNCTIONS:
                out.add(FUNCTIONS[word])
            elif word in OPERATOR_NAMES:
                out.add(r"\operatorname{" + word.replace("_", r"\_") + "}")
            else:
                out.add(name_to_latex(word))
            i = j
            continue
        if ch == " ":
            out.add(" ")
            i += 1
            continue
        if ch in PLAIN:
            out.add(ch)
            i += 1
            continue
        raise Untranslatable(f"the character {ch!r} (U+{ord(ch):04X}) in {text!r}")
    if norms % 2:
        raise Untranslatable(f"an unmatched ‖ in {text!r}")
    return out.text()
