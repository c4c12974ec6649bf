"""Invalid arguments answered field by field (INVALID_ARGUMENTS), not with pydantic's report; other
tool errors without the SDK's "Error executing tool x:" prefix (fewer tokens, nothing lost)."""

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
            # The model knows which tool it called: the SDK's "Error executing tool x: " is noise
            # (an UnexpectedToolError keeps its form: the SDK hides its detail).
            prefix = f"Error executing tool {call.name}: "
            if type(exc) is not ToolError or not str(exc).startswith(prefix):
                raise
            raise ToolError(str(exc).removeprefix(prefix)) from exc
