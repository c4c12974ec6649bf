"""The reliability campaign: bounded in CI, big with KROS_MCP_RELIABILITY=big. Figures are printed
at the end of the run (pytest's terminal summary) and written to tests/reliability/results/. The
campaign's size is in sizes.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .sizes import BIG

RESULTS = Path(__file__).parent / "results"
_FIGURES: dict[str, dict[str, Any]] = {}


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """A dict the test fills with the figures it measured; printed and saved after the run."""
    found: dict[str, Any] = {}
    yield found
    if found:
        _FIGURES[request.node.nodeid.split("::", 1)[-1]] = found


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _FIGURES:
        return
    terminalreporter.section(f"reliability figures ({'big' if BIG else 'ci'} mode)")
    for name, found in _FIGURES.items():
        terminalreporter.write_line(f"{name}:")
        for key, value in found.items():
            terminalreporter.write_line(f"    {key}: {value}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"figures-{'big' if BIG else 'ci'}.json").write_text(
        json.dumps(_FIGURES, indent=2, default=str) + "\n"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """In big mode a test may run for many minutes: lift the suite's per-test timeout (120 s)."""
    if not BIG:
        return
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(3600))
