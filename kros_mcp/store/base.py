"""The state-store interface: what the server remembers between calls, keyed by tenant.

Two backends implement it: SQLite (the default, a file in the data directory) and PostgreSQL
(`KROS_MCP_STATE_URL=postgresql://...`, for several replicas). Every method is atomic on its own;
`reserve_spend` is atomic across processes and replicas, which is what keeps a budget.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import SecretStr

__all__ = [
    "AUDIT_STATUSES",
    "AuditEntry",
    "AuditStatus",
    "ProcessBeat",
    "RequestClaim",
    "StateStore",
    "StoreError",
    "StoredOffer",
    "tenant_key",
]


class StoreError(Exception):
    """The state store failed (unreachable, misconfigured, or a schema it cannot migrate)."""

    code = "STATE_STORE_ERROR"


def tenant_key(api_key: str | SecretStr) -> str:
    """A stable, non-reversible id for the organisation behind an API key."""
    value = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
    return "t_" + hashlib.sha256(b"kros-mcp tenant\x00" + value.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class StoredOffer:
    """An offer shown to the model by search_available, kept so a purchase can be priced."""

    inventory_id: str
    number: str
    country: str
    type: str | None
    area_code: str | None
    setup_cost_cents: int
    monthly_cost_cents: int
    capabilities: tuple[str, ...] = ()
    # The search that showed it, so the price can be checked again before buying.
    query: dict[str, Any] = field(default_factory=dict)
    # The currency of its amounts: KrosAI's when stated, else the operator's setting.
    currency: str = "USD"

    @property
    def first_charge_cents(self) -> int:
        return self.setup_cost_cents + self.monthly_cost_cents


# intent: recorded before the upstream call; succeeded / failed: its outcome; unknown: the call
# ended without knowing (settled later); reconciled: settled after the fact against KrosAI;
# refused: the operator's policy refused it, nothing was sent.
AuditStatus = Literal["intent", "succeeded", "failed", "unknown", "reconciled", "refused"]
AUDIT_STATUSES: tuple[str, ...] = (
    "intent",
    "succeeded",
    "failed",
    "unknown",
    "reconciled",
    "refused",
)


@dataclass(frozen=True)
class AuditEntry:
    """One write attempt: its intent (recorded before the upstream call) and, later, its outcome."""

    id: str
    tenant: str
    tool: str
    arguments: dict[str, Any]
    confirmation: str  # "elicitation", "token" or "none"
    created_at: float
    quote: dict[str, Any] | None = None
    status: AuditStatus = "intent"
    # e.g. {"result": "purchased", "number_id": "pn_...", "error": "...", "reconciled": true}
    outcome: dict[str, Any] | None = None
    finished_at: float | None = None
    seq: int | None = None  # assigned by the store: the order of intents
    # Who asked: "stdio" or a non-reversible fingerprint of the caller's credential.
    caller: str | None = None
    # The outcome's code (KYC_PENDING, INSUFFICIENT_BALANCE, BUDGET_EXCEEDED...), if it failed.
    error_code: str | None = None
    # The process making the call (a random id, never shown), so that recovery can tell a call
    # still in flight from one whose process died.
    owner: str | None = None


@dataclass(frozen=True)
class ProcessBeat:
    """The last sign of life of a server process, for recovery to tell whether it still runs."""

    process_id: str
    host: str
    pid: int
    beat_at: float


@dataclass(frozen=True)
class RequestClaim:
    """The state of a tool-level idempotency key when a call claims it."""

    state: Literal["new", "in_progress", "done", "conflict"]
    # The stored result of the call that completed under this key ("done").
    result: dict[str, Any] | None = None


class StateStore(Protocol):
    """Server state shared by every request (and, with PostgreSQL, every replica)."""

    # -- offers shown ---------------------------------------------------------------------
    async def remember_offers(
        self, tenant: str, offers: list[StoredOffer], ttl_seconds: float
    ) -> None:
        """Keep offers for `ttl_seconds`; a newer showing of the same offer replaces the old one."""

    async def get_offer(self, tenant: str, inventory_id: str) -> StoredOffer | None:
        """An unexpired offer shown to this tenant, or None."""

    # -- confirmation tokens --------------------------------------------------------------
    async def use_token(self, tenant: str, token_id: str, expires_at: float) -> bool:
        """Mark a confirmation token used. True the first time, False on every later call."""

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
        """Reserve `amount_cents` if committed plus reserved spend in the window stays within
        `budget_cents` (None: no budget, always reserved). Atomic across processes."""

    async def settle_spend(
        self, tenant: str, reservation_id: str, *, spent: bool, amount_cents: int | None = None
    ) -> None:
        """Turn a reservation into spend (`spent`, optionally at the final amount) or drop it."""

    async def spent_in_window(self, tenant: str, window_seconds: float) -> int:
        """Committed plus reserved spend in the last `window_seconds`."""

    # -- tool-level idempotency -----------------------------------------------------------
    async def claim_request(self, tenant: str, key: str, digest: str) -> RequestClaim:
        """Claim `key` for a call whose arguments hash to `digest`: `new` (go ahead),
        `in_progress` (another call holds it), `done` (replay its result), `conflict` (other arguments)."""

    async def finish_request(self, tenant: str, key: str, result: dict[str, Any]) -> None:
        """Record the result of the call holding `key`."""

    async def release_request(self, tenant: str, key: str) -> None:
        """Drop a claim whose call did nothing, so that the same key may be tried again."""

    # -- audit ----------------------------------------------------------------------------
    async def audit_intent(self, entry: AuditEntry) -> None:
        """Record a write's intent, before the upstream call."""

    async def audit_outcome(
        self,
        tenant: str,
        audit_id: str,
        status: AuditStatus,
        outcome: dict[str, Any],
        *,
        error_code: str | None = None,
    ) -> None:
        """Record a write's outcome (and its error code, if it failed)."""

    async def audit_page(
        self, tenant: str, *, limit: int, before: int | None = None
    ) -> list[AuditEntry]:
        """Entries, most recent first; `before` is a `seq` to page from."""

    async def audit_unfinished(self, tenant: str | None = None) -> list[AuditEntry]:
        """Intents with no outcome (a crash mid-call), oldest first; all tenants when None."""

    async def audit_unsettled(self, tenant: str | None = None) -> list[AuditEntry]:
        """Intents and unknown outcomes, oldest first; all tenants when None."""

    async def audit_after(self, tenant: str, seq: int, *, limit: int) -> list[AuditEntry]:
        """Entries recorded after `seq`, oldest first."""

    # -- questions put to a person --------------------------------------------------------
    async def open_question(self, tenant: str, subject: str, nonce: str, ttl_seconds: float) -> str:
        """The nonce of the open question about `subject`: the one already open and unexpired,
        else `nonce`, now open for `ttl_seconds`."""

    async def take_question(self, tenant: str, subject: str, nonce: str) -> bool:
        """Close the open question `nonce` about `subject`: True once, False if it is no longer
        open (answered already, or expired): an answer acts once."""

    # -- processes ------------------------------------------------------------------------
    async def beat(self, process_id: str, host: str, pid: int) -> None:
        """Record that process `process_id` is alive now."""

    async def process_beats(self, process_ids: list[str]) -> dict[str, ProcessBeat]:
        """The last beat of each of these processes that has one."""

    # -- retention ------------------------------------------------------------------------
    async def purge_history(self, *, audit_before: float, requests_before: float) -> int:
        """Delete settled audit entries and spend older than `audit_before` and request records
        older than `requests_before`; unsettled entries are kept. Returns how many rows went."""

    async def close(self) -> None:
        """Release connections."""
