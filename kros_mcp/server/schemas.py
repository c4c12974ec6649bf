"""Compact JSON schemas for tools/list: every character there costs tokens in the model's context."""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any, Literal, Union

from pydantic import BaseModel, TypeAdapter
from pydantic_core import PydanticUndefined

__all__ = ["compact_schema", "output_schema_of", "shallow_output_schema"]

_NULL = {"type": "null"}


def compact_schema(node: Any) -> Any:
    """The same schema without pydantic's generated titles, `default: null`, and with
    `anyOf: [X, null]` written as `type: [X, "null"]` where X is a plain type."""
    if isinstance(node, list):
        return [compact_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" and isinstance(value, str):
            continue
        if key == "default" and value is None:
            continue
        if key in ("properties", "$defs") and isinstance(value, dict):
            out[key] = {name: compact_schema(sub) for name, sub in value.items()}
        else:
            out[key] = compact_schema(value)
    options = out.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and _NULL in options:
        other = options[0] if options[1] == _NULL else options[1]
        if "enum" in other and "type" not in other and "anyOf" not in other:
            # A nullable Literal: one enum that includes null.
            del out["anyOf"]
            out = {**other, **out, "enum": [*other["enum"], None]}
        elif isinstance(other.get("type"), str) and "anyOf" not in other:
            del out["anyOf"]
            out = {**other, **out, "type": [other["type"], "null"]}
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
    if "enum" in out and "type" in out:
        del out["type"]  # the enum says it all
    return out


def shallow_output_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Top-level properties in full; nested objects only as `object`, arrays of them only as
    `array`; no nulls, no `required`.
    Results are still validated in full by their pydantic models and leave out empty fields;
    the schema tells a client the shape without the detail."""

    def flatten(prop: dict[str, Any]) -> dict[str, Any]:
        kept = {k: v for k, v in prop.items() if k == "description"}
        kind = prop.get("type")
        if isinstance(kind, list) and "null" in kind:
            # Results leave out empty fields instead of sending null (see models._Out).
            rest = [k for k in kind if k != "null"]
            prop = {**prop, "type": rest[0] if len(rest) == 1 else rest}
        if "$ref" in prop:
            return {**kept, "type": "object"}
        options = prop.get("anyOf")
        if isinstance(options, list) and any("$ref" in o for o in options):
            return {**kept, "type": "object"}
        if (
            prop.get("type") == "array"
            and isinstance(prop.get("items"), dict)
            and "$ref" in prop["items"]
        ):
            # Not even `items: object`: clients validate results against this schema, and a
            # jsonschema check of every item (20 to 100 a page) cost them more than the rest.
            return {k: v for k, v in prop.items() if k != "items"}
        return prop

    out = {k: v for k, v in schema.items() if k not in ("$defs", "required")}
    out["properties"] = {name: flatten(prop) for name, prop in schema.get("properties", {}).items()}
    return out


_SCALARS: dict[Any, str] = {str: "string", int: "integer", bool: "boolean", float: "number"}


def output_schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """`shallow_output_schema` of `model`'s JSON schema, read straight from its fields.

    Generating the whole JSON schema (nested models included) only to flatten it cost about 1 ms
    a tool at every start; a field of a kind not handled here still goes through pydantic."""
    properties: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        prop = _shallow_type(field.annotation)
        if prop is None:
            full = TypeAdapter[Any](field.annotation or Any).json_schema()
            prop = shallow_output_schema(compact_schema({"properties": {name: full}}))
            prop = prop["properties"][name]
        if field.description:
            prop = {"description": field.description, **prop}
        default = field.default
        if default is not PydanticUndefined and default is not None and "$ref" not in prop:
            prop = {**prop, "default": default}
        properties[name] = prop
    schema: dict[str, Any] = {"properties": properties, "type": "object"}
    if model.__doc__:  # pydantic's description: the model's own docstring, not an inherited one
        schema = {"description": inspect.cleandoc(model.__doc__), **schema}
    return schema


def _shallow_type(annotation: Any) -> dict[str, Any] | None:
    """The shallow schema of one field's type, or None for a kind this does not know."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        rest = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        inner = _shallow_type(rest[0]) if len(rest) == 1 else None
        if inner is not None and "enum" in inner:  # a nullable Literal keeps null among its values
            inner = {"enum": [*inner["enum"], None]}
        return inner
    if origin is Literal:
        values = list(typing.get_args(annotation))
        return {"enum": values} if all(isinstance(v, str) for v in values) else None
    if origin is list:
        (item,) = typing.get_args(annotation) or (Any,)
        if isinstance(item, type) and issubclass(item, BaseModel):
            return {"type": "array"}
        kind = _SCALARS.get(item)
        return {"items": {"type": kind}, "type": "array"} if kind else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {"type": "object"}
    scalar = _SCALARS.get(annotation)
    return {"type": scalar} if scalar else None
