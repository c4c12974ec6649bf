"""Tool results on the wire: the structured content, and the same data as compact JSON text.

The SDK's default conversion dumps a returned model twice (pretty-printed JSON for the text block,
then a dict for the structured content) and validates it again on the way out. Our results are
validated pydantic models already, so each tool's result is dumped once (the tool registry wraps
every tool with `tool_result`) and the text is that dict as compact JSON: a client without
structured-content support still gets every field, in fewer tokens.
"""

from __future__ import annotations

import pydantic_core
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

__all__ = ["tool_result"]


def tool_result(model: BaseModel) -> CallToolResult:
    """`model` as a tool result: structured content plus its compact JSON text."""
    structured = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    text = pydantic_core.to_json(structured).decode()
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=structured
    )
