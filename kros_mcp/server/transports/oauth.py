"""OAuth 2.1 resource-server mode, per the MCP authorization spec.

kros-mcp never issues tokens: an authorization server does, and this server validates them, either
as JWTs against the issuer's JWKS (PyJWT: signature, the allowed asymmetric algorithms only,
`iss`, `aud` equal to this server's resource URL per RFC 8707, `exp`, `nbf`) or, for opaque
tokens, by RFC 7662 introspection. The subject becomes the principal. The access token never goes
upstream: KrosAI is called with the operator's key.

Protected Resource Metadata (RFC 9728) names the authorization server; the SDK serves it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, cast
from urllib.parse import urlsplit

import anyio
import httpx2
import jwt
from cachetools import TTLCache
from mcp.server.auth.routes import build_resource_metadata_url, create_protected_resource_routes
from pydantic import AnyHttpUrl, SecretStr
from starlette.routing import Route

from ..tenants import VerificationUnavailable
from .principal import Principal, fingerprint

__all__ = [
    "IntrospectionVerifier",
    "JWTVerifier",
    "OAuthScopes",
    "metadata_routes",
    "metadata_url",
]

_LEEWAY = 30  # seconds of clock skew tolerated on exp and nbf
_JWKS_TTL = 600.0
_JWKS_REFRESH_FLOOR = 30.0  # an unknown kid refetches the JWKS at most this often
_MAX_SUBJECT = 255


class OAuthScopes:
    """The scope names: read for everything, write for the write tools."""

    def __init__(self, read: str, write: str) -> None:
        self.read = read
        self.write = write

    def principal(self, claims: dict[str, Any], token: str, audience: str) -> Principal | None:
        """The principal for validated claims, or None when they name no usable subject."""
        subject = claims.get("sub")
        if not (
            isinstance(subject, str) and 0 < len(subject) <= _MAX_SUBJECT and subject.isprintable()
        ):
            return None
        scopes = _scopes_of(claims)
        client = claims.get("client_id") or claims.get("azp") or "oauth-client"
        expires = claims.get("exp")
        return Principal(
            token=fingerprint(token),
            client_id=str(client)[:_MAX_SUBJECT],
            scopes=scopes,
            expires_at=int(expires) if isinstance(expires, int | float) else None,
            resource=audience,
            subject=subject,
            claims={"iss": claims.get("iss")},
            principal=f"oauth:{subject}",
            can_write=self.write in scopes,
        )


def _scopes_of(claims: dict[str, Any]) -> list[str]:
    scope = claims.get("scope")
    if isinstance(scope, str):
        return scope.split()
    listed = claims.get("scp")
    return [s for s in listed if isinstance(s, str)] if isinstance(listed, list) else []


class JWTVerifier:
    """JWT access tokens, checked against the issuer's JWKS (fetched, cached, refreshed on a new
    `kid`)."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str,
        algorithms: Sequence[str],
        scopes: OAuthScopes,
        http: httpx2.AsyncClient | None = None,
    ) -> None:
        self._issuer = issuer
        self._audience = audience
        self._jwks_url = jwks_url
        self._algorithms = list(algorithms)
        self._scopes = scopes
        self._http = http or httpx2.AsyncClient(timeout=5.0)
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched = 0.0
        self._lock = anyio.Lock()

    async def verify_token(self, token: str) -> Principal | None:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None
        if header.get("alg") not in self._algorithms:
            return None
        key = await self._key(header.get("kid"))
        if key is None:
            return None
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=_LEEWAY,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError:
            return None
        return self._scopes.principal(claims, token, self._audience)

    async def _key(self, kid: object) -> jwt.PyJWK | None:
        name = kid if isinstance(kid, str) else ""
        stale = time.monotonic() - self._fetched > _JWKS_TTL
        if name in self._keys and not stale:
            return self._keys[name]
        async with self._lock:
            since = time.monotonic() - self._fetched
            if stale or (name not in self._keys and since > _JWKS_REFRESH_FLOOR):
                await self._fetch()
        if name in self._keys:
            return self._keys[name]
        # A JWKS of one key may leave `kid` out of the token: that one key is meant.
        return next(iter(self._keys.values())) if len(self._keys) == 1 and not name else None

    async def _fetch(self) -> None:
        try:
            response = await self._http.get(self._jwks_url)
            response.raise_for_status()
            found = jwt.PyJWKSet.from_dict(response.json())
        except (httpx2.HTTPError, ValueError, jwt.PyJWTError) as exc:
            if not self._keys:
                raise VerificationUnavailable(f"JWKS unavailable ({type(exc).__name__})") from None
            return  # keep the keys we have until the issuer answers again
        self._keys = {k.key_id or "": k for k in found.keys}
        self._fetched = time.monotonic()


class IntrospectionVerifier:
    """Opaque access tokens, asked about at an RFC 7662 introspection endpoint (answers kept for
    up to 30 seconds, never past the token's expiry)."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        url: str,
        client_id: str | None,
        client_secret: SecretStr | None,
        scopes: OAuthScopes,
        http: httpx2.AsyncClient | None = None,
    ) -> None:
        self._issuer = issuer
        self._audience = audience
        self._url = url
        self._auth = (
            httpx2.BasicAuth(client_id, client_secret.get_secret_value())
            if client_id and client_secret is not None
            else None
        )
        self._scopes = scopes
        self._http = http or httpx2.AsyncClient(timeout=5.0)
        self._answers: TTLCache[str, Principal | None] = TTLCache(maxsize=10_000, ttl=30)

    async def verify_token(self, token: str) -> Principal | None:
        name = fingerprint(token)
        if name in self._answers:
            cached = self._answers[name]
            if cached is None or (cached.expires_at or 0) > time.time():
                return cached
        principal = self._check(await self._introspect(token), token)
        self._answers[name] = principal
        return principal

    async def _introspect(self, token: str) -> dict[str, Any]:
        try:
            form = {"token": token, "token_type_hint": "access_token"}
            response = (
                await self._http.post(self._url, data=form, auth=self._auth)
                if self._auth is not None
                else await self._http.post(self._url, data=form)
            )
            response.raise_for_status()
            body = response.json()
        except (httpx2.HTTPError, ValueError) as exc:
            raise VerificationUnavailable(f"introspection failed ({type(exc).__name__})") from None
        return body if isinstance(body, dict) else {}

    def _check(self, claims: dict[str, Any], token: str) -> Principal | None:
        if claims.get("active") is not True:
            return None
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or expires + _LEEWAY < time.time():
            return None
        not_before = claims.get("nbf")
        if isinstance(not_before, int | float) and not_before - _LEEWAY > time.time():
            return None
        if claims.get("iss", self._issuer) != self._issuer:
            return None
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self._audience not in audiences:
            return None
        return self._scopes.principal(claims, token, self._audience)


def metadata_url(audience: str) -> str:
    """Where this server's Protected Resource Metadata is (RFC 9728 §3.1)."""
    return str(build_resource_metadata_url(AnyHttpUrl(audience)))


def metadata_routes(*, issuer: str, audience: str, scopes: OAuthScopes) -> list[Route]:
    """The metadata document at its RFC 9728 location and at the bare well-known path (which
    clients that do not insert the resource path ask for)."""
    # Strings, not AnyHttpUrl: the metadata model keeps a path-less URL as written (no trailing
    # slash), and issuer identifiers are compared as exact strings (RFC 8414 §3.3).
    routes = create_protected_resource_routes(
        resource_url=cast(AnyHttpUrl, audience),
        authorization_servers=[cast(AnyHttpUrl, issuer)],
        scopes_supported=[scopes.read, scopes.write],
        resource_name="kros-mcp",
    )
    bare = "/.well-known/oauth-protected-resource"
    if urlsplit(metadata_url(audience)).path != bare:
        routes.append(Route(bare, endpoint=routes[0].endpoint, methods=["GET", "OPTIONS"]))
    return routes
