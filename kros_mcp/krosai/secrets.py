"""Secrets: which names carry one, and keeping a known secret out of text.

The one rule for secret-looking names, used wherever a name decides whether a value may be shown:
tool arguments in the audit trail and in argument errors, settings in the configuration reference,
fields of KrosAI error details.
"""

from __future__ import annotations

import re

__all__ = ["SECRET_WORDS", "looks_secret", "redact_secret"]

SECRET_WORDS: tuple[str, ...] = ("token", "key", "secret", "password", "credential")


def looks_secret(name: str) -> bool:
    """Whether a value named `name` may carry a secret (a token, a key, a password...)."""
    lowered = name.lower()
    return any(word in lowered for word in SECRET_WORDS)


def redact_secret(text: str, secret: str | None, stand_in: str = "****") -> str:
    """`text` with every occurrence of `secret` replaced, in any letter case (an API that
    upper-cases what it echoes must not reveal the key that way)."""
    if not secret or not text:
        return text
    return re.sub(re.escape(secret), stand_in, text, flags=re.IGNORECASE)
