"""Tools the operator's policy disabled: not listed (never registered) and refused by name."""

from __future__ import annotations

from collections.abc import Mapping

from mcp.server.mcpserver.exceptions import ToolError

from ...safety import RuleVerdict
from .base import CallNext, ToolCall, ToolCallResult

__all__ = ["DisabledTools"]


class DisabledTools:
    """Refuses a call to a disabled tool with the policy's reason, instead of "unknown tool"."""

    def __init__(self, disabled: Mapping[str, RuleVerdict]) -> None:
        self.disabled = dict(disabled)

    async def __call__(self, call: ToolCall, call_next: CallNext) -> ToolCallResult:
        verdict = self.disabled.get(call.name)
        if verdict is not None:
            raise ToolError(
                f"{verdict.detail}, so nothing was done ({verdict.code}; {verdict.operator_hint})."
            )
        return await call_next(call)
