"""What the human-readable renderers (table, markdown, latex) show: shared options."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class View:
    precision: int = 4  # significant digits
    full: bool = False  # large tensors whole
    lang: str = "en"  # the catalogue's language
    explain: bool = False  # a sentence under each backward row and update
    node: str | None = None  # backward rows touching this node only
    every: int | None = None  # full tables every K steps, one line for the others
    only_step: int | None = None  # this step only
    total: int = 1  # how many steps the run traces
    view: str = "nodes"  # the backward table: one row per node (the document's) or per edge
    data_grads: bool = False  # the nodes view shows gradients of data tensors too
    standalone: bool = False  # LaTeX: a complete document, not a fragment

    def shows(self, step: int) -> bool:
        return self.only_step is None or step == self.only_step

    def shows_full(self, step: int) -> bool:
        """Steps 1, K+1, 2K+1, … and the last one get full tables under ``--every K``."""
        if not self.shows(step):
            return False
        if self.every is None or self.only_step is not None:
            return True
        return (step - 1) % self.every == 0 or step == self.total

    @property
    def summarises(self) -> bool:
        return self.only_step is None and self.total > 1

    def touches(self, node: str, input_: str) -> bool:
        return self.node is None or self.node in (node, input_)
