"""PostgreSQL state store, for several replicas sharing one budget, one ledger and one audit trail.

Open it with `await PostgresStateStore.open(url)`. It keeps a small `psycopg_pool` pool of
autocommit connections; multi-statement operations run in explicit READ COMMITTED transactions.

- `reserve_spend` takes `pg_advisory_xact_lock` on a hash of (schema, tenant), then sums and inserts
  in the same transaction: the sum is a new statement, so it sees every reservation committed by
  whoever held the lock before. (READ COMMITTED is set explicitly: under REPEATABLE READ the snapshot
  would date from before the lock wait.)
- `claim_request` and `use_token` are `INSERT ... ON CONFLICT DO NOTHING`, decided by the unique key.
- The schema is created or migrated on open, under an advisory lock, so replicas starting together
  do not race.

The connection string is never logged nor put in an error: messages name `host:port/dbname` only,
and any password is scrubbed from the driver's text as well.

psycopg (3.2+) and psycopg-pool are imported only when a store is opened, so the SQLite default does
not need them.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from ._common import (
    AUDIT_COLUMNS,
    AUDIT_INSERT_COLUMNS,
    STALE_PROCESS_SECONDS,
    TOKEN_GRACE_SECONDS,
    UNSETTLED,
    Clock,
    PurgeSchedule,
    audit_entry,
    audit_params,
    beat_from_row,
    check_amount,
    check_status,
    claim_from_row,
    dump_json,
    newer_schema_error,
    offer_from_json,
    offer_json,
)
from .base import AuditEntry, AuditStatus, ProcessBeat, RequestClaim, StoredOffer, StoreError

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg.sql import Composable, Composed
    from psycopg_pool import AsyncConnectionPool

__all__ = ["PostgresStateStore"]

log = logging.getLogger("kros_mcp.store")

# Ordered migrations: (version, statements). Never edit one that has shipped; append a new one.
# `{s}` is the quoted schema and a dot, or nothing (the connection's search_path).
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE IF NOT EXISTS {s}offers (
            tenant TEXT NOT NULL,
            inventory_id TEXT NOT NULL,
            offer JSON NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (tenant, inventory_id)
        )""",
            """CREATE TABLE IF NOT EXISTS {s}used_tokens (
            tenant TEXT NOT NULL,
            token_id TEXT NOT NULL,
            used_at DOUBLE PRECISION NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (tenant, token_id)
        )""",
        ),
    ),
    (
        2,
        (
            "CREATE INDEX IF NOT EXISTS offers_expires_at ON {s}offers (expires_at)",
            "CREATE INDEX IF NOT EXISTS used_tokens_expires_at ON {s}used_tokens (expires_at)",
            """CREATE TABLE IF NOT EXISTS {s}spend (
            tenant TEXT NOT NULL,
            reservation_id TEXT NOT NULL,
            amount_cents BIGINT NOT NULL CHECK (amount_cents >= 0),
            state TEXT NOT NULL CHECK (state IN ('reserved', 'committed')),
            created_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (tenant, reservation_id)
        )""",
            "CREATE INDEX IF NOT EXISTS spend_tenant_created_at ON {s}spend (tenant, created_at)",
            """CREATE TABLE IF NOT EXISTS {s}requests (
            tenant TEXT NOT NULL,
            key TEXT NOT NULL,
            digest TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('in_progress', 'done')),
            result JSON,
            created_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (tenant, key)
        )""",
            """CREATE TABLE IF NOT EXISTS {s}audit (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            tenant TEXT NOT NULL,
            tool TEXT NOT NULL,
            arguments JSON NOT NULL,
            quote JSON,
            confirmation TEXT NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('intent', 'succeeded', 'failed', 'unknown', 'reconciled')),
            outcome JSON,
            created_at DOUBLE PRECISION NOT NULL,
            finished_at DOUBLE PRECISION
        )""",
            "CREATE INDEX IF NOT EXISTS audit_tenant_seq ON {s}audit (tenant, seq DESC)",
            "CREATE INDEX IF NOT EXISTS audit_unfinished ON {s}audit (seq) WHERE status = 'intent'",
        ),
    ),
    (
        3,
        (
            # The audit gains who asked, the outcome's error code, the (never shown) owning process
            # and the status 'refused'. Earlier versions kept the owner ("host:pid") among the
            # arguments: it is dropped.
            "ALTER TABLE {s}audit ADD COLUMN IF NOT EXISTS caller TEXT, "
            "ADD COLUMN IF NOT EXISTS error_code TEXT, ADD COLUMN IF NOT EXISTS owner TEXT",
            "ALTER TABLE {s}audit DROP CONSTRAINT IF EXISTS audit_status_check",
            "ALTER TABLE {s}audit ADD CONSTRAINT audit_status_check CHECK (status IN "
            "('intent', 'succeeded', 'failed', 'unknown', 'reconciled', 'refused'))",
            "UPDATE {s}audit SET arguments = (arguments::jsonb - 'owner')::json "
            "WHERE jsonb_exists(arguments::jsonb, 'owner')",
            "DROP INDEX IF EXISTS {s}audit_unfinished",
            "CREATE INDEX IF NOT EXISTS audit_unsettled ON {s}audit (seq) "
            "WHERE status IN ('intent', 'unknown')",
            "CREATE INDEX IF NOT EXISTS audit_created_at ON {s}audit (created_at)",
            "CREATE INDEX IF NOT EXISTS requests_updated_at ON {s}requests (updated_at)",
            """CREATE TABLE IF NOT EXISTS {s}questions (
            tenant TEXT NOT NULL,
            subject TEXT NOT NULL,
            nonce TEXT NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (tenant, subject)
        )""",
            "CREATE INDEX IF NOT EXISTS questions_expires_at ON {s}questions (expires_at)",
            """CREATE TABLE IF NOT EXISTS {s}processes (
            id TEXT PRIMARY KEY,
            host TEXT NOT NULL,
            pid BIGINT NOT NULL,
            beat_at DOUBLE PRECISION NOT NULL
        )""",
        ),
    ),
)
LATEST_VERSION = MIGRATIONS[-1][0]
_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def _lock_key(*parts: str) -> int:
    """A signed 64-bit advisory-lock key, namespaced so it cannot meet another application's."""
    digest = hashlib.sha256("\x00".join(("kros-mcp", *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _schema_prefix(schema: str | None) -> Composable:
    """The quoted schema and a dot, or nothing (the connection's search_path)."""
    from psycopg import sql

    return sql.SQL("") if schema is None else sql.Composed([sql.Identifier(schema), sql.SQL(".")])


def _query(template: str, prefix: Composable) -> Composed:
    """`template` with `{s}` as the schema prefix and `{cols}` as the audit columns."""
    from psycopg import sql

    return sql.SQL(template).format(s=prefix, cols=sql.SQL(AUDIT_COLUMNS))


async def migrate(
    conn: AsyncConnection[Any],
    schema: str | None,
    *,
    target: int | None = None,
    where: str = "PostgreSQL",
) -> int:
    """Create `schema` if missing and bring it up to `target` (default: the latest), in one
    transaction under an advisory lock; return the version. Raises StoreError if the schema was
    written by a newer kros-mcp."""
    target = LATEST_VERSION if target is None else target
    from psycopg import sql

    s = _schema_prefix(schema)
    async with conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock(%s)", (_lock_key("migrate", schema or ""),)
        )
        if schema is not None:
            await conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
            )
        await conn.execute(
            _query(
                "CREATE TABLE IF NOT EXISTS {s}schema_version ("
                "version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)",
                s,
            )
        )
        cur = await conn.execute(
            _query("SELECT COALESCE(MAX(version), 0) FROM {s}schema_version", s)
        )
        row = await cur.fetchone()
        current = int(row[0]) if row else 0
        if current > LATEST_VERSION:
            raise newer_schema_error(where, current, LATEST_VERSION)
        for version, statements in MIGRATIONS:
            if current < version <= target:
                for statement in statements:
                    await conn.execute(_query(statement, s))
                await conn.execute(
                    _query(
                        "INSERT INTO {s}schema_version (version, applied_at) VALUES (%s, %s)", s
                    ),
                    (version, time.time()),
                )
                log.info("state store %s: applied schema migration %d", where, version)
                current = version
    return current


def _require_driver() -> None:
    try:
        import psycopg
        import psycopg_pool  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the installation
        raise StoreError(
            "the PostgreSQL state store needs psycopg (3.2 or later) and psycopg-pool: "
            f"pip install 'psycopg[binary]' psycopg-pool ({e})"
        ) from None
    if tuple(int(x) for x in psycopg.__version__.split(".")[:2] if x.isdigit()) < (3, 2):
        raise StoreError(
            f"the PostgreSQL state store needs psycopg 3.2 or later, not {psycopg.__version__}"
        )


def describe_url(url: str) -> tuple[str, tuple[str, ...]]:
    """(`host:port/dbname` for messages, the secrets to scrub from any text shown).

    Raises StoreError (without the URL) if libpq cannot parse it."""
    secrets: set[str] = set()
    try:
        parts = urlsplit(url)
        if parts.password:
            secrets.update((parts.password, unquote(parts.password)))
    except ValueError:
        pass
    from psycopg import Error
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(url)
    except Error as e:
        raise StoreError("invalid PostgreSQL URL: " + _scrub(str(e), (url, *secrets))) from None
    if params.get("password"):
        secrets.add(str(params["password"]))
    host = str(params.get("host") or params.get("hostaddr") or "localhost")
    where = (
        f"{host}:{params.get('port') or 5432}/{params.get('dbname') or params.get('user') or ''}"
    )
    return where, tuple(sorted((x for x in secrets if x), key=len, reverse=True))


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return " ".join(text.split())  # libpq's messages span lines


class PostgresStateStore:
    """The state store for several replicas. Create with `await PostgresStateStore.open(url)`."""

    def __init__(
        self,
        url: str,
        schema: str | None = None,
        clock: Clock = time.time,
        *,
        min_connections: int = 1,
        max_connections: int = 10,
        timeout: float = 10.0,
    ) -> None:
        _require_driver()
        if schema is not None and not _SCHEMA_NAME.fullmatch(schema):
            raise StoreError(
                f"invalid PostgreSQL schema name {schema!r}: use letters, digits and _ "
                "(at most 63, not starting with a digit)"
            )
        self._url = url
        self.schema = schema
        self.where, self._secrets = describe_url(url)
        if schema is not None:
            self.where += f" (schema {schema})"
        self._clock = clock
        self._min = min_connections
        self._max = max_connections
        self._timeout = timeout
        self._pool: AsyncConnectionPool[Any] | None = None
        self._purge = PurgeSchedule(clock)
        self.schema_version: int | None = None
        self._s = _schema_prefix(schema)
        self._queries: dict[str, Composed] = {}
        self._lock_ns = schema or ""

    @classmethod
    async def open(
        cls, url: str, schema: str | None = None, clock: Clock = time.time, **kwargs: Any
    ) -> PostgresStateStore:
        """Connect, create or migrate the schema, and start the pool. Raises StoreError."""
        store = cls(url, schema, clock, **kwargs)
        await store._start()
        return store

    def __repr__(self) -> str:
        return f"<PostgresStateStore {self.where}>"

    def _q(self, template: str) -> Composed:
        """A statement on this store's tables: `{s}` is the schema prefix, `{cols}` the audit
        columns. Composed once per statement and kept."""
        query = self._queries.get(template)
        if query is None:
            query = self._queries[template] = _query(template, self._s)
        return query

    def _now(self) -> float:
        return float(self._clock())

    def _connect_kwargs(self) -> dict[str, Any]:
        from psycopg.conninfo import conninfo_to_dict

        given = conninfo_to_dict(self._url)
        extra: dict[str, Any] = {}
        if "connect_timeout" not in given:
            extra["connect_timeout"] = max(2, int(self._timeout))
        if "application_name" not in given:
            extra["application_name"] = "kros-mcp"
        return extra

    def _error(self, doing: str, e: BaseException) -> StoreError:
        return StoreError(
            f"PostgreSQL state store at {self.where}: {doing} failed: "
            f"{_scrub(str(e), self._secrets)}"
        )

    async def _start(self) -> None:
        import psycopg
        from psycopg_pool import AsyncConnectionPool

        kwargs = self._connect_kwargs()
        try:
            conn = await psycopg.AsyncConnection.connect(self._url, autocommit=True, **kwargs)
        except psycopg.Error as e:
            raise StoreError(
                f"cannot reach PostgreSQL at {self.where}: {_scrub(str(e), self._secrets)}"
            ) from None
        try:
            self.schema_version = await migrate(conn, self.schema, where=self.where)
            await self._purge_expired(conn)
        except psycopg.Error as e:
            raise self._error("setting up the schema", e) from e
        finally:
            await conn.close()

        async def configure(c: AsyncConnection[Any]) -> None:
            await c.set_isolation_level(psycopg.IsolationLevel.READ_COMMITTED)

        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            self._url,
            min_size=self._min,
            max_size=max(self._min, self._max),
            kwargs={"autocommit": True, **kwargs},
            configure=configure,
            check=AsyncConnectionPool.check_connection,
            timeout=self._timeout,
            name="kros-mcp-state",
            open=False,
        )
        try:
            await pool.open(wait=True, timeout=self._timeout)
        except psycopg.Error as e:
            await pool.close()
            raise StoreError(
                f"cannot reach PostgreSQL at {self.where}: {_scrub(str(e), self._secrets)}"
            ) from None
        self._pool = pool
        log.debug(
            "state store: PostgreSQL at %s, schema version %s", self.where, self.schema_version
        )

    @asynccontextmanager
    async def _connection(self, op: str) -> AsyncIterator[AsyncConnection[Any]]:
        """A pooled connection; any driver error comes out as StoreError."""
        import psycopg

        if self._pool is None or self._pool.closed:
            raise StoreError(
                f"the PostgreSQL state store at {self.where} is "
                + ("closed" if self._pool is not None else "not open (use PostgresStateStore.open)")
            )
        try:
            async with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as e:
            raise self._error(op, e) from e

    async def _after_write(self, conn: AsyncConnection[Any]) -> None:
        if self._purge.due():
            await self._purge_expired(conn)

    async def _purge_expired(self, conn: AsyncConnection[Any]) -> None:
        """Delete expired offers and long-expired used tokens. Best effort: a failure is logged."""
        import psycopg

        now = self._now()
        try:
            await conn.execute(self._q("DELETE FROM {s}offers WHERE expires_at < %s"), (now,))
            await conn.execute(
                self._q("DELETE FROM {s}used_tokens WHERE expires_at < %s"),
                (now - TOKEN_GRACE_SECONDS,),
            )
            await conn.execute(self._q("DELETE FROM {s}questions WHERE expires_at < %s"), (now,))
            await conn.execute(
                self._q("DELETE FROM {s}processes WHERE beat_at < %s"),
                (now - STALE_PROCESS_SECONDS,),
            )
        except psycopg.Error as e:
            log.warning(
                "state store %s: purging expired rows failed: %s",
                self.where,
                _scrub(str(e), self._secrets),
            )

    async def purge_expired(self) -> None:
        """Delete expired offers and tokens now (it also happens on its own, now and then)."""
        async with self._connection("purge_expired") as conn:
            await self._purge_expired(conn)

    # -- offers shown ---------------------------------------------------------------------
    async def remember_offers(
        self, tenant: str, offers: list[StoredOffer], ttl_seconds: float
    ) -> None:
        if not offers:
            return
        async with self._connection("remember_offers") as conn:
            expires = self._now() + ttl_seconds
            async with conn.transaction(), conn.cursor() as cur:
                await cur.executemany(
                    self._q(
                        "INSERT INTO {s}offers (tenant, inventory_id, offer, expires_at) "
                        "VALUES (%s, %s, %s::json, %s) ON CONFLICT (tenant, inventory_id) "
                        "DO UPDATE SET offer = EXCLUDED.offer, expires_at = EXCLUDED.expires_at"
                    ),
                    [(tenant, o.inventory_id, offer_json(o), expires) for o in offers],
                )
            await self._after_write(conn)

    async def get_offer(self, tenant: str, inventory_id: str) -> StoredOffer | None:
        async with self._connection("get_offer") as conn:
            cur = await conn.execute(
                self._q(
                    "SELECT offer FROM {s}offers "
                    "WHERE tenant = %s AND inventory_id = %s AND expires_at >= %s"
                ),
                (tenant, inventory_id, self._now()),
            )
            row = await cur.fetchone()
        return None if row is None else offer_from_json(row[0])

    # -- confirmation tokens --------------------------------------------------------------
    async def use_token(self, tenant: str, token_id: str, expires_at: float) -> bool:
        async with self._connection("use_token") as conn:
            cur = await conn.execute(
                self._q(
                    "INSERT INTO {s}used_tokens (tenant, token_id, used_at, expires_at) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT (tenant, token_id) DO NOTHING"
                ),
                (tenant, token_id, self._now(), expires_at),
            )
            first = cur.rowcount == 1
            await self._after_write(conn)
        return first

    # -- spend ledger ---------------------------------------------------------------------
    async def reserve_spend(
        self,
        tenant: str,
        reservation_id: str,
        amount_cents: int,
        *,
        budget_cents: int | None,
        window_seconds: float,
    ) -> bool:
        check_amount(amount_cents)
        async with self._connection("reserve_spend") as conn:
            async with conn.transaction():
                # Serialises this tenant's reservations across every connection and replica; held
                # until commit. The statements after it see everything committed before it.
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(%s)", (_lock_key("spend", self._lock_ns, tenant),)
                )
                now = self._now()
                cur = await conn.execute(
                    self._q(
                        "SELECT EXISTS (SELECT 1 FROM {s}spend WHERE tenant = %s AND reservation_id = %s), "
                        "(SELECT COALESCE(SUM(amount_cents), 0)::bigint FROM {s}spend "
                        " WHERE tenant = %s AND created_at > %s)"
                    ),
                    (tenant, reservation_id, tenant, now - window_seconds),
                )
                row = await cur.fetchone()
                if row is None:  # a SELECT without FROM always answers one row
                    raise StoreError(f"PostgreSQL state store at {self.where}: no spend total")
                exists, total = row
                if exists:
                    return True  # already reserved under this id: idempotent, not counted twice
                if budget_cents is not None and total + amount_cents > budget_cents:
                    return False
                await conn.execute(
                    self._q(
                        "INSERT INTO {s}spend (tenant, reservation_id, amount_cents, state, created_at) "
                        "VALUES (%s, %s, %s, 'reserved', %s)"
                    ),
                    (tenant, reservation_id, amount_cents, now),
                )
            await self._after_write(conn)
        return True

    async def settle_spend(
        self, tenant: str, reservation_id: str, *, spent: bool, amount_cents: int | None = None
    ) -> None:
        check_amount(amount_cents)
        async with self._connection("settle_spend") as conn:
            if spent:
                await conn.execute(
                    self._q(
                        "UPDATE {s}spend SET state = 'committed', "
                        "amount_cents = COALESCE(%s::bigint, amount_cents) WHERE tenant = %s AND reservation_id = %s"
                    ),
                    (amount_cents, tenant, reservation_id),
                )
            else:
                # Only a reservation is dropped: spend already committed stays spent.
                await conn.execute(
                    self._q(
                        "DELETE FROM {s}spend "
                        "WHERE tenant = %s AND reservation_id = %s AND state = 'reserved'"
                    ),
                    (tenant, reservation_id),
                )
            await self._after_write(conn)

    async def spent_in_window(self, tenant: str, window_seconds: float) -> int:
        async with self._connection("spent_in_window") as conn:
            cur = await conn.execute(
                self._q(
                    "SELECT COALESCE(SUM(amount_cents), 0)::bigint FROM {s}spend "
                    "WHERE tenant = %s AND created_at > %s"
                ),
                (tenant, self._now() - window_seconds),
            )
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    # -- tool-level idempotency -----------------------------------------------------------
    async def claim_request(self, tenant: str, key: str, digest: str) -> RequestClaim:
        async with self._connection("claim_request") as conn:
            # Each statement is its own transaction (autocommit): the SELECT after a conflict takes a
            # fresh snapshot, so it sees the row that won. It may vanish in between (released):
            # then try again.
            for _ in range(10):
                now = self._now()
                cur = await conn.execute(
                    self._q(
                        "INSERT INTO {s}requests (tenant, key, digest, state, result, created_at, updated_at) "
                        "VALUES (%s, %s, %s, 'in_progress', NULL, %s, %s) ON CONFLICT (tenant, key) DO NOTHING"
                    ),
                    (tenant, key, digest, now, now),
                )
                if cur.rowcount == 1:
                    await self._after_write(conn)
                    return RequestClaim("new")
                cur = await conn.execute(
                    self._q(
                        "SELECT digest, state, result FROM {s}requests WHERE tenant = %s AND key = %s"
                    ),
                    (tenant, key),
                )
                row = await cur.fetchone()
                if row is not None:
                    return claim_from_row(digest, *row)
        # Claimed and released ten times over while we looked: someone holds it, for all we know.
        return RequestClaim("in_progress")

    async def finish_request(self, tenant: str, key: str, result: dict[str, Any]) -> None:
        text = dump_json(result)
        async with self._connection("finish_request") as conn:
            await conn.execute(
                self._q(
                    "UPDATE {s}requests SET state = 'done', result = %s::json, updated_at = %s "
                    "WHERE tenant = %s AND key = %s AND state = 'in_progress'"
                ),
                (text, self._now(), tenant, key),
            )
            await self._after_write(conn)

    async def release_request(self, tenant: str, key: str) -> None:
        async with self._connection("release_request") as conn:
            await conn.execute(
                self._q(
                    "DELETE FROM {s}requests WHERE tenant = %s AND key = %s AND state = 'in_progress'"
                ),
                (tenant, key),
            )
            await self._after_write(conn)

    # -- audit ----------------------------------------------------------------------------
    async def audit_intent(self, entry: AuditEntry) -> None:
        check_status(entry.status, outcome=False)
        params = audit_params(entry)
        async with self._connection("audit_intent") as conn:
            # The same id twice (a retried call) keeps the first record.
            await conn.execute(
                self._q(
                    "INSERT INTO {s}audit (" + AUDIT_INSERT_COLUMNS + ") VALUES (%s, %s, %s, "
                    "%s::json, %s::json, %s, %s, %s::json, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (id) DO NOTHING"
                ),
                params,
            )
            await self._after_write(conn)

    async def audit_outcome(
        self,
        tenant: str,
        audit_id: str,
        status: AuditStatus,
        outcome: dict[str, Any],
        *,
        error_code: str | None = None,
    ) -> None:
        check_status(status, outcome=True)
        text = dump_json(outcome)
        async with self._connection("audit_outcome") as conn:
            await conn.execute(
                self._q(
                    "UPDATE {s}audit SET status = %s, outcome = %s::json, error_code = %s, "
                    "finished_at = %s WHERE tenant = %s AND id = %s"
                ),
                (status, text, error_code, self._now(), tenant, audit_id),
            )
            await self._after_write(conn)

    async def audit_page(
        self, tenant: str, *, limit: int, before: int | None = None
    ) -> list[AuditEntry]:
        if limit <= 0:
            return []
        if before is None:
            query = self._q(
                "SELECT {cols} FROM {s}audit WHERE tenant = %s ORDER BY seq DESC LIMIT %s"
            )
            params: tuple[Any, ...] = (tenant, limit)
        else:
            query = self._q(
                "SELECT {cols} FROM {s}audit WHERE tenant = %s AND seq < %s ORDER BY seq DESC LIMIT %s"
            )
            params = (tenant, before, limit)
        async with self._connection("audit_page") as conn:
            cur = await conn.execute(query, params)
            rows = await cur.fetchall()
        return [audit_entry(r) for r in rows]

    async def audit_unfinished(self, tenant: str | None = None) -> list[AuditEntry]:
        from psycopg import sql

        base = self._q("SELECT {cols} FROM {s}audit WHERE status = 'intent'")
        async with self._connection("audit_unfinished") as conn:
            if tenant is None:
                cur = await conn.execute(base + sql.SQL(" ORDER BY seq"))
            else:
                cur = await conn.execute(base + sql.SQL(" AND tenant = %s ORDER BY seq"), (tenant,))
            rows = await cur.fetchall()
        return [audit_entry(r) for r in rows]

    async def audit_unsettled(self, tenant: str | None = None) -> list[AuditEntry]:
        from psycopg import sql

        base = self._q("SELECT {cols} FROM {s}audit WHERE status = ANY(%s)")
        async with self._connection("audit_unsettled") as conn:
            if tenant is None:
                cur = await conn.execute(base + sql.SQL(" ORDER BY seq"), (list(UNSETTLED),))
            else:
                cur = await conn.execute(
                    base + sql.SQL(" AND tenant = %s ORDER BY seq"), (list(UNSETTLED), tenant)
                )
            rows = await cur.fetchall()
        return [audit_entry(r) for r in rows]

    async def audit_after(self, tenant: str, seq: int, *, limit: int) -> list[AuditEntry]:
        async with self._connection("audit_after") as conn:
            cur = await conn.execute(
                self._q(
                    "SELECT {cols} FROM {s}audit WHERE tenant = %s AND seq > %s "
                    "ORDER BY seq LIMIT %s"
                ),
                (tenant, seq, limit),
            )
            rows = await cur.fetchall()
        return [audit_entry(r) for r in rows]

    # -- questions put to a person --------------------------------------------------------
    async def open_question(self, tenant: str, subject: str, nonce: str, ttl_seconds: float) -> str:
        async with self._connection("open_question") as conn:
            now = self._now()
            # An open, unexpired question keeps its nonce; an expired one is replaced.
            cur = await conn.execute(
                self._q(
                    "INSERT INTO {s}questions AS q (tenant, subject, nonce, expires_at) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT (tenant, subject) DO UPDATE SET "
                    "nonce = CASE WHEN q.expires_at < %s THEN EXCLUDED.nonce ELSE q.nonce END, "
                    "expires_at = CASE WHEN q.expires_at < %s THEN EXCLUDED.expires_at "
                    "ELSE q.expires_at END RETURNING nonce"
                ),
                (tenant, subject, nonce, now + ttl_seconds, now, now),
            )
            row = await cur.fetchone()
            await self._after_write(conn)
        # An upsert with RETURNING always returns its row.
        return nonce if row is None else str(row[0])

    async def take_question(self, tenant: str, subject: str, nonce: str) -> bool:
        async with self._connection("take_question") as conn:
            cur = await conn.execute(
                self._q(
                    "DELETE FROM {s}questions WHERE tenant = %s AND subject = %s "
                    "AND nonce = %s AND expires_at >= %s"
                ),
                (tenant, subject, nonce, self._now()),
            )
            taken = cur.rowcount == 1
            await self._after_write(conn)
        return taken

    # -- processes ------------------------------------------------------------------------
    async def beat(self, process_id: str, host: str, pid: int) -> None:
        async with self._connection("beat") as conn:
            await conn.execute(
                self._q(
                    "INSERT INTO {s}processes (id, host, pid, beat_at) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (id) DO UPDATE SET beat_at = EXCLUDED.beat_at"
                ),
                (process_id, host, pid, self._now()),
            )

    async def process_beats(self, process_ids: list[str]) -> dict[str, ProcessBeat]:
        if not process_ids:
            return {}
        async with self._connection("process_beats") as conn:
            cur = await conn.execute(
                self._q("SELECT id, host, pid, beat_at FROM {s}processes WHERE id = ANY(%s)"),
                (list(process_ids),),
            )
            rows = await cur.fetchall()
        return {beat.process_id: beat for beat in map(beat_from_row, rows)}

    # -- retention ------------------------------------------------------------------------
    async def purge_history(self, *, audit_before: float, requests_before: float) -> int:
        statements = (
            (
                "DELETE FROM {s}audit WHERE created_at < %s AND NOT (status = ANY(%s))",
                (audit_before, list(UNSETTLED)),
            ),
            ("DELETE FROM {s}spend WHERE created_at < %s", (audit_before,)),
            ("DELETE FROM {s}requests WHERE updated_at < %s", (requests_before,)),
        )
        gone = 0
        async with self._connection("purge_history") as conn, conn.transaction():
            for template, params in statements:
                cur = await conn.execute(self._q(template), params)
                gone += max(cur.rowcount, 0)
        return gone

    async def close(self) -> None:
        if self._pool is not None and not self._pool.closed:
            await self._pool.close()
