"""SQLite state store: a file in the data directory, WAL mode.

Every call is a few short synchronous statements under a lock, on the event loop's own thread (no
thread hop: a call takes well under a millisecond). Every write runs in a `BEGIN IMMEDIATE`
transaction, which takes the file's write lock before reading: two processes (or two store objects)
on one file cannot both pass a budget check, claim one idempotency key or use one token.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

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

__all__ = ["SQLiteStateStore"]

log = logging.getLogger("kros_mcp.store")

T = TypeVar("T")

# Ordered migrations: (version, statements). Never edit one that has shipped; append a new one.
# Version 1 is the layout kros-mcp used before the schema was versioned (hence IF NOT EXISTS: a file
# from then has these tables and no schema_version, which reads as version 0).
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE IF NOT EXISTS offers (
            tenant TEXT NOT NULL,
            inventory_id TEXT NOT NULL,
            offer TEXT NOT NULL,
            expires_at REAL NOT NULL,
            PRIMARY KEY (tenant, inventory_id)
        )""",
            """CREATE TABLE IF NOT EXISTS used_tokens (
            tenant TEXT NOT NULL,
            token_id TEXT NOT NULL,
            used_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            PRIMARY KEY (tenant, token_id)
        )""",
        ),
    ),
    (
        2,
        (
            "CREATE INDEX IF NOT EXISTS offers_expires_at ON offers (expires_at)",
            "CREATE INDEX IF NOT EXISTS used_tokens_expires_at ON used_tokens (expires_at)",
            """CREATE TABLE IF NOT EXISTS spend (
            tenant TEXT NOT NULL,
            reservation_id TEXT NOT NULL,
            amount_cents INTEGER NOT NULL CHECK (amount_cents >= 0),
            state TEXT NOT NULL CHECK (state IN ('reserved', 'committed')),
            created_at REAL NOT NULL,
            PRIMARY KEY (tenant, reservation_id)
        )""",
            "CREATE INDEX IF NOT EXISTS spend_tenant_created_at ON spend (tenant, created_at)",
            """CREATE TABLE IF NOT EXISTS requests (
            tenant TEXT NOT NULL,
            key TEXT NOT NULL,
            digest TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('in_progress', 'done')),
            result TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (tenant, key)
        )""",
            """CREATE TABLE IF NOT EXISTS audit (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            tenant TEXT NOT NULL,
            tool TEXT NOT NULL,
            arguments TEXT NOT NULL,
            quote TEXT,
            confirmation TEXT NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('intent', 'succeeded', 'failed', 'unknown', 'reconciled')),
            outcome TEXT,
            created_at REAL NOT NULL,
            finished_at REAL
        )""",
            "CREATE INDEX IF NOT EXISTS audit_tenant_seq ON audit (tenant, seq DESC)",
            "CREATE INDEX IF NOT EXISTS audit_unfinished ON audit (seq) WHERE status = 'intent'",
        ),
    ),
    (
        3,
        (
            # The audit gains who asked, the outcome's error code, the (never shown) owning process
            # and the status 'refused'; a CHECK cannot be altered in SQLite, so the table is rebuilt.
            # Earlier versions kept the owner ("host:pid") among the arguments: it is dropped.
            "DROP INDEX IF EXISTS audit_tenant_seq",
            "DROP INDEX IF EXISTS audit_unfinished",
            "ALTER TABLE audit RENAME TO audit_v2",
            """CREATE TABLE audit (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            tenant TEXT NOT NULL,
            tool TEXT NOT NULL,
            arguments TEXT NOT NULL,
            quote TEXT,
            confirmation TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN
                ('intent', 'succeeded', 'failed', 'unknown', 'reconciled', 'refused')),
            outcome TEXT,
            created_at REAL NOT NULL,
            finished_at REAL,
            caller TEXT,
            error_code TEXT,
            owner TEXT
        )""",
            "INSERT INTO audit (seq, id, tenant, tool, arguments, quote, confirmation, status, "
            "outcome, created_at, finished_at) SELECT seq, id, tenant, tool, "
            "json_remove(arguments, '$.owner'), quote, confirmation, status, outcome, created_at, "
            "finished_at FROM audit_v2",
            "DROP TABLE audit_v2",
            "CREATE INDEX audit_tenant_seq ON audit (tenant, seq DESC)",
            "CREATE INDEX audit_unsettled ON audit (seq) WHERE status IN ('intent', 'unknown')",
            "CREATE INDEX audit_created_at ON audit (created_at)",
            "CREATE INDEX IF NOT EXISTS requests_updated_at ON requests (updated_at)",
            """CREATE TABLE IF NOT EXISTS questions (
            tenant TEXT NOT NULL,
            subject TEXT NOT NULL,
            nonce TEXT NOT NULL,
            expires_at REAL NOT NULL,
            PRIMARY KEY (tenant, subject)
        )""",
            "CREATE INDEX IF NOT EXISTS questions_expires_at ON questions (expires_at)",
            """CREATE TABLE IF NOT EXISTS processes (
            id TEXT PRIMARY KEY,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            beat_at REAL NOT NULL
        )""",
        ),
    ),
)
LATEST_VERSION = MIGRATIONS[-1][0]


def migrate(conn: sqlite3.Connection, *, target: int | None = None, where: str = "SQLite") -> int:
    """Bring the schema up to `target` (default: the latest) in one transaction; return the version.

    Raises StoreError if the file was written by a newer kros-mcp. `conn` must be in autocommit mode
    (`isolation_level=None`)."""
    target = LATEST_VERSION if target is None else target
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            "version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
        )
        (current,) = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
        if current > LATEST_VERSION:
            raise newer_schema_error(where, current, LATEST_VERSION)
        for version, statements in MIGRATIONS:
            if current < version <= target:
                for statement in statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                    (version, time.time()),
                )
                log.info("state store %s: applied schema migration %d", where, version)
                current = version
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return int(current)


def _enable_wal(conn: sqlite3.Connection, busy_timeout: float) -> str:
    """Switch to WAL mode; returns the journal mode now in force. SQLite answers "database is
    locked" at once, without waiting out the busy timeout, when another connection is switching a
    new file at the same moment (processes starting together): retry within the busy timeout."""
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0])
        except sqlite3.OperationalError as e:
            if ("locked" not in str(e) and "busy" not in str(e)) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class SQLiteStateStore:
    """The default state store. Calls are short and synchronous under a lock: no thread hops."""

    def __init__(
        self, path: str | Path, *, clock: Clock = time.time, busy_timeout: float = 15.0
    ) -> None:
        self.path = str(path)
        self._clock = clock
        self._lock = threading.Lock()
        self._closed = False
        memory = self.path == ":memory:"
        if not memory:
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(
                    f"cannot create the directory of the SQLite state store {self.path}: {e}"
                ) from e
        try:
            # busy_timeout: how long a write waits for another process's write lock.
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=busy_timeout
            )
        except sqlite3.Error as e:
            raise StoreError(f"cannot open the SQLite state store {self.path}: {e}") from e
        try:
            if not memory:
                mode = _enable_wal(self._conn, busy_timeout)
                if str(mode).lower() != "wal":
                    log.warning(
                        "state store %s: WAL mode unavailable (journal_mode=%s)", self.path, mode
                    )
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self.schema_version = migrate(self._conn, where=self.path)
            self._purge_expired(self._conn)
        except sqlite3.Error as e:
            self._conn.close()
            raise StoreError(f"cannot open the SQLite state store {self.path}: {e}") from e
        except BaseException:
            self._conn.close()
            raise
        self._purge = PurgeSchedule(clock)

    def __repr__(self) -> str:
        return f"<SQLiteStateStore {self.path}>"

    def _now(self) -> float:
        return float(self._clock())

    # -- plumbing -------------------------------------------------------------------------
    def _read(self, op: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            self._check_open()
            try:
                return fn(self._conn)
            except sqlite3.Error as e:
                raise StoreError(f"SQLite state store {self.path}: {op} failed: {e}") from e

    def _write(self, op: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in a BEGIN IMMEDIATE transaction: it holds the file's write lock throughout."""
        with self._lock:
            self._check_open()
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = fn(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as e:
                raise StoreError(f"SQLite state store {self.path}: {op} failed: {e}") from e
            if self._purge.due():
                self._purge_expired(conn)
            return result

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the SQLite state store {self.path} is closed")

    def _purge_expired(self, conn: sqlite3.Connection) -> None:
        """Delete expired offers and long-expired used tokens. Best effort: a failure is logged."""
        now = self._now()
        try:
            conn.execute("DELETE FROM offers WHERE expires_at < ?", (now,))
            conn.execute(
                "DELETE FROM used_tokens WHERE expires_at < ?", (now - TOKEN_GRACE_SECONDS,)
            )
            conn.execute("DELETE FROM questions WHERE expires_at < ?", (now,))
            conn.execute("DELETE FROM processes WHERE beat_at < ?", (now - STALE_PROCESS_SECONDS,))
        except sqlite3.Error as e:
            log.warning("state store %s: purging expired rows failed: %s", self.path, e)

    async def purge_expired(self) -> None:
        """Delete expired offers and tokens now (it also happens on its own, now and then)."""
        with self._lock:
            self._check_open()
            self._purge_expired(self._conn)

    # -- offers shown ---------------------------------------------------------------------
    async def remember_offers(
        self, tenant: str, offers: list[StoredOffer], ttl_seconds: float
    ) -> None:
        if not offers:
            return

        def fn(conn: sqlite3.Connection) -> None:
            expires = self._now() + ttl_seconds
            conn.executemany(
                "INSERT INTO offers (tenant, inventory_id, offer, expires_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (tenant, inventory_id) DO UPDATE SET offer = excluded.offer, "
                "expires_at = excluded.expires_at",
                [(tenant, o.inventory_id, offer_json(o), expires) for o in offers],
            )

        self._write("remember_offers", fn)

    async def get_offer(self, tenant: str, inventory_id: str) -> StoredOffer | None:
        row = self._read(
            "get_offer",
            lambda conn: conn.execute(
                "SELECT offer FROM offers WHERE tenant = ? AND inventory_id = ? AND expires_at >= ?",
                (tenant, inventory_id, self._now()),
            ).fetchone(),
        )
        return None if row is None else offer_from_json(row[0])

    # -- confirmation tokens --------------------------------------------------------------
    async def use_token(self, tenant: str, token_id: str, expires_at: float) -> bool:
        return self._write(
            "use_token",
            lambda conn: (
                conn.execute(
                    "INSERT INTO used_tokens (tenant, token_id, used_at, expires_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (tenant, token_id) DO NOTHING",
                    (tenant, token_id, self._now(), expires_at),
                ).rowcount
                == 1
            ),
        )

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

        def fn(conn: sqlite3.Connection) -> bool:
            now = self._now()
            if (
                conn.execute(
                    "SELECT 1 FROM spend WHERE tenant = ? AND reservation_id = ?",
                    (tenant, reservation_id),
                ).fetchone()
                is not None
            ):
                return True  # already reserved under this id: idempotent, not counted twice
            if budget_cents is not None:
                (total,) = conn.execute(
                    "SELECT COALESCE(SUM(amount_cents), 0) FROM spend WHERE tenant = ? AND created_at > ?",
                    (tenant, now - window_seconds),
                ).fetchone()
                if total + amount_cents > budget_cents:
                    return False
            conn.execute(
                "INSERT INTO spend (tenant, reservation_id, amount_cents, state, created_at) "
                "VALUES (?, ?, ?, 'reserved', ?)",
                (tenant, reservation_id, amount_cents, now),
            )
            return True

        return self._write("reserve_spend", fn)

    async def settle_spend(
        self, tenant: str, reservation_id: str, *, spent: bool, amount_cents: int | None = None
    ) -> None:
        check_amount(amount_cents)
        if spent:
            self._write(
                "settle_spend",
                lambda conn: conn.execute(
                    "UPDATE spend SET state = 'committed', amount_cents = COALESCE(?, amount_cents) "
                    "WHERE tenant = ? AND reservation_id = ?",
                    (amount_cents, tenant, reservation_id),
                ),
            )
        else:
            # Only a reservation is dropped: spend already committed stays spent.
            self._write(
                "settle_spend",
                lambda conn: conn.execute(
                    "DELETE FROM spend WHERE tenant = ? AND reservation_id = ? AND state = 'reserved'",
                    (tenant, reservation_id),
                ),
            )

    async def spent_in_window(self, tenant: str, window_seconds: float) -> int:
        (total,) = self._read(
            "spent_in_window",
            lambda conn: conn.execute(
                "SELECT COALESCE(SUM(amount_cents), 0) FROM spend WHERE tenant = ? AND created_at > ?",
                (tenant, self._now() - window_seconds),
            ).fetchone(),
        )
        return int(total)

    # -- tool-level idempotency -----------------------------------------------------------
    async def claim_request(self, tenant: str, key: str, digest: str) -> RequestClaim:
        def fn(conn: sqlite3.Connection) -> RequestClaim:
            now = self._now()
            inserted = conn.execute(
                "INSERT INTO requests (tenant, key, digest, state, result, created_at, updated_at) "
                "VALUES (?, ?, ?, 'in_progress', NULL, ?, ?) ON CONFLICT (tenant, key) DO NOTHING",
                (tenant, key, digest, now, now),
            ).rowcount
            if inserted == 1:
                return RequestClaim("new")
            row_digest, state, result = conn.execute(
                "SELECT digest, state, result FROM requests WHERE tenant = ? AND key = ?",
                (tenant, key),
            ).fetchone()
            return claim_from_row(digest, row_digest, state, result)

        return self._write("claim_request", fn)

    async def finish_request(self, tenant: str, key: str, result: dict[str, Any]) -> None:
        text = dump_json(result)
        self._write(
            "finish_request",
            lambda conn: conn.execute(
                "UPDATE requests SET state = 'done', result = ?, updated_at = ? "
                "WHERE tenant = ? AND key = ? AND state = 'in_progress'",
                (text, self._now(), tenant, key),
            ),
        )

    async def release_request(self, tenant: str, key: str) -> None:
        self._write(
            "release_request",
            lambda conn: conn.execute(
                "DELETE FROM requests WHERE tenant = ? AND key = ? AND state = 'in_progress'",
                (tenant, key),
            ),
        )

    # -- audit ----------------------------------------------------------------------------
    async def audit_intent(self, entry: AuditEntry) -> None:
        check_status(entry.status, outcome=False)
        params = audit_params(entry)
        # The same id twice (a retried call) keeps the first record.
        self._write(
            "audit_intent",
            lambda conn: conn.execute(
                f"INSERT INTO audit ({AUDIT_INSERT_COLUMNS}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                params,
            ),
        )

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
        self._write(
            "audit_outcome",
            lambda conn: conn.execute(
                "UPDATE audit SET status = ?, outcome = ?, error_code = ?, finished_at = ? "
                "WHERE tenant = ? AND id = ?",
                (status, text, error_code, self._now(), tenant, audit_id),
            ),
        )

    async def audit_page(
        self, tenant: str, *, limit: int, before: int | None = None
    ) -> list[AuditEntry]:
        if limit <= 0:
            return []
        params: tuple[object, ...]
        if before is None:
            sql, params = (
                f"SELECT {AUDIT_COLUMNS} FROM audit WHERE tenant = ? ORDER BY seq DESC LIMIT ?",
                (tenant, limit),
            )
        else:
            sql, params = (
                f"SELECT {AUDIT_COLUMNS} FROM audit WHERE tenant = ? AND seq < ? "
                "ORDER BY seq DESC LIMIT ?",
                (tenant, before, limit),
            )
        rows = self._read("audit_page", lambda conn: conn.execute(sql, params).fetchall())
        return [audit_entry(r) for r in rows]

    async def audit_unfinished(self, tenant: str | None = None) -> list[AuditEntry]:
        params: tuple[object, ...]
        if tenant is None:
            sql, params = (
                f"SELECT {AUDIT_COLUMNS} FROM audit WHERE status = 'intent' ORDER BY seq",
                (),
            )
        else:
            sql, params = (
                f"SELECT {AUDIT_COLUMNS} FROM audit WHERE status = 'intent' AND tenant = ? "
                "ORDER BY seq",
                (tenant,),
            )
        rows = self._read("audit_unfinished", lambda conn: conn.execute(sql, params).fetchall())
        return [audit_entry(r) for r in rows]

    async def audit_unsettled(self, tenant: str | None = None) -> list[AuditEntry]:
        where = f"status IN {UNSETTLED!r}" + ("" if tenant is None else " AND tenant = ?")
        rows = self._read(
            "audit_unsettled",
            lambda conn: conn.execute(
                f"SELECT {AUDIT_COLUMNS} FROM audit WHERE {where} ORDER BY seq",
                () if tenant is None else (tenant,),
            ).fetchall(),
        )
        return [audit_entry(r) for r in rows]

    async def audit_after(self, tenant: str, seq: int, *, limit: int) -> list[AuditEntry]:
        rows = self._read(
            "audit_after",
            lambda conn: conn.execute(
                f"SELECT {AUDIT_COLUMNS} FROM audit WHERE tenant = ? AND seq > ? "
                "ORDER BY seq LIMIT ?",
                (tenant, seq, limit),
            ).fetchall(),
        )
        return [audit_entry(r) for r in rows]

    # -- questions put to a person --------------------------------------------------------
    async def open_question(self, tenant: str, subject: str, nonce: str, ttl_seconds: float) -> str:
        def fn(conn: sqlite3.Connection) -> str:
            now = self._now()
            row = conn.execute(
                "SELECT nonce FROM questions WHERE tenant = ? AND subject = ? AND expires_at >= ?",
                (tenant, subject, now),
            ).fetchone()
            if row is not None:
                return str(row[0])
            conn.execute(
                "INSERT INTO questions (tenant, subject, nonce, expires_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (tenant, subject) DO UPDATE SET nonce = excluded.nonce, "
                "expires_at = excluded.expires_at",
                (tenant, subject, nonce, now + ttl_seconds),
            )
            return nonce

        return self._write("open_question", fn)

    async def take_question(self, tenant: str, subject: str, nonce: str) -> bool:
        return self._write(
            "take_question",
            lambda conn: (
                conn.execute(
                    "DELETE FROM questions WHERE tenant = ? AND subject = ? AND nonce = ? "
                    "AND expires_at >= ?",
                    (tenant, subject, nonce, self._now()),
                ).rowcount
                == 1
            ),
        )

    # -- processes ------------------------------------------------------------------------
    async def beat(self, process_id: str, host: str, pid: int) -> None:
        self._write(
            "beat",
            lambda conn: conn.execute(
                "INSERT INTO processes (id, host, pid, beat_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at",
                (process_id, host, pid, self._now()),
            ),
        )

    async def process_beats(self, process_ids: list[str]) -> dict[str, ProcessBeat]:
        if not process_ids:
            return {}
        marks = ", ".join("?" * len(process_ids))
        rows = self._read(
            "process_beats",
            lambda conn: conn.execute(
                f"SELECT id, host, pid, beat_at FROM processes WHERE id IN ({marks})",
                tuple(process_ids),
            ).fetchall(),
        )
        return {beat.process_id: beat for beat in map(beat_from_row, rows)}

    # -- retention ------------------------------------------------------------------------
    async def purge_history(self, *, audit_before: float, requests_before: float) -> int:
        def fn(conn: sqlite3.Connection) -> int:
            gone = conn.execute(
                f"DELETE FROM audit WHERE created_at < ? AND status NOT IN {UNSETTLED!r}",
                (audit_before,),
            ).rowcount
            gone += conn.execute("DELETE FROM spend WHERE created_at < ?", (audit_before,)).rowcount
            gone += conn.execute(
                "DELETE FROM requests WHERE updated_at < ?", (requests_before,)
            ).rowcount
            return int(gone)

        return self._write("purge_history", fn)

    async def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()
