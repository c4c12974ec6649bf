"""Text from KrosAI reaches the model as data: control and invisible characters removed."""

from __future__ import annotations

import unicodedata

__all__ = ["clean_text"]

# Format characters (Cf) include zero-width spaces, BiDi overrides and Unicode tag characters.
_DROP_CATEGORIES = {"Cc", "Cf", "Co", "Cs", "Cn"}


def clean_text(value: str | None, *, limit: int = 300) -> str | None:
    """`value` without control, format (zero-width, BiDi, tag) or unassigned characters, trimmed."""
    if value is None:
        return None
    # Printable ASCII, the usual case, has no character to drop: skip the per-character lookup.
    if not (value.isascii() and value.isprintable()):
        value = "".join(
            " " if ch in "\t\n\r" else ch
            for ch in value
            if ch in "\t\n\r" or unicodedata.category(ch) not in _DROP_CATEGORIES
        )
    kept = " ".join(value.split())
    return kept if len(kept) <= limit else kept[: limit - 1] + "…"
