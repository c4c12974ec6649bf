"""Server state (offers shown, used confirmation tokens, spend, idempotency keys, audit), keyed by tenant.

`open_store` picks the backend: a `postgresql://` (or `postgres://`) URL gives PostgreSQL, anything
else is the path of a SQLite file.
"""

from __future__ import annotations

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
    "StoreError",
    "StoredOffer",
    "is_postgres_url",
    "open_store",
    "tenant_key",
]

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


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
    """Open the state store: PostgreSQL for a `postgresql://` or `postgres://` URL, else a SQLite file.

    Raises StoreError if it cannot be reached, opened or migrated."""
    if is_postgres_url(url_or_path):
        from .postgres import PostgresStateStore

        return await PostgresStateStore.open(str(url_or_path).strip(), clock=clock)
    return SQLiteStateStore(url_or_path, clock=clock)
