"""Reads the compact text of a tool result back into data, independently of the renderer.

`parse_result(tool, text)` follows the format kros_mcp/server/render.py documents and returns the
fields as the tool's output model reads them, so a test can compare the text with the structured
content: a field the text left out, added, or wrote so that it reads back differently shows up.
"""

from __future__ import annotations

import json
import re
import types
import typing
from typing import Any, Union

from pydantic import BaseModel

from kros_mcp.server.tools import ALL_TOOLS

_STRING = r'"(?:[^"\\]|\\.)*"'
_HEAD = re.compile(rf"(\d+) (\w+)((?:, [\w.]+=(?:{_STRING}|[^\s\",]+))*)( \(amounts in cents\))?")
_COLUMNS = re.compile(r"\w+(?:,\w+)*")
_FIELD = re.compile(r"([\w.]+):(?: (.*))?")
_MISSING = object()


def output_model(tool: str) -> type[BaseModel]:
    for spec in ALL_TOOLS:
        if spec.name == tool:
            model = typing.get_type_hints(spec.fn)["return"]
            assert isinstance(model, type) and issubclass(model, BaseModel)
            return model
    raise KeyError(tool)


def parse_result(tool: str, text: str) -> dict[str, Any]:
    """The text of `tool`'s result as the data it carries, checked against the output model:
    only the fields the text gave (`exclude_unset`), typed as the structured content types them."""
    model = output_model(tool)
    data = parse_text(model, text)
    return model.model_validate(data).model_dump(mode="json", exclude_none=True, exclude_unset=True)


def parse_text(model: type[BaseModel], text: str) -> dict[str, Any]:
    lines = text.split("\n")
    data: dict[str, Any] = {}
    while lines:
        line = lines.pop(0)
        head = _HEAD.fullmatch(line)
        if head is not None and _kind(model, head.group(2))[0] == "table":
            data.update(_pairs(model, head.group(3).removeprefix(", "), ", "))
            key = head.group(2)
            data[key], lines = _table(_kind(model, key)[1], int(head.group(1)), lines)
            continue
        field = _FIELD.fullmatch(line)
        if field is None:  # a line of short `name=value` pairs
            data.update(_pairs(model, line))
            continue
        _set(data, field.group(1).split("."), _field_value(model, field, lines))
    return data


def _field_value(model: type[BaseModel], field: re.Match[str], lines: list[str]) -> Any:
    path, value = field.group(1).split("."), field.group(2)
    owner = model
    for name in path[:-1]:
        owner = _kind(owner, name)[1]
    kind, inner = _kind(owner, path[-1])
    if value is None:  # `name:` then one `- ` line per item
        items = []
        while lines and lines[0].startswith("- "):
            items.append(_text(lines.pop(0)[2:]))
        return items
    if value == "[]" and kind in ("list", "table"):
        return []
    if kind == "model":
        return {} if value == "{}" else _pairs(inner, value)
    if value.startswith("[") and kind == "list":
        return json.loads(value)
    return _text(value)


def _table(
    item: type[BaseModel], count: int, lines: list[str]
) -> tuple[list[dict[str, Any]], list[str]]:
    shared: dict[str, Any] = {}
    if lines and lines[0].startswith("same for all: "):
        shared = _pairs(item, lines.pop(0)[len("same for all: ") :])
    columns = lines.pop(0).split(",") if lines and _COLUMNS.fullmatch(lines[0]) else []
    rows = []
    for _ in range(count):
        row = dict(shared)
        if columns:
            cells = _cells(lines.pop(0))
            assert len(cells) == len(columns), (columns, cells)
            for column, cell in zip(columns, cells, strict=True):
                value = _value(item, column, cell)
                if value is not _MISSING:
                    row[column] = value
        rows.append(row)
    return rows, lines


_DECODER = json.JSONDecoder()


def _scan(line: str, position: int, stop: str) -> tuple[str, int]:
    """The raw value starting at `position`: a JSON string, array or object, else everything up
    to the next `stop` character. Returns it and where it ends."""
    if position < len(line) and line[position] in '"[{':
        _, end = _DECODER.raw_decode(line, position)
        return line[position:end], end
    end = line.find(stop, position)
    end = len(line) if end < 0 else end
    return line[position:end], end


def _cells(line: str) -> list[str]:
    cells, position = [], 0
    while True:
        cell, position = _scan(line, position, ",")
        cells.append(cell)
        if position == len(line):
            return cells
        assert line[position] == ",", f"junk after a value: {line!r}"
        position += 1


def _pairs(model: type[BaseModel], line: str, separator: str = " ") -> dict[str, Any]:
    out, position = {}, 0
    while position < len(line):
        name, equals, _ = line[position:].partition("=")
        assert equals and re.fullmatch(r"[\w.]+", name), f"not a line of pairs: {line!r}"
        raw, position = _scan(line, position + len(name) + 1, separator[0])
        assert raw and not raw[-1].isspace(), f"not a line of pairs: {line!r}"
        if position < len(line):
            assert line.startswith(separator, position), f"junk after a value: {line!r}"
            position += len(separator)
        value = _value(model, name, raw)
        if value is not _MISSING:
            out[name] = value
    return out


def _value(model: type[BaseModel], name: str, raw: str) -> Any:
    kind, _ = _kind(model, name)
    if raw == "-":
        return _MISSING
    if raw.startswith("["):
        return json.loads(raw)
    if raw.startswith("{") and kind == "model":
        return json.loads(raw)
    if kind == "list":
        return [_text(part) for part in raw.split("+")]
    return _text(raw)


def _text(raw: str) -> str:
    return json.loads(raw) if raw.startswith('"') else raw


def _kind(model: type[BaseModel], name: str) -> tuple[str, Any]:
    """How a field of `model` is written: scalar, list (of words), model (pairs) or table."""
    assert name in model.model_fields, f"{model.__name__} has no field {name!r}"
    annotation = model.model_fields[name].annotation
    if typing.get_origin(annotation) in (Union, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        if isinstance(item, type) and issubclass(item, BaseModel):
            return "table", item
        return "list", item
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "model", annotation
    return "scalar", None


def _set(data: dict[str, Any], path: list[str], value: Any) -> None:
    for name in path[:-1]:
        data = data.setdefault(name, {})
    data[path[-1]] = value


def assert_text_carries(tool: str, text: str, structured: dict[str, Any] | None) -> None:
    """The text block carries exactly the structured content: compact lines read back by
    `parse_result`, or, with KROS_MCP_RESULT_TEXT=json, JSON text."""
    assert structured is not None
    if text.startswith("{"):
        assert json.loads(text) == structured
    else:
        assert parse_result(tool, text) == structured, text
