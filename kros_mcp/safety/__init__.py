"""Decisions about writes: operator policy and confirmation. Knows no transport."""

from .confirm import ConfirmationError, ConfirmationTokens, TokenClaims, arguments_digest
from .policy import Policy, PolicyError, RuleVerdict, normalise_number

__all__ = [
    "ConfirmationError",
    "ConfirmationTokens",
    "Policy",
    "PolicyError",
    "RuleVerdict",
    "TokenClaims",
    "arguments_digest",
    "normalise_number",
]
