"""Recovery: writes whose outcome was never recorded, settled against what KrosAI shows.

A write left as an intent (its process died mid-call) or ended 'unknown' (KrosAI's answer was lost
and could not be established) is settled here: at start-up, and by a periodic sweep while the
server runs. An intent is left alone while the process that wrote it may still be making the call:
this process keeps the ids of its writes in flight; another process is alive while it beats (its
process record is renewed by its sweep) and, on this host, while its pid runs.

A purchase is settled as bought when KrosAI lists the number as owned, or when this organisation's
own trail shows the number released or re-routed since (bought, then released: the money is
spent). Its reservation is released only when KrosAI shows that no purchase happened: the
inventory still offers the very item. Otherwise the spend stays counted, the safe side of a budget.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from ..krosai import KrosAIClient, KrosAIError, NotFoundError, PhoneNumber, same_number
from ..store import AuditEntry, ProcessBeat, StateStore, StoredOffer
from .audit import purge_history
from .process import ProcessIdentity
from .quotes import refresh_offer
from .writes import Scope

__all__ = ["Sweep", "possibly_live", "reconcile"]

log = logging.getLogger("kros_mcp.server")

_LATER_ENTRIES = 1000
# Outcomes that prove the organisation held a number after the purchase was attempted.
_HELD_AFTER = {"released", "updated", "already_owned", "current_routing"}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it runs, as another user
        return True
    return True


def possibly_live(
    entry: AuditEntry,
    beats: dict[str, ProcessBeat],
    *,
    me: ProcessIdentity,
    now: float,
    lease: float,
    grace: float,
) -> bool:
    """Whether some process may still be making this write (so it must not be settled yet)."""
    if entry.status == "unknown":
        return False  # the call is over: only what KrosAI did remains to be learned
    if entry.owner == me.id:
        return entry.id in me.in_flight
    beat = beats.get(entry.owner) if entry.owner else None
    if beat is None:
        # Written before processes were recorded, or by one that stopped: wait out a call.
        return now - entry.created_at < grace
    if beat.host == me.host and (beat.pid == me.pid or not _pid_alive(beat.pid)):
        return False  # it died on this host (or was this pid before a restart)
    return now - beat.beat_at < lease


async def reconcile(
    scope: Scope, client: KrosAIClient, *, grace: float, lease: float, at_start: bool = False
) -> int:
    """Settle this tenant's unsettled writes that no live process is making; returns how many."""
    store = scope.store
    candidates = await store.audit_unsettled(scope.tenant)
    owners = sorted({e.owner for e in candidates if e.owner})
    beats = await store.process_beats(owners)
    now = time.time()
    entries = [
        e
        for e in candidates
        if not possibly_live(e, beats, me=scope.process, now=now, lease=lease, grace=grace)
    ]
    if not entries:
        return 0
    settled = 0
    try:
        owned: list[PhoneNumber] = []
        if any(e.tool == "purchase_number" for e in entries):
            owned = [n async for n in client.iter_numbers()]
        later = await store.audit_after(
            scope.tenant, min(e.seq or 0 for e in entries), limit=_LATER_ENTRIES
        )
    except KrosAIError as exc:
        log.warning(
            "could not reconcile %d unfinished write(s) now (%s); will try again later",
            len(entries),
            exc.message,
        )
        return 0
    for entry in entries:
        try:
            await _settle(scope, client, entry, owned, later)
            settled += 1
        except KrosAIError as exc:
            log.warning("could not reconcile %s %s yet: %s", entry.tool, entry.id, exc.message)
    when = "from an earlier run" if at_start else "left unsettled"
    log.warning("reconciled %d unfinished write(s) %s; see kros-mcp audit", settled, when)
    return settled


async def _settle(
    scope: Scope,
    client: KrosAIClient,
    entry: AuditEntry,
    owned: list[PhoneNumber],
    later: list[AuditEntry],
) -> None:
    if entry.tool == "purchase_number":
        await _settle_purchase(scope, client, entry, owned, later)
    elif entry.tool == "release_number":
        await _settle_release(scope, client, entry)
    else:
        await _settle_routing(scope, client, entry)


def _held_later(entry: AuditEntry, number: str, later: list[AuditEntry]) -> bool:
    """Whether the trail shows this organisation holding `number` after `entry`'s attempt."""
    for other in later:
        if (other.seq or 0) <= (entry.seq or 0) or other.status not in ("succeeded", "reconciled"):
            continue
        result = (other.outcome or {}).get("result")
        named = other.arguments.get("number") or (other.quote or {}).get("number") or ""
        if result in _HELD_AFTER and same_number(str(named), number):
            return True
    return False


def _offer_of(quote: dict[str, Any], inventory_id: str) -> StoredOffer:
    return StoredOffer(
        inventory_id=inventory_id,
        number=str(quote.get("number") or ""),
        country=str(quote.get("country") or ""),
        type=quote.get("type"),
        area_code=quote.get("area_code"),
        setup_cost_cents=int(quote.get("setup_cost_cents") or 0),
        monthly_cost_cents=int(quote.get("monthly_cost_cents") or 0),
        query=dict(quote.get("query") or {}),
    )


async def _settle_purchase(
    scope: Scope,
    client: KrosAIClient,
    entry: AuditEntry,
    owned: list[PhoneNumber],
    later: list[AuditEntry],
) -> None:
    quote = entry.quote or {}
    inventory_id = str(entry.arguments.get("inventory_id") or "")
    number = str(quote.get("number") or "")
    reserved = int(quote.get("first_charge_cents") or 0)
    dedupe = entry.arguments.get("dedupe")
    match = next(
        (
            n
            for n in owned
            if (inventory_id and n.inventory_id == inventory_id) or same_number(n.number, number)
        ),
        None,
    )
    outcome: dict[str, Any]
    if match is not None:
        outcome = {"result": "purchased", "number_id": match.id, "number": match.number}
        message = f"Bought {match.number} as {match.id} (confirmed after the fact)."
    elif _held_later(entry, number, later):
        outcome = {"result": "purchased", "number": number, "then": "released or re-routed"}
        message = f"Bought {number}, which was released or re-routed since."
    elif inventory_id and await refresh_offer(client, _offer_of(quote, inventory_id)) is not None:
        # Still for sale: KrosAI shows that this purchase did not happen.
        await scope.ledger.release(entry.id)
        await scope.trail.outcome(entry.id, "reconciled", {"result": "not_purchased"})
        await scope.unclaim(dedupe)
        return
    else:
        # Neither owned nor for sale: KrosAI cannot show it was not bought, so it counts.
        await scope.ledger.commit(entry.id, reserved)
        await scope.trail.outcome(
            entry.id,
            "reconciled",
            {"result": "not_owned", "number": number, "spend": "counted: not shown unbought"},
        )
        await scope.unclaim(dedupe)
        return
    await scope.ledger.commit(entry.id, reserved)
    await scope.trail.outcome(entry.id, "reconciled", outcome)
    if dedupe:
        await scope.store.finish_request(
            scope.tenant,
            dedupe,
            {
                "status": "purchased",
                "executed": True,
                "quote": {k: v for k, v in quote.items() if k not in ("area_code", "query")},
                "plan": [],
                "message": message,
            },
        )


async def _settle_release(scope: Scope, client: KrosAIClient, entry: AuditEntry) -> None:
    number_id = str(entry.arguments.get("number_id"))
    dedupe = entry.arguments.get("dedupe")
    try:
        # fresh: a settling read never joins a read in flight from before it.
        number = await client.get_number(number_id, fresh=True)
    except NotFoundError:
        await scope.trail.outcome(entry.id, "reconciled", {"result": "released"})
        if dedupe:
            await scope.store.finish_request(
                scope.tenant,
                dedupe,
                {
                    "status": "released",
                    "executed": True,
                    "number_id": number_id,
                    "number": str(entry.arguments.get("number") or ""),
                    "plan": [],
                    "message": f"Released {number_id} (confirmed after the fact).",
                },
            )
        return
    await scope.trail.outcome(
        entry.id, "reconciled", {"result": "not_released", "number": number.number}
    )
    await scope.unclaim(dedupe)


async def _settle_routing(scope: Scope, client: KrosAIClient, entry: AuditEntry) -> None:
    try:
        number = await client.get_number(str(entry.arguments.get("number_id")), fresh=True)
    except NotFoundError:
        await scope.trail.outcome(entry.id, "reconciled", {"result": "number_gone"})
        return
    await scope.trail.outcome(
        entry.id,
        "reconciled",
        {
            "result": "current_routing",
            "endpoint_id": number.endpoint_id,
            "allow_inbound": number.allow_inbound,
            "allow_outbound": number.allow_outbound,
        },
    )


@dataclass
class Sweep:
    """Settles unsettled writes now and then while the server runs, keeps this process's record
    alive, and purges history past its retention."""

    store: StateStore
    targets: Callable[[], Sequence[tuple[Scope, KrosAIClient]]]
    process: ProcessIdentity
    interval: float
    grace: float
    audit_days: float
    request_days: float
    purge_every: float = 3600.0
    _last_purge: float = 0.0

    @property
    def lease(self) -> float:
        """How long a beat vouches for its process: three missed sweeps, and never under 30 s."""
        return max(3 * self.interval, 30.0)

    async def once(self, *, at_start: bool = False) -> int:
        """One sweep: beat, settle what can be settled, purge when due. Returns writes settled."""
        store = self.store
        await store.beat(self.process.id, self.process.host, self.process.pid)
        settled = 0
        for scope, client in self.targets():
            settled += await reconcile(
                scope, client, grace=self.grace, lease=self.lease, at_start=at_start
            )
        now = time.time()
        if now - self._last_purge >= self.purge_every:
            self._last_purge = now
            gone = await purge_history(
                store, now=now, audit_days=self.audit_days, request_days=self.request_days
            )
            if gone:
                log.info("purged %d record(s) past their retention", gone)
        return settled

    async def run(self) -> None:
        """Sweep every `interval` seconds until cancelled; a failed sweep is logged, not fatal."""
        while True:
            await anyio.sleep(self.interval)
            try:
                await self.once()
            except Exception as exc:  # noqa: BLE001 - the next sweep tries again
                log.warning("the recovery sweep failed (%s); it will run again", exc)
