from __future__ import annotations

import pytest
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, ValidationError

from kros_mcp.server.middleware import ArgumentErrors

from .calls import Handler, call_for

pytestmark = pytest.mark.anyio


class _Args(BaseModel):
    limit: int


def _rejected() -> ToolError:
    try:
        _Args.model_validate({"limit": "many"})
    except ValidationError as exc:
        error = ToolError(f"Error executing tool list_numbers: {exc}")
        error.__cause__ = exc
        return error
    raise AssertionError("the arguments were accepted")


async def test_invalid_arguments_are_named_field_by_field() -> None:
    with pytest.raises(ToolError) as refused:
        await ArgumentErrors()(call_for(name="list_numbers"), Handler(_rejected()))
    message = str(refused.value)
    assert message.startswith("INVALID_ARGUMENTS") and "limit" in message
    assert "pydantic" not in message and "validation error" not in message


async def test_other_tool_errors_pass_unchanged() -> None:
    error = ToolError("NUMBER_NOT_AVAILABLE: gone")
    with pytest.raises(ToolError) as raised:
        await ArgumentErrors()(call_for(), Handler(error))
    assert raised.value is error
