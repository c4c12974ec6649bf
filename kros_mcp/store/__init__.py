"""Server state (offers shown, used confirmation tokens, spend, idempotency keys, audit), keyed by tenant.

`open_store` picks the backend: a `postgresql://` (or `postgres://`, `postgresql+psycopg://`) URL
gives PostgreSQL, a file path gives SQLite, and anything else (another `scheme://`, a libpq
`host=... password=...` string) is refused with StateURLError rather than taken for a file name.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._common import Clock
from .base import (
    AuditEntry,
    AuditStatus,
    ProcessBeat,
    RequestClaim,
    StateStore,
    StoredOffer,
    StoreError,
    tenant_key,
)
from .sqlite import SQLiteStateStore

if TYPE_CHECKING:
    from .postgres import PostgresStateStore

__all__ = [
    "AuditEntry",
    "AuditStatus",
    "PostgresStateStore",
    "ProcessBeat",
    "RequestClaim",
    "SQLiteStateStore",
    "StateStore",
    "StateURLError",
    "StoreError",
    "StoredOffer",
    "describe_state_target",
    "is_postgres_url",
    "open_store",
    "parse_state_target",
    "tenant_key",
]

_POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,30}")
# `host=db password=...`: what libpq accepts besides URLs, and what a file path never starts with.
_LIBPQ_KEYWORDS = re.compile(r"(?:^|\s)[A-Za-z_]+\s*=")
_URL_HINT = (
    "use postgresql://user:password@host:5432/dbname for PostgreSQL, or a file path for SQLite"
)


class StateURLError(StoreError):
    """KROS_MCP_STATE_URL is in a form kros-mcp does not accept. The message never quotes the value,
    which may hold a password."""

    code = "STATE_URL_INVALID"


def parse_state_target(value: str | Path) -> str | Path:
    """A PostgreSQL URL (as `postgresql://...`) or a SQLite file path. Raises StateURLError."""
    if isinstance(value, Path):
        return value
    text = value.strip()
    if not text:
        raise StateURLError(f"KROS_MCP_STATE_URL is empty: {_URL_HINT}, or unset it")
    lowered = text.lower()
    for scheme in _POSTGRES_SCHEMES:
        if lowered.startswith(scheme):
            return "postgresql://" + text[len(scheme) :]
    if "://" in text:
        scheme = text.split("://", 1)[0]
        named = f"the scheme {scheme}://" if _SCHEME.fullmatch(scheme) else "a scheme"
        raise StateURLError(
            f"KROS_MCP_STATE_URL uses {named}, which kros-mcp does not support: {_URL_HINT}"
        )
    if _LIBPQ_KEYWORDS.search(text):
        raise StateURLError(
            "KROS_MCP_STATE_URL looks like a libpq keyword string (host=... dbname=...), which is not "
            f"accepted: {_URL_HINT}"
        )
    return Path(text).expanduser()


def describe_state_target(target: str | Path) -> str:
    """What to log about the state store: host, port and database, or the file path; no password."""
    if isinstance(target, Path):
        return f"SQLite file {target}"
    from .postgres import describe_url

    return f"PostgreSQL at {describe_url(target)[0]}"


def __getattr__(name: str) -> Any:
    # The PostgreSQL backend is imported only by runs that use it.
    if name == "PostgresStateStore":
        from .postgres import PostgresStateStore

        return PostgresStateStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_postgres_url(url_or_path: str | Path) -> bool:
    return isinstance(url_or_path, str) and url_or_path.strip().lower().startswith(
        _POSTGRES_SCHEMES
    )


async def open_store(url_or_path: str | Path, *, clock: Clock = time.time) -> StateStore:
    """Open the state store: PostgreSQL for a PostgreSQL URL, SQLite for a file path.

    Raises StateURLError for any other form, StoreError if it cannot be reached, opened or migrated."""
    target = parse_state_target(url_or_path)
    if isinstance(target, str):
        from .postgres import PostgresStateStore

        return await PostgresStateStore.open(target, clock=clock)
    return SQLiteStateStore(target, clock=clock)
