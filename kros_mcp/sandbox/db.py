"""The sandbox's SQLite state: organisations, inventory, owned numbers, endpoints, ledger.

Every write runs in one `BEGIN IMMEDIATE` transaction, so concurrent purchases of one inventory
item give exactly one success, even across processes sharing the file.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .inventory import InventoryItem, expected_size, generate_inventory

__all__ = ["KYC_STATES", "SANDBOX_API_KEY", "Progress", "SandboxDB", "SandboxError"]

# Seeding progress: (items processed so far, items expected). The last call has them equal.
Progress = Callable[[int, int], None]
PROGRESS_EVERY = 5_000

SANDBOX_API_KEY = "kros_test_sandbox"
SANDBOX_ORG_ID = "org_sandbox"
SANDBOX_BALANCE_CENTS = 10_000
KYC_STATES = ("not_submitted", "initiated", "pending", "declined", "approved")
# The Buy Numbers guide's code for an organisation that has not started KYC is KYC_REQUIRED; the
# later stages keep the codes KrosAI's OpenAPI gives them.
_KYC_ERRORS = {
    "not_submitted": ("KYC_REQUIRED", "KYC verification is required and has not been started"),
    "initiated": ("KYC_INITIATED", "KYC verification was submitted but not yet reviewed"),
    "pending": ("KYC_PENDING", "KYC verification is still pending"),
    "declined": ("KYC_DECLINED", "KYC verification was declined"),
}
SIP_DOMAIN = "sip.sandbox.krosai.local"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orgs (
    id TEXT PRIMARY KEY,
    api_key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kyc_status TEXT NOT NULL,
    balance_cents INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    provisioning_seconds REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS inventory (
    id TEXT PRIMARY KEY,
    e164 TEXT NOT NULL UNIQUE,
    country TEXT NOT NULL,
    type TEXT NOT NULL,
    area_code TEXT NOT NULL,
    setup_cost_cents INTEGER NOT NULL,
    monthly_cost_cents INTEGER NOT NULL,
    sms INTEGER NOT NULL,
    available INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS inventory_by_country ON inventory (country, available, id);
CREATE INDEX IF NOT EXISTS inventory_by_type ON inventory (country, type, available, id);
CREATE INDEX IF NOT EXISTS inventory_by_area ON inventory (country, area_code, available, id);
CREATE TABLE IF NOT EXISTS inventory_counts (
    country TEXT NOT NULL,
    type TEXT NOT NULL,
    area_code TEXT NOT NULL,
    available INTEGER NOT NULL,
    PRIMARY KEY (country, type, area_code)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS endpoints (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    url TEXT,
    status TEXT NOT NULL,
    provider_config TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS phone_numbers (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    inventory_id TEXT NOT NULL UNIQUE,
    e164 TEXT NOT NULL,
    country TEXT NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    endpoint_id TEXT,
    allow_inbound INTEGER NOT NULL,
    allow_outbound INTEGER NOT NULL,
    setup_cost_cents INTEGER NOT NULL,
    monthly_cost_cents INTEGER NOT NULL,
    sip_password TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    active_at REAL
);
CREATE INDEX IF NOT EXISTS phone_numbers_by_org ON phone_numbers (org_id, seq);
CREATE TABLE IF NOT EXISTS transactions (
    seq INTEGER PRIMARY KEY,
    org_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    phone_number_id TEXT,
    inventory_id TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    org_id TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (org_id, key)
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class SandboxError(Exception):
    """A KrosAI-style error: HTTP status, code, message and details."""

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


@dataclass(frozen=True)
class Org:
    id: str
    api_key: str
    name: str
    kyc_status: str
    balance_cents: int
    # Seconds a new number stays `pending` before it becomes `active` (0: active at once).
    provisioning_seconds: float = 0.0


_ORG_COLUMNS = "id, api_key, name, kyc_status, balance_cents, provisioning_seconds"
# Status changes KrosAI refuses, per number status: (operation, code, message).
_REFUSED = {
    ("update", "suspended"): (
        "NUMBER_SUSPENDED",
        "a suspended number cannot be re-routed; KrosAI support must lift the suspension first",
    ),
    ("update", "porting"): (
        "NUMBER_PORTING",
        "a number being ported in cannot be re-routed until the port completes",
    ),
    ("release", "porting"): (
        "NUMBER_PORTING",
        "a number being ported in cannot be released; the port must complete or be cancelled first",
    ),
    ("release", "pending"): (
        "NUMBER_PENDING",
        "a number still being provisioned cannot be released until it is active",
    ),
}


def iso_at(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


class SandboxDB:
    """All sandbox state behind one SQLite connection, safe to share between threads."""

    def __init__(
        self,
        path: str | Path,
        *,
        inventory_per_block: int = 25,
        seed: int = 0,
        progress: Progress | None = None,
    ) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30
        )
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        if self.path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._add_missing_columns()
        # The earliest time a pending number becomes active (None: no pending number), so that
        # reads only write when an activation is due.
        self._next_activation: float | None = self._read(
            "SELECT MIN(active_at) FROM phone_numbers WHERE active_at IS NOT NULL"
        )[0][0]
        with self.transaction() as tx:
            if tx.execute("SELECT 1 FROM orgs WHERE id = ?", (SANDBOX_ORG_ID,)).fetchone() is None:
                self._insert_org(
                    tx,
                    SANDBOX_ORG_ID,
                    SANDBOX_API_KEY,
                    "Sandbox organisation",
                    "approved",
                    SANDBOX_BALANCE_CENTS,
                    endpoint_ids=("ep_support_agent", "ep_webhook_handler"),
                )
        self._seed_inventory(inventory_per_block, seed, progress)

    def _add_missing_columns(self) -> None:
        """Columns added after a sandbox file was created are added to it (its data is kept)."""
        for table, column, declaration in (
            ("orgs", "provisioning_seconds", "REAL NOT NULL DEFAULT 0"),
            ("phone_numbers", "active_at", "REAL"),
        ):
            present = {row[1] for row in self._read(f"PRAGMA table_info({table})")}
            if column not in present:
                with self.transaction() as tx:
                    tx.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")

    def _activate_due(self) -> None:
        """Pending numbers whose provisioning time has passed become active."""
        due = self._next_activation
        if due is None or time.time() < due:
            return
        with self.transaction() as tx:
            tx.execute(
                "UPDATE phone_numbers SET status = 'active', updated_at = strftime("
                "'%Y-%m-%dT%H:%M:%fZ', active_at, 'unixepoch'), active_at = NULL "
                "WHERE active_at IS NOT NULL AND active_at <= ?",
                (time.time(),),
            )
            self._next_activation = tx.execute(
                "SELECT MIN(active_at) FROM phone_numbers WHERE active_at IS NOT NULL"
            ).fetchone()[0]

    def _seed_inventory(self, per_block: int, seed: int, progress: Progress | None) -> None:
        """Generate the inventory of a new database, or finish seeding that was interrupted.

        A marker written before seeding and cleared after it tells an interrupted seed (resumed
        with its own sizes: ids already there are kept) from a database that is simply seeded.
        """
        unfinished = self._read("SELECT value FROM meta WHERE key = 'seeding'")
        if unfinished:
            per_block, seed = (int(part) for part in unfinished[0][0].split(":"))
        elif per_block <= 0 or self.inventory_size() > 0:
            return
        with self.transaction() as tx:
            tx.execute(
                "INSERT OR REPLACE INTO meta VALUES ('seeding', ?)", (f"{per_block}:{seed}",)
            )
        self.add_inventory(
            generate_inventory(per_block, seed=seed),
            progress=progress,
            expected=expected_size(per_block),
        )
        with self.transaction() as tx:
            tx.execute("DELETE FROM meta WHERE key = 'seeding'")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One immediate (write-locked) transaction; rolled back on any error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # -- inventory ----------------------------------------------------------------------------

    def add_inventory(
        self,
        items: Iterator[InventoryItem] | list[InventoryItem],
        batch: int = 20_000,
        *,
        progress: Progress | None = None,
        expected: int | None = None,
    ) -> int:
        """Insert inventory items (existing ids are kept) and refresh the counts. `progress`, if given, hears
        how many items were processed out of `expected` (default: len(items), else unknown until the end)."""
        added = 0
        processed = 0
        rows: list[tuple[Any, ...]] = []
        if expected is None and isinstance(items, list):
            expected = len(items)

        def flush() -> None:
            nonlocal added
            with self.transaction() as tx:
                before = tx.total_changes
                tx.executemany(
                    "INSERT OR IGNORE INTO inventory VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)", rows
                )
                added += tx.total_changes - before
            rows.clear()

        for item in items:
            rows.append(
                (
                    item.id,
                    item.e164,
                    item.country,
                    item.type,
                    item.area_code,
                    item.setup_cost_cents,
                    item.monthly_cost_cents,
                    int(item.sms),
                )
            )
            processed += 1
            if len(rows) >= batch:
                flush()
            if progress is not None and processed % PROGRESS_EVERY == 0:
                # Never report reaching the end before the counts below are refreshed.
                progress(processed, max(expected or 0, processed + 1))
        if rows:
            flush()
        with self.transaction() as tx:
            tx.execute("DELETE FROM inventory_counts")
            tx.execute(
                "INSERT INTO inventory_counts SELECT country, type, area_code, SUM(available) "
                "FROM inventory GROUP BY country, type, area_code"
            )
        if progress is not None:
            progress(processed, processed)
        return added

    def inventory_size(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM inventory")[0][0])

    def search_inventory(
        self, country: str, type: str | None, area_code: str | None, limit: int, offset: int
    ) -> tuple[list[sqlite3.Row], int]:
        where = ["country = ?", "available = 1"]
        params: list[Any] = [country]
        count_where = ["country = ?"]
        count_params: list[Any] = [country]
        for column, value in (("type", type), ("area_code", area_code)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
                count_where.append(f"{column} = ?")
                count_params.append(value)
        rows = self._read(
            f"SELECT * FROM inventory WHERE {' AND '.join(where)} ORDER BY id LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        total = self._read(
            f"SELECT COALESCE(SUM(available), 0) FROM inventory_counts WHERE {' AND '.join(count_where)}",
            tuple(count_params),
        )[0][0]
        return rows, total

    def set_inventory_price(
        self, inventory_id: str, setup_cost_cents: int | None, monthly_cost_cents: int | None
    ) -> sqlite3.Row:
        with self.transaction() as tx:
            row = tx.execute("SELECT * FROM inventory WHERE id = ?", (inventory_id,)).fetchone()
            if row is None:
                raise SandboxError(404, "NOT_FOUND", f"no inventory item {inventory_id!r}")
            tx.execute(
                "UPDATE inventory SET setup_cost_cents = COALESCE(?, setup_cost_cents), "
                "monthly_cost_cents = COALESCE(?, monthly_cost_cents) WHERE id = ?",
                (setup_cost_cents, monthly_cost_cents, inventory_id),
            )
            return _row(tx, "SELECT * FROM inventory WHERE id = ?", inventory_id)

    # -- organisations ------------------------------------------------------------------------

    def _insert_org(
        self,
        tx: sqlite3.Connection,
        org_id: str,
        api_key: str,
        name: str,
        kyc: str,
        balance: int,
        endpoint_ids: tuple[str, str] | None = None,
    ) -> None:
        created = now_iso()
        tx.execute(
            "INSERT INTO orgs (id, api_key, name, kyc_status, balance_cents, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (org_id, api_key, name, kyc, balance, created),
        )
        tx.execute(
            "INSERT INTO transactions (org_id, kind, amount_cents, created_at) VALUES (?, 'credit', ?, ?)",
            (org_id, balance, created),
        )
        agent_id, webhook_id = endpoint_ids or (_new_id("ep"), _new_id("ep"))
        for ep_id, ep_name, ep_type, url, config in (
            (
                agent_id,
                "Support Agent",
                "agent",
                "sip:agent@sip.rtc.elevenlabs.io",
                {"provider": "elevenlabs", "agent_id": "agent_sandbox"},
            ),
            (webhook_id, "Webhook Handler", "webhook", "https://example.com/call-handler", None),
        ):
            tx.execute(
                "INSERT INTO endpoints (id, org_id, name, type, url, status, provider_config, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?)",
                (
                    ep_id,
                    org_id,
                    ep_name,
                    ep_type,
                    url,
                    json.dumps(config) if config else None,
                    created,
                    created,
                ),
            )

    def create_org(
        self,
        *,
        kyc_status: str,
        balance_cents: int,
        name: str | None = None,
        provisioning_seconds: float = 0.0,
    ) -> Org:
        api_key = "kros_test_" + secrets.token_hex(16)
        org_id = _new_id("org")
        name = name or f"Organisation {org_id[-6:]}"
        with self.transaction() as tx:
            self._insert_org(tx, org_id, api_key, name, kyc_status, balance_cents)
            tx.execute(
                "UPDATE orgs SET provisioning_seconds = ? WHERE id = ?",
                (provisioning_seconds, org_id),
            )
        return Org(org_id, api_key, name, kyc_status, balance_cents, provisioning_seconds)

    def org_for_key(self, api_key: str) -> Org | None:
        rows = self._read(f"SELECT {_ORG_COLUMNS} FROM orgs WHERE api_key = ?", (api_key,))
        return Org(*rows[0]) if rows else None

    def update_org(
        self,
        org_id: str,
        *,
        kyc_status: str | None,
        balance_cents: int | None,
        provisioning_seconds: float | None = None,
    ) -> Org:
        with self.transaction() as tx:
            if kyc_status is not None:
                tx.execute("UPDATE orgs SET kyc_status = ? WHERE id = ?", (kyc_status, org_id))
            if provisioning_seconds is not None:
                tx.execute(
                    "UPDATE orgs SET provisioning_seconds = ? WHERE id = ?",
                    (provisioning_seconds, org_id),
                )
            if balance_cents is not None:
                old = tx.execute(
                    "SELECT balance_cents FROM orgs WHERE id = ?", (org_id,)
                ).fetchone()[0]
                tx.execute(
                    "UPDATE orgs SET balance_cents = ? WHERE id = ?", (balance_cents, org_id)
                )
                tx.execute(
                    "INSERT INTO transactions (org_id, kind, amount_cents, created_at) VALUES (?, 'adjustment', ?, ?)",
                    (org_id, balance_cents - old, now_iso()),
                )
            row = tx.execute(f"SELECT {_ORG_COLUMNS} FROM orgs WHERE id = ?", (org_id,)).fetchone()
        return Org(*row)

    def transactions(self, org_id: str) -> list[sqlite3.Row]:
        return self._read("SELECT * FROM transactions WHERE org_id = ? ORDER BY seq", (org_id,))

    # -- endpoints ----------------------------------------------------------------------------

    def list_endpoints(
        self,
        org_id: str,
        limit: int,
        offset: int,
        *,
        type: str | None = None,
        status: str | None = None,
    ) -> tuple[list[sqlite3.Row], int]:
        where = ["org_id = ?"]
        params: list[Any] = [org_id]
        for column, value in (("type", type), ("status", status)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        clause = " AND ".join(where)
        rows = self._read(
            f"SELECT * FROM endpoints WHERE {clause} ORDER BY seq LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        total = self._read(f"SELECT COUNT(*) FROM endpoints WHERE {clause}", tuple(params))[0][0]
        return rows, total

    def update_endpoint(
        self, org_id: str, endpoint_id: str, changes: dict[str, Any]
    ) -> sqlite3.Row:
        """Change an endpoint's fields (names from a fixed allowlist in the routes)."""
        with self.transaction() as tx:
            found = tx.execute(
                "SELECT 1 FROM endpoints WHERE org_id = ? AND id = ?", (org_id, endpoint_id)
            ).fetchone()
            if found is None:
                raise SandboxError(404, "NOT_FOUND", f"endpoint {endpoint_id!r} not found")
            if "provider_config" in changes and changes["provider_config"] is not None:
                changes = {**changes, "provider_config": json.dumps(changes["provider_config"])}
            if changes:
                assignments = ", ".join(f"{column} = ?" for column in changes)
                tx.execute(
                    f"UPDATE endpoints SET {assignments}, updated_at = ? WHERE id = ?",
                    (*changes.values(), now_iso(), endpoint_id),
                )
            return _row(tx, "SELECT * FROM endpoints WHERE id = ?", endpoint_id)

    def get_endpoint(self, org_id: str, endpoint_id: str) -> sqlite3.Row | None:
        rows = self._read(
            "SELECT * FROM endpoints WHERE org_id = ? AND id = ?", (org_id, endpoint_id)
        )
        return rows[0] if rows else None

    def create_endpoint(
        self,
        org_id: str,
        *,
        name: str,
        type: str,
        url: str | None,
        provider_config: dict[str, Any] | None,
    ) -> sqlite3.Row:
        ep_id = _new_id("ep")
        created = now_iso()
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO endpoints (id, org_id, name, type, url, status, provider_config, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?)",
                (
                    ep_id,
                    org_id,
                    name,
                    type,
                    url,
                    json.dumps(provider_config) if provider_config is not None else None,
                    created,
                    created,
                ),
            )
            return _row(tx, "SELECT * FROM endpoints WHERE id = ?", ep_id)

    # -- owned numbers ------------------------------------------------------------------------

    def list_numbers(
        self, org_id: str, status: str | None, country: str | None, limit: int, offset: int
    ) -> tuple[list[sqlite3.Row], int]:
        self._activate_due()
        where = ["org_id = ?"]
        params: list[Any] = [org_id]
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if country is not None:
            where.append("country = ?")
            params.append(country)
        clause = " AND ".join(where)
        rows = self._read(
            f"SELECT * FROM phone_numbers WHERE {clause} ORDER BY seq LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        total = self._read(f"SELECT COUNT(*) FROM phone_numbers WHERE {clause}", tuple(params))[0][
            0
        ]
        return rows, total

    def get_number(self, org_id: str, number_id: str) -> sqlite3.Row:
        self._activate_due()
        rows = self._read(
            "SELECT * FROM phone_numbers WHERE org_id = ? AND id = ?", (org_id, number_id)
        )
        if not rows:
            raise SandboxError(404, "NOT_FOUND", f"phone number {number_id!r} not found")
        return rows[0]

    def purchase(
        self,
        org: Org,
        *,
        inventory_id: str,
        endpoint_id: str | None,
        allow_inbound: bool,
        allow_outbound: bool,
        idempotency_key: str | None,
        request_hash: str,
        render: Any,
    ) -> tuple[int, dict[str, Any], bool]:
        """Buy an inventory item; returns (status, body, replayed). `render` shapes the new row."""
        with self.transaction() as tx:
            if idempotency_key is not None:
                prior = tx.execute(
                    "SELECT request_hash, status, body FROM idempotency WHERE org_id = ? AND key = ?",
                    (org.id, idempotency_key),
                ).fetchone()
                if prior is not None:
                    if prior["request_hash"] != request_hash:
                        raise SandboxError(
                            422,
                            "IDEMPOTENCY_KEY_REUSED",
                            "this Idempotency-Key was already used with a different request body",
                        )
                    return prior["status"], json.loads(prior["body"]), True
            current = tx.execute(
                "SELECT kyc_status, balance_cents, provisioning_seconds FROM orgs WHERE id = ?",
                (org.id,),
            ).fetchone()
            if current["kyc_status"] in _KYC_ERRORS:
                code, message = _KYC_ERRORS[current["kyc_status"]]
                raise SandboxError(
                    400, code, message + "; complete KYC in the KrosAI dashboard to buy numbers"
                )
            item = tx.execute("SELECT * FROM inventory WHERE id = ?", (inventory_id,)).fetchone()
            if item is None or not item["available"]:
                raise SandboxError(
                    404,
                    "NUMBER_NOT_AVAILABLE",
                    f"inventory number {inventory_id!r} is not available",
                )
            if (
                endpoint_id is not None
                and tx.execute(
                    "SELECT 1 FROM endpoints WHERE org_id = ? AND id = ?", (org.id, endpoint_id)
                ).fetchone()
                is None
            ):
                raise SandboxError(404, "ENDPOINT_NOT_FOUND", f"endpoint {endpoint_id!r} not found")
            total = item["setup_cost_cents"] + item["monthly_cost_cents"]
            if current["balance_cents"] < total:
                raise SandboxError(
                    400,
                    "INSUFFICIENT_BALANCE",
                    "not enough credits for this number",
                    {"required_cents": total, "balance_cents": current["balance_cents"]},
                )
            number_id = _new_id("pn")
            created = now_iso()
            # An organisation set to provision slowly gets its number `pending` for a while.
            wait = current["provisioning_seconds"]
            active_at = time.time() + wait if wait > 0 else None
            tx.execute("UPDATE inventory SET available = 0 WHERE id = ?", (inventory_id,))
            tx.execute(
                "UPDATE inventory_counts SET available = available - 1"
                " WHERE country = ? AND type = ? AND area_code = ?",
                (item["country"], item["type"], item["area_code"]),
            )
            tx.execute(
                "UPDATE orgs SET balance_cents = balance_cents - ? WHERE id = ?", (total, org.id)
            )
            tx.execute(
                "INSERT INTO phone_numbers (id, org_id, inventory_id, e164, country, type, status, endpoint_id, "
                "allow_inbound, allow_outbound, setup_cost_cents, monthly_cost_cents, sip_password, created_at, "
                "updated_at, active_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    number_id,
                    org.id,
                    inventory_id,
                    item["e164"],
                    item["country"],
                    item["type"],
                    "pending" if active_at is not None else "active",
                    endpoint_id,
                    int(allow_inbound),
                    int(allow_outbound),
                    item["setup_cost_cents"],
                    item["monthly_cost_cents"],
                    secrets.token_urlsafe(12),
                    created,
                    created,
                    active_at,
                ),
            )
            if active_at is not None and (
                self._next_activation is None or active_at < self._next_activation
            ):
                self._next_activation = active_at
            tx.execute(
                "INSERT INTO transactions (org_id, kind, amount_cents, phone_number_id, inventory_id, created_at) "
                "VALUES (?, 'purchase', ?, ?, ?, ?)",
                (org.id, -total, number_id, inventory_id, created),
            )
            row = tx.execute("SELECT * FROM phone_numbers WHERE id = ?", (number_id,)).fetchone()
            body = render(row)
            if idempotency_key is not None:
                tx.execute(
                    "INSERT INTO idempotency VALUES (?, ?, ?, 201, ?, ?)",
                    (org.id, idempotency_key, request_hash, json.dumps(body), created),
                )
            return 201, body, False

    def update_number(self, org_id: str, number_id: str, changes: dict[str, Any]) -> sqlite3.Row:
        self._activate_due()
        with self.transaction() as tx:
            current = tx.execute(
                "SELECT status FROM phone_numbers WHERE org_id = ? AND id = ?", (org_id, number_id)
            ).fetchone()
            if current is None:
                raise SandboxError(404, "NOT_FOUND", f"phone number {number_id!r} not found")
            _refuse_in_state("update", current["status"], number_id)
            endpoint_id = changes.get("endpoint_id")
            if (
                endpoint_id is not None
                and tx.execute(
                    "SELECT 1 FROM endpoints WHERE org_id = ? AND id = ?", (org_id, endpoint_id)
                ).fetchone()
                is None
            ):
                raise SandboxError(404, "ENDPOINT_NOT_FOUND", f"endpoint {endpoint_id!r} not found")
            if changes:
                # Column names come from a fixed allowlist in the app, never from the request.
                assignments = ", ".join(f"{column} = ?" for column in changes)
                values = [int(v) if isinstance(v, bool) else v for v in changes.values()]
                tx.execute(
                    f"UPDATE phone_numbers SET {assignments}, updated_at = ? WHERE id = ?",
                    (*values, now_iso(), number_id),
                )
            return _row(tx, "SELECT * FROM phone_numbers WHERE id = ?", number_id)

    def release_number(self, org_id: str, number_id: str) -> sqlite3.Row:
        self._activate_due()
        with self.transaction() as tx:
            row: sqlite3.Row | None = tx.execute(
                "SELECT * FROM phone_numbers WHERE org_id = ? AND id = ?", (org_id, number_id)
            ).fetchone()
            if row is None:
                raise SandboxError(404, "NOT_FOUND", f"phone number {number_id!r} not found")
            _refuse_in_state("release", row["status"], number_id)
            tx.execute("DELETE FROM phone_numbers WHERE id = ?", (number_id,))
            tx.execute("UPDATE inventory SET available = 1 WHERE id = ?", (row["inventory_id"],))
            tx.execute(
                "UPDATE inventory_counts SET available = available + 1"
                " WHERE country = ? AND type = ? AND area_code = ?",
                (row["country"], row["type"], _area_of(tx, row["inventory_id"])),
            )
            tx.execute(
                "INSERT INTO transactions (org_id, kind, amount_cents, phone_number_id, inventory_id, created_at) "
                "VALUES (?, 'release', 0, ?, ?, ?)",
                (org_id, number_id, row["inventory_id"], now_iso()),
            )
            return row

    def set_number_status(
        self, org_id: str, number_id: str, status: str, pending_seconds: float | None
    ) -> sqlite3.Row:
        """Sandbox control: put a number in `status`; `pending` may end after `pending_seconds`."""
        self._activate_due()
        active_at = (
            time.time() + pending_seconds if status == "pending" and pending_seconds else None
        )
        with self.transaction() as tx:
            changed = tx.execute(
                "UPDATE phone_numbers SET status = ?, active_at = ?, updated_at = ? "
                "WHERE org_id = ? AND id = ?",
                (status, active_at, now_iso(), org_id, number_id),
            ).rowcount
            if not changed:
                raise SandboxError(404, "NOT_FOUND", f"phone number {number_id!r} not found")
            if active_at is not None and (
                self._next_activation is None or active_at < self._next_activation
            ):
                self._next_activation = active_at
            return _row(tx, "SELECT * FROM phone_numbers WHERE id = ?", number_id)


def _row(tx: sqlite3.Connection, sql: str, key: str) -> sqlite3.Row:
    row: sqlite3.Row = tx.execute(sql, (key,)).fetchone()
    return row


def _refuse_in_state(operation: str, status: str, number_id: str) -> None:
    refused = _REFUSED.get((operation, status))
    if refused is not None:
        code, message = refused
        raise SandboxError(409, code, f"{number_id}: {message}", {"status": status})


def _area_of(tx: sqlite3.Connection, inventory_id: str) -> str:
    row = tx.execute("SELECT area_code FROM inventory WHERE id = ?", (inventory_id,)).fetchone()
    return row[0] if row else ""


def request_hash(body: dict[str, Any]) -> str:
    """A stable fingerprint of a purchase request, for Idempotency-Key comparison."""
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
