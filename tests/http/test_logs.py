"""Structured logs over HTTP: KROS_MCP_LOG_FORMAT=json gives one JSON line per tool call with
request_id, tenant (a hash, never the key), tool, latency_ms and outcome; names the caller
controls cannot forge or flood log lines."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import anyio
import httpx2
import pytest

from kros_mcp.store import tenant_key
from tests.support.http_servers import (
    Server,
    ServerSpec,
    connect,
    legacy_session,
    rpc_messages,
    start_servers,
)

pytestmark = pytest.mark.anyio

SANDBOX_KEY = "kros_test_sandbox"  # the in-process sandbox's organisation (single tenant)
VARIANTS = ("stateful", "stateless-json", "sse")
# Lines kros-mcp writes at start-up or per SSE connection as they are, outside the log format.
BANNERS = ("kros-mcp serving ", "*** kros-mcp is using the SANDBOX", "*** Set KROSAI_API_KEY")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    tmp = tmp_path_factory.mktemp("logs")
    specs = [ServerSpec(f"json-{v}", v, env={"KROS_MCP_LOG_FORMAT": "json"}) for v in VARIANTS]
    specs.append(ServerSpec("text", "stateful"))
    with start_servers(tmp, specs) as running:
        yield {server.spec.name: server for server in running}


def json_lines(text: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The JSON log objects in `text`, and every other line."""
    objects, others = [], []
    for line in text.splitlines():
        try:
            objects.append(json.loads(line))
        except ValueError:
            others.append(line)
    return objects, others


@pytest.mark.parametrize("variant", VARIANTS)
async def test_one_json_line_per_tool_call(
    servers: dict[str, Server], variant: str, mode: str
) -> None:
    server = servers[f"json-{variant}"]
    already = len(server.log())
    calls = [
        ("list_numbers", {}, "ok"),
        ("search_available", {"country": "NG", "limit": 2}, "ok"),
        ("get_number", {"number_id": "pn_0000000000000000"}, "error"),
        ("purchase_number", {"inventory_id": "inv_never_shown"}, "error"),
        ("search_available", {"country": "not a country"}, "error"),
        ("no_such_tool", {}, "error"),
    ]
    with anyio.fail_after(30):
        async with connect(server, mode) as client:
            for name, arguments, _ in calls:
                await client.call_tool(name, arguments)

    def call_lines() -> list[dict[str, Any]]:
        objects = json_lines(server.log()[already:])[0]
        return [o for o in objects if o.get("logger") == "kros_mcp.calls"]

    with anyio.fail_after(5):  # call lines are written in batches, a moment after the answers
        while len(call_lines()) < len(calls):
            await anyio.sleep(0.02)

    objects, others = json_lines(server.log()[already:])
    assert all(line.startswith(BANNERS) for line in others), others
    logged = [o for o in objects if o.get("logger") == "kros_mcp.calls"]
    assert [(o["tool"], o["outcome"]) for o in logged] == [
        (name if name != "no_such_tool" else "(unknown)", outcome) for name, _, outcome in calls
    ]
    for entry in logged:
        assert entry["level"] == "info" and re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"]
        )
        assert isinstance(entry["request_id"], str) and entry["request_id"]
        assert entry["tenant"] == tenant_key(SANDBOX_KEY) and re.fullmatch(
            r"t_[0-9a-f]{24}", entry["tenant"]
        )
        assert isinstance(entry["latency_ms"], (int, float)) and 0 <= entry["latency_ms"] < 10_000
        assert entry["message"] == f"tool {entry['tool']} {entry['outcome']}"
    # Each call its own request id (within one client they differ).
    assert len({o["request_id"] for o in logged}) == len(logged)
    assert SANDBOX_KEY not in server.log()


async def test_caller_controlled_names_are_not_logged(servers: dict[str, Server]) -> None:
    forged = "x\nINFO kros_mcp.calls: tool purchase_number ok"
    requests = [
        {
            "jsonrpc": "2.0",
            "id": 1001,
            "method": "tools/call",
            "params": {"name": forged, "arguments": {}},
        },
        {
            "jsonrpc": "2.0",
            "id": 1002,
            "method": "tools/call",
            "params": {"name": "n" * 5000, "arguments": {}},
        },
        {
            "jsonrpc": "2.0",
            "id": "r" * 5000,
            "method": "tools/call",
            "params": {"name": "list_numbers", "arguments": {}},
        },
    ]
    for name in ("text", "json-stateful"):
        server = servers[name]
        already = len(server.log())
        async with httpx2.AsyncClient(timeout=10.0) as http:
            session = await legacy_session(http, server.url)
            for body in requests:
                (answer,) = rpc_messages(await http.post(server.url, json=body, headers=session))
                assert "result" in answer, answer
        with anyio.fail_after(5):
            while server.log()[already:].count("kros_mcp.calls") < len(requests):
                await anyio.sleep(0.02)
        log = server.log()[already:]
        assert "tool purchase_number ok" not in log, log
        assert "n" * 100 not in log and "r" * 100 not in log
        assert max(len(line) for line in log.splitlines()) < 400
        if name == "text":
            assert log.count("INFO kros_mcp.calls: tool (unknown) error") == 2, log
        else:
            entries = [o for o in json_lines(log)[0] if o.get("logger") == "kros_mcp.calls"]
            assert [(e["tool"], len(e["request_id"])) for e in entries] == [
                ("(unknown)", 4),
                ("(unknown)", 4),
                ("list_numbers", 64),
            ]
