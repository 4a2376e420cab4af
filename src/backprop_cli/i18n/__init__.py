"""Every user-facing string of the human-readable output, per language.

One module per language in this package (``en.py``, ``zh.py``), each a ``STRINGS`` dict with
the same keys; ``en`` is the default. Adding a language is adding one file: it is found by its
module name, and ``tests/test_i18n.py`` checks it has every key with the same placeholders.
JSON output never changes with the language.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from functools import cache
from typing import Any

from ..errors import UsageError

DEFAULT = "en"


def languages() -> list[str]:
    """The language codes shipped: the module names of this package."""
    # the folder's listing, not pkgutil (whose import is a measurable part of a cold start)
    names = {n.split(".")[0] for d in __path__ for n in os.listdir(d) if n.endswith(".py")}
    return sorted(n for n in names if not n.startswith("_"))


@cache
def strings(lang: str) -> dict[str, str]:
    if lang not in languages():
        raise UsageError(
            f"--lang: unknown language '{lang}'; expected one of {', '.join(languages())}"
        )
    return importlib.import_module(f"{__name__}.{lang}").STRINGS


class Catalogue:
    """``t = Catalogue("zh"); t("col.step")`` -> ``步骤``; placeholders are ``str.format``."""

    def __init__(self, lang: str = DEFAULT):
        self.lang = lang
        self.strings = strings(lang)

    def __call__(self, key: str, **values: Any) -> str:
        return self.strings[key].format(**values) if values else self.strings[key]

    def compose(self, key: str, prose: Callable[[str], str], **values: Any) -> str:
        """Like calling, but the catalogue's own text goes through ``prose`` (escaping for
        Markdown or LaTeX) while the values, already typeset, are put in as they are."""
        import string  # Markdown and LaTeX only: kept off the start-up path

        out = []
        for literal, field, spec, _ in string.Formatter().parse(self.strings[key]):
            out.append(prose(literal))
            if field is not None:
                out.append(format(values[field], spec or ""))
        return "".join(out)

    def __contains__(self, key: str) -> bool:
        return key in self.strings
