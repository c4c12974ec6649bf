"""Confirmation tokens: HMAC-signed, expiring, bound to tenant, tool, exact arguments and quote.

A token proves that the same terms were previewed moments ago: it is bound to the tenant, the
tool, the exact arguments and the quote (number, setup and monthly price). It is single-use: the
tool claims its id in the state store before acting, so a copy of a used token replays the
earlier outcome and never acts twice.

Format: `kc1.<payload>.<signature>`, both parts base64url; the payload is compact JSON.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .confirm import TokenState

__all__ = [
    "ConfirmationError",
    "ConfirmationTokens",
    "TokenClaims",
    "arguments_digest",
    "token_state",
]

_PREFIX = "kc1"
RefusalReason = Literal["malformed", "tampered", "expired", "mismatch", "reused"]


class ConfirmationError(Exception):
    """A confirmation token was refused; `reason` says why, the message what to do."""

    def __init__(
        self, reason: RefusalReason, message: str, state: TokenState = TokenState.MALFORMED
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.state = state

    @property
    def code(self) -> str:
        return f"CONFIRMATION_{self.reason.upper()}"


@dataclass(frozen=True)
class TokenClaims:
    token_id: str
    tenant: str
    tool: str
    args_digest: str
    # The quote agreed to: {"number", "setup_cost_cents", "monthly_cost_cents"}; None for a release.
    quote: dict[str, Any] | None
    expires_at: float


def arguments_digest(arguments: Mapping[str, Any]) -> str:
    """A digest of the exact arguments, independent of key order."""
    canonical = json.dumps(
        arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def token_state(error: ConfirmationError | None) -> TokenState:
    """The TokenState of a verified token (None) or of the error that refused it."""
    return TokenState.VALID if error is None else error.state


def _duration(seconds: float) -> str:
    """'45 seconds', '10 minutes': whole minutes only from two minutes up (a TTL may be 30 s)."""
    return f"{int(seconds)} seconds" if seconds < 120 else f"{int(seconds // 60)} minutes"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_AGAIN = "call the tool again without it to get a new one"


class ConfirmationTokens:
    """Issues and verifies confirmation tokens. The first key signs; every key verifies (rotation)."""

    def __init__(
        self,
        keys: Sequence[bytes],
        *,
        ttl_seconds: float = 600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not keys or any(len(k) < 32 for k in keys):
            raise ValueError("confirmation keys must be at least 32 bytes each")
        self._keys = list(keys)
        self.ttl_seconds = ttl_seconds
        self._clock = clock

    def _sign(self, key: bytes, payload: str) -> str:
        return _b64(hmac.new(key, f"{_PREFIX}.{payload}".encode(), hashlib.sha256).digest())

    def issue(
        self,
        *,
        tenant: str,
        tool: str,
        arguments: Mapping[str, Any],
        quote: Mapping[str, Any] | None,
    ) -> tuple[str, float]:
        """A new token for exactly these arguments and quote, and when it expires (unix time)."""
        expires_at = round(self._clock() + self.ttl_seconds, 3)
        claims = {
            "jti": secrets.token_urlsafe(12),
            "ten": tenant,
            "tool": tool,
            "args": arguments_digest(arguments),
            "q": dict(quote) if quote is not None else None,
            "exp": expires_at,
        }
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{_PREFIX}.{payload}.{self._sign(self._keys[0], payload)}", expires_at

    def verify(
        self, token: str, *, tenant: str, tool: str, arguments: Mapping[str, Any] | None
    ) -> TokenClaims:
        """Check signature, expiry and binding to tenant, tool and (unless None: the caller checks
        `bound_to` later) the exact arguments. Single use and the quote are the caller's to
        check. Raises ConfirmationError."""
        claims = self._read(token)
        if self._clock() > claims.expires_at:
            raise ConfirmationError(
                "expired",
                "the confirmation_token has expired (tokens last "
                f"{_duration(self.ttl_seconds)}); call the tool again without it "
                "for a fresh quote and token",
                TokenState.EXPIRED,
            )
        if claims.tool != tool:
            raise ConfirmationError(
                "mismatch",
                f"this confirmation_token was issued for another tool; call {tool} "
                "without a token to get one for this request",
                TokenState.OTHER_TOOL,
            )
        if claims.tenant != tenant:
            raise ConfirmationError(
                "mismatch",
                "this confirmation_token was issued for another organisation; call "
                f"{tool} without a token to get one for this request",
                TokenState.OTHER_TENANT,
            )
        if arguments is not None:
            self.bound_to(claims, arguments)
        return claims

    @staticmethod
    def bound_to(claims: TokenClaims, arguments: Mapping[str, Any]) -> None:
        """Raise ConfirmationError unless the token was issued for exactly these arguments."""
        if claims.args_digest != arguments_digest(arguments):
            raise ConfirmationError(
                "mismatch",
                "the arguments differ from the ones this confirmation_token was "
                "issued for; repeat the exact previewed arguments, or call again without "
                "a token to preview the new ones",
                TokenState.OTHER_ARGUMENTS,
            )

    def _read(self, token: str) -> TokenClaims:
        parts = token.strip().split(".") if isinstance(token, str) else []
        if len(parts) != 3 or parts[0] != _PREFIX or len(token) > 2048:
            raise ConfirmationError(
                "malformed", f"the confirmation_token is not one this server issued; {_AGAIN}"
            )
        _, payload, signature = parts
        if not any(hmac.compare_digest(self._sign(key, payload), signature) for key in self._keys):
            raise ConfirmationError(
                "tampered",
                "the confirmation_token's signature does not match (altered or "
                f"from another server); {_AGAIN}",
                TokenState.TAMPERED,
            )
        try:
            raw = json.loads(_unb64(payload))
            quote = raw.get("q")
            return TokenClaims(
                str(raw["jti"]),
                str(raw["ten"]),
                str(raw["tool"]),
                str(raw["args"]),
                dict(quote) if quote is not None else None,
                float(raw["exp"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ConfirmationError(
                "malformed", f"the confirmation_token could not be read; {_AGAIN}"
            ) from None
