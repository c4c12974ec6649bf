"""Tool results on the wire: the structured content, and the same data as compact JSON text.

The SDK's default conversion dumps a returned model twice (pretty-printed JSON for the text block,
then a dict for the structured content) and validates it again on the way out. Our results are
validated pydantic models already, so each is dumped once and the text is that dict as compact
JSON: a client without structured-content support still gets every field, in fewer tokens.
"""

from __future__ import annotations

from typing import Any

import pydantic_core
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from mcp.types import CallToolResult, InputRequiredResult, TextContent
from pydantic import BaseModel

__all__ = ["compact_results", "tool_result"]


def tool_result(model: BaseModel) -> CallToolResult:
    """`model` as a tool result: structured content plus its compact JSON text."""
    structured = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    text = pydantic_core.to_json(structured).decode()
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=structured
    )


class _CompactResults(FuncMetadata):
    """Converts a result of the tool's own output model with `tool_result`; anything else (an
    InputRequiredResult, a hand-built CallToolResult) the SDK's way."""

    def convert_result(self, result: Any) -> CallToolResult | InputRequiredResult:
        if self.output_schema is not None and type(result) is self.output_model:
            return tool_result(result)
        return super().convert_result(result)


def compact_results(mcp: MCPServer) -> None:
    """Give every registered tool that returns a pydantic model the compact conversion."""
    for tool in mcp._tool_manager.list_tools():
        meta = tool.fn_metadata
        if isinstance(meta.output_model, type) and issubclass(meta.output_model, BaseModel):
            tool.fn_metadata = _CompactResults(
                arg_model=meta.arg_model,
                output_schema=meta.output_schema,
                output_model=meta.output_model,
                wrap_output=meta.wrap_output,
            )
