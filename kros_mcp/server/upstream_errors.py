"""Errors that mean KrosAI was never reached, in words a person can act on: which network problem,
and that KROSAI_BASE_URL is where the address is set. No retry fixes these; a person must."""

from __future__ import annotations

from ..krosai import BaseURLError, TransportError
from ..safety.text import clean_text

__all__ = ["unreachable_message"]

_WHAT = {
    "dns": "its host name does not resolve (DNS failure)",
    "refused": "the connection was refused",
    "tls": "the secure (TLS) connection failed",
    "connect": "no connection could be opened",
}


def unreachable_message(exc: BaseURLError | TransportError, nothing: str) -> str:
    base = clean_text(exc.base_url, limit=200) if exc.base_url else "the configured address"
    if isinstance(exc, BaseURLError):
        return (
            f"KROSAI_BASE_URL looks wrong: {clean_text(exc.message, limit=300)}.{nothing} "
            "A person must correct KROSAI_BASE_URL in the server's configuration "
            "(KrosAI's is https://api.krosai.com/v1); retrying will not help."
        )
    return (
        f"KrosAI is unreachable at {base}: {_WHAT.get(exc.reason, 'no connection')}.{nothing} "
        "Check this machine's network connection (and any proxy or firewall), and that "
        "KROSAI_BASE_URL is right (KrosAI's is https://api.krosai.com/v1)."
    )
