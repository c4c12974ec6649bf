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
│   ├── ConflictError             409
│   ├── RateLimitError            429 (retry_after seconds)
│   └── ServerError               5xx
├── TransportError                no usable answer: connection failed, timed out, or dropped
├── ResponseFormatError           a 2xx answer this client cannot read
└── PurchaseError                 a purchase whose first answer was ambiguous
    ├── PurchaseNotCompleted      reconciled: definitely not purchased, safe to try again
    └── PurchaseOutcomeUnknown    could not tell: do not buy again before checking
```

No exception ever carries the API key: messages are built from status, code and the API's
error text only.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIError",
    "AuthenticationError",
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


class TransportError(KrosAIError):
    """No usable answer: the connection failed, timed out or was dropped."""

    code = "TRANSPORT_ERROR"

    def __init__(self, message: str, *, request_sent: bool) -> None:
        super().__init__(message)
        # False only when the request certainly never reached the server.
        self.request_sent = request_sent


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
