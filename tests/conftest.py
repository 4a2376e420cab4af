from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
GOLDEN = Path(__file__).resolve().parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="Rewrite tests/golden/ from the current output instead of comparing with it.",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see output as a script would: no colour forced, no terminal width leaking in."""
    for var in ("FORCE_COLOR", "COLUMNS", "LINES", "TTY_COMPATIBLE", "BACKPROP_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    os.environ.setdefault("NO_COLOR", "1")
