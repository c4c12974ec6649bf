"""Who may call the server over HTTP, and as whom.

Three ways in, one mechanism: a token verifier in the SDK's sense turns the presented credential
into a `Principal` (an SDK `AccessToken`), Starlette's `AuthenticationMiddleware` puts it in the
ASGI scope as the SDK's `AuthenticatedUser`, and from there the SDK binds sessions and request
state to it. `RequireAuth` then answers what RFC 6750 says: 401 without an `error` parameter when
no credentials came, 401 `invalid_token` when they were wrong, 403 `insufficient_scope` when the
token lacks a scope the request needs.

- Static bearer tokens (single tenant): KROS_MCP_AUTH_TOKENS, compared in constant time.
- Tenant keys (multi tenant): the caller's own KrosAI key, verified with KrosAI before anything
  is served (see `server/tenants.py`).
- OAuth 2.1 access tokens (resource-server mode): see `oauth.py`.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from limits import RateLimitItem
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import TokenVerifier
from pydantic import SecretStr
from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...store import tenant_key
from ..tenants import TenantKeys, VerificationUnavailable
from .principal import STATIC_CLIENT, TENANT_CLIENT, Principal, client_address, fingerprint
from .throttle import Throttle

__all__ = [
    "Challenge",
    "CredentialBackend",
    "RequireAuth",
    "StaticTokenVerifier",
    "TenantKeyVerifier",
    "api_key_from_headers",
    "authenticated",
]

_KEY_PREFIX = "kros_"
_MAX_CREDENTIAL = 4096
_MAX_KEY = 256


def api_key_from_headers(headers: dict[str, str]) -> str | None:
    """A KrosAI key from `x-api-key` or `Authorization: Bearer kros_...`, if well-formed."""
    candidate = headers.get("x-api-key", "").strip()
    if not candidate:
        candidate = _bearer(headers) or ""
    return candidate if _well_formed_key(candidate) else None


def _well_formed_key(candidate: str) -> bool:
    return (
        candidate.startswith(_KEY_PREFIX)
        and len(candidate) <= _MAX_KEY
        and candidate.isascii()
        and candidate.isprintable()
    )


def _bearer(headers: dict[str, str]) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@dataclass(frozen=True)
class Challenge:
    """What the `WWW-Authenticate` header says (RFC 6750 §3, RFC 9728 §5.1)."""

    resource_metadata: str | None = None
    scope: str | None = None

    def header(self, error: str | None = None, description: str | None = None) -> str:
        parts = ['realm="kros-mcp"']
        if error is not None:
            parts.append(f'error="{error}"')
        if description is not None:
            parts.append(f'error_description="{description}"')
        if self.scope is not None:
            parts.append(f'scope="{self.scope}"')
        if self.resource_metadata is not None:
            parts.append(f'resource_metadata="{self.resource_metadata}"')
        return "Bearer " + ", ".join(parts)


class StaticTokenVerifier:
    """KROS_MCP_AUTH_TOKENS: every token is a principal of its own, with every scope."""

    def __init__(self, tokens: Sequence[str], scopes: Sequence[str]) -> None:
        self._tokens = [t.encode() for t in tokens if t]
        self._scopes = list(scopes)

    async def verify_token(self, token: str) -> Principal | None:
        presented = token.encode("utf-8", "surrogatepass")
        # Compare against every token, always, so timing says nothing about which one matched.
        matched = False
        for expected in self._tokens:
            matched |= hmac.compare_digest(presented, expected)
        if not matched:
            return None
        name = fingerprint(token)
        return Principal(
            token=name,
            client_id=STATIC_CLIENT,
            subject=name,
            scopes=self._scopes,
            principal=f"token:{name}",
        )


class TenantKeyVerifier:
    """Multi tenant: a KrosAI key KrosAI accepts is a principal (its tenant), with every scope."""

    def __init__(self, keys: Callable[[], TenantKeys | None], scopes: Sequence[str]) -> None:
        self._keys = keys
        self._scopes = list(scopes)

    async def verify_token(self, token: str) -> Principal | None:
        if not _well_formed_key(token):
            return None
        keys = self._keys()
        if keys is None:
            raise VerificationUnavailable("the server is starting")
        if await keys.verify(token) != "accepted":
            return None
        tenant = tenant_key(token)
        return Principal(
            token=tenant,
            client_id=TENANT_CLIENT,
            subject=tenant,
            scopes=self._scopes,
            principal=f"tenant:{tenant}",
            api_key=SecretStr(token),
            tenant=tenant,
        )


class Refusal(AuthenticationError):
    """Credentials were presented and not accepted: why, as an HTTP answer."""

    def __init__(self, status: int, error: str, description: str, retry_after: float = 0) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.retry_after = retry_after


class CredentialBackend(AuthenticationBackend):
    """Reads the credential, asks the verifier, and counts refusals per client address: past the
    limit an address gets 429 before its credential is even checked (no guessing, and no flood of
    KrosAI calls from made-up tenant keys)."""

    def __init__(
        self,
        verifier: TokenVerifier,
        *,
        api_key_header: bool,
        throttle: Throttle,
        failures: RateLimitItem,
    ) -> None:
        self._verifier = verifier
        self._api_key_header = api_key_header
        self._throttle = throttle
        self._failures = failures

    def credential(self, conn: HTTPConnection) -> str | None:
        headers = {k.lower(): v for k, v in conn.headers.items()}
        found = headers.get("x-api-key", "").strip() if self._api_key_header else ""
        return found or _bearer(headers)

    async def authenticate(
        self, conn: HTTPConnection
    ) -> tuple[AuthCredentials, AuthenticatedUser] | None:
        credential = self.credential(conn)
        if credential is None:
            return None
        address = client_address(conn.scope)
        wait = self._throttle.blocked(self._failures, "auth-failure", address)
        if wait is not None:
            raise Refusal(429, "too_many_requests", "too many refused credentials", wait)
        token = None
        if len(credential) <= _MAX_CREDENTIAL:
            try:
                token = await self._verifier.verify_token(credential)
            except VerificationUnavailable:
                raise Refusal(
                    503, "temporarily_unavailable", "cannot verify credentials now", 5
                ) from None
        if token is None:
            self._throttle.hit(self._failures, "auth-failure", address)
            raise Refusal(401, "invalid_token", "the access token is invalid or expired")
        return AuthCredentials(token.scopes), AuthenticatedUser(token)


def _refusal_response(challenge: Challenge) -> Callable[[HTTPConnection, Exception], Response]:
    def respond(conn: HTTPConnection, exc: Exception) -> Response:
        refusal = (
            exc
            if isinstance(exc, Refusal)
            else Refusal(401, "invalid_token", "the access token is invalid")
        )
        headers = {}
        if refusal.status == 401:
            headers["WWW-Authenticate"] = challenge.header(refusal.error, refusal.description)
        if refusal.retry_after:
            headers["Retry-After"] = str(max(1, round(refusal.retry_after)))
        body = {"error": refusal.description, "code": _CODES.get(refusal.status, "UNAUTHORIZED")}
        return JSONResponse(body, status_code=refusal.status, headers=headers)

    return respond


_CODES = {401: "UNAUTHORIZED", 429: "RATE_LIMITED", 503: "UNAVAILABLE"}


class RequireAuth:
    """Lets only authenticated requests through, and only with the scopes they need: the read
    scope for anything, the write scope for a `tools/call` of a write tool."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        challenge: Challenge,
        read_scope: str,
        write_scope: str,
        write_tools: frozenset[str],
        body_limit: int,
        missing: str,
    ) -> None:
        self.app = app
        self._challenge = challenge
        self._read = read_scope
        self._write = write_scope
        self._write_tools = write_tools
        self._limit = body_limit
        self._missing = missing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") == "OPTIONS":
            await self.app(scope, receive, send)
            return
        user = scope.get("user")
        if not isinstance(user, AuthenticatedUser):
            # RFC 6750 §3.1: no credentials, no error code.
            header = self._challenge.header()
            await _send_json(send, 401, {"error": self._missing, "code": "UNAUTHORIZED"}, header)
            return
        scopes = set(user.access_token.scopes)
        if self._read not in scopes:
            await self._insufficient(send, self._read)
            return
        if self._write in scopes or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        body, replay = await _buffer_body(receive, self._limit)
        if body is not None and _calls_any(body, self._write_tools):
            await self._insufficient(send, f"{self._read} {self._write}")
            return
        await self.app(scope, replay, send)

    async def _insufficient(self, send: Send, needed: str) -> None:
        header = Challenge(self._challenge.resource_metadata, needed).header(
            "insufficient_scope", f"this request needs the scope {needed}"
        )
        body = {"error": f"insufficient scope: this needs {needed}", "code": "FORBIDDEN"}
        await _send_json(send, 403, body, header)


async def _send_json(send: Send, status: int, body: dict[str, str], challenge: str) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"www-authenticate", challenge.encode("latin-1")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def _buffer_body(receive: Receive, limit: int) -> tuple[bytes | None, Receive]:
    """The request body (None when over `limit`), and a receive that replays it to the app."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        if not message.get("more_body", False) or size > limit:
            break
    body = (
        b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
        if size <= limit
        else None
    )

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return body, replay


def _calls_any(body: bytes, tools: frozenset[str]) -> bool:
    """Whether a JSON-RPC body (one message or a batch) calls any of `tools`."""
    if b"tools/call" not in body:
        return False
    try:
        parsed = json.loads(body)
    except ValueError:
        return False
    for message in parsed if isinstance(parsed, list) else [parsed]:
        if not isinstance(message, dict) or message.get("method") != "tools/call":
            continue
        params = message.get("params")
        if isinstance(params, dict) and params.get("name") in tools:
            return True
    return False


def authenticated(
    app: ASGIApp,
    backend: CredentialBackend,
    challenge: Challenge,
    require: Callable[[ASGIApp], RequireAuth],
) -> ASGIApp:
    """`app` behind the whole chain: authenticate, expose the token to handlers, require it."""
    guarded = AuthContextMiddleware(require(app))
    return AuthenticationMiddleware(guarded, backend=backend, on_error=_refusal_response(challenge))
