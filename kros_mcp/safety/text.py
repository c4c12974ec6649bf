"""Text a person or a model will read: cleaned of what could hide or forge content, or checked.

Two kinds of text reach a confirmation question, a plan line, a tool result or a resource:

- values that name a thing (ids, phone numbers, countries, types) follow a strict pattern:
  KrosAI's are checked as they arrive (`kros_mcp.krosai.formats`), the model's by the tools'
  argument patterns defined here (`ENDPOINT_ID_ARGUMENT`, `INVENTORY_ID_ARGUMENT`);
- free text (names, statuses, messages) is cleaned: control, format (zero-width, BiDi, tag),
  line-separator, private-use and unassigned characters are dropped or turned into spaces.

Model-supplied values shown to a person appear quoted (`quoted`), so that they read as data.
"""

from __future__ import annotations

import unicodedata
from typing import Any

__all__ = [
    "ENDPOINT_ID_ARGUMENT",
    "ENDPOINT_OR_KEEP_ARGUMENT",
    "INVENTORY_ID_ARGUMENT",
    "clean_text",
    "clean_tree",
    "is_clean",
    "quoted",
]

# Patterns for the tools' id arguments (pydantic `Field(pattern=...)`, shown to the model in the
# input schema, so kept short): anchored, ASCII letters, digits, "_" and "-" only (never `\w`,
# which admits zero-width joiners), a prefixed id or a UUID's 36 characters.
_ID_CHARS = "[A-Za-z0-9_-]{1,64}"
_UUID_CHARS = "[0-9a-fA-F-]{36}"
ENDPOINT_ID_ARGUMENT = f"^(ep_{_ID_CHARS}|{_UUID_CHARS})$"
INVENTORY_ID_ARGUMENT = f"^(inv_{_ID_CHARS}|{_UUID_CHARS})$"
ENDPOINT_OR_KEEP_ARGUMENT = f"^(keep|ep_{_ID_CHARS}|{_UUID_CHARS})$"

# Format characters (Cf) include zero-width spaces, BiDi overrides and Unicode tag characters;
# Zl and Zp (U+2028, U+2029) end a line as surely as a newline does.
_DROP_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})
_SPACES = frozenset("\t\n\r\v\f\x1c\x1d\x1e\x1f\x85\u2028\u2029")


def is_clean(value: str) -> bool:
    """Whether `value` has no character `clean_text` would drop."""
    if value.isascii() and value.isprintable():
        return True
    return all(unicodedata.category(ch) not in _DROP_CATEGORIES for ch in value)


def clean_text(value: str | None, *, limit: int = 300) -> str | None:
    """`value` without control, format (zero-width, BiDi, tag), line-separator or unassigned
    characters, on one line with runs of spaces collapsed, at most `limit` characters."""
    if value is None:
        return None
    # Printable ASCII, the usual case, has no character to drop: skip the per-character lookup.
    if not (value.isascii() and value.isprintable()):
        value = "".join(
            " " if ch in _SPACES else ch
            for ch in value
            if ch in _SPACES or unicodedata.category(ch) not in _DROP_CATEGORIES
        )
    kept = " ".join(value.split())
    return kept if len(kept) <= limit else kept[: limit - 1] + "…"


def clean_tree(value: Any, *, limit: int = 300) -> Any:
    """`value` (JSON-like: dicts, lists, scalars) with every string, keys included, cleaned."""
    if isinstance(value, str):
        return clean_text(value, limit=limit)
    if isinstance(value, dict):
        return {clean_text(str(k), limit=64): clean_tree(v, limit=limit) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_tree(v, limit=limit) for v in value]
    return value


def quoted(value: str, *, limit: int = 80) -> str:
    """A value the model supplied, as a person should see it: cleaned and between quotes."""
    return "'" + (clean_text(value, limit=limit) or "").replace("'", "’") + "'"
