from __future__ import annotations

import re

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from kros_mcp.server.middleware import ToolCall, ToolRateLimit
from kros_mcp.server.middleware.rate_limit import per_window

from .calls import Handler, call_for

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("per_second", "calls", "seconds"),
    [(20.0, 20, 1), (1.0, 1, 1), (0.5, 1, 2), (2.5, 5, 2), (10_000.0, 10_000, 1), (1e-9, 1, 3600)],
)
def test_a_rate_is_whole_calls_in_whole_seconds(
    per_second: float, calls: int, seconds: int
) -> None:
    item = per_window(per_second)
    assert (item.amount, item.get_expiry()) == (calls, seconds)


@pytest.mark.parametrize("per_second", [0.0, -1.0])
def test_a_rate_must_be_positive(per_second: float) -> None:
    with pytest.raises(ValueError, match="above 0"):
        per_window(per_second)


async def test_calls_over_the_rate_are_refused_with_when_to_retry(handler: Handler) -> None:
    limit = ToolRateLimit(2)
    for _ in range(2):
        await limit(call_for("t_a"), handler)
    with pytest.raises(ToolError) as refused:
        await limit(call_for("t_a"), handler)
    message = str(refused.value)
    assert message.startswith("RATE_LIMITED:") and "nothing was done" in message
    wait = float(re.search(r"Retry after ([\d.]+)s", message).group(1))  # type: ignore[union-attr]
    assert 0 < wait <= 1.0
    assert len(handler.calls) == 2


async def test_each_organisation_has_its_own_allowance(handler: Handler) -> None:
    limit = ToolRateLimit(1)
    await limit(call_for("t_a"), handler)
    await limit(call_for("t_b"), handler)  # B is served while A waits
    with pytest.raises(ToolError, match="RATE_LIMITED"):
        await limit(call_for("t_a"), handler)
    assert [c.deps.tenant for c in handler.calls] == ["t_a", "t_b"]  # type: ignore[union-attr]


async def test_a_call_without_a_request_is_not_counted(handler: Handler) -> None:
    limit = ToolRateLimit(1)
    for _ in range(3):
        await limit(ToolCall("list_numbers", {}, context=None), handler)
    assert len(handler.calls) == 3
    assert limit.retry_after("t_a") is None  # the organisation's allowance is untouched
