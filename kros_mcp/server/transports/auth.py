"""Who may call the server over HTTP.

Single tenant: the server holds the KrosAI key; clients present a bearer token from
KROS_MCP_AUTH_TOKENS (compared in constant time). Multi tenant: each client presents its own
KrosAI key (`Authorization: Bearer kros_...` or `x-api-key`), used upstream for that request only.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["AuthMiddleware", "api_key_from_headers"]

_KEY_PREFIX = "kros_"
_MAX_KEY = 256


def api_key_from_headers(headers: dict[str, str]) -> str | None:
    """A KrosAI key from `x-api-key` or `Authorization: Bearer kros_...`, if well-formed."""
    candidate = headers.get("x-api-key", "").strip()
    if not candidate:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        candidate = token.strip() if scheme.lower() == "bearer" else ""
    if (
        candidate.startswith(_KEY_PREFIX)
        and len(candidate) <= _MAX_KEY
        and candidate.isascii()
        and candidate.isprintable()
    ):
        return candidate
    return None


def _bearer(headers: dict[str, str]) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class AuthMiddleware:
    """401 with `WWW-Authenticate` for missing or wrong credentials; open paths pass untouched."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        tokens: Sequence[str] = (),
        multi_tenant: bool = False,
        open_paths: Sequence[str] = ("/healthz", "/readyz"),
    ) -> None:
        self.app = app
        self._tokens = [t.encode() for t in tokens if t]
        self._multi_tenant = multi_tenant
        self._open = tuple(open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] in self._open
            or scope.get("method") == "OPTIONS"
        ):
            await self.app(scope, receive, send)
            return
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        problem = self._check(headers)
        if problem is None:
            await self.app(scope, receive, send)
            return
        body = json.dumps({"error": problem, "code": "UNAUTHORIZED"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="kros-mcp", error="invalid_token"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _check(self, headers: dict[str, str]) -> str | None:
        """None when the request may pass, else what is wrong (never echoing the credential)."""
        if self._multi_tenant:
            if api_key_from_headers(headers) is None:
                return "send your KrosAI API key as 'Authorization: Bearer kros_...' or in the x-api-key header"
            return None
        token = _bearer(headers)
        if token is None:
            return "missing bearer token: send 'Authorization: Bearer <token>'"
        presented = token.encode()
        # Compare against every token, always, so timing says nothing about which one matched.
        matched = False
        for expected in self._tokens:
            matched |= hmac.compare_digest(presented, expected)
        return None if matched else "invalid bearer token"
