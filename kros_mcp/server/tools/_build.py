"""A tool function as the SDK's Tool: compact schemas, and its model result shaped once.

Each tool function returns a pydantic model. The Tool calls it through a thin wrapper that turns
the model into the CallToolResult (`results.tool_result`: dumped once, compact text), so the
SDK neither dumps it twice nor validates it again. The output schema is the model's, compacted.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server.mcpserver.tools import Tool
from mcp.types import ToolAnnotations
from pydantic import BaseModel

from .._sdk_compat import publish_output_schema
from ..results import TextStyle, tool_result
from ..schemas import compact_schema, output_schema_of

__all__ = ["build_tool", "result_model"]


def result_model(fn: Callable[..., Any]) -> type[BaseModel]:
    """The pydantic model `fn` returns, from its annotation."""
    model = inspect.signature(fn, eval_str=True).return_annotation
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"tool {fn.__name__} must be annotated to return a pydantic model")
    return model


def build_tool(
    fn: Callable[..., Awaitable[Any]],
    *,
    title: str,
    annotations: ToolAnnotations,
    text_style: TextStyle = "compact",
) -> Tool:
    """The Tool for `fn`: its description on one line, compact input and output schemas, and
    results whose text block is written in `text_style`."""
    output_schema = output_schema_of(result_model(fn))

    # Same name, docstring and signature (wraps): the SDK reads the arguments from them.
    @functools.wraps(fn)
    async def shaped(**arguments: Any) -> Any:
        result = await fn(**arguments)
        return tool_result(result, text_style) if isinstance(result, BaseModel) else result

    # structured_output=False: results arrive as CallToolResult, not validated again on the way out.
    tool = Tool.from_function(shaped, title=title, annotations=annotations, structured_output=False)
    tool.description = " ".join(tool.description.split())
    tool.parameters = compact_schema(tool.parameters)
    publish_output_schema(tool, output_schema)
    return tool
