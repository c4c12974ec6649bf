"""Typed errors for the KrosAI API.

```
KrosAIError                       anything this package raises
├── APIError                      KrosAI answered with an error (status, code, message, details)
│   ├── AuthenticationError       401: missing, invalid or expired API key
│   ├── PermissionDeniedError     403: key lacks a scope, IP not allowed
│   ├── InvalidRequestError       400/413/422: bad or missing parameters
│   │   └── IdempotencyConflictError   Idempotency-Key reused with another body
│   ├── KYCError                  KYC_* codes: purchases blocked until KYC is approved
│   ├── InsufficientBalanceError  INSUFFICIENT_BALANCE
│   ├── NotFoundError             404: unknown id, or not this organisation's
│   │   ├── NumberNotAvailableError    the inventory number is sold or unknown
│   │   └── EndpointNotFoundError      the endpoint id does not exist
│   ├── ConflictError             409 (e.g. a number whose status forbids the change)
│   ├── RateLimitError            429 (retry_after seconds)
│   └── ServerError               5xx
├── TransportError                no usable answer: connection failed, timed out, or dropped
│                                 (`reason` says which: dns, refused, tls, timeout, ...)
├── BaseURLError                  the base URL serves no KrosAI routes (e.g. it lacks /v1)
├── ResponseFormatError           a 2xx answer this client cannot read
└── PurchaseError                 a purchase whose first answer was ambiguous
    ├── PurchaseNotCompleted      reconciled: definitely not purchased, safe to try again
    └── PurchaseOutcomeUnknown    could not tell: do not buy again before checking
```

No exception ever carries the API key: messages are built from status, code and the API's
error text only.
"""

from __future__ import annotations

import re
from typing import Any, Literal

__all__ = [
    "APIError",
    "AuthenticationError",
    "BaseURLError",
    "ConflictError",
    "EndpointNotFoundError",
    "IdempotencyConflictError",
    "InsufficientBalanceError",
    "InvalidRequestError",
    "KYCError",
    "KrosAIError",
    "NotFoundError",
    "NumberNotAvailableError",
    "PermissionDeniedError",
    "PurchaseError",
    "PurchaseNotCompleted",
    "PurchaseOutcomeUnknown",
    "RateLimitError",
    "ResponseFormatError",
    "ServerError",
    "TransportError",
    "TransportReason",
    "has_version_path",
]


class KrosAIError(Exception):
    """Base class of every error raised by the KrosAI client."""

    code: str = "KROSAI_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class APIError(KrosAIError):
    """KrosAI answered with an error status."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or f"HTTP_{status}"
        self.details = details or {}
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.code} (HTTP {self.status}): {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, code={self.code!r}, message={self.message!r})"


class AuthenticationError(APIError):
    """The API key is missing, invalid, revoked or expired."""


class PermissionDeniedError(APIError):
    """The key is valid but not allowed to do this."""


class InvalidRequestError(APIError):
    """The request was malformed or missed required fields."""


class IdempotencyConflictError(InvalidRequestError):
    """The Idempotency-Key was already used for a request with another body."""


class KYCError(APIError):
    """Purchases are blocked until the organisation's KYC is approved."""


class InsufficientBalanceError(APIError):
    """The organisation's balance does not cover the purchase."""


class NotFoundError(APIError):
    """The resource does not exist or belongs to another organisation."""


class NumberNotAvailableError(NotFoundError):
    """The inventory number was sold to someone else or never existed."""


class EndpointNotFoundError(NotFoundError):
    """The endpoint id given for routing does not exist."""


class ConflictError(APIError):
    """The request conflicts with the resource's current state."""


class RateLimitError(APIError):
    """Too many requests; `retry_after` says how long to wait, in seconds."""


class ServerError(APIError):
    """KrosAI failed (5xx)."""


TransportReason = Literal["dns", "refused", "tls", "connect", "timeout", "dropped", "deadline"]


class TransportError(KrosAIError):
    """No usable answer: the connection failed, timed out or was dropped."""

    code = "TRANSPORT_ERROR"

    def __init__(
        self,
        message: str,
        *,
        request_sent: bool,
        reason: TransportReason = "dropped",
        base_url: str | None = None,
    ) -> None:
        super().__init__(message)
        # False only when the request certainly never reached the server.
        self.request_sent = request_sent
        # dns, refused and tls mean KrosAI was never reached: the network or the base URL is wrong.
        self.reason: TransportReason = reason
        self.base_url = base_url

    @property
    def unreachable(self) -> bool:
        """True when the host could not be reached at all (not a slow or dropped answer)."""
        return self.reason in ("dns", "refused", "tls", "connect")


def has_version_path(base_url: str) -> bool:
    """True when the base URL's path ends in a version segment such as /v1 (KrosAI's routes sit
    under it)."""
    from urllib.parse import urlsplit

    segments = [part for part in urlsplit(base_url).path.split("/") if part]
    return bool(segments) and re.fullmatch(r"v\d+(\.\d+)?", segments[-1]) is not None


class BaseURLError(KrosAIError):
    """KrosAI answered 404 on a list route: the base URL points somewhere without its API."""

    code = "BAD_BASE_URL"

    def __init__(self, message: str, *, base_url: str) -> None:
        super().__init__(message)
        self.base_url = base_url

    @classmethod
    def for_route(cls, base_url: str, route: str, cause: APIError) -> BaseURLError:
        if not has_version_path(base_url):
            why = f"it has no version path (KrosAI's API is under /v1, e.g. {base_url}/v1)"
        else:
            why = "nothing there serves KrosAI's routes"
        return cls(
            f"{base_url} answered {cause.status} for GET {route}, a route KrosAI always has: "
            f"the base URL looks wrong: {why}",
            base_url=base_url,
        )


class ResponseFormatError(KrosAIError):
    """A successful answer whose body this client could not read."""

    code = "BAD_RESPONSE"


class PurchaseError(KrosAIError):
    """A purchase whose outcome was not clear from its first answer."""

    def __init__(
        self, message: str, *, inventory_id: str, idempotency_key: str, cause: KrosAIError
    ) -> None:
        super().__init__(message)
        self.inventory_id = inventory_id
        self.idempotency_key = idempotency_key
        self.cause = cause


class PurchaseNotCompleted(PurchaseError):
    """Reconciliation showed the number was not bought; trying again is safe."""

    code = "PURCHASE_NOT_COMPLETED"


class PurchaseOutcomeUnknown(PurchaseError):
    """Whether the number was bought could not be established; check owned numbers before buying again."""

    code = "PURCHASE_OUTCOME_UNKNOWN"
