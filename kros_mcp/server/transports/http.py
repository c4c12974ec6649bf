"""The HTTP app: streamable HTTP (`/mcp`) or SSE (`/sse`), authentication (static tokens, tenant
keys or OAuth), session admission, DNS-rebinding checks, a body-size limit, and unauthenticated
`/healthz` and `/readyz` (plus the OAuth metadata document in OAuth mode)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, Literal

import anyio
import httpx2
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from ...config import ConfigError, Settings
from .._sdk_compat import server_lifespan
from ..tools import WRITE_TOOLS
from .access import ToolAccess
from .auth import (
    Challenge,
    CredentialBackend,
    RequireAuth,
    StaticTokenVerifier,
    TenantKeyVerifier,
    authenticated,
)
from .oauth import IntrospectionVerifier, JWTVerifier, OAuthScopes, metadata_routes, metadata_url
from .sessions import AdmissionRules, SessionAdmission
from .sse import SSE_MESSAGES_PATH, SSE_PATH, sse_app
from .throttle import Throttle, parse_rate

__all__ = [
    "MCP_PATH",
    "SSE_MESSAGES_PATH",
    "SSE_PATH",
    "build_http_app",
    "hosted_settings",
    "transport_security",
]

log = logging.getLogger("kros_mcp.server")

MCP_PATH = "/mcp"
_LOCAL_HOSTS = ("127.0.0.1:*", "localhost:*", "[::1]:*")
_LOCAL_ORIGINS = ("http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*")
HTTP_TOOL_RATE_LIMIT = 20.0


def hosted_settings(settings: Settings) -> Settings:
    """Settings for serving over HTTP: confirmation `human` and a tool rate limit unless chosen."""
    update: dict[str, Any] = {}
    if "confirmation" not in settings.model_fields_set:
        update["confirmation"] = "human"
    if settings.tool_rate_limit is None:
        update["tool_rate_limit"] = HTTP_TOOL_RATE_LIMIT
    return settings.model_copy(update=update) if update else settings


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """Host and Origin allowlists against DNS rebinding: loopback plus what the operator lists."""
    hosts = [*_LOCAL_HOSTS, *(settings.list_setting("allowed_hosts") or [])]
    origins = [*_LOCAL_ORIGINS, *(settings.list_setting("allowed_origins") or [])]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


async def _probe_upstream(settings: Settings) -> tuple[bool, str]:
    if (
        settings.uses_sandbox
    ):  # single or multi tenant: open_deps then serves the in-process sandbox
        return True, "in-process sandbox"
    try:
        async with httpx2.AsyncClient(timeout=3.0) as http:
            response = await http.get(settings.krosai_base_url)
    except httpx2.HTTPError as exc:
        return False, f"KrosAI unreachable ({type(exc).__name__})"
    ok = response.status_code < 500
    return ok, f"KrosAI answered HTTP {response.status_code}"


async def _probe_store(current: Any) -> tuple[bool, str]:
    """The shared store's health; never a store of its own (a probe per call would open one)."""
    if current is None:
        return False, "starting"
    try:
        with anyio.fail_after(5):
            await current.store.spent_in_window("t_readiness_probe", 60)
    except Exception as exc:  # noqa: BLE001 - any failure means not ready; the reason is reported
        return False, f"state store unavailable ({type(exc).__name__})"
    return True, "state store ok"


def _verifier(settings: Settings, mcp: Any, scopes: OAuthScopes) -> Any:
    """The token verifier for the configured way in, or None when nothing is asked (loopback)."""
    if settings.oauth_enabled:
        if settings.oauth_audience is None or settings.oauth_issuer is None:
            raise ConfigError("OAuth mode needs KROS_MCP_OAUTH_ISSUER and KROS_MCP_OAUTH_AUDIENCE")
        if settings.oauth_introspection_url:
            return IntrospectionVerifier(
                issuer=settings.oauth_issuer,
                audience=settings.oauth_audience,
                url=settings.oauth_introspection_url,
                client_id=settings.oauth_client_id,
                client_secret=settings.oauth_client_secret,
                scopes=scopes,
            )
        if settings.oauth_jwks_url is None:
            raise ConfigError(
                "OAuth mode needs KROS_MCP_OAUTH_JWKS_URL or KROS_MCP_OAUTH_INTROSPECTION_URL"
            )
        return JWTVerifier(
            issuer=settings.oauth_issuer,
            audience=settings.oauth_audience,
            jwks_url=settings.oauth_jwks_url,
            algorithms=settings.oauth_algorithms.split(","),
            scopes=scopes,
        )
    every = [scopes.read, scopes.write]
    if settings.multi_tenant:

        def keys() -> Any:
            deps = mcp.current_deps_or_none()
            return None if deps is None else deps.tenant_keys

        return TenantKeyVerifier(keys, every)
    tokens = settings.auth_tokens()
    return StaticTokenVerifier(tokens, every) if tokens else None


def _guard(app: ASGIApp, settings: Settings, mcp: Any) -> ASGIApp:
    """`app` behind authentication, when the settings ask for any."""
    scopes = OAuthScopes(settings.oauth_read_scope, settings.oauth_write_scope)
    verifier = _verifier(settings, mcp, scopes)
    if verifier is None:  # the CLI allows that on loopback only
        return app
    challenge = (
        Challenge(metadata_url(settings.oauth_audience), f"{scopes.read} {scopes.write}")
        if settings.oauth_enabled and settings.oauth_audience
        else Challenge()
    )
    missing = (
        "send your KrosAI API key as 'Authorization: Bearer kros_...' or in the x-api-key header"
        if settings.multi_tenant
        else "missing bearer token: send 'Authorization: Bearer <token>'"
    )
    backend = CredentialBackend(
        verifier,
        api_key_header=settings.multi_tenant,
        throttle=Throttle(),
        failures=parse_rate(settings.auth_failure_rate_per_address),
    )

    def require(inner: ASGIApp) -> RequireAuth:
        return RequireAuth(
            inner,
            challenge=challenge,
            read_scope=scopes.read,
            write_scope=scopes.write,
            write_tools=frozenset(WRITE_TOOLS),
            body_limit=settings.max_body_bytes,
            missing=missing,
        )

    return authenticated(app, backend, challenge, require)


def _install_middleware(mcp: Any, settings: Settings, stateless: bool) -> None:
    rate = settings.tool_rate_limit
    per_second = None if rate is None else f"{max(1, round(rate))}/second"
    mcp.middleware.append(
        ToolAccess(
            frozenset(WRITE_TOOLS),
            per_principal=None if per_second is None else parse_rate(per_second),
            per_address=parse_rate(settings.tool_rate_per_address),
        )
    )
    if stateless:
        from ..notify import stateless_capabilities

        mcp.middleware.append(stateless_capabilities)


def admission_rules(settings: Settings) -> AdmissionRules:
    return AdmissionRules(
        max_sessions=settings.max_sessions,
        per_principal=settings.max_sessions_per_principal,
        idle_timeout=settings.session_idle_timeout,
        principal_rate=parse_rate(settings.initialize_rate_per_principal),
        address_rate=parse_rate(settings.initialize_rate_per_address),
    )


def _admitted_endpoint(
    mcp: Any,
    settings: Settings,
    shared: dict[str, Any],
    *,
    transport: Literal["streamable-http", "sse"],
    stateless: bool,
    json_response: bool,
) -> SessionAdmission:
    """The MCP endpoint (SSE or streamable HTTP) behind session admission."""
    security = transport_security(settings)
    limit = settings.max_body_bytes
    if transport == "sse":
        inner = sse_app(
            mcp,
            lambda: shared["state"],
            security=security,
            max_request_body_size=limit,
        )
    else:
        inner = mcp.streamable_http_app(
            streamable_http_path=MCP_PATH,
            stateless_http=stateless,
            json_response=json_response,
            transport_security=security,
            max_request_body_size=limit,
            session_idle_timeout=settings.session_idle_timeout,
            max_sessions=settings.max_sessions,
        )
    kind: Literal["stateful", "stateless", "sse"] = (
        "sse" if transport == "sse" else ("stateless" if stateless else "stateful")
    )
    return SessionAdmission(inner, admission_rules(settings), kind=kind)


def _open_routes(mcp: Any, settings: Settings) -> list[Route]:
    """What answers without authentication: health, readiness, and the OAuth metadata."""

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        checks = [await _probe_store(mcp.current_deps_or_none()), await _probe_upstream(settings)]
        ready = all(ok for ok, _ in checks)
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": [m for _, m in checks]},
            status_code=200 if ready else 503,
        )

    async def not_found(request: Request) -> JSONResponse:
        return JSONResponse({"error": "not found"}, status_code=404)

    routes = [Route("/healthz", healthz), Route("/readyz", readyz)]
    if settings.oauth_enabled and settings.oauth_issuer and settings.oauth_audience:
        scopes = OAuthScopes(settings.oauth_read_scope, settings.oauth_write_scope)
        routes += metadata_routes(
            issuer=settings.oauth_issuer, audience=settings.oauth_audience, scopes=scopes
        )
    # With OAuth off the metadata paths are 404, not 401: nothing to discover here.
    routes.append(Route("/.well-known/{rest:path}", not_found, methods=["GET", "HEAD", "OPTIONS"]))
    return routes


def build_http_app(
    mcp: Any,
    settings: Settings,
    *,
    transport: Literal["streamable-http", "sse"],
    stateless: bool = False,
    json_response: bool = False,
) -> Starlette:
    """The server's HTTP app. `mcp` is a KrosMCPServer from build_server."""
    shared: dict[str, Any] = {}
    admitted = _admitted_endpoint(
        mcp,
        settings,
        shared,
        transport=transport,
        stateless=stateless,
        json_response=json_response,
    )
    _install_middleware(mcp, settings, stateless and transport != "sse")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if transport == "sse":  # the server's lifespan (deps) once, for every stream
            async with server_lifespan(mcp) as state:
                shared["state"] = state
                yield
        else:
            async with mcp.session_manager.run():  # enters the server's lifespan once
                yield

    routes: list[Route | Mount] = [
        *_open_routes(mcp, settings),
        Mount("/", app=_guard(admitted, settings, mcp)),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
