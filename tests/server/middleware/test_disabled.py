from __future__ import annotations

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from kros_mcp.safety import Policy
from kros_mcp.server.middleware import DisabledTools
from kros_mcp.server.tools import TOOL_NAMES

from .calls import Handler, call_for

pytestmark = pytest.mark.anyio


def _read_only() -> DisabledTools:
    policy = Policy.build(read_only=True, known_tools=TOOL_NAMES)
    verdict = policy.tool_enabled("purchase_number", write=True)
    assert not verdict.allowed
    return DisabledTools({"purchase_number": verdict})


async def test_a_disabled_tool_is_refused_with_the_policys_reason(handler: Handler) -> None:
    with pytest.raises(ToolError) as refused:
        await _read_only()(call_for(name="purchase_number"), handler)
    message = str(refused.value)
    assert "nothing was done" in message and "read" in message.lower()
    assert handler.calls == []


async def test_an_enabled_tool_passes(handler: Handler) -> None:
    call = call_for(name="list_numbers")
    assert await _read_only()(call, handler) is handler.result
    assert handler.calls == [call]
