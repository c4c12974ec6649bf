"""Everything a tool needs, built once per server run and reached through the lifespan context."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import anyio
from pydantic import SecretStr

from ..config import ConfigError, Settings
from ..krosai import KrosAIClient
from ..safety import ConfirmationTokens, Policy
from ..store import StateStore, open_store, tenant_key
from .notify import Subscribers
from .tenants import TenantClients, TenantKeys
from .upstream import InProcessSandbox, Upstream

__all__ = ["Deps", "open_deps"]

log = logging.getLogger("kros_mcp.server")

# Multi-tenant mode: the stand-in key until a request says who is calling; never sent to KrosAI.
_NO_TENANT_YET = SecretStr("kros_multi_tenant_placeholder")


@dataclass
class Deps:
    settings: Settings
    client: KrosAIClient
    store: StateStore
    tokens: ConfirmationTokens
    tenant: str
    backend: Literal["sandbox", "krosai"]
    policy: Policy = field(default_factory=Policy)
    subscribers: Subscribers = field(default_factory=Subscribers)
    # The in-process sandbox (None with the real API), made on its first use.
    sandbox: InProcessSandbox | None = None
    # Multi-tenant mode only: clients per caller key; `client` and `tenant` are then per request.
    tenants: TenantClients | None = None
    tenant_keys: TenantKeys | None = None
    # Who is asking, for the audit trail and per-caller limits: a non-reversible fingerprint of
    # the bearer token, the verified tenant, or the OAuth subject; "stdio" for a local client.
    principal: str = "stdio"

    @property
    def sandbox_app(self) -> Any:
        """The in-process sandbox ASGI app (None with the real API), for tests and diagnostics: its
        `/_sandbox/...` controls (faults, prices, KYC, balance) act on the very instance the tools use."""
        return None if self.sandbox is None else self.sandbox.app

    def for_api_key(self, api_key: str) -> Deps:
        """The same dependencies acting for the organisation behind `api_key` (multi-tenant mode)."""
        if self.tenants is None:
            raise RuntimeError("for_api_key is for a multi-tenant server")
        return replace(self, client=self.tenants.get(api_key), tenant=tenant_key(api_key))

    @property
    def confirmation(self) -> str:
        return self.settings.confirmation


def build_policy(settings: Settings) -> Policy:
    """The operator's policy from settings. Unknown tool names raise ConfigError."""
    from .tools import TOOL_NAMES  # the tools import this module

    try:
        return _policy(settings, TOOL_NAMES)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _policy(settings: Settings, known_tools: tuple[str, ...]) -> Policy:
    return Policy.build(
        read_only=settings.read_only,
        tools=settings.list_setting("tools"),
        exclude_tools=settings.list_setting("exclude_tools") or (),
        allowed_countries=settings.list_setting("allowed_countries"),
        max_monthly_cost_cents=settings.max_monthly_cost_cents,
        daily_budget_cents=settings.daily_budget_cents,
        protected_numbers=settings.list_setting("protected_numbers") or (),
        known_tools=known_tools,
    )


def load_signing_keys(settings: Settings) -> list[bytes]:
    """The signing keys, newest first: KROS_MCP_SECRET (comma-separated) then KROS_MCP_SECRET_FILE
    (one per line). Without either, a random key kept (0600) in the data directory."""
    keys: list[str] = []
    if settings.secret is not None:
        keys += settings.secret.get_secret_value().split(",")
    if settings.secret_file is not None:
        try:
            keys += settings.secret_file.read_text().splitlines()
        except OSError as exc:
            raise ConfigError(
                f"cannot read KROS_MCP_SECRET_FILE {settings.secret_file}: {exc.strerror}"
            ) from None
    keys = [k.strip() for k in keys if k.strip()]
    if keys:
        if any(len(k.encode()) < 32 for k in keys):
            raise ConfigError(
                "every signing key (KROS_MCP_SECRET, KROS_MCP_SECRET_FILE) must be at least 32 bytes"
            )
        return [k.encode() for k in keys]
    return [load_signing_key(settings)]


def load_signing_key(settings: Settings) -> bytes:
    """KROS_MCP_SECRET, or a random key kept (0600) in the data directory."""
    if settings.secret is not None:
        return load_signing_keys(settings)[0]
    path: Path = settings.secret_key_path
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write aside, then link into place: a second process starting at the same moment
        # either wins or reads the complete winner, never an empty file.
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    key = path.read_text().strip().encode()
    if len(key) < 32:
        raise ConfigError(
            f"the signing key file {path} is damaged (shorter than 32 bytes): delete it to make a new one"
        )
    return key


@asynccontextmanager
async def open_deps(settings: Settings, upstream: Upstream) -> AsyncIterator[Deps]:
    """Open the KrosAI client (through `upstream`), the state store and the token signer.

    Raises ConfigError for unusable signing keys, StoreError for an unreachable state store."""

    policy = build_policy(settings)
    tokens = ConfirmationTokens(load_signing_keys(settings), ttl_seconds=settings.confirmation_ttl)
    tenants = TenantClients(upstream.connect) if settings.multi_tenant else None
    api_key = upstream.api_key if tenants is None else _NO_TENANT_YET
    client = upstream.connect(api_key)
    try:
        store = await open_store(settings.state_target)
    except BaseException:
        await client.aclose()
        upstream.close()
        raise
    deps = Deps(
        settings=settings,
        client=client,
        store=store,
        tokens=tokens,
        tenant=tenant_key(api_key),
        backend=upstream.kind,
        policy=policy,
        sandbox=upstream.sandbox,
        tenants=tenants,
        tenant_keys=None
        if tenants is None
        else TenantKeys(
            tenants,
            accepted_ttl=settings.tenant_verified_ttl,
            refused_ttl=settings.tenant_refused_ttl,
        ),
    )
    try:
        from .reconcile import sweep_for

        # Unfinished writes are settled before serving, then swept for while the server runs.
        sweep = sweep_for(deps)
        await sweep.once(at_start=True)
        async with anyio.create_task_group() as sweeping:
            sweeping.start_soon(sweep.run)
            try:
                yield deps
            finally:
                sweeping.cancel_scope.cancel()
    finally:
        await client.aclose()
        await store.close()
        upstream.close()
