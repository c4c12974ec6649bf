"""Output schemas read straight from the result models' fields say exactly what pydantic's own
JSON schema, flattened, says: the fast path at start-up may not drift from the slow one."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, Field, TypeAdapter

from kros_mcp.server.schemas import compact_schema, output_schema_of, shallow_output_schema
from kros_mcp.server.tools import ALL_TOOLS
from kros_mcp.server.tools._build import result_model


def _via_pydantic(model: type[BaseModel]) -> dict[str, object]:
    return shallow_output_schema(compact_schema(TypeAdapter(model).json_schema()))


@pytest.mark.parametrize("spec", ALL_TOOLS, ids=lambda spec: spec.name)
def test_each_tool_output_schema_matches_pydantic(spec: object) -> None:
    model = result_model(spec.fn)  # type: ignore[attr-defined]
    assert output_schema_of(model) == _via_pydantic(model)


class _Inner(BaseModel):
    x: int


class _Every(BaseModel):
    """Every kind of field a result may have, and some it should fall back on pydantic for."""

    name: str
    count: int = 3
    ratio: float | None = None
    flag: bool = False
    kind: Literal["a", "b"]
    maybe_kind: Literal["a", "b"] | None = None
    tags: list[str] = Field(default_factory=list)
    items: list[_Inner]
    inner: _Inner | None = None
    described: str = Field("x", description="what it is")
    mapping: dict[str, int]  # not handled directly: pydantic's answer is used
    either: int | str  # nor this


def test_field_kinds_and_fallbacks_match_pydantic() -> None:
    assert output_schema_of(_Every) == _via_pydantic(_Every)
