"""Reach the sandbox in-process, through the same HTTP client code as the real API."""

from __future__ import annotations

import httpx
from starlette.types import ASGIApp

from .faults import ConnectionDropped

__all__ = ["SandboxTransport"]


class SandboxTransport(httpx.AsyncBaseTransport):
    """`httpx.ASGITransport` that turns a sandbox 'dropped connection' fault into the httpx error
    a real dropped socket gives."""

    def __init__(self, app: ASGIApp) -> None:
        self._inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._inner.handle_async_request(request)
        except ConnectionDropped as exc:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body", request=request
            ) from exc

    async def aclose(self) -> None:
        await self._inner.aclose()
