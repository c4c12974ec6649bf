"""The shapes KrosAI's identifiers and codes take: one strict pattern per kind of value.

Everything KrosAI sends that names a thing (a number id, an inventory id, an endpoint id, a phone
number, a country, a type, an error code) must match its pattern exactly, or the answer is refused
as malformed: such values reach a person's confirmation question and a model's context, so a value
carrying control, BiDi or invisible characters is never passed on. Patterns are ASCII-only and
matched whole: with `fullmatch` here, never with Python's `$`, which would let a trailing newline
through; the models check them inside pydantic-core as `^(?:...)$`, where Rust's `$` does not.
"""

from __future__ import annotations

import re

__all__ = [
    "COUNTRY",
    "CURRENCY",
    "E164",
    "ENDPOINT_ID",
    "ERROR_CODE",
    "INVENTORY_ID",
    "NUMBER_ID",
    "WORD",
    "is_endpoint_id",
    "is_number_id",
    "matches",
]

_TAIL = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
# The OpenAPI document gives UUIDs where the guide gives prefixed ids: both are accepted.
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

NUMBER_ID = rf"(?:pn_{_TAIL}|{_UUID})"
INVENTORY_ID = rf"(?:inv_{_TAIL}|{_UUID})"
ENDPOINT_ID = rf"(?:ep_{_TAIL}|{_UUID})"
E164 = r"\+[1-9][0-9]{1,14}"
COUNTRY = r"[A-Z]{2}"  # ISO 3166-1 alpha-2
CURRENCY = r"[A-Z]{3}"  # ISO 4217
WORD = r"[a-z][a-z0-9_]{0,31}"  # enum-like values: number types, capability names
ERROR_CODE = r"[A-Za-z][A-Za-z0-9_]{0,63}"

_COMPILED: dict[str, re.Pattern[str]] = {}


def matches(pattern: str, value: object) -> bool:
    """Whether `value` is a string matching `pattern` entirely (ASCII classes only)."""
    if not isinstance(value, str):
        return False
    compiled = _COMPILED.get(pattern)
    if compiled is None:
        compiled = _COMPILED[pattern] = re.compile(pattern, re.ASCII)
    return compiled.fullmatch(value) is not None


def is_number_id(value: object) -> bool:
    return matches(NUMBER_ID, value)


def is_endpoint_id(value: object) -> bool:
    return matches(ENDPOINT_ID, value)
