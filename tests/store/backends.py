"""The storage behind the state-store suite, one class per backend: `SQLiteBackend` (a file) and
`PostgresBackend` (a random schema of the test database, dropped at teardown). `open()` opens one
more store object on the same storage (a separate connection), so a test can stand for several
processes or replicas; `run_parallel()` runs calls truly at once: threads for SQLite (each store
call is synchronous inside), tasks for PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio

from kros_mcp.store import PostgresStateStore, SQLiteStateStore, StateStore
from kros_mcp.store import postgres as pg_module
from kros_mcp.store import sqlite as sqlite_module
from tests.support.clocks import ManualClock

T = TypeVar("T")

POSTGRES_URL = os.environ.get("KROS_MCP_TEST_POSTGRES_URL")
POSTGRES_SKIP_REASON = "set KROS_MCP_TEST_POSTGRES_URL to run the PostgreSQL store tests"

T0 = 1_700_000_000.0


class FakeClock(ManualClock):
    """A clock the test moves by hand, from T0."""

    def __init__(self, now: float = T0) -> None:
        super().__init__(now)


class Backend:
    name: str

    def __init__(self) -> None:
        self.stores: list[StateStore] = []

    async def _open(self, clock: Callable[[], float]) -> StateStore:
        raise NotImplementedError

    async def open(self, clock: Callable[[], float]) -> StateStore:
        """One more store object on this test's storage, closed at teardown."""
        store = await self._open(clock)
        self.stores.append(store)
        return store

    async def run_parallel(self, calls: list[Callable[[], Awaitable[T]]]) -> list[T]:
        raise NotImplementedError

    async def execute(self, *statements: str) -> None:
        """Raw SQL on the storage; `{s}` stands for the schema prefix."""
        raise NotImplementedError

    async def scalar(self, statement: str) -> Any:
        raise NotImplementedError

    async def migrate_to(self, version: int) -> None:
        """Create the storage at an older schema version, as an older kros-mcp left it."""
        raise NotImplementedError

    async def aclose(self) -> None:
        for store in self.stores:
            await store.close()


class SQLiteBackend(Backend):
    name = "sqlite"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    async def _open(self, clock: Callable[[], float]) -> StateStore:
        return SQLiteStateStore(self.path, clock=clock)

    async def run_parallel(self, calls: list[Callable[[], Awaitable[T]]]) -> list[T]:
        """Each call in its own thread with its own event loop, all released at once."""
        results: list[Any] = [None] * len(calls)
        errors: list[BaseException] = []
        barrier = threading.Barrier(len(calls))

        def worker(i: int) -> None:
            try:
                barrier.wait(timeout=10)
                results[i] = asyncio.run(calls[i]())  # type: ignore[arg-type]
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        def run_all() -> None:
            threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=30)

        await anyio.to_thread.run_sync(run_all)
        if errors:
            raise errors[0]
        return results

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, isolation_level=None)

    async def execute(self, *statements: str) -> None:
        conn = self._connect()
        try:
            for statement in statements:
                conn.execute(statement.replace("{s}", ""))
        finally:
            conn.close()

    async def scalar(self, statement: str) -> Any:
        conn = self._connect()
        try:
            return conn.execute(statement.replace("{s}", "")).fetchone()[0]
        finally:
            conn.close()

    async def migrate_to(self, version: int) -> None:
        conn = self._connect()
        try:
            sqlite_module.migrate(conn, target=version)
        finally:
            conn.close()


class PostgresBackend(Backend):
    name = "postgres"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.schema = "kros_test_" + secrets.token_hex(6)

    async def _open(self, clock: Callable[[], float]) -> StateStore:
        return await PostgresStateStore.open(
            self.url, schema=self.schema, clock=clock, max_connections=5
        )

    async def run_parallel(self, calls: list[Callable[[], Awaitable[T]]]) -> list[T]:
        results: list[Any] = [None] * len(calls)

        async def one(i: int) -> None:
            results[i] = await calls[i]()

        async with anyio.create_task_group() as tg:
            for i in range(len(calls)):
                tg.start_soon(one, i)
        return results

    async def _connect(self) -> Any:
        import psycopg

        return await psycopg.AsyncConnection.connect(self.url, autocommit=True)

    async def execute(self, *statements: str) -> None:
        async with await self._connect() as conn:
            for statement in statements:
                await conn.execute(statement.replace("{s}", f'"{self.schema}".'))

    async def scalar(self, statement: str) -> Any:
        async with await self._connect() as conn:
            cur = await conn.execute(statement.replace("{s}", f'"{self.schema}".'))
            row = await cur.fetchone()
            return row[0]

    async def migrate_to(self, version: int) -> None:
        async with await self._connect() as conn:
            await pg_module.migrate(conn, self.schema, target=version)

    async def aclose(self) -> None:
        await super().aclose()
        await self.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
