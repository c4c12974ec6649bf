"""Tool results on the wire: the structured content, and the same data as text for the model.

The SDK's default conversion dumps a returned model twice (pretty-printed JSON for the text block,
then a dict for the structured content) and validates it again on the way out. Our results are
validated pydantic models already, so each tool's result is dumped once (the tool registry wraps
every tool with `tool_result`); the text block is that dict rendered compactly (render.py: a
header, then one line per item), or as compact JSON when the operator asks for it
(KROS_MCP_RESULT_TEXT=json). Either way a client without structured-content support still gets
every field.
"""

from __future__ import annotations

from typing import Literal

import pydantic_core
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

from .render import render

__all__ = ["TextStyle", "tool_result"]

TextStyle = Literal["compact", "json"]


def tool_result(model: BaseModel, text_style: TextStyle = "compact") -> CallToolResult:
    """`model` as a tool result: structured content plus its text (compact lines or JSON)."""
    structured = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    compact = text_style == "compact"
    text = render(structured) if compact else pydantic_core.to_json(structured).decode()
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=structured
    )
