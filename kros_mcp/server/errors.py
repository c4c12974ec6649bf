"""The one place KrosAI errors become tool errors a model can act on."""

from __future__ import annotations

from mcp.server.mcpserver.exceptions import ToolError

from ..krosai import (
    APIError,
    AuthenticationError,
    BaseURLError,
    EndpointNotFoundError,
    IdempotencyConflictError,
    InsufficientBalanceError,
    InvalidRequestError,
    KrosAIError,
    KYCError,
    NotFoundError,
    NumberNotAvailableError,
    PermissionDeniedError,
    PurchaseNotCompleted,
    PurchaseOutcomeUnknown,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    TransportError,
)
from ..safety import ConfirmationError, PolicyError
from ..safety.text import clean_text
from ..store import StoreError
from .upstream_errors import unreachable_message

__all__ = ["to_tool_error"]

_DASHBOARD = "the KrosAI dashboard (https://cockpit.krosai.com)"


def _detail(exc: KrosAIError) -> str:
    return clean_text(exc.message, limit=200) or ""


def to_tool_error(exc: Exception, *, write: str | None = None) -> ToolError:
    """A ToolError saying what went wrong and what to do next. `write` names the write for
    'nothing was <done>' notes, e.g. 'bought'."""
    nothing = f" Nothing was {write}." if write else ""
    message = (
        _local_message(exc, nothing)
        or _refusal_message(exc, nothing)
        or _upstream_message(exc, nothing)
        or f"Unexpected failure.{nothing}"
    )
    return ToolError(message)


def _local_message(exc: Exception, nothing: str) -> str | None:
    """Refusals and outcomes decided by this server."""
    if isinstance(exc, PolicyError):
        verdict = exc.verdict
        return (
            f"Refused by the operator's policy: {verdict.detail}.{nothing} "
            f"({verdict.code}; {verdict.operator_hint}.)"
        )
    if isinstance(exc, StoreError):
        return f"The server's state store is unavailable ({exc}).{nothing}"
    if isinstance(exc, ConfirmationError):
        return f"Confirmation refused ({exc.reason}): {exc.message}.{nothing}"
    if isinstance(exc, PurchaseOutcomeUnknown):
        return (
            f"PURCHASE OUTCOME UNKNOWN: {_detail(exc)}. Do not buy again yet: call list_numbers in a "
            f"minute to see whether {exc.inventory_id} was bought."
        )
    if isinstance(exc, PurchaseNotCompleted):
        return f"Nothing was bought: {_detail(exc)}. It is safe to try again."
    return None


def _refusal_message(exc: Exception, nothing: str) -> str | None:
    """KrosAI refused for a reason the user or the model can act on."""
    if isinstance(exc, KYCError):
        return (
            f"{exc.code}: purchases are blocked until the organisation's KYC is approved in {_DASHBOARD}."
            f"{nothing} Tell the user to complete KYC; searching numbers still works."
        )
    if isinstance(exc, InsufficientBalanceError):
        return (
            f"INSUFFICIENT_BALANCE: not enough credit for this number.{nothing} Add credit in "
            f"{_DASHBOARD}, or choose a cheaper offer from search_available."
        )
    if isinstance(exc, NumberNotAvailableError):
        return (
            f"NUMBER_NOT_AVAILABLE: that number was sold or withdrawn.{nothing} "
            "Call search_available for current offers."
        )
    if isinstance(exc, EndpointNotFoundError):
        return f"ENDPOINT_NOT_FOUND: {_detail(exc)}.{nothing} Check the endpoint id (ep_...) in {_DASHBOARD}."
    if isinstance(exc, NotFoundError):
        return f"NOT_FOUND: {_detail(exc)}.{nothing} Call list_numbers to see this organisation's numbers."
    if isinstance(exc, RateLimitError):
        wait = (
            f" Retry after {exc.retry_after:.1f}s."
            if exc.retry_after is not None
            else " Retry in a few seconds."
        )
        return f"RATE_LIMIT_EXCEEDED: KrosAI is rate limiting this organisation.{nothing}{wait}"
    return None


def _upstream_message(exc: Exception, nothing: str) -> str | None:
    """Everything else KrosAI (or reaching it) answered."""
    if isinstance(exc, AuthenticationError):
        return (
            "KrosAI refused the API key (401): the key configured for this server, or in multi-tenant "
            "mode the key the client sent, is not valid. A person must fix the key; the model cannot."
        )
    if isinstance(exc, PermissionDeniedError):
        return (
            f"{exc.code}: the API key is not allowed to do this ({_detail(exc)}).{nothing} The operator needs "
            "a key with the numbers:read and numbers:write scopes."
        )
    if isinstance(exc, IdempotencyConflictError):
        return f"{exc.code}: {_detail(exc)}.{nothing}"
    if isinstance(exc, InvalidRequestError):
        return (
            f"{exc.code}: KrosAI rejected the request: {_detail(exc)}.{nothing} "
            "Correct the arguments and try again."
        )
    if isinstance(exc, BaseURLError) or (isinstance(exc, TransportError) and exc.unreachable):
        return unreachable_message(exc, nothing)
    if isinstance(exc, (ServerError, TransportError)):
        return f"KrosAI is unavailable right now ({_detail(exc)}).{nothing} Try again in a minute."
    if isinstance(exc, ResponseFormatError):
        return f"KrosAI answered in a format this server cannot read ({_detail(exc)}).{nothing}"
    if isinstance(exc, APIError):
        return f"{exc.code}: {_detail(exc)}.{nothing}"
    return None
