"""Pieces shared by the SQLite and PostgreSQL state stores: (de)serialisation, checks, purging."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pydantic_core

from .base import AUDIT_STATUSES, AuditEntry, ProcessBeat, RequestClaim, StoredOffer, StoreError

Clock = Callable[[], float]

# A process record not renewed for this long is dropped when expired rows are purged.
STALE_PROCESS_SECONDS = 86_400.0

# Expired offers and used tokens are deleted now and then: every PURGE_EVERY_WRITES writes of one
# store object, or on the first write PURGE_EVERY_SECONDS after the last purge, and on opening.
PURGE_EVERY_WRITES = 500
PURGE_EVERY_SECONDS = 600.0
# A used token is remembered this long past its expiry, against clock skew between replicas: it
# must stay refused for as long as any replica could still take it for unexpired.
TOKEN_GRACE_SECONDS = 86_400.0

# The columns of `audit`, in the order `audit_entry` takes them.
AUDIT_COLUMNS = (
    "seq, id, tenant, tool, arguments, quote, confirmation, status, outcome, created_at, "
    "finished_at, caller, error_code, owner"
)
# The columns an intent is written with, and its values in that order.
AUDIT_INSERT_COLUMNS = (
    "id, tenant, tool, arguments, quote, confirmation, status, outcome, created_at, finished_at, "
    "caller, error_code, owner"
)
# Statuses recovery still has to settle.
UNSETTLED = ("intent", "unknown")

_OFFER_NAMES = tuple(f.name for f in dataclasses.fields(StoredOffer))
_OFFER_FIELDS = frozenset(_OFFER_NAMES)


def dump_json(value: Any) -> str:
    """Compact JSON, the same text for both backends (NaN and infinities are refused by both)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _loaded(value: Any) -> Any:
    # SQLite hands back the text; psycopg has already parsed a `json` column.
    return json.loads(value) if isinstance(value, str | bytes) else value


def offer_json(offer: StoredOffer) -> str:
    # search_available runs this for every offer it shows: not dataclasses.asdict (its deep copy
    # cost more than the SQL write) and pydantic-core's encoder (a third of json.dumps' time).
    # The fields in order, the tuple as a list; non-ASCII text as UTF-8, not escaped.
    return pydantic_core.to_json({name: getattr(offer, name) for name in _OFFER_NAMES}).decode()


def offer_from_json(value: Any) -> StoredOffer:
    data = _loaded(value)
    # Fields a newer kros-mcp may have added are ignored rather than fatal.
    data = {k: v for k, v in data.items() if k in _OFFER_FIELDS}
    data["capabilities"] = tuple(data.get("capabilities") or ())
    data["query"] = dict(data.get("query") or {})
    return StoredOffer(**data)


def audit_entry(row: tuple[Any, ...] | Any) -> AuditEntry:
    """An AuditEntry from a row of AUDIT_COLUMNS."""
    (
        seq,
        id_,
        tenant,
        tool,
        arguments,
        quote,
        confirmation,
        status,
        outcome,
        created_at,
        finished_at,
        caller,
        error_code,
        owner,
    ) = row
    return AuditEntry(
        id=id_,
        tenant=tenant,
        tool=tool,
        arguments=_loaded(arguments),
        confirmation=confirmation,
        created_at=float(created_at),
        quote=None if quote is None else _loaded(quote),
        status=status,
        outcome=None if outcome is None else _loaded(outcome),
        finished_at=None if finished_at is None else float(finished_at),
        seq=int(seq),
        caller=caller,
        error_code=error_code,
        owner=owner,
    )


def audit_params(entry: AuditEntry) -> tuple[Any, ...]:
    """The values of AUDIT_INSERT_COLUMNS for `entry`, JSON columns as text."""
    return (
        entry.id,
        entry.tenant,
        entry.tool,
        dump_json(entry.arguments),
        None if entry.quote is None else dump_json(entry.quote),
        entry.confirmation,
        entry.status,
        None if entry.outcome is None else dump_json(entry.outcome),
        entry.created_at,
        entry.finished_at,
        entry.caller,
        entry.error_code,
        entry.owner,
    )


def beat_from_row(row: tuple[Any, ...] | Any) -> ProcessBeat:
    process_id, host, pid, beat_at = row
    return ProcessBeat(str(process_id), str(host), int(pid), float(beat_at))


def claim_from_row(digest: str, row_digest: str, state: str, result: Any) -> RequestClaim:
    if row_digest != digest:
        return RequestClaim("conflict")
    if state == "done":
        return RequestClaim("done", None if result is None else _loaded(result))
    return RequestClaim("in_progress")


def check_amount(amount_cents: int | None, what: str = "amount_cents") -> None:
    if amount_cents is None:
        return
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents < 0:
        raise ValueError(f"{what} must be a non-negative integer, got {amount_cents!r}")


def check_status(status: str, *, outcome: bool) -> None:
    allowed = AUDIT_STATUSES[1:] if outcome else AUDIT_STATUSES
    if status not in allowed:
        raise ValueError(f"audit status must be one of {', '.join(allowed)}; got {status!r}")


def newer_schema_error(where: str, found: int, latest: int) -> StoreError:
    return StoreError(
        f"the state store at {where} has schema version {found}, written by a newer kros-mcp "
        f"(this one knows versions up to {latest}): upgrade kros-mcp"
    )


class PurgeSchedule:
    """Says when a store object should delete expired offers and tokens."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._writes = 0
        self._last = clock()

    def due(self) -> bool:
        """Count one write; True when it is time to purge (the schedule then restarts)."""
        self._writes += 1
        now = self._clock()
        if self._writes >= PURGE_EVERY_WRITES or now - self._last >= PURGE_EVERY_SECONDS:
            self._writes = 0
            self._last = now
            return True
        return False
