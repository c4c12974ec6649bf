"""The one place that chooses between the sandbox and the real KrosAI API, and builds the server
on it. Every command (serve, call, demo, doctor, audit) and the tests get their server here."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from pydantic import SecretStr

from ..config import Settings
from ..krosai import KrosAIClient, RetryPolicy

if TYPE_CHECKING:
    from ..server import KrosMCPServer, Upstream

__all__ = ["SANDBOX_BASE_URL", "announcement", "build_server", "open_upstream", "organisation_key"]

# The in-process sandbox's address: never resolved, requests go to the app in this process.
SANDBOX_BASE_URL = "http://sandbox.kros-mcp.local/v1"


def organisation_key(settings: Settings) -> SecretStr:
    """The key of the organisation a single-tenant server acts for: the sandbox's without
    KROSAI_API_KEY."""
    key = settings.krosai_api_key
    if settings.uses_sandbox or key is None:
        return SecretStr(settings.sandbox_api_key)
    return key


def open_upstream(settings: Settings) -> Upstream:
    """The sandbox (in this process, made on its first request) without KROSAI_API_KEY, else the
    KrosAI API at KROSAI_BASE_URL. Called each time the server starts."""
    import httpx2

    from ..server import Upstream

    retry = RetryPolicy(deadline=settings.krosai_deadline)
    if settings.uses_sandbox:
        from ..sandbox.transport import LazySandbox

        sandbox = LazySandbox(settings.sandbox_db_path)
        transport: httpx2.AsyncBaseTransport | None = sandbox.transport()
        base_url = SANDBOX_BASE_URL
    else:
        sandbox = None
        # Multi-tenant: one pool for every caller's client. Single: the client's own.
        transport = httpx2.AsyncHTTPTransport(retries=0) if settings.multi_tenant else None
        base_url = settings.krosai_base_url

    def connect(api_key: str | SecretStr) -> KrosAIClient:
        return KrosAIClient(
            api_key,
            base_url=base_url,
            transport=transport,
            retry=retry,
            timeout=settings.krosai_timeout,
        )

    if sandbox is not None:
        return Upstream("sandbox", organisation_key(settings), connect, sandbox)
    return Upstream("krosai", organisation_key(settings), connect)


def announcement(settings: Settings) -> str:
    """What the operator is told on stderr when a server starts: sandbox or real API."""
    if settings.multi_tenant:
        if settings.uses_sandbox:
            return "*** kros-mcp (multi-tenant) is using the SANDBOX: callers present sandbox keys. ***"
        return f"kros-mcp (multi-tenant) is using the KrosAI API at {settings.krosai_base_url}"
    if settings.uses_sandbox:
        return (
            "*** kros-mcp is using the SANDBOX: a local imitation of KrosAI (no real numbers, "
            "no real money). ***\n"
            "*** Set KROSAI_API_KEY to use the real KrosAI API. "
            f"Sandbox data: {settings.sandbox_db_path} ***"
        )
    return f"kros-mcp is using the KrosAI API at {settings.krosai_base_url}"


def build_server(settings: Settings | None = None) -> KrosMCPServer:
    """The kros-mcp server for `settings` (read from the environment when not given), on the
    sandbox or the KrosAI API as they say. Raises ConfigError for a configuration that cannot work."""
    from ..server import KrosMCPServer

    settings = settings or Settings()
    return KrosMCPServer(settings, functools.partial(open_upstream, settings))
