"""`backprop report` opened in a real headless Chromium (Debian's, driven by Playwright): no
request, no console error, every node of the document's figure drawn, and the stepper shows the
trace's own numbers edge by edge.

Skips with the reason when Playwright or Chromium is missing (`.ci/run` installs Chromium; the
`test` extra installs Playwright, whose own browser download is not used). With
``--update-golden`` the screenshots shown in the README are rewritten in ``docs/``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import CONFIGS, ROOT
from .helpers import invoke, trace_json

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[test]')"
)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)

DOCUMENT_NODES = ["x", "W1", "z", "h", "W2", "o", "y", "L", "s", "J"]
SCREENSHOTS = {  # docs/ picture: config, ArrowRight presses before it is taken
    "report_seed_mlp_l2.png": ("seed_mlp_l2.yaml", 10),
    "report_seed_linear.png": ("seed_linear.yaml", 2),
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        except Exception as exc:  # a browser that will not start here
            pytest.skip(f"Chromium does not start: {str(exc).splitlines()[0]}")
        yield b
        b.close()


class Opened:
    """A page opened with every request but the file itself aborted, and what it tried."""

    def __init__(self, browser: Any, path: Path, width: int = 1200):
        self.url = path.resolve().as_uri()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(self.url)

    def _route(self, route: Any) -> None:
        if route.request.url == self.url:
            route.continue_()
        else:
            route.abort()

    def others(self) -> list[str]:
        return [u for u in self.requests if u != self.url]

    def panel(self) -> dict[str, Any]:
        """The numbers on the #edge panel, read from its data-* attributes."""
        got = {}
        for hook in ("upstream", "local", "global"):
            el = self.page.query_selector(f"#edge [data-{hook}]")
            got[hook] = None if el is None else json.loads(el.get_attribute(f"data-{hook}"))
        return got


def _report(tmp_path: Path, config: str, *extra: str) -> Path:
    out = tmp_path / (Path(config).stem + ".html")
    result = invoke("report", str(CONFIGS / config), "-o", str(out), *extra)
    assert result.exit_code == 0, result.output
    return out


def test_the_harness_sees_and_blocks_a_request(browser: Any, tmp_path: Path) -> None:
    """The check below means something: a page that asks for an image is caught."""
    page = tmp_path / "asks.html"
    page.write_text('<img src="http://192.0.2.1/x.png">', encoding="utf-8")
    opened = Opened(browser, page)
    assert opened.others() == ["http://192.0.2.1/x.png"]
    opened.context.close()


def test_report_makes_no_request_and_draws_every_node(browser: Any, tmp_path: Path) -> None:
    opened = Opened(browser, _report(tmp_path, "seed_mlp_l2.yaml"))
    page = opened.page
    for name in DOCUMENT_NODES:
        box = page.query_selector(f'#graph [data-node="{name}"]')
        assert box is not None and box.is_visible(), name
        assert box.bounding_box()["width"] > 10, name
    page.hover('#graph [data-node="W1"]')
    assert "∂J/∂W1" in page.inner_text("#tip")
    assert opened.others() == []
    assert opened.errors == []
    opened.context.close()


def test_arrow_right_walks_every_backward_edge_with_the_traces_numbers(
    browser: Any, tmp_path: Path
) -> None:
    # version 1: every edge's numbers inline, as the report shows them
    trace = trace_json(CONFIGS / "seed_mlp_l2.yaml", "--steps", "2", "--schema-version", "1")
    opened = Opened(browser, _report(tmp_path, "seed_mlp_l2.yaml", "--steps", "2"))
    page = opened.page
    assert opened.panel() == {"upstream": None, "local": None, "global": None}  # ∂J/∂J = 1
    assert "∂J/∂J = 1" in page.inner_text("#edge")
    for step in (1, 2):
        page.select_option("#step", str(step))
        records = trace["steps"][step - 1]["backward"]
        if step == 2:  # the position was kept: walk back to the start first
            for _ in records:
                page.keyboard.press("ArrowLeft")
        for record in records:
            page.keyboard.press("ArrowRight")
            want = {k: record[k] for k in ("upstream", "local", "global")}
            assert opened.panel() == want, (step, record["node"], record["input"])
            edge = page.query_selector(
                f'#graph .hl[data-from="{record["input"]}"][data-to="op:{record["node"]}"]'
            )
            assert edge is not None, record
        page.keyboard.press("ArrowRight")  # past the last edge: nothing moves
        assert opened.panel()["global"] == records[-1]["global"]
    assert opened.others() == []
    assert opened.errors == []
    opened.context.close()


def test_a_completed_sum_shows_the_whole_sum(browser: Any, tmp_path: Path) -> None:
    opened = Opened(browser, _report(tmp_path, "seed_mlp_l2.yaml"))
    for _ in range(10):  # edge 10, z = W1·x to W1, completes ∂J/∂W1 (its second term)
        opened.page.keyboard.press("ArrowRight")
    assert "∂J/∂W1 = ∂J/∂z · xᵀ + λW1" in opened.page.inner_text("#edge")
    opened.context.close()


def test_changing_the_step_changes_the_values(browser: Any, tmp_path: Path) -> None:
    trace = trace_json(CONFIGS / "seed_mlp_l2.yaml", "--steps", "3")
    opened = Opened(browser, _report(tmp_path, "seed_mlp_l2.yaml", "--steps", "3"))
    page = opened.page
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    first = opened.panel()
    page.select_option("#step", "3")
    third = opened.panel()
    assert third != first
    assert third["global"] == trace["steps"][2]["backward"][3]["global"]
    assert "Step 3" in page.inner_text("#heading")
    assert opened.errors == []
    opened.context.close()


def test_forward_mode_goes_node_by_node(browser: Any, tmp_path: Path) -> None:
    trace = trace_json(CONFIGS / "seed_mlp_l2.yaml")
    opened = Opened(browser, _report(tmp_path, "seed_mlp_l2.yaml"))
    page = opened.page
    page.click("#mode")
    for i, name in enumerate(["z", "h", "o", "L", "s", "J"]):
        if i:
            page.keyboard.press("ArrowRight")
        value = json.loads(page.get_attribute("#edge [data-value]", "data-value"))
        assert value == trace["steps"][0]["forward"][name], name
        assert page.query_selector(f'#graph .hl[data-node="{name}"]') is not None
    opened.context.close()


@pytest.mark.parametrize("picture", sorted(SCREENSHOTS))
def test_screenshots(browser: Any, tmp_path: Path, picture: str, update_golden: bool) -> None:
    """The README's pictures; rewritten in docs/ with --update-golden."""
    config, presses = SCREENSHOTS[picture]
    opened = Opened(browser, _report(tmp_path, config, "--steps", "5"), width=1100)
    for _ in range(presses):
        opened.page.keyboard.press("ArrowRight")
    target = (ROOT / "docs" / picture) if update_golden else tmp_path / picture
    opened.page.screenshot(path=str(target), full_page=False)
    assert target.stat().st_size > 10_000
    assert (ROOT / "docs" / picture).exists(), (
        f"docs/{picture} is missing: pytest tests/test_report_browser.py --update-golden"
    )
    opened.context.close()
