"""Who is asking: the principal of an HTTP request.

Every authenticated request carries a `Principal` (the SDK's `AccessToken`, which its auth
middleware puts in the ASGI scope as `scope["user"]`). The SDK compares the (client id, issuer,
subject) of that token with the one that opened a session before it lets a request or an answer
into the session, and seals request state to it; kros-mcp uses the same token for its own limits
and its audit. The principal names are non-reversible: a fingerprint of a static bearer token,
the tenant key hash (itself a hash of the KrosAI key), or the OAuth subject.
"""

from __future__ import annotations

import hashlib

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from pydantic import SecretStr
from starlette.types import Scope

__all__ = [
    "STATIC_CLIENT",
    "TENANT_CLIENT",
    "Principal",
    "client_address",
    "current_principal",
    "fingerprint",
]

STATIC_CLIENT = "kros-mcp-static-token"
TENANT_CLIENT = "kros-mcp-tenant-key"
_LABEL = b"kros-mcp/principal/v1:"


def fingerprint(secret: str) -> str:
    """A stable, non-reversible name for a credential: the same on every replica and restart."""
    return hashlib.sha256(_LABEL + secret.encode("utf-8", "surrogatepass")).hexdigest()[:24]


class Principal(AccessToken):
    """An authenticated caller. `token` holds the credential's fingerprint, never the credential."""

    principal: str
    can_write: bool = True
    # Multi-tenant mode: the caller's own KrosAI key, used upstream for its requests only.
    api_key: SecretStr | None = None
    # The organisation whose data this caller sees (its tenant key); None: the server's own.
    tenant: str | None = None


def current_principal() -> Principal | None:
    """The principal of the request being served (None on stdio and on unauthenticated HTTP)."""
    token = get_access_token()
    return token if isinstance(token, Principal) else None


def client_address(scope: Scope) -> str:
    """The peer address of an HTTP request (the proxy's, behind a proxy that does not rewrite it)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
