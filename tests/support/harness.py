"""The MCP server test rig: an in-process server on a throwaway sandbox, in both protocol eras.

`Harness(data_dir, mode, opened)` builds the server for one test; `async with harness.connect(...)
as s` opens an MCP `Client` in that era and gives the server's own `Deps`, so a test can drive the
very sandbox instance the tools use (faults, prices, KYC, balance) through its `/_sandbox` controls.
`record_opened_deps(monkeypatch)` is the list of every `Deps` the server's lifespan opens, which
`Harness` needs. tests/server/conftest.py wraps these in the `mode`, `opened_deps` and `harness`
fixtures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ElicitRequestFormParams, ElicitResult

from kros_mcp.cli.wiring import build_server
from kros_mcp.config import Settings
from kros_mcp.krosai import RetryPolicy
from kros_mcp.server import app as app_module
from kros_mcp.server.deps import Deps
from tests.support.compact_text import assert_text_carries
from tests.support.results import text_of

__all__ = [
    "INTERNAL_NAMES",
    "SANDBOX_KEY",
    "START_BALANCE",
    "Harness",
    "Session",
    "assert_clean_error",
    "elicitation",
    "record_opened_deps",
    "settings_for",
]

SANDBOX_KEY = "kros_test_sandbox"
START_BALANCE = 10_000

# Words that must never reach the model in an error: tracebacks and internal class names.
INTERNAL_NAMES = (
    "Traceback",
    'File "',
    "KrosAIError",
    "APIError",
    "KYCError",
    "ServerError",
    "NotFoundError",
    "InsufficientBalanceError",
    "NumberNotAvailableError",
    "EndpointNotFoundError",
    "TransportError",
    "PurchaseOutcomeUnknown",
    "PurchaseNotCompleted",
    "ConfirmationError",
    "ToolError",
    "RuntimeError",
    "KeyError",
    "AttributeError",
    "TypeError",
    "httpx",
    "kros_mcp.",
    "sqlite",
)


def record_opened_deps(monkeypatch: pytest.MonkeyPatch) -> list[Deps]:
    """Every Deps the server's lifespan opens from now on, in order (test-only wrapper, undone
    with `monkeypatch`)."""
    opened: list[Deps] = []
    real_open = app_module.open_deps

    @asynccontextmanager
    async def recording(settings: Settings, *upstream: Any) -> AsyncIterator[Deps]:
        async with real_open(settings, *upstream) as deps:
            opened.append(deps)
            yield deps

    monkeypatch.setattr(app_module, "open_deps", recording)
    return opened


def settings_for(data_dir: Path, **options: Any) -> Settings:
    values = {"KROS_MCP_DATA_DIR": data_dir, **options}
    return Settings(**values)


def elicitation(
    *answers: str, content: dict[str, Any] | None = None
) -> tuple[Callable[..., Any], list[str]]:
    """An elicitation callback answering `answers` in turn (last one repeats), and the messages it saw."""
    seen: list[str] = []

    async def callback(context: Any, params: Any) -> ElicitResult:
        assert isinstance(params, ElicitRequestFormParams)
        seen.append(params.message)
        action = answers[min(len(seen), len(answers)) - 1]
        if action == "accept":
            return ElicitResult(
                action="accept", content=content if content is not None else {"confirm": True}
            )
        return ElicitResult(action=action)  # type: ignore[arg-type]

    return callback, seen


def assert_clean_error(result: CallToolResult, *expected: str) -> str:
    """An isError result whose text says what happened, with no traceback or internal names."""
    text = text_of(result)
    assert result.is_error is True, f"expected a tool error, got: {text[:500]}"
    for name in INTERNAL_NAMES:
        assert name not in text, f"{name!r} leaked into the error: {text}"
    for piece in expected:
        assert piece.lower() in text.lower(), f"{piece!r} not in error: {text}"
    return text


@dataclass
class Session:
    """A connected MCP client plus the server's own dependencies."""

    client: Client
    deps: Deps
    sandbox_key: str

    # -- tools ------------------------------------------------------------------------------

    async def call(self, name: str, arguments: dict[str, Any] | None = None) -> CallToolResult:
        return await self.client.call_tool(name, arguments or {})

    async def ok(self, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        result = await self.call(name, arguments)
        assert result.is_error is False, text_of(result)
        assert result.structured_content is not None
        # The text block carries the same data, for clients that ignore structured content.
        assert_text_carries(name, text_of(result), result.structured_content)
        return result.structured_content

    async def error(
        self, name: str, arguments: dict[str, Any] | None = None, *expected: str
    ) -> str:
        return assert_clean_error(await self.call(name, arguments), *expected)

    async def offer(self, country: str = "NG", **filters: Any) -> dict[str, Any]:
        """The first offer search_available shows (and so remembers) for `country`."""
        found = await self.ok("search_available", {"country": country, "limit": 5, **filters})
        assert found["offers"], found
        return found["offers"][0]

    async def buy_with_token(self, inventory_id: str, **arguments: Any) -> dict[str, Any]:
        """The token path: first call asks for confirmation, the second (with the token) buys."""
        args = {"inventory_id": inventory_id, **arguments}
        first = await self.ok("purchase_number", args)
        assert first["status"] == "confirmation_required", first
        return await self.ok(
            "purchase_number", {**args, "confirmation_token": first["confirmation_token"]}
        )

    # -- the sandbox behind the server ------------------------------------------------------

    @asynccontextmanager
    async def _http(self) -> AsyncIterator[httpx2.AsyncClient]:
        transport = httpx2.ASGITransport(app=self.deps.sandbox_app)
        async with httpx2.AsyncClient(
            transport=transport,
            base_url="http://sandbox.test",
            headers={"x-api-key": self.sandbox_key},
        ) as http:
            yield http

    async def sandbox(
        self, method: str, path: str, json_body: Any = None, *, key: str | None = None
    ) -> Any:
        async with self._http() as http:
            headers = {"x-api-key": key} if key else None
            response = await http.request(method, path, json=json_body, headers=headers)
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response.json()

    async def org(self) -> dict[str, Any]:
        return await self.sandbox("GET", "/_sandbox/org")

    async def balance(self) -> int:
        return (await self.org())["balance_cents"]

    async def set_org(self, **changes: Any) -> dict[str, Any]:
        return await self.sandbox("PATCH", "/_sandbox/org", changes)

    async def set_price(self, inventory_id: str, **prices: int) -> dict[str, Any]:
        return await self.sandbox("PATCH", f"/_sandbox/inventory/{inventory_id}", prices)

    async def fault(
        self, kind: str, operation: str, *, times: int | None = 1, status: int = 503
    ) -> None:
        await self.sandbox(
            "POST",
            "/_sandbox/faults",
            {"kind": kind, "operation": operation, "status": status, "times": times},
        )

    def fast_retries(self) -> None:
        """Same retry rules as production (4 attempts), with millisecond backoff: faster tests."""
        self.deps.client.retry = RetryPolicy(initial_backoff=0.005, max_backoff=0.02, deadline=10.0)

    async def clear_faults(self) -> None:
        await self.sandbox("DELETE", "/_sandbox/faults")

    async def owned(self) -> list[dict[str, Any]]:
        """The organisation's numbers, straight from the sandbox (not through the tools)."""
        body = await self.sandbox("GET", "/v1/phone-numbers?limit=100")
        return body["phone_numbers"]

    async def sandbox_buy(self, country: str = "NG", **body: Any) -> dict[str, Any]:
        """Buy a number directly on the sandbox (setup for read tests; not through the tools)."""
        found = await self.sandbox("GET", f"/v1/phone-numbers/available?country={country}&limit=1")
        item = found["available_numbers"][0]
        return await self.sandbox(
            "POST", "/v1/phone-numbers", {"inventory_id": item["inventory_id"], **body}
        )


@dataclass
class Harness:
    """One server (one data directory) for a test; connect as many clients as needed."""

    data_dir: Path
    mode: str
    opened: list[Deps]
    options: dict[str, Any] = field(default_factory=dict)
    _server: MCPServer | None = None

    @property
    def settings(self) -> Settings:
        return settings_for(self.data_dir, **self.options)

    @property
    def server(self) -> MCPServer:
        if self._server is None:
            self._server = build_server(self.settings)
        return self._server

    def configure(self, **options: Any) -> Harness:
        """Change Settings (e.g. KROS_MCP_CONFIRMATION) before the server is built."""
        assert self._server is None, "configure() before the first connect()"
        self.options.update(options)
        return self

    @asynccontextmanager
    async def connect(self, **client_options: Any) -> AsyncIterator[Session]:
        async with Client(self.server, mode=self.mode, **client_options) as client:
            deps = self.opened[-1]
            assert deps.sandbox_app is not None
            yield Session(client, deps, self.settings.sandbox_api_key)
