"""The one place where HTTP answers and httpx2 failures become KrosAI errors."""

from __future__ import annotations

import email.utils
import json
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2

from .errors import (
    APIError,
    AuthenticationError,
    ConflictError,
    EndpointNotFoundError,
    IdempotencyConflictError,
    InsufficientBalanceError,
    InvalidRequestError,
    KYCError,
    NotFoundError,
    NumberNotAvailableError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TransportError,
    TransportReason,
)
from .formats import ERROR_CODE, matches
from .secrets import looks_secret, redact_secret

# Branch on the code first: KrosAI uses different statuses for the same condition.
ERRORS_BY_CODE: dict[str, type[APIError]] = {
    "KYC_REQUIRED": KYCError,
    "KYC_PENDING": KYCError,
    "KYC_NOT_SUBMITTED": KYCError,
    "KYC_INITIATED": KYCError,
    "KYC_DECLINED": KYCError,
    "INSUFFICIENT_BALANCE": InsufficientBalanceError,
    "NUMBER_NOT_AVAILABLE": NumberNotAvailableError,
    "MISSING_FIELDS": InvalidRequestError,
    "INVALID_REQUEST": InvalidRequestError,
    "VALIDATION_ERROR": InvalidRequestError,
    "UNSUPPORTED_COUNTRY": InvalidRequestError,
    "PAYLOAD_TOO_LARGE": InvalidRequestError,
    "IDEMPOTENCY_KEY_REUSED": IdempotencyConflictError,
    "RATE_LIMIT_EXCEEDED": RateLimitError,
    "CONCURRENT_LIMIT_EXCEEDED": RateLimitError,
    "NOT_FOUND": NotFoundError,
    "NUMBER_NOT_FOUND": NotFoundError,
    "PHONE_NUMBER_NOT_FOUND": NotFoundError,
    "NUMBER_NOT_OWNED": NotFoundError,
    "ENDPOINT_NOT_FOUND": EndpointNotFoundError,
    "UNAUTHORIZED": AuthenticationError,
    "INVALID_API_KEY": AuthenticationError,
    "KEY_EXPIRED": AuthenticationError,
    "FORBIDDEN": PermissionDeniedError,
    "INSUFFICIENT_SCOPE": PermissionDeniedError,
    "IP_NOT_ALLOWED": PermissionDeniedError,
    "OUTBOUND_DISABLED": PermissionDeniedError,
    "CONFLICT": ConflictError,
    "INTERNAL_ERROR": ServerError,
    "SERVICE_UNAVAILABLE": ServerError,
}

ERRORS_BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    402: InsufficientBalanceError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: InvalidRequestError,
    422: InvalidRequestError,
    429: RateLimitError,
}

_MAX_MESSAGE = 500


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: fractional seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(0.0, seconds)


def _error_fields(body: Any) -> tuple[str | None, str | None, dict[str, Any], float | None]:
    """Message, code, details and retry_after from any of the published error shapes."""
    if not isinstance(body, dict):
        return None, None, {}, None
    message: str | None = None
    code = body.get("code")
    details = body.get("details")
    error = body.get("error")
    if isinstance(error, dict):  # {"error": {"message": ..., "code": ...}}
        message = error.get("message") or error.get("detail")
        code = code or error.get("code")
        details = details or error.get("details")
    elif isinstance(error, str):
        message = error
    if message is None:
        detail = body.get("detail") or body.get("message")
        if isinstance(detail, str):
            message = detail
        elif detail is not None:
            message = json.dumps(detail)[:_MAX_MESSAGE]
    retry_after = body.get("retry_after")
    if not isinstance(retry_after, (int, float)) or isinstance(retry_after, bool):
        retry_after = None
    return (
        message,
        code if matches(ERROR_CODE, code) else None,
        {k: v for k, v in details.items() if not looks_secret(str(k))}
        if isinstance(details, dict)
        else {},
        float(retry_after) if retry_after is not None else None,
    )


def error_from_response(response: httpx2.Response, *, secret: str | None = None) -> APIError:
    """Build the most specific APIError for an error response, with `secret` blanked if echoed."""
    body: Any = None
    text = ""
    try:
        text = redact_secret(response.text, secret)
        body = json.loads(text) if text else None
    except (ValueError, UnicodeDecodeError):
        body = None
    message, code, details, retry_after = _error_fields(body)
    if message is None:
        # Non-JSON bodies (a bare "INSUFFICIENT_BALANCE", an HTML gateway page).
        stripped = text.strip()
        if code is None and stripped.isupper() and stripped.replace("_", "").isalpha():
            code = stripped
        message = (
            stripped[:_MAX_MESSAGE] or response.reason_phrase or f"HTTP {response.status_code}"
        )
    header_retry = parse_retry_after(response.headers.get("retry-after"))
    if header_retry is not None:
        retry_after = header_retry
    status = response.status_code
    cls = ERRORS_BY_CODE.get(code or "")
    if cls is None:
        cls = ServerError if status >= 500 else ERRORS_BY_STATUS.get(status, APIError)
    return cls(message, status=status, code=code, details=details, retry_after=retry_after)


# httpx2 errors raised before any byte of the request could reach the server.
_NOT_SENT = (
    httpx2.ConnectError,
    httpx2.ConnectTimeout,
    httpx2.PoolTimeout,
    httpx2.UnsupportedProtocol,
)

_REASON_WORDS: tuple[tuple[TransportReason, tuple[str, ...]], ...] = (
    (
        "dns",
        (
            "name or service not known",
            "nodename nor servname",
            "temporary failure in name resolution",
            "no address associated",
            "getaddrinfo",
            "name resolution",
        ),
    ),
    ("refused", ("connection refused", "errno 111", "errno 61", "actively refused")),
    ("tls", ("ssl", "certificate", "tls", "handshake")),
)

_REASON_TEXT: dict[TransportReason, str] = {
    "dns": "the host name does not resolve (DNS failure)",
    "refused": "the connection was refused (nothing listens at that address)",
    "tls": "the TLS handshake failed (certificate or protocol problem)",
    "connect": "the connection could not be opened",
}


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def connect_failure_reason(exc: BaseException) -> TransportReason:
    """Why a connection could not be opened: dns, refused, tls, or just connect."""
    chain = _chain(exc)
    for link in chain:
        if isinstance(link, socket.gaierror):
            return "dns"
        if isinstance(link, ConnectionRefusedError):
            return "refused"
        if isinstance(link, ssl.SSLError):
            return "tls"
    text = " ".join(str(link) for link in chain).lower()
    for reason, words in _REASON_WORDS:
        if any(word in text for word in words):
            return reason
    return "connect"


@contextmanager
def translate_transport_errors(
    method: str, path: str, base_url: str | None = None
) -> Iterator[None]:
    """Turn httpx2 and timeout failures into TransportError, saying whether the request left and,
    when KrosAI could not be reached at all, why."""
    try:
        yield
    except httpx2.ConnectTimeout as exc:
        raise TransportError(
            f"could not connect to KrosAI for {method} {path}: the connection timed out",
            request_sent=False,
            reason="connect",
            base_url=base_url,
        ) from exc
    except _NOT_SENT as exc:
        reason = connect_failure_reason(exc)
        raise TransportError(
            f"could not reach KrosAI for {method} {path}: "
            f"{_REASON_TEXT.get(reason, type(exc).__name__)}",
            request_sent=False,
            reason=reason,
            base_url=base_url,
        ) from exc
    except httpx2.TimeoutException as exc:
        raise TransportError(
            f"KrosAI did not answer {method} {path} in time ({type(exc).__name__})",
            request_sent=True,
            reason="timeout",
            base_url=base_url,
        ) from exc
    except TimeoutError as exc:
        raise TransportError(
            f"KrosAI did not answer {method} {path} before the deadline",
            request_sent=True,
            reason="deadline",
            base_url=base_url,
        ) from exc
    except httpx2.HTTPError as exc:
        raise TransportError(
            f"connection to KrosAI lost during {method} {path}: {type(exc).__name__}",
            request_sent=True,
            reason="dropped",
            base_url=base_url,
        ) from exc
