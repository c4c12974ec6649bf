"""The HTTP app: streamable HTTP (`/mcp`) or SSE (`/sse`), authentication, DNS-rebinding checks,
a body-size limit, and unauthenticated `/healthz` and `/readyz`."""

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

from ...config import Settings
from ...store import open_store
from .auth import AuthMiddleware

__all__ = ["MCP_PATH", "SSE_PATH", "build_http_app", "transport_security"]

log = logging.getLogger("kros_mcp.server")

MCP_PATH = "/mcp"
SSE_PATH = "/sse"
SSE_MESSAGES_PATH = "/messages/"
_LOCAL_HOSTS = ("127.0.0.1:*", "localhost:*", "[::1]:*")
_LOCAL_ORIGINS = ("http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*")


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


async def _probe_store(settings: Settings, current: Any) -> tuple[bool, str]:
    try:
        with anyio.fail_after(5):
            if current is not None:
                await current.store.spent_in_window("t_readiness_probe", 60)
            else:
                store = await open_store(settings.state_url or settings.state_db_path)
                try:
                    await store.spent_in_window("t_readiness_probe", 60)
                finally:
                    await store.close()
    except Exception as exc:  # noqa: BLE001 - any failure means not ready; the reason is reported
        return False, f"state store unavailable ({type(exc).__name__})"
    return True, "state store ok"


def build_http_app(
    mcp: Any,
    settings: Settings,
    *,
    transport: Literal["streamable-http", "sse"],
    stateless: bool = False,
    json_response: bool = False,
) -> Starlette:
    """The server's HTTP app. `mcp` is a KrosMCPServer from build_server."""
    security = transport_security(settings)
    limit = settings.max_body_bytes
    if transport == "sse":
        inner = mcp.sse_app(
            sse_path=SSE_PATH,
            message_path=SSE_MESSAGES_PATH,
            transport_security=security,
            max_request_body_size=limit,
        )
        runs_session_manager = False
    else:
        inner = mcp.streamable_http_app(
            streamable_http_path=MCP_PATH,
            stateless_http=stateless,
            json_response=json_response,
            transport_security=security,
            max_request_body_size=limit,
        )
        runs_session_manager = True

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        current = mcp.current_deps_or_none()
        checks = [await _probe_store(settings, current), await _probe_upstream(settings)]
        ready = all(ok for ok, _ in checks)
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": [m for _, m in checks]},
            status_code=200 if ready else 503,
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if runs_session_manager:
            async with mcp.session_manager.run():  # enters the server's lifespan (deps) once
                yield
        else:
            yield

    tokens = settings.auth_tokens()
    # Without tokens or tenants there is nothing to check: the CLI allows that on loopback only.
    secured = (
        AuthMiddleware(inner, tokens=tokens, multi_tenant=settings.multi_tenant)
        if (tokens or settings.multi_tenant)
        else inner
    )
    return Starlette(
        routes=[Route("/healthz", healthz), Route("/readyz", readyz), Mount("/", app=secured)],
        lifespan=lifespan,
    )
