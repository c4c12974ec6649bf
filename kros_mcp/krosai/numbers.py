"""Phone-number equality, on `phonenumbers`: the one rule every comparison of numbers uses.

Two spellings of a number are the same number when libphonenumber parses them to the same country
code and national number, whatever the spacing, dashes, dots or brackets. Only international
spellings (a leading `+`) are understood: a national one (`0201822327`) names a different number in
every country, so it matches nothing.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import phonenumbers

__all__ = ["e164", "same_number"]

_FORMATTING = re.compile(r"[ \-.()]")


@lru_cache(maxsize=4096)
def _parse(value: str) -> phonenumbers.PhoneNumber | None:
    import phonenumbers  # on first use: starting a server does not need its metadata

    compact = _FORMATTING.sub("", value.strip())
    digits = compact[1:]
    if not compact.startswith("+") or not (digits.isascii() and digits.isdigit()):
        return None
    try:
        return phonenumbers.parse(compact, None)
    except phonenumbers.NumberParseException:
        return None


def e164(value: str, *, valid: bool = True) -> str | None:
    """`value` in E.164 (`+2348031234567`), or None if it is not an international number
    (with `valid`, also None for a number no country assigns)."""
    import phonenumbers

    parsed = _parse(value) if isinstance(value, str) else None
    if parsed is None or (valid and not phonenumbers.is_valid_number(parsed)):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def same_number(a: str | None, b: str | None) -> bool:
    """Whether `a` and `b` are spellings of one international phone number."""
    if not a or not b:
        return False
    first, second = e164(a, valid=False), e164(b, valid=False)
    return first is not None and first == second
