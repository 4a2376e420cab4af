"""`backprop report` without a browser: the file it writes (deterministic, self-contained, small,
never over an existing file) and the numbers in it against the engine's records."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import pytest

from backprop_cli.config import load_config
from backprop_cli.engine import Tracer
from backprop_cli.render import report

from .conftest import CONFIGS
from .helpers import invoke

SEED = CONFIGS / "seed_mlp_l2.yaml"
DOCUMENT_NODES = ["x", "W1", "z", "h", "W2", "o", "y", "L", "s", "J"]


def _write(tmp_path: Path, *extra: str, name: str = "t.html", config: Path = SEED) -> Path:
    out = tmp_path / name
    result = invoke("report", str(config), "-o", str(out), *extra)
    assert result.exit_code == 0, result.output
    return out


def _data(text: str) -> dict:
    raw = text.split('<script type="application/json" id="trace-data">', 1)[1]
    return json.loads(raw.split("</script>", 1)[0])


def test_same_config_same_bytes_and_no_path_in_them(tmp_path: Path) -> None:
    a = _write(tmp_path, name="a.html").read_bytes()
    b = _write(tmp_path, name="b.html").read_bytes()
    assert a == b
    text = a.decode("utf-8")
    assert str(CONFIGS) not in text and str(tmp_path) not in text
    assert "seed_mlp_l2.yaml" in text


def test_self_contained_and_small(tmp_path: Path) -> None:
    text = _write(tmp_path).read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) <= 3_000_000
    assert not re.search(r"https?:|//[a-z0-9.-]+\.[a-z]{2,}/", text, re.I), "a URL in the page"
    assert not re.search(r"\b(?:src|href)\s*=", text, re.I), "a reference to another file"
    assert "@import" not in text and "url(" not in text.replace("url(#", "")
    assert text.count("<script") == 2 and text.count("<style") == 1


def test_every_document_node_is_in_the_graph(tmp_path: Path) -> None:
    text = _write(tmp_path).read_text(encoding="utf-8")
    for name in DOCUMENT_NODES:
        assert f'data-node="{name}"' in text, name


def test_fallback_layout_without_graphviz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = shutil.which
    monkeypatch.setattr(shutil, "which", lambda cmd, *a, **k: None if cmd == "dot" else real(cmd))
    text = _write(tmp_path).read_text(encoding="utf-8")
    assert 'class="fallback"' in text and "fallback" in text.split("<figcaption>")[1]
    for name in DOCUMENT_NODES:
        assert f'data-node="{name}"' in text, name
    # each op: an arrow from each input (2 + 1 + 2 + 2 + 2 + 2) and one to its output (6)
    assert text.count('class="edge"') == 11 + 6


def test_never_overwrites_without_force(tmp_path: Path) -> None:
    out = tmp_path / "t.html"
    out.write_text("keep", encoding="utf-8")
    result = invoke("report", str(SEED), "-o", str(out))
    assert result.exit_code == 2
    assert "already exists" in result.stderr
    assert out.read_text(encoding="utf-8") == "keep"
    assert invoke("report", str(SEED), "-o", str(out), "--force").exit_code == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_only_over_regular_files(tmp_path: Path) -> None:
    result = invoke("report", str(SEED), "-o", str(tmp_path), "--force")
    assert result.exit_code == 2
    assert "is a directory" in result.stderr


def test_panel_numbers_are_the_engines_exactly(tmp_path: Path) -> None:
    """Every edge panel holds its upstream, local and global gradient at full precision."""
    data = _data(_write(tmp_path, "--steps", "2").read_text(encoding="utf-8"))
    steps = list(Tracer(load_config(str(SEED))).run(steps=2))
    assert [s["step"] for s in data["steps"]] == [1, 2]
    for record, step in zip(data["steps"], steps, strict=True):
        assert len(record["back"]) == len(step.edges) + 1  # ∂J/∂J = 1 first
        for panel, edge in zip(record["back"][1:], step.edges, strict=True):
            for hook, value in (
                ("upstream", edge.upstream),
                ("local", edge.local),
                ("global", edge.global_),
            ):
                found = re.search(rf'data-{hook}="([^"]*)"', panel)
                assert found is not None, (edge.info, hook)
                assert json.loads(html.unescape(found.group(1))) == report.exact(value)


def test_chinese_page(tmp_path: Path) -> None:
    text = _write(tmp_path, "--lang", "zh").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in text
    assert "逐步理解反向传播" in text and "反向传播" in text


def test_many_steps_keep_the_page_small(tmp_path: Path) -> None:
    out = _write(tmp_path, "--steps", "1000")
    text = out.read_text(encoding="utf-8")
    data = _data(text)
    assert len(data["steps"]) <= report.MAX_DETAILED_STEPS
    assert data["steps"][0]["step"] == 1 and data["steps"][-1]["step"] == 1000
    assert "<polyline" in text  # the plot of every step
    assert len(text.encode("utf-8")) <= 3_000_000


@pytest.mark.parametrize("config", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_every_shipped_config_makes_a_page(tmp_path: Path, config: str) -> None:
    text = _write(tmp_path, "--steps", "3", config=CONFIGS / config).read_text(encoding="utf-8")
    data = _data(text)
    assert len(data["steps"]) == 3 and data["edges"]


def test_a_bad_option_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("report", str(SEED), "-o", str(tmp_path / "t.html"), "--lang", "xx")
    assert result.exit_code == 2
    assert not (tmp_path / "t.html").exists()
