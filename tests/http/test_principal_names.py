"""Who is asking, as the tools see it (`Deps.principal`), and how long tenant-key verdicts last.

In-process: the SDK's auth context is set as its middleware sets it, and `deps_of` is asked."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.mcpserver.exceptions import ToolError

from kros_mcp.krosai.errors import AuthenticationError
from kros_mcp.server.context import deps_of
from kros_mcp.server.tenants import TenantClients, TenantKeys
from kros_mcp.server.transports.auth import StaticTokenVerifier
from kros_mcp.server.transports.principal import Principal, fingerprint

pytestmark = pytest.mark.anyio

TOKEN = "tok-" + "p" * 32


def _ctx(deps: Any, http: bool = True) -> Any:
    request = SimpleNamespace(headers={}) if http else None
    return SimpleNamespace(request_context=SimpleNamespace(lifespan_context=deps, request=request))


def _deps(**fields: Any) -> Any:
    from kros_mcp.server.deps import Deps

    base = {
        "settings": None,
        "client": None,
        "store": None,
        "tokens": None,
        "tenant": "t_own",
        "backend": "sandbox",
    }
    return Deps(**{**base, **fields})


async def test_a_static_token_is_named_by_its_fingerprint() -> None:
    principal = await StaticTokenVerifier([TOKEN], ["kros:read", "kros:write"]).verify_token(TOKEN)
    assert principal is not None and principal.principal == f"token:{fingerprint(TOKEN)}"
    assert TOKEN not in repr(principal) and TOKEN not in principal.model_dump_json()
    reset = auth_context_var.set(AuthenticatedUser(principal))
    try:
        deps = deps_of(_ctx(_deps()))
    finally:
        auth_context_var.reset(reset)
    assert deps.principal == principal.principal and deps.tenant == "t_own"


async def test_stdio_and_unauthenticated_http() -> None:
    assert deps_of(_ctx(_deps(), http=False)).principal == "stdio"
    assert deps_of(_ctx(_deps(), http=True)).principal == "anonymous"


async def test_oauth_subject_is_the_principal() -> None:
    principal = Principal(
        token=fingerprint("jwt"),
        client_id="c",
        scopes=["kros:read"],
        subject="alice@example.com",
        principal="oauth:alice@example.com",
        can_write=False,
    )
    reset = auth_context_var.set(AuthenticatedUser(principal))
    try:
        assert deps_of(_ctx(_deps())).principal == "oauth:alice@example.com"
    finally:
        auth_context_var.reset(reset)


async def test_multi_tenant_without_a_key_is_refused() -> None:
    tenants = TenantClients(lambda key: None)  # type: ignore[arg-type, return-value]
    with pytest.raises(ToolError):
        deps_of(_ctx(_deps(tenants=tenants)))


class _Upstream:
    """A KrosAI client stand-in: accepts keys ending in 'good', refuses the rest."""

    def __init__(self, key: str, calls: list[str]) -> None:
        self._key = key
        self._calls = calls

    async def list_numbers(self, limit: int = 20) -> None:
        self._calls.append(self._key)
        if not self._key.endswith("good"):
            raise AuthenticationError("refused", status=401)


async def test_verdicts_are_cached_with_a_ttl_and_bounded() -> None:
    now = [0.0]
    calls: list[str] = []
    clients = TenantClients(lambda key: _Upstream(key, calls))  # type: ignore[arg-type, return-value]
    keys = TenantKeys(clients, accepted_ttl=300, refused_ttl=60, size=2, clock=lambda: now[0])
    good, bad = "kros_test_good", "kros_test_bad"
    assert [await keys.verify(good) for _ in range(3)] == ["accepted"] * 3
    assert [await keys.verify(bad) for _ in range(3)] == ["refused"] * 3
    assert calls == [good, bad]
    now[0] = 61  # the refusal has expired, the acceptance has not
    assert await keys.verify(bad) == "refused" and await keys.verify(good) == "accepted"
    assert calls == [good, bad, bad]
    now[0] = 400
    assert await keys.verify(good) == "accepted" and calls[-1] == good
    for i in range(5):  # more keys than the cache holds: it stays at its size
        await keys.verify(f"kros_test_{i}_good")
    assert len(keys._accepted) == 2
