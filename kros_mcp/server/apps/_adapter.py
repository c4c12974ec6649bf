"""The one place the app reaches into the machinery purchase_number and release_number use.

A click is one more way to confirm, not a new way to buy: the policy verdicts, the budget
reservation, the price check against KrosAI just before buying, the single-use claim, the upstream
call with its reconciliation, the audit intent and outcome are the very functions the two tools
call, reached only through this module. The audit records the same tool names (`purchase_number`,
`release_number`), so start-up reconciliation settles an interrupted click like any other write,
with `confirmation="app"`.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from ...krosai import PhoneNumber
from ...safety import PurchaseTerms, RuleVerdict, WriteAttempt, refresh_offer
from ...store import StoredOffer
from ..deps import Deps
from ..guard import scope_of
from ..models import PurchaseResult, ReleaseResult
from ..purchase import audit_quote, buy
from ..tools.release import settle_release

__all__ = [
    "CONFIRMED_BY_APP",
    "audit_quote",
    "claim_click",
    "current_offer",
    "execute_purchase",
    "execute_release",
    "free_click",
    "purchase_verdicts",
    "spent_today",
    "start_write",
]

CONFIRMED_BY_APP = "app"


async def spent_today(deps: Deps) -> int:
    """What purchases spent in the last 24 hours (the budget's window). Raises StoreError."""
    return await scope_of(deps).ledger.spent()


def purchase_verdicts(deps: Deps, offer: StoredOffer, spent_24h_cents: int) -> list[RuleVerdict]:
    return deps.policy.purchase_verdicts(
        country=offer.country,
        monthly_cost_cents=offer.monthly_cost_cents,
        first_charge_cents=offer.first_charge_cents,
        spent_24h_cents=spent_24h_cents,
    )


async def current_offer(deps: Deps, offer: StoredOffer) -> StoredOffer | None:
    """The offer as KrosAI prices it now; None when it is no longer for sale."""
    return await refresh_offer(deps.client, offer)


async def claim_click(deps: Deps, key: str, digest: str, *, what: str) -> dict[str, Any] | None:
    """Claim a click's proof once: the stored result of an earlier use (to replay), or None."""
    claim = await scope_of(deps).claim(key, digest)
    if claim.state == "done":
        return claim.result
    if claim.state == "in_progress":
        raise ToolError(
            "A call with this confirmation is already running or its outcome is being checked. "
            f"Nothing new was {what}. Call list_numbers in a minute to see the result."
        )
    if claim.state == "conflict":
        raise ToolError(f"This confirmation was used with other arguments. Nothing was {what}.")
    return None


async def free_click(deps: Deps, key: str) -> None:
    """Nothing was done under this claim: let the proof be used again (until it expires)."""
    await scope_of(deps).unclaim(key)


async def start_write(
    deps: Deps,
    *,
    tool: str,
    arguments: dict[str, Any],
    claim_key: str,
    quote: dict[str, Any] | None = None,
    reserve_cents: int | None = None,
) -> WriteAttempt:
    """Reserve the spend (refusing past the budget, on record) and record the intent, confirmed
    by the app."""
    return await scope_of(deps).begin(
        tool,
        arguments,
        confirmation=CONFIRMED_BY_APP,
        quote=quote,
        reserve_cents=reserve_cents,
        claim_key=claim_key,
    )


async def execute_purchase(
    ctx: Context,
    deps: Deps,
    attempt: WriteAttempt,
    offer: StoredOffer,
    arguments: dict[str, Any],
    plan: list[str],
    *,
    idempotency_key: str,
) -> PurchaseResult:
    """The purchase itself, settled in the ledger, the audit and the claim (as purchase_number)."""
    terms = PurchaseTerms.of(offer, arguments)
    return await buy(ctx, deps, attempt, offer, terms, plan, idempotency_key)


async def execute_release(
    ctx: Context, deps: Deps, attempt: WriteAttempt, number: PhoneNumber, plan: list[str]
) -> ReleaseResult:
    """The release itself, by the same path release_number takes after its confirmation."""
    return await settle_release(ctx, deps, attempt, number, plan)
