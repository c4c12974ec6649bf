"""Reach the sandbox in-process, through the same HTTP client code as the real API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
from starlette.types import ASGIApp

from .faults import ConnectionDropped

__all__ = ["LazySandbox", "SandboxTransport"]


class SandboxTransport(httpx2.AsyncBaseTransport):
    """`httpx2.ASGITransport` that turns a sandbox "dropped connection" fault into the httpx2 error
    a real dropped socket gives."""

    def __init__(self, app: ASGIApp) -> None:
        self._inner = httpx2.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            return await self._inner.handle_async_request(request)
        except ConnectionDropped as exc:
            raise httpx2.RemoteProtocolError(
                "peer closed connection without sending complete message body", request=request
            ) from exc

    async def aclose(self) -> None:
        await self._inner.aclose()


class LazySandbox:
    """The sandbox app over the SQLite file at `db_path`, made when first needed: a server starts
    without importing the sandbox, opening its database or, on a first run, seeding it."""

    def __init__(self, db_path: str | Path) -> None:
        self.db_path = db_path
        self._app: Any = None

    @property
    def created(self) -> bool:
        return self._app is not None

    @property
    def app(self) -> Any:
        if self._app is None:
            from . import create_app  # looked up on the package, where tests may replace it

            self._app = create_app(self.db_path)
        return self._app

    def transport(self) -> SandboxTransport:
        """A transport to this sandbox that makes it on its first request."""
        return _LazyTransport(self)

    def close(self) -> None:
        if self._app is not None:
            self._app.state.sandbox.db.close()


class _LazyTransport(SandboxTransport):
    def __init__(self, sandbox: LazySandbox) -> None:
        self._sandbox = sandbox
        self._inner: httpx2.ASGITransport | None = None  # type: ignore[assignment]

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if self._inner is None:
            self._inner = httpx2.ASGITransport(app=self._sandbox.app)
        return await super().handle_async_request(request)

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()
