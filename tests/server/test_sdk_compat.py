"""kros_mcp/server/_sdk_compat.py against the installed SDK: every function does what kros-mcp
relies on. A failure here after an SDK upgrade means the SDK changed a shape the compat module
depends on: fix the function (or use the public hook the SDK now offers), then add the new minor
version to SEEN_MINORS and widen the `mcp` pin in pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, ServerSession
from mcp.server import MCPServer, NotificationOptions, ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.shared.memory import create_client_server_memory_streams
from mcp.types import (
    EmptyResult,
    SetLevelRequestParams,
    SubscribeRequestParams,
    UnsubscribeRequestParams,
)
from pydantic import BaseModel

from kros_mcp.server._sdk_compat import (
    ReadResourceContents,
    connection_of,
    publish_output_schema,
    run_with_notifications,
    serve_logging_level,
    serve_resource_subscriptions,
    serve_with_state,
    server_lifespan,
)

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
# The SDK minor versions this test has passed against; pyproject.toml pins `mcp` to exactly these.
SEEN_MINORS = ("2.3",)


def test_the_pin_covers_exactly_the_minor_versions_seen() -> None:
    installed = ".".join(version("mcp").split(".")[:2])
    assert installed in SEEN_MINORS, (
        f"mcp {version('mcp')} is installed, but this test has only seen {SEEN_MINORS}: run it, "
        "fix kros_mcp/server/_sdk_compat.py if it fails, then add the version here"
    )
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (pin,) = [d for d in dependencies if re.match(r"mcp\b", d)]
    low, high = min(SEEN_MINORS), max(SEEN_MINORS)
    major, minor = (int(part) for part in high.split("."))
    assert pin == f"mcp>={low},<{major}.{minor + 1}", pin


class Answer(BaseModel):
    value: int


async def answer(value: int) -> Answer:
    """Echo a number."""
    return Answer(value=value)


async def test_publish_output_schema_is_what_tools_list_shows() -> None:
    tool = Tool.from_function(answer, structured_output=False)
    assert tool.output_schema is None
    schema = {"type": "object", "properties": {"value": {"type": "integer"}}}
    publish_output_schema(tool, schema)
    server = MCPServer("compat", tools=[tool])
    async with Client(server) as client:
        (listed,) = (await client.list_tools()).tools
    assert listed.output_schema == schema


async def test_publish_output_schema_replaces_a_schema_already_read() -> None:
    tool = Tool.from_function(answer)
    assert tool.output_schema is not None and "title" in tool.output_schema  # read and cached
    publish_output_schema(tool, {"type": "object"})
    assert (await MCPServer("compat", tools=[tool]).list_tools())[0].output_schema == {
        "type": "object"
    }


@pytest.mark.filterwarnings("ignore:resources/.*subscribe is removed")
async def test_serve_resource_subscriptions_receives_both_requests() -> None:
    seen: list[tuple[str, str]] = []

    async def subscribe(
        ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams
    ) -> EmptyResult:
        seen.append(("subscribe", params.uri))
        return EmptyResult()

    async def unsubscribe(
        ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        seen.append(("unsubscribe", params.uri))
        return EmptyResult()

    server = MCPServer("compat")

    @server.resource("kros://thing")
    def thing() -> str:
        return "thing"

    serve_resource_subscriptions(server, subscribe, unsubscribe)
    async with Client(server, mode="legacy") as client:
        resources = client.server_capabilities.resources
        assert resources is not None and resources.subscribe
        await client.subscribe_resource("kros://thing")
        await client.unsubscribe_resource("kros://thing")
    assert seen == [("subscribe", "kros://thing"), ("unsubscribe", "kros://thing")]


@asynccontextmanager
async def _served_with_list_changed(server: MCPServer[Any]) -> AsyncIterator[Any]:
    async with (
        create_client_server_memory_streams() as (client_streams, server_streams),
        anyio.create_task_group() as tasks,
    ):
        tasks.start_soon(
            run_with_notifications,
            server,
            *server_streams,
            NotificationOptions(resources_changed=True),
        )
        yield client_streams
        tasks.cancel_scope.cancel()


async def test_run_with_notifications_advertises_them_to_2025_clients() -> None:
    server = MCPServer("compat")

    @server.resource("kros://thing")
    def thing() -> str:
        return "thing"

    async with Client(_served_with_list_changed(server), mode="legacy") as client:
        resources = client.server_capabilities.resources
        assert resources is not None and resources.list_changed is True
        assert (await client.read_resource("kros://thing")).contents[0].text == "thing"


async def test_connection_of_is_one_object_per_client_across_requests() -> None:
    sessions: list[ServerSession] = []

    async def remember(ctx: Context) -> str:
        """Record the request's session."""
        sessions.append(ctx.request_context.session)
        return "ok"

    server = MCPServer("compat", tools=[Tool.from_function(remember)])
    async with Client(server, mode="legacy") as first, Client(server, mode="legacy") as second:
        await first.call_tool("remember", {})
        await first.call_tool("remember", {})
        await second.call_tool("remember", {})
    a, b, c = sessions
    assert a is not b  # the SDK makes a session per request...
    assert connection_of(a) is connection_of(b)  # ...over one connection per client
    assert connection_of(c) is not connection_of(a)


async def test_read_resource_contents_is_what_read_resource_returns() -> None:
    server = MCPServer("compat")

    @server.resource("kros://thing")
    def thing() -> str:
        return "thing"

    contents = list(await server.read_resource("kros://thing"))  # type: ignore[arg-type]
    assert [type(c) for c in contents] == [ReadResourceContents]


async def test_server_lifespan_is_entered_once_for_every_connection_served_with_it() -> None:
    entered: list[int] = []

    @asynccontextmanager
    async def lifespan(server: MCPServer[Any]) -> AsyncIterator[dict[str, int]]:
        entered.append(1)
        yield {"n": 7}

    server: MCPServer[Any] = MCPServer("compat", lifespan=lifespan)

    @server.tool()
    def peek(ctx: Context) -> str:
        """The lifespan state's number."""
        return str(ctx.request_context.lifespan_context["n"])

    async with server_lifespan(server) as state:
        assert state == {"n": 7}

        @asynccontextmanager
        async def connection() -> AsyncIterator[Any]:
            async with (
                create_client_server_memory_streams() as (client_streams, server_streams),
                anyio.create_task_group() as tasks,
            ):
                notifications = NotificationOptions(resources_changed=True)
                tasks.start_soon(serve_with_state, server, *server_streams, state, notifications)
                yield client_streams
                tasks.cancel_scope.cancel()

        for mode in ("legacy", "auto"):
            async with Client(connection(), mode=mode) as client:
                result = await client.call_tool("peek", {})
                assert result.content[0].text == "7"  # type: ignore[union-attr]
    assert entered == [1]


@pytest.mark.filterwarnings("ignore:The logging capability is deprecated")
async def test_serve_logging_level_receives_set_level_and_advertises_logging() -> None:
    levels: list[str] = []

    async def set_level(
        ctx: ServerRequestContext[Any, Any], params: SetLevelRequestParams
    ) -> EmptyResult:
        levels.append(params.level)
        return EmptyResult()

    server = MCPServer("compat")
    serve_logging_level(server, set_level)
    async with Client(server, mode="legacy") as client:
        assert client.server_capabilities.logging is not None
        await client.set_logging_level("warning")
    assert levels == ["warning"]
