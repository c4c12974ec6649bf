"""At start-up: settle writes whose outcome was never recorded (a crash mid-call) against KrosAI."""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

from ..krosai import KrosAIError, NotFoundError
from ..store import AuditEntry
from .deps import Deps

__all__ = ["reconcile_unfinished"]

log = logging.getLogger("kros_mcp.server")

_RECENT = 500
# An intent owned by this very pid is from an earlier process that had the same pid (a restarted
# container is pid 1 again) only if it is older than this process; a younger one is a call this
# process is still making: SSE opens the dependencies (and so reconciles) per connection, and
# multi-tenant mode reconciles on a tenant's first call, both while other calls are in flight.
_PROCESS_STARTED = time.time()


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _possibly_live(entry: AuditEntry, *, max_call_seconds: float, now: float) -> bool:
    """True if another process may still be working on this write: its owner is alive on this
    host, or it is on another host (another replica) and younger than the longest call can be."""
    owner = str(entry.arguments.get("owner") or "")
    host, _, pid = owner.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        if int(pid) == os.getpid():
            return entry.created_at >= _PROCESS_STARTED
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return now - entry.created_at < max_call_seconds


async def _unsettled(deps: Deps) -> list[AuditEntry]:
    entries = list(await deps.store.audit_unfinished(deps.tenant))
    # Outcomes left 'unknown' by a live call are settled the same way.
    entries += [
        e for e in await deps.store.audit_page(deps.tenant, limit=_RECENT) if e.status == "unknown"
    ]
    # A call lasts at most its deadline plus the purchase reconciliation's own limit.
    longest = deps.settings.krosai_deadline * 2 + deps.client.reconcile.max_seconds
    now = time.time()
    unsettled = [
        e
        for e in {e.id: e for e in entries}.values()
        if not _possibly_live(e, max_call_seconds=longest, now=now)
    ]
    return sorted(unsettled, key=lambda e: e.created_at)


async def reconcile_unfinished(deps: Deps) -> int:
    """Settle every unfinished write of this tenant; returns how many were settled."""
    entries = await _unsettled(deps)
    if not entries:
        return 0
    settled = 0
    try:
        owned = (
            [n async for n in deps.client.iter_numbers()]
            if any(e.tool == "purchase_number" for e in entries)
            else []
        )
    except KrosAIError as exc:
        log.warning(
            "could not reconcile %d unfinished writes now (%s); will try at the next start",
            len(entries),
            exc.message,
        )
        return 0
    for entry in entries:
        try:
            if entry.tool == "purchase_number":
                await _purchase(deps, entry, owned)
            elif entry.tool == "release_number":
                await _release(deps, entry)
            else:
                await _routing(deps, entry)
            settled += 1
        except KrosAIError as exc:
            log.warning("could not reconcile %s %s yet: %s", entry.tool, entry.id, exc.message)
    log.warning(
        "reconciled %d unfinished write(s) from an earlier run; see kros-mcp audit", settled
    )
    return settled


async def _purchase(deps: Deps, entry: AuditEntry, owned: list[Any]) -> None:
    inventory_id = entry.arguments.get("inventory_id")
    number = (entry.quote or {}).get("number", "")
    match = next(
        (
            n
            for n in owned
            if (inventory_id and n.inventory_id == inventory_id)
            or (number and _digits(n.number) == _digits(number))
        ),
        None,
    )
    dedupe = entry.arguments.get("dedupe")
    store, tenant = deps.store, deps.tenant
    if match is not None:
        await store.settle_spend(tenant, entry.id, spent=True)
        await store.audit_outcome(
            tenant,
            entry.id,
            "reconciled",
            {"result": "purchased", "number_id": match.id, "number": match.number},
        )
        if dedupe:
            await store.finish_request(
                tenant,
                dedupe,
                {
                    "status": "purchased",
                    "executed": True,
                    "quote": entry.quote or {},
                    "plan": [],
                    "message": f"Bought {match.number} as {match.id} (confirmed after a restart).",
                },
            )
    else:
        await store.settle_spend(tenant, entry.id, spent=False)
        await store.audit_outcome(tenant, entry.id, "reconciled", {"result": "not_purchased"})
        if dedupe:
            await store.release_request(tenant, dedupe)


async def _release(deps: Deps, entry: AuditEntry) -> None:
    number_id = str(entry.arguments.get("number_id"))
    dedupe = entry.arguments.get("dedupe")
    try:
        number = await deps.client.get_number(number_id)
    except NotFoundError:
        await deps.store.audit_outcome(deps.tenant, entry.id, "reconciled", {"result": "released"})
        if dedupe:
            await deps.store.finish_request(
                deps.tenant,
                dedupe,
                {
                    "status": "released",
                    "executed": True,
                    "number_id": number_id,
                    "number": "",
                    "plan": [],
                    "message": f"Released {number_id} (confirmed after a restart).",
                },
            )
        return
    await deps.store.audit_outcome(
        deps.tenant, entry.id, "reconciled", {"result": "not_released", "number": number.number}
    )
    if dedupe:
        await deps.store.release_request(deps.tenant, dedupe)


async def _routing(deps: Deps, entry: AuditEntry) -> None:
    number_id = str(entry.arguments.get("number_id"))
    try:
        number = await deps.client.get_number(number_id)
    except NotFoundError:
        await deps.store.audit_outcome(
            deps.tenant, entry.id, "reconciled", {"result": "number_gone"}
        )
        return
    await deps.store.audit_outcome(
        deps.tenant,
        entry.id,
        "reconciled",
        {
            "result": "current_routing",
            "endpoint_id": number.endpoint_id,
            "allow_inbound": number.allow_inbound,
            "allow_outbound": number.allow_outbound,
        },
    )
