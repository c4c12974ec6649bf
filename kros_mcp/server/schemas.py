"""Compact JSON schemas for tools/list: every character there costs tokens in the model's context."""

from __future__ import annotations

from typing import Any

__all__ = ["compact_schema", "shallow_output_schema"]

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
