"""The text block of a tool result, written for a model to read in few tokens.

A list result is a header (how many items, the result's other facts, the unit of amounts), a
`same for all:` line with the values every item shares, then CSV: a line of column names and one
line per item, `-` where an item has no value. Any other result starts with its short values as
`name=value` pairs on one line; a value with spaces (a message) gets a `name: value` line, a
nested object a `name: a=1 b=2` line, a list of sentences `name:` and one `- ` line each.

A value that could be misread (a comma or a quote, a space in a pair, a line break, an empty
string, `-`) is written as a JSON string; a list of words is joined with `+`, any other
list is a JSON array. Every field of the structured result is there, and nothing else.
"""

from __future__ import annotations

import json
import re
from itertools import chain
from typing import Any

__all__ = ["render"]

MISSING = "-"
_WORD = re.compile(r"[\w.:@/][\w.:@/-]*")  # a list item that can be joined with "+" as it is
_BREAKS = re.compile(r"[\x00-\x1f\x7f]")
_BREAKS_OR_CSV = re.compile(r"[,\"\x00-\x1f\x7f]")
_BREAKS_OR_PAIR = re.compile(r"[\s,\"\x00-\x1f\x7f]")
# A string that can stand bare in a CSV cell, as _text decides it, in one match; and a column
# of them joined by line breaks (which no bare cell contains).
_BARE = r"(?!-(?:\n|\Z))[^\s\[{,\"\x00-\x1f\x7f](?:[^,\"\x00-\x1f\x7f]*[^\s,\"\x00-\x1f\x7f])?"
_BARE_CELL = re.compile(_BARE)
_BARE_COLUMN = re.compile(rf"(?:{_BARE}\n)*{_BARE}")


def render(data: dict[str, Any]) -> str:
    """`data` (a tool's structured result, nulls left out) as compact text."""
    tables = [k for k, v in data.items() if _is_table(v)]
    if len(tables) == 1 and all(_is_scalar(v) for k, v in data.items() if k != tables[0]):
        key = tables[0]
        facts = "".join(f", {k}={_pair_value(v)}" for k, v in data.items() if k != key)
        return "\n".join(_table(key, data[key], facts))
    short = [f"{k}={_pair_value(v)}" for k, v in data.items() if _is_short(v)]
    lines = [" ".join(short)] if short else []
    for key, value in data.items():
        if not _is_short(value):
            lines += _field(key, value)
    return "\n".join(lines)


def _field(key: str, value: Any) -> list[str]:
    if _is_table(value):
        return _table(key, value, "")
    if isinstance(value, dict):
        return _object(key, value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        if not value:
            return [f"{key}: []"]
        return [f"{key}:", *(f"- {_line_value(item)}" for item in value)]
    return [f"{key}: {_line_value(value)}"]


def _object(key: str, value: dict[str, Any]) -> list[str]:
    """A nested object: its plain values as one line of pairs, its own nested parts after it."""
    pairs = [f"{k}={_pair_value(v)}" for k, v in value.items() if not _is_nested(v)]
    lines = [f"{key}: {' '.join(pairs)}"] if pairs else []
    for k, v in value.items():
        if _is_nested(v):
            lines += _field(f"{key}.{k}", v)
    return lines or [f"{key}: {{}}"]


def _table(key: str, items: list[dict[str, Any]], facts: str) -> list[str]:
    columns = list(dict.fromkeys(chain.from_iterable(items)))  # in order of first appearance
    values = {c: [item.get(c, _ABSENT) for item in items] for c in columns}
    shared = {}
    if len(items) > 1:
        for column, column_values in values.items():
            first = column_values[0]
            if first is not _ABSENT and column_values.count(first) == len(column_values):
                shared[column] = first
    unit = " (amounts in cents)" if any(c.endswith("_cents") for c in columns) else ""
    lines = [f"{len(items)} {key}{facts}{unit}"]
    if shared:
        lines.append(
            "same for all: " + " ".join(f"{k}={_pair_value(v)}" for k, v in shared.items())
        )
    varying = [c for c in columns if c not in shared]
    if varying:
        lines.append(",".join(varying))
        cells = [_column_cells(values[c]) for c in varying]
        lines += map(",".join, zip(*cells, strict=True))
    return lines


def _column_cells(values: list[Any]) -> list[str]:
    """One column's CSV cells; whole columns of plain strings or integers take a fast path."""
    kinds = set(map(type, values))
    if kinds == _STR_KIND:
        if _all_bare(values):
            return values
    elif kinds == _TEXT_KINDS:
        if _all_bare([v for v in values if v is not _ABSENT]):
            return [MISSING if v is _ABSENT else v for v in values]
    elif kinds == _INT_KIND:
        return list(map(str, values))
    return [_cell(None if v is _ABSENT else v) for v in values]


def _all_bare(texts: list[str]) -> bool:
    """Every string can stand bare in a cell: one match over them all (a line break inside a
    value shows in the count)."""
    joined = "\n".join(texts)
    return joined.count("\n") == len(texts) - 1 and _BARE_COLUMN.fullmatch(joined) is not None


class _Absent:
    """No value: the item has no such field."""


_ABSENT = _Absent()
_STR_KIND = {str}
_TEXT_KINDS = {str, _Absent}
_INT_KIND = {int}


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _is_short(value: Any) -> bool:
    """A value that can stand as a bare `name=value` pair (no spaces, no quoting)."""
    return _is_scalar(value) and _pair_value(value) == _cell(value) and " " not in str(value)


def _is_table(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _is_nested(value: Any) -> bool:
    return isinstance(value, dict) or _is_table(value)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _plain(value: Any) -> str | None:
    """Numbers and booleans as JSON writes them, `-` for none; None for anything else."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return None


def _text(value: str, unsafe: re.Pattern[str], leading: str) -> str:
    bare = value and value != MISSING and value == value.strip() and value[0] not in leading
    return value if bare and not unsafe.search(value) else _json(value)


def _joined(value: Any) -> str:
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, str) and _WORD.fullmatch(v) for v in value)
    ):
        return "+".join(value)
    return _json(value)


def _cell(value: Any) -> str:
    """A value in a CSV row."""
    kind = type(value)  # the common cases first: this runs for every cell of every row
    if kind is str:
        return value if _BARE_CELL.fullmatch(value) else _json(value)
    if kind is int:
        return str(value)
    plain = _plain(value)
    if plain is not None:
        return plain
    return _text(value, _BREAKS_OR_CSV, "[{") if isinstance(value, str) else _joined(value)


def _pair_value(value: Any) -> str:
    """A value in a space-separated `name=value` pair."""
    plain = _plain(value)
    if plain is not None:
        return plain
    return _text(value, _BREAKS_OR_PAIR, "[{") if isinstance(value, str) else _joined(value)


def _line_value(value: Any) -> str:
    """A value that has the rest of its line to itself."""
    plain = _plain(value)
    if plain is not None:
        return plain
    return _text(value, _BREAKS, '"[{') if isinstance(value, str) else _json(value)
