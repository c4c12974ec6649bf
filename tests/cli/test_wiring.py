"""cli/wiring.py: the one place that chooses the sandbox or the real KrosAI API."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from kros_mcp.cli.wiring import (
    SANDBOX_BASE_URL,
    announcement,
    build_server,
    open_upstream,
    organisation_key,
)
from kros_mcp.config import Settings
from kros_mcp.server import TOOL_NAMES

from .runner import Run

pytestmark = pytest.mark.anyio

LIVE_KEY = "kros_live_0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def _no_key_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KROSAI_API_KEY", "KROSAI_BASE_URL", "KROS_MCP_SANDBOX_KEY", "KROS_MCP_SECRET"):
        monkeypatch.delenv(name, raising=False)


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(KROS_MCP_DATA_DIR=tmp_path, **values)  # type: ignore[arg-type]


async def test_without_a_key_the_server_runs_on_the_sandbox(tmp_path: Path) -> None:
    upstream = open_upstream(_settings(tmp_path))
    assert upstream.kind == "sandbox" and upstream.sandbox is not None
    assert upstream.api_key.get_secret_value() == "kros_test_sandbox"
    client = upstream.connect(upstream.api_key)
    try:
        assert client.base_url == SANDBOX_BASE_URL
        page = await client.list_numbers()  # answered by the sandbox in this process
        assert page.items == []
    finally:
        await client.aclose()
        upstream.close()


def test_with_a_key_the_server_uses_the_krosai_api(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, KROSAI_API_KEY=LIVE_KEY, KROSAI_BASE_URL="https://api.example/v1"
    )
    upstream = open_upstream(settings)
    assert (upstream.kind, upstream.sandbox) == ("krosai", None)
    assert upstream.api_key.get_secret_value() == LIVE_KEY
    assert upstream.connect(upstream.api_key).base_url == "https://api.example/v1"
    assert LIVE_KEY not in repr(upstream)
    assert organisation_key(settings).get_secret_value() == LIVE_KEY


@pytest.mark.parametrize(
    ("values", "said"),
    [
        ({}, "is using the SANDBOX"),
        ({"KROSAI_API_KEY": LIVE_KEY}, "is using the KrosAI API at"),
        ({"KROS_MCP_MULTI_TENANT": True}, "(multi-tenant) is using the SANDBOX"),
        (
            {"KROS_MCP_MULTI_TENANT": True, "KROSAI_API_KEY": LIVE_KEY},
            "(multi-tenant) is using the KrosAI API",
        ),
    ],
)
def test_the_announcement_says_which(tmp_path: Path, values: dict[str, object], said: str) -> None:
    text = announcement(_settings(tmp_path, **values))
    assert said in text and LIVE_KEY not in text


async def test_the_wired_server_serves_the_sandbox(tmp_path: Path) -> None:
    server = build_server(_settings(tmp_path))
    async with Client(server) as client:
        assert sorted(t.name for t in (await client.list_tools()).tools) == sorted(TOOL_NAMES)
        deps = server.current_deps_or_none()
        assert deps is not None and deps.backend == "sandbox" and deps.sandbox_app is not None
    assert server.current_deps_or_none() is None


def test_serve_says_what_is_wrong_with_the_configuration_and_exits(kros: Run) -> None:
    done = kros("serve", env={"KROS_MCP_SECRET": "too-short"})
    assert done.returncode == 1
    assert "at least 32 bytes" in done.stderr and "Traceback" not in done.stderr
