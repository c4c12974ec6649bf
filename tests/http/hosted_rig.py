"""A kros-mcp HTTP app served in this process on a real 127.0.0.1 socket (uvicorn in a thread),
so a test can also look at the server's own state (subscribers, key verdicts). Plus an MCP client
with headers, and a local OAuth issuer: RSA keys made here, the JWKS served on 127.0.0.1."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx2
import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kros_mcp.cli.wiring import build_server
from kros_mcp.config import Settings
from kros_mcp.server.transports.http import build_http_app, hosted_settings
from tests.support.processes import free_port


@contextmanager
def serve_in_thread(app: Any, port: int | None = None) -> Iterator[str]:
    """`app` on 127.0.0.1 until the block ends; yields its root URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the in-process server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


@dataclass
class Hosted:
    url: str  # the MCP endpoint
    root: str
    mcp: Any

    @property
    def deps(self) -> Any:
        return self.mcp.current_deps_or_none()


@contextmanager
def hosted(
    data_dir: Path,
    transport: Literal["stateful", "stateless", "sse"] = "stateful",
    port: int | None = None,
    **settings: Any,
) -> Iterator[Hosted]:
    """kros-mcp as `kros-mcp serve` would build it for HTTP, with these settings (by alias)."""
    values = {"KROS_MCP_DATA_DIR": data_dir, "KROS_MCP_CONFIRMATION": "auto", **settings}
    config = hosted_settings(Settings(**values))
    mcp = build_server(config)
    app = build_http_app(
        mcp,
        config,
        transport="sse" if transport == "sse" else "streamable-http",
        stateless=transport == "stateless",
        json_response=transport == "stateless",
    )
    with serve_in_thread(app, port) as root:
        path = "/sse" if transport == "sse" else "/mcp"
        yield Hosted(root + path, root, mcp)


@asynccontextmanager
async def client_for(
    url: str, mode: str = "legacy", headers: dict[str, str] | None = None, **options: Any
) -> AsyncIterator[Client]:
    options.setdefault("read_timeout_seconds", 30.0)
    if url.endswith("/sse"):
        async with Client(
            sse_client(url, headers=headers, timeout=10.0), mode=mode, **options
        ) as c:
            yield c
        return
    async with (
        httpx2.AsyncClient(headers=headers or {}, timeout=httpx2.Timeout(30.0)) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode, **options) as client,
    ):
        yield client


class Issuer:
    """A local OAuth issuer: an RSA signing key (and a stranger's), its JWKS on 127.0.0.1."""

    ISSUER = "https://issuer.kros.test"

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        self.jwks = {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}
        self.fetches = 0

    def app(self) -> Starlette:
        async def jwks(request: Request) -> JSONResponse:
            self.fetches += 1
            return JSONResponse(self.jwks)

        return Starlette(routes=[Route("/jwks.json", jwks)])

    def token(
        self,
        audience: str,
        *,
        scope: str = "kros:read kros:write",
        subject: str = "alice",
        key: Any = None,
        lifetime: float = 600,
        not_before: float | None = None,
        issuer: str | None = None,
        kid: str = "k1",
        **extra: Any,
    ) -> str:
        now = time.time()
        claims = {
            "iss": issuer or self.ISSUER,
            "sub": subject,
            "aud": audience,
            "iat": int(now),
            "exp": int(now + lifetime),
            "scope": scope,
            "client_id": "test-client",
            **extra,
        }
        if not_before is not None:
            claims["nbf"] = int(not_before)
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": kid})
