"""Every HTTP session belongs to the principal that opened it.

The hijacks an attacker tried: tenant B posting a tool call, or the answer to A's "Buy …?"
question, on A's session id (streamable HTTP and SSE, static tokens and tenant keys), and B
replaying A's sealed request state with an "accept" (stateless, 2026-07-28). Each is refused, and
nothing is bought."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ElicitRequestFormParams, ElicitResult

from tests.support.http_servers import (
    LEGACY_HEADERS,
    LEGACY_VERSION,
    bearer,
    initialize_body,
    make_orgs,
    rpc_messages,
)

from .hosted_rig import Hosted, hosted

pytestmark = pytest.mark.anyio

TOKEN_A = "tok-a-" + "a" * 32
TOKEN_B = "tok-b-" + "b" * 32


def _call(request_id: int, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    params = {"name": name, "arguments": arguments}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


async def _open(http: httpx2.AsyncClient, url: str, auth: dict[str, str]) -> dict[str, str]:
    """A 2025-11-25 session whose client can be asked (elicitation)."""
    body = initialize_body()
    body["params"]["capabilities"] = {"elicitation": {"form": {}}}
    response = await http.post(url, json=body, headers={**LEGACY_HEADERS, **auth})
    assert response.status_code == 200, response.text
    session = {
        **LEGACY_HEADERS,
        **auth,
        "MCP-Protocol-Version": LEGACY_VERSION,
        "mcp-session-id": response.headers["mcp-session-id"],
    }
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert (await http.post(url, json=note, headers=session)).status_code == 202
    return session


async def _offer(http: httpx2.AsyncClient, url: str, session: dict[str, str]) -> str:
    call = _call(2, "search_available", {"country": "NG", "limit": 1})
    found = rpc_messages(await http.post(url, json=call, headers=session))[-1]
    return str(found["result"]["structuredContent"]["offers"][0]["inventory_id"])


async def _owned(server: Hosted, tenant: str) -> int:
    audit = await server.deps.store.audit_page(tenant, limit=50)
    return len([e for e in audit if e.tool == "purchase_number" and e.status == "succeeded"])


@pytest.fixture
def stateful_tokens(tmp_path: Path) -> Any:
    with hosted(
        tmp_path,
        "stateful",
        KROS_MCP_AUTH_TOKENS=f"{TOKEN_A},{TOKEN_B}",
        KROS_MCP_CONFIRMATION="human",
    ) as server:
        yield server


async def test_answer_to_anothers_question_is_refused(stateful_tokens: Hosted) -> None:
    """A is asked "Buy …?"; B posts "accept" to A's session with A's request id: 404, not bought;
    A then declines, and nothing is bought."""
    server = stateful_tokens
    async with httpx2.AsyncClient(timeout=30.0) as http:
        session = await _open(http, server.url, bearer(TOKEN_A))
        inventory_id = await _offer(http, server.url, session)
        call = _call(3, "purchase_number", {"inventory_id": inventory_id})
        with anyio.fail_after(30):
            async with http.stream("POST", server.url, json=call, headers=session) as stream:
                lines = stream.aiter_lines()
                question = await _next_request(lines, "elicitation/create")
                answer = {
                    "jsonrpc": "2.0",
                    "id": question["id"],
                    "result": {"action": "accept", "content": {"confirm": True}},
                }
                hijack = await http.post(
                    server.url, json=answer, headers={**session, **bearer(TOKEN_B)}
                )
                assert hijack.status_code == 404, hijack.text
                decline = {**answer, "result": {"action": "decline"}}
                mine = await http.post(server.url, json=decline, headers=session)
                assert mine.status_code == 202, mine.text
                result = await _next_response(lines, 3)
    assert "purchased" not in json.dumps(result.get("result", {}).get("structuredContent", {}))
    assert await _owned(server, server.deps.tenant) == 0


async def _next_request(lines: AsyncIterator[str], method: str) -> dict[str, Any]:
    async for line in lines:
        if line.startswith("data:") and line[5:].strip():
            message = json.loads(line[5:])
            if message.get("method") == method:
                return dict(message)
    raise AssertionError(f"no {method} arrived")


async def _next_response(lines: AsyncIterator[str], request_id: int) -> dict[str, Any]:
    async for line in lines:
        if line.startswith("data:") and line[5:].strip():
            message = json.loads(line[5:])
            if message.get("id") == request_id and "method" not in message:
                return dict(message)
    raise AssertionError("no response arrived")


async def test_tool_call_on_anothers_session_is_refused(stateful_tokens: Hosted) -> None:
    server = stateful_tokens
    async with httpx2.AsyncClient(timeout=30.0) as http:
        session = await _open(http, server.url, bearer(TOKEN_A))
        inventory_id = await _offer(http, server.url, session)
        anonymous = {k: v for k, v in session.items() if k != "Authorization"}
        for headers in ({**session, **bearer(TOKEN_B)}, anonymous):
            call = _call(4, "purchase_number", {"inventory_id": inventory_id})
            hijack = await http.post(server.url, json=call, headers=headers)
            assert hijack.status_code in (401, 404), hijack.text
            assert "result" not in hijack.text
        still_mine = await http.post(server.url, json=_call(5, "list_numbers", {}), headers=session)
        assert still_mine.status_code == 200
    assert await _owned(server, server.deps.tenant) == 0


@asynccontextmanager
async def _sse_session(http: httpx2.AsyncClient, server: Hosted, auth: dict[str, str]) -> Any:
    """An SSE connection: (the messages URL, the stream's lines)."""
    async with http.stream(
        "GET", server.url, headers={"Accept": "text/event-stream", **auth}
    ) as stream:
        assert stream.status_code == 200
        lines = stream.aiter_lines()
        async for line in lines:
            if line.startswith("data:") and "session_id=" in line:
                yield server.root + line[5:].strip(), lines
                return
        raise AssertionError("no endpoint event")


@pytest.mark.parametrize("auth", ["token", "tenant"])
async def test_sse_session_refuses_other_principals(tmp_path: Path, auth: str) -> None:
    if auth == "tenant":
        key_a, key_b = await anyio.to_thread.run_sync(make_orgs, tmp_path / "sandbox.sqlite3", 2)
        settings: dict[str, Any] = {"KROS_MCP_MULTI_TENANT": True}
    else:
        key_a, key_b = TOKEN_A, TOKEN_B
        settings = {"KROS_MCP_AUTH_TOKENS": f"{TOKEN_A},{TOKEN_B}"}
    with hosted(tmp_path, "sse", **settings) as server:
        async with (
            httpx2.AsyncClient(timeout=30.0) as http,
            _sse_session(http, server, bearer(key_a)) as (messages, lines),
        ):
            body = initialize_body()
            posted = await http.post(messages, json=body, headers=bearer(key_a))
            assert posted.status_code == 202
            await _next_response(lines, 1)
            note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            await http.post(messages, json=note, headers=bearer(key_a))
            call = _call(2, "search_available", {"country": "KE", "limit": 1})
            await http.post(messages, json=call, headers=bearer(key_a))
            offer = (await _next_response(lines, 2))["result"]["structuredContent"]
            buy = _call(
                3,
                "purchase_number",
                {"inventory_id": offer["offers"][0]["inventory_id"], "dry_run": False},
            )
            for stranger in (bearer(key_b), {}, {"x-api-key": key_b}):
                hijack = await http.post(messages, json=buy, headers=stranger)
                assert hijack.status_code in (401, 404), hijack.text
            mine = await http.post(
                messages, json=_call(4, "list_numbers", {}), headers=bearer(key_a)
            )
            assert mine.status_code == 202
            listed = (await _next_response(lines, 4))["result"]["structuredContent"]
        assert listed["numbers"] == []


class SwapAuthOnRetry(httpx2.AsyncBaseTransport):
    """Sends the second round of a tool call (the one carrying request state) with B's token."""

    def __init__(self, token: str) -> None:
        self._inner = httpx2.AsyncHTTPTransport()
        self._token = token
        self.swapped = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = request.content if isinstance(request.stream, httpx2.ByteStream) else b""
        if b"requestState" in body:
            self.swapped += 1
            request.headers["Authorization"] = f"Bearer {self._token}"
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_stateless_request_state_is_bound_to_the_principal(tmp_path: Path) -> None:
    """2026-07-28 on stateless HTTP: A's sealed question, answered "accept" under B's token, is
    refused; nothing is bought."""

    async def accept(context: Any, params: Any) -> ElicitResult:
        assert isinstance(params, ElicitRequestFormParams)
        return ElicitResult(action="accept", content={"confirm": True})

    with hosted(
        tmp_path,
        "stateless",
        KROS_MCP_AUTH_TOKENS=f"{TOKEN_A},{TOKEN_B}",
        KROS_MCP_CONFIRMATION="human",
    ) as server:
        swap = SwapAuthOnRetry(TOKEN_B)
        async with (
            httpx2.AsyncClient(
                transport=swap, headers=bearer(TOKEN_A), timeout=httpx2.Timeout(30.0)
            ) as http,
            Client(
                streamable_http_client(server.url, http_client=http),
                mode="auto",
                elicitation_callback=accept,
            ) as client,
        ):
            found = await client.call_tool("search_available", {"country": "NG", "limit": 1})
            inventory_id = found.structured_content["offers"][0]["inventory_id"]  # type: ignore[index]
            try:
                result = await client.call_tool("purchase_number", {"inventory_id": inventory_id})
                refused = result.is_error or "purchased" not in json.dumps(
                    result.structured_content
                )
            except Exception:  # noqa: BLE001 - a protocol error is a refusal too
                refused = True
        assert swap.swapped >= 1 and refused
        assert await _owned(server, server.deps.tenant) == 0
