"""The one place KrosAI errors become tool errors a model can act on."""

from __future__ import annotations

from mcp.server.mcpserver.exceptions import ToolError

from ..krosai import (
    APIError,
    AuthenticationError,
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

__all__ = ["to_tool_error"]

_DASHBOARD = "the KrosAI dashboard (https://cockpit.krosai.com)"


def _detail(exc: KrosAIError) -> str:
    return clean_text(exc.message, limit=200) or ""


def to_tool_error(exc: Exception, *, write: str | None = None) -> ToolError:
    """A ToolError saying what went wrong and what to do next. `write` names the write for
    'nothing was <done>' notes, e.g. 'bought'."""
    nothing = f" Nothing was {write}." if write else ""
    message: str
    if isinstance(exc, PolicyError):
        verdict = exc.verdict
        message = (
            f"Refused by the operator's policy: {verdict.detail}.{nothing} "
            f"({verdict.code}; {verdict.operator_hint}.)"
        )
    elif isinstance(exc, StoreError):
        message = f"The server's state store is unavailable ({exc}).{nothing}"
    elif isinstance(exc, ConfirmationError):
        message = f"Confirmation refused ({exc.reason}): {exc.message}.{nothing}"
    elif isinstance(exc, PurchaseOutcomeUnknown):
        message = (
            f"PURCHASE OUTCOME UNKNOWN: {_detail(exc)}. Do not buy again yet: call list_numbers in a "
            f"minute to see whether {exc.inventory_id} was bought."
        )
    elif isinstance(exc, PurchaseNotCompleted):
        message = f"Nothing was bought: {_detail(exc)}. It is safe to try again."
    elif isinstance(exc, KYCError):
        message = (
            f"{exc.code}: purchases are blocked until the organisation's KYC is approved in {_DASHBOARD}."
            f"{nothing} Tell the user to complete KYC; searching numbers still works."
        )
    elif isinstance(exc, InsufficientBalanceError):
        message = (
            f"INSUFFICIENT_BALANCE: not enough credit for this number.{nothing} Add credit in "
            f"{_DASHBOARD}, or choose a cheaper offer from search_available."
        )
    elif isinstance(exc, NumberNotAvailableError):
        message = (
            f"NUMBER_NOT_AVAILABLE: that number was sold or withdrawn.{nothing} "
            "Call search_available for current offers."
        )
    elif isinstance(exc, EndpointNotFoundError):
        message = f"ENDPOINT_NOT_FOUND: {_detail(exc)}.{nothing} Check the endpoint id (ep_...) in {_DASHBOARD}."
    elif isinstance(exc, NotFoundError):
        message = f"NOT_FOUND: {_detail(exc)}.{nothing} Call list_numbers to see this organisation's numbers."
    elif isinstance(exc, RateLimitError):
        wait = (
            f" Retry after {exc.retry_after:.1f}s."
            if exc.retry_after is not None
            else " Retry in a few seconds."
        )
        message = f"RATE_LIMIT_EXCEEDED: KrosAI is rate limiting this organisation.{nothing}{wait}"
    elif isinstance(exc, AuthenticationError):
        message = (
            "KrosAI refused the API key (401): the key configured for this server, or in multi-tenant "
            "mode the key the client sent, is not valid. A person must fix the key; the model cannot."
        )
    elif isinstance(exc, PermissionDeniedError):
        message = (
            f"{exc.code}: the API key is not allowed to do this ({_detail(exc)}).{nothing} The operator needs "
            "a key with the numbers:read and numbers:write scopes."
        )
    elif isinstance(exc, IdempotencyConflictError):
        message = f"{exc.code}: {_detail(exc)}.{nothing}"
    elif isinstance(exc, InvalidRequestError):
        message = (
            f"{exc.code}: KrosAI rejected the request: {_detail(exc)}.{nothing} "
            "Correct the arguments and try again."
        )
    elif isinstance(exc, (ServerError, TransportError)):
        message = (
            f"KrosAI is unavailable right now ({_detail(exc)}).{nothing} Try again in a minute."
        )
    elif isinstance(exc, ResponseFormatError):
        message = f"KrosAI answered in a format this server cannot read ({_detail(exc)}).{nothing}"
    elif isinstance(exc, APIError):
        message = f"{exc.code}: {_detail(exc)}.{nothing}"
    else:
        message = f"Unexpected failure.{nothing}"
    return ToolError(message)
