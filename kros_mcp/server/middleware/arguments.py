"""Invalid arguments answered field by field (INVALID_ARGUMENTS), not with pydantic's report."""

from __future__ import annotations

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import ValidationError

from ..arg_errors import invalid_arguments
from .base import CallNext, ToolCall, ToolCallResult

__all__ = ["ArgumentErrors"]


class ArgumentErrors:
    async def __call__(self, call: ToolCall, call_next: CallNext) -> ToolCallResult:
        try:
            return await call_next(call)
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                raise ToolError(invalid_arguments(call.name, exc.__cause__)) from None
            raise
