"""Number records as resources: kros://phone-numbers and kros://phone-numbers/{id}."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from ..krosai import KrosAIError, NotFoundError
from ..store import AuditEntry, StoreError
from .context import deps_of, resolve_number_id
from .deps import Deps
from .models import NumberDetail, NumberSummary
from .notify import LIST_URI
from .tenants import own_protected_numbers

__all__ = ["audit_json", "register_policy_and_audit", "register_resources"]

_LIST_CAP = 1000


def register_resources(mcp: MCPServer, current_deps: Callable[[], Deps]) -> None:
    """Add the resources. Static resources get no Context, so they reach deps via `current_deps`."""

    @mcp.resource(
        LIST_URI,
        name="phone_numbers",
        title="Owned phone numbers",
        mime_type="application/json",
        description=f"Every number the organisation owns (first {_LIST_CAP}), compact JSON",
    )
    async def phone_numbers() -> str:
        deps = current_deps()
        numbers = []
        try:
            async for number in deps.client.iter_numbers():
                numbers.append(NumberSummary.of(number).model_dump())
                if len(numbers) >= _LIST_CAP:
                    break
        except KrosAIError as exc:
            raise ResourceError(
                f"KrosAI could not list numbers ({exc.code}); try again later"
            ) from exc
        return json.dumps(
            {"numbers": numbers, "count": len(numbers), "truncated": len(numbers) >= _LIST_CAP}
        )

    @mcp.resource(
        f"{LIST_URI}/{{id}}",
        name="phone_number",
        title="One phone number",
        mime_type="application/json",
        description="One owned number's full record (routing, flags, SIP URI), JSON; id or E.164",
    )
    async def phone_number(id: str, ctx: Context) -> str:
        deps = deps_of(ctx)
        try:
            number = await deps.client.get_number(await resolve_number_id(deps, id))
        except NotFoundError as exc:
            raise ResourceNotFoundError(f"No phone number {id} in this organisation") from exc
        except KrosAIError as exc:
            raise ResourceError(
                f"KrosAI could not read {id} ({exc.code}); try again later"
            ) from exc
        return NumberDetail.of(number).model_dump_json()


AUDIT_URI = "kros://audit"
AUDIT_PAGE = 50
_MAX_SEQ_DIGITS = 18  # below 2**63, the largest sequence number either store holds


def audit_json(entries: list[AuditEntry]) -> dict[str, object]:
    """A page of audit entries, most recent first, with the URI of the next page."""
    rows = [
        {
            "seq": e.seq,
            "id": e.id,
            "at": _iso(e.created_at),
            "tool": e.tool,
            "status": e.status,
            "arguments": e.arguments,
            "quote": e.quote,
            "confirmation": e.confirmation,
            "caller": e.caller,
            "outcome": e.outcome,
            "error_code": e.error_code,
            "finished_at": _iso(e.finished_at) if e.finished_at else None,
        }
        for e in entries
    ]
    more = len(entries) == AUDIT_PAGE and entries[-1].seq is not None
    return {"entries": rows, "next": f"{AUDIT_URI}/before/{entries[-1].seq}" if more else None}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def register_policy_and_audit(mcp: MCPServer, current_deps: Callable[[], Deps]) -> None:
    @mcp.resource(
        "kros://policy",
        name="policy",
        title="Operator policy",
        mime_type="application/json",
        description="The limits the operator set (read-only mode, tools, countries, costs, budget, "
        "protected numbers) and the budget left for the last 24 hours",
    )
    async def policy() -> str:
        deps = current_deps()
        described = deps.policy.describe()
        if deps.tenants is not None:  # multi tenant: only this organisation's own numbers
            try:
                described["protected_numbers"] = await own_protected_numbers(
                    deps.client, deps.policy.protected_numbers
                )
            except KrosAIError as exc:
                raise ResourceError(f"could not read this organisation's numbers ({exc})") from exc
        try:
            spent = await deps.store.spent_in_window(deps.tenant, 86_400)
        except StoreError as exc:
            raise ResourceError(f"the state store is unavailable ({exc})") from exc
        budget = deps.policy.daily_budget_cents
        described["spent_last_24h_cents"] = spent
        described["budget_left_cents"] = None if budget is None else max(0, budget - spent)
        described["confirmation"] = deps.settings.confirmation
        return json.dumps(described)

    @mcp.resource(
        AUDIT_URI,
        name="audit",
        title="Audit trail",
        mime_type="application/json",
        description=f"Write attempts, most recent first ({AUDIT_PAGE} a page): intent, quote, "
        "confirmation, outcome",
    )
    async def audit() -> str:
        deps = current_deps()
        return json.dumps(audit_json(await deps.store.audit_page(deps.tenant, limit=AUDIT_PAGE)))

    @mcp.resource(
        f"{AUDIT_URI}/before/{{seq}}",
        name="audit_page",
        title="Audit trail, older page",
        mime_type="application/json",
        description="Audit entries older than seq, most recent first",
    )
    async def audit_before(seq: str, ctx: Context) -> str:
        # ASCII digits only, within the store's integer range: "²" is a digit to str.isdigit().
        if not (seq.isascii() and seq.isdigit() and len(seq) <= _MAX_SEQ_DIGITS):
            raise ResourceNotFoundError(
                f"no audit page {seq[:30]!r}: use the 'next' URI from kros://audit"
            )
        deps = deps_of(ctx)
        return json.dumps(
            audit_json(await deps.store.audit_page(deps.tenant, limit=AUDIT_PAGE, before=int(seq)))
        )
