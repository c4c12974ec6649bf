"""The sandbox: a local KrosAI-compatible API (`/v1`) with its own controls (`/_sandbox`), each
under its own router."""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._http import JSONResponse, error_response
from .api_routes import API_ROUTES
from .control_routes import CONTROL_ROUTES
from .db import SandboxDB
from .faults import ConnectionDropped, FaultBoard
from .ratelimit import RateLimiter
from .state import Sandbox

__all__ = ["Sandbox", "create_app"]

log = logging.getLogger("kros_mcp.sandbox")


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return error_response(
            405,
            "METHOD_NOT_ALLOWED",
            f"{request.method} is not allowed on {request.url.path}",
            headers=dict(exc.headers or {}),
        )
    return error_response(
        exc.status_code, "NOT_FOUND", f"no route {request.method} {request.url.path}"
    )


class _GuardMiddleware:
    """Last line: dropped connections are cut mid-response; any bug becomes a JSON 500, no traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            log.info("client went away during %s %s", scope.get("method"), scope.get("path"))
        except ConnectionDropped:
            if not started:
                # Promise a body that never arrives, so the client sees the connection cut.
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", b"1024"),
                        ],
                    }
                )
                await send(
                    {"type": "http.response.body", "body": b'{"id": "pn_', "more_body": True}
                )
            raise
        except Exception:
            log.exception("sandbox bug while serving %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            response = error_response(
                500, "INTERNAL_ERROR", "the sandbox failed unexpectedly; see its log"
            )
            await response(scope, receive, send)


def create_app(
    db_path: str | Path = ":memory:",
    *,
    inventory_per_block: int = 25,
    seed: int = 0,
    rate_limits: dict[str, float] | None = None,
) -> Starlette:
    """The sandbox ASGI app over the SQLite file at `db_path` (created and seeded when new)."""
    sandbox = Sandbox(
        db=SandboxDB(db_path, inventory_per_block=inventory_per_block, seed=seed),
        faults=FaultBoard(seed),
        limiter=RateLimiter(rate_limits),
    )
    routes = [
        Mount("/v1", routes=API_ROUTES),
        Mount("/_sandbox", routes=CONTROL_ROUTES),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    app.state.sandbox = sandbox
    app.add_middleware(_GuardMiddleware)
    return app
