"""Fixtures for the operator-policy tests: the server harness of tests/server, plus helpers.

The harness (both protocol eras through `mode`, the server's own Deps, the sandbox controls) is
reused as is; this file only adds what policy tests need on top: a clean policy environment, a
store clock the tests can move, resource readers, and running `python -m kros_mcp` as a process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kros_mcp.server import deps as deps_module
from kros_mcp.store import open_store as real_open_store
from tests.server.conftest import (  # noqa: F401  (fixtures are found by name)
    Harness,
    Session,
    _clean_env,
    harness,
    mode,
    opened_deps,
)
from tests.support.clocks import OffsetClock

REPO_ROOT = Path(__file__).resolve().parents[2]
READ_TOOLS = ["get_number", "list_endpoints", "list_numbers", "search_available"]
WRITE_TOOLS = ["purchase_number", "release_number", "update_routing"]
POLICY_ENV = (
    "KROS_MCP_READ_ONLY",
    "KROS_MCP_TOOLS",
    "KROS_MCP_EXCLUDE_TOOLS",
    "KROS_MCP_ALLOWED_COUNTRIES",
    "KROS_MCP_MAX_MONTHLY_COST_CENTS",
    "KROS_MCP_DAILY_BUDGET_CENTS",
    "KROS_MCP_PROTECTED_NUMBERS",
    "KROS_MCP_STATE_URL",
)


@pytest.fixture(autouse=True)
def _clean_policy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/server's clean-up leaves the policy variables alone; an operator's shell must not leak in."""
    for name in POLICY_ENV:
        monkeypatch.delenv(name, raising=False)


# The state store's clock: real time plus an offset the test moves forward.
FakeClock = OffsetClock


@pytest.fixture
def store_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Make every state store the server opens use a clock this test controls (the ledger window,
    offer expiry). The store takes its clock as an argument, so nothing global is patched."""
    clock = FakeClock()

    async def open_with_clock(url_or_path: Any, **kwargs: Any) -> Any:
        return await real_open_store(url_or_path, clock=clock)

    monkeypatch.setattr(deps_module, "open_store", open_with_clock)
    return clock


def other_harness(first: Harness, **options: Any) -> Harness:
    """A second server on the same data directory (same sandbox, same state store), other settings."""
    return Harness(first.data_dir, first.mode, first.opened, dict(options))


async def read_json(s: Session, uri: str) -> Any:
    result = await s.client.read_resource(uri, cache_mode="bypass")
    return json.loads(result.contents[0].text)


async def policy_of(s: Session) -> dict[str, Any]:
    return await read_json(s, "kros://policy")


async def audit_of(s: Session, uri: str = "kros://audit") -> dict[str, Any]:
    return await read_json(s, uri)


async def tool_names(s: Session) -> list[str]:
    return sorted(t.name for t in (await s.client.list_tools(cache_mode="bypass")).tools)


def policy_lines(lines: list[str]) -> dict[str, str]:
    """{rule: 'ok'|'REFUSED'} from the 'Policy <RULE>: ok|REFUSED, ...' lines of a dry run."""
    found = {}
    for line in lines:
        if line.startswith("Policy "):
            rule, rest = line[len("Policy ") :].split(": ", 1)
            found[rule] = rest.split(",", 1)[0]
    return found


def line_for(lines: list[str], rule: str) -> str:
    matches = [line for line in lines if line.startswith(f"Policy {rule}:")]
    assert len(matches) == 1, lines
    return matches[0]


def run_cli(
    data_dir: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """`python -m kros_mcp ARGS` with a clean environment (no operator settings), stdin closed."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KROS_MCP_", "KROSAI_"))}
    clean.update({"KROS_MCP_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO_ROOT), **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "kros_mcp", *args],
        env=clean,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=str(data_dir.parent),
    )


def subprocess_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment for a stdio server subprocess: only what it needs (no operator settings)."""
    env = {"KROS_MCP_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO_ROOT)}
    if "PATH" in os.environ:
        env["PATH"] = os.environ["PATH"]
    env.update(extra)
    return env


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "cli-data"
    path.mkdir()
    yield path
