"""Decisions about writes: quotes and confirmation. Knows no transport."""

from .confirm import ConfirmationError, ConfirmationTokens, TokenClaims, arguments_digest

__all__ = ["ConfirmationError", "ConfirmationTokens", "TokenClaims", "arguments_digest"]
