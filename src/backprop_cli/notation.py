"""Formula text: how gradients are named and how formulas are put together."""

from __future__ import annotations


def d(objective: str, name: str) -> str:
    """The name of a gradient: ``d("J", "o")`` is ``∂J/∂o``."""
    return f"∂{objective}/∂{name}"


def wrap(text: str) -> str:
    """Parenthesise a formula that has a top-level + or − so that a product reads right."""
    depth = 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and ch in "+−" and 0 < i < len(text) - 1 and text[i - 1] == " ":
            return f"({text})"
    return text


def product(
    template: str, upstream: str, local: str, *, elementwise: bool, scalar: bool, shape: str = ""
) -> str:
    """Compose ``upstream × local`` as the op's chain template says.

    In an elementwise product a local gradient of 1 or −1 is not written out, and a product with
    a scalar on either side is written ``·`` rather than ``⊙``.
    """
    if elementwise:
        if local == "1":
            return upstream
        if local == "−1":
            return f"−{upstream}"
        if scalar:
            template = template.replace("⊙", "·")
    return template.format(g=upstream, local=wrap(local), shape=shape)
