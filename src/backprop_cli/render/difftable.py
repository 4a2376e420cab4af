"""The result of ``backprop compare`` (and ``trace --expect``): a table of differing paths."""

from __future__ import annotations

from collections.abc import Iterable

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..compare import Difference, Trace, show
from ..i18n import Catalogue


def read_text(expected: Trace, actual: Trace, t: Catalogue) -> str:
    """Which schema versions and forms the two traces were, and how they were compared."""
    e = t("compare.read", version=expected.version, form=expected.form)
    if (expected.version, expected.form) == (actual.version, actual.form):
        return e
    a = t("compare.read", version=actual.version, form=actual.form)
    mixed = t("compare.read.as_v1") if expected.version != actual.version else ""
    return t("compare.read.two", expected=e, actual=a) + mixed


def render(
    diffs: Iterable[Difference],
    expected: str,
    actual: str,
    rtol: float,
    atol: float,
    max_rows: int,
    t: Catalogue,
    read: str,
) -> tuple[RenderableType, int]:
    """The renderable and the number of differences (all of them are counted); ``read``
    says which versions were read (``read_text``)."""
    table = Table(
        title=t("compare.title", expected=expected, actual=actual),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    table.add_column(t("compare.col.path"), no_wrap=True)
    table.add_column(t("compare.col.expected", expected=expected), overflow="fold")
    table.add_column(t("compare.col.actual", actual=actual), overflow="fold")
    count = 0
    for diff in diffs:
        count += 1
        if count <= max_rows:
            table.add_row(diff.path, show(diff.expected), show(diff.actual))
    tolerance = t("compare.tolerance", rtol=f"{rtol:g}", atol=f"{atol:g}")
    if count == 0:
        same = t("compare.same", expected=expected, actual=actual, read=read, tolerance=tolerance)
        return _line(same), 0
    parts: list[RenderableType] = [table]
    if count > max_rows:
        parts.append(Text(t("compare.more", more=count - max_rows)))
    parts.append(
        _line(
            t(
                "compare.differ",
                count=count,
                expected=expected,
                actual=actual,
                read=read,
                tolerance=tolerance,
            )
        )
    )
    return Group(*parts), count


def _line(text: str) -> Text:
    """One line, never wrapped: CI logs and grep see it whole."""
    return Text(text, no_wrap=True, overflow="ignore")
