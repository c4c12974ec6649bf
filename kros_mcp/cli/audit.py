"""`kros-mcp audit`: the organisation's write attempts, from the state store."""

from __future__ import annotations

import json
import shutil
import sys
from datetime import UTC, datetime

from ..config import Settings
from ..store import StoreError, open_store, tenant_key
from ..store.base import AuditEntry

__all__ = ["audit_table", "print_audit"]


def _tenant(settings: Settings) -> str:
    from .wiring import organisation_key

    return tenant_key(organisation_key(settings))


async def print_audit(settings: Settings, limit: int, before: int | None, as_json: bool) -> int:
    try:
        store = await open_store(settings.state_target)
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
    # Fitted to a terminal; piped into a file or grep, the lines are whole.
    columns = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    for line in audit_table(entries, columns):
        print(line)
    if len(entries) == limit and entries[-1].seq:
        print(f"(older: kros-mcp audit --before {entries[-1].seq})")
    return 0


HEADERS = ("seq", "time (UTC)", "tool", "status", "confirm", "detail")
# The most each column but the last may take; the detail column gets what is left, at least MIN_DETAIL.
CAPS = (7, 16, 15, 10, 11)
MIN_DETAIL = 12
GAP = " "


def _detail(entry: AuditEntry) -> str:
    target = (
        entry.arguments.get("inventory_id")
        or entry.arguments.get("number")
        or entry.arguments.get("number_id")
        or ""
    )
    outcome = entry.outcome or {}
    # The number, then what happened: on a narrow terminal the end is what gets cut.
    shown = (outcome.get("number_id"), target, outcome.get("result"), outcome.get("error"))
    return " ".join(dict.fromkeys(str(v) for v in shown if v))


def _fit(text: str, width: int) -> str:
    """`text` in at most `width` characters, cut with an ellipsis; one line."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def audit_table(entries: list[AuditEntry], columns: int | None) -> list[str]:
    """The entries as a table no wider than `columns` (at least the narrowest layout, which fits
    80), cells cut with an ellipsis; with `columns` None, nothing is cut."""
    rows = [
        (
            str(e.seq or 0),
            datetime.fromtimestamp(e.created_at, UTC).strftime("%Y-%m-%d %H:%M"),
            e.tool,
            e.status,
            e.confirmation,
            _detail(e),
        )
        for e in entries
    ]
    widths = [max(len(HEADERS[i]), *(len(r[i]) for r in rows)) for i in range(len(CAPS))]
    detail_width = max(len(HEADERS[-1]), *(len(r[-1]) for r in rows))
    if columns is not None:
        widths = [min(cap, width) for cap, width in zip(CAPS, widths, strict=True)]
        detail_width = max(MIN_DETAIL, columns - sum(widths) - len(GAP) * len(widths))

    def line(cells: tuple[str, ...]) -> str:
        fitted = [_fit(c, w) for c, w in zip(cells, widths, strict=False)]
        fitted[0] = fitted[0].rjust(widths[0])
        fitted[1:] = [c.ljust(w) for c, w in zip(fitted[1:], widths[1:], strict=True)]
        return GAP.join([*fitted, _fit(cells[-1], detail_width)]).rstrip()

    return [line(HEADERS), *(line(r) for r in rows)]
