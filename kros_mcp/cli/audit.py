"""`kros-mcp audit`: the organisation's write attempts, from the state store."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

from ..config import Settings
from ..store import StoreError, open_store, tenant_key

__all__ = ["print_audit"]


def _tenant(settings: Settings) -> str:
    from .wiring import organisation_key

    return tenant_key(organisation_key(settings))


async def print_audit(settings: Settings, limit: int, before: int | None, as_json: bool) -> int:
    try:
        store = await open_store(settings.state_url or settings.state_db_path)
    except StoreError as exc:
        print(f"kros-mcp audit: {exc}", file=sys.stderr)
        return 1
    try:
        entries = await store.audit_page(_tenant(settings), limit=limit, before=before)
    finally:
        await store.close()
    if as_json:
        for e in entries:
            print(
                json.dumps(
                    {
                        "seq": e.seq,
                        "id": e.id,
                        "created_at": e.created_at,
                        "tool": e.tool,
                        "status": e.status,
                        "confirmation": e.confirmation,
                        "arguments": e.arguments,
                        "quote": e.quote,
                        "outcome": e.outcome,
                        "finished_at": e.finished_at,
                    }
                )
            )
        return 0
    if not entries:
        print("no write attempts recorded for this organisation")
        return 0
    print(f"{'seq':>5}  {'time (UTC)':<19}  {'tool':<16} {'status':<10} {'confirm':<11} detail")
    for e in entries:
        when = datetime.fromtimestamp(e.created_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        target = (
            e.arguments.get("inventory_id")
            or e.arguments.get("number")
            or e.arguments.get("number_id")
            or ""
        )
        outcome = e.outcome or {}
        detail = " ".join(
            str(v)
            for v in (target, outcome.get("result"), outcome.get("number_id"), outcome.get("error"))
            if v
        )
        print(
            f"{e.seq or 0:>5}  {when:<19}  {e.tool:<16} {e.status:<10} {e.confirmation:<11} {detail[:80]}"
        )
    if len(entries) == limit and entries[-1].seq:
        print(f"(older: kros-mcp audit --before {entries[-1].seq})")
    return 0
