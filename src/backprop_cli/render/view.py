"""What the human-readable renderers (table, markdown, latex) show: shared options."""

from __future__ import annotations

from typing import NamedTuple


class View(NamedTuple):
    precision: int = 4  # significant digits
    full: bool = False  # large tensors whole
    lang: str = "en"  # the catalogue's language
    explain: bool = False  # a sentence under each backward row and update
    node: str | None = None  # backward rows touching this node only
    every: int | None = None  # full tables every K steps, nothing for the others
    only_step: int | None = None  # this step only
    total: int = 1  # how many steps the run traces
    view: str = "nodes"  # the backward table: one row per node (the document's) or per edge
    data_grads: bool = False  # the nodes view shows gradients of data tensors too
    standalone: bool = False  # LaTeX: a complete document, not a fragment
    summary_only: bool = False  # no step at all, only the summary (--summary)

    def shows(self, step: int) -> bool:
        """Whether the step's tables are printed: every step, or only step K, or under
        ``--every K`` steps 1, K+1, 2K+1, … and the last one; none under ``--summary``."""
        if self.summary_only:
            return False
        if self.only_step is not None:
            return step == self.only_step
        if self.every is None:
            return True
        return (step - 1) % self.every == 0 or step == self.total

    def summarises(self, seen: int) -> bool:
        """Whether the run ends with the summary, after ``seen`` steps: a run of several steps
        does (not one picked with ``--only-step``); ``--summary`` asks for it even for one."""
        if self.only_step is not None or seen == 0:
            return False
        return self.summary_only or seen > 1

    def touches(self, node: str, input_: str) -> bool:
        return self.node is None or self.node in (node, input_)
