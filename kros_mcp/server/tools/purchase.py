"""purchase_number: buy a number at the quoted price, once, with the person's agreement."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, ElicitationResult, Resolve

from ...safety.purchase import PurchasePlan
from ..confirmation import ConfirmPurchase, answer_of, ask_purchase, plan_purchase
from ..context import deps_of
from ..endpoint_checks import endpoint_lines
from ..guard import refuse
from ..models import EndpointId, InventoryId, PurchaseResult
from ..purchase import confirm, preview, purchase
from ._params import DryRun, Token

__all__ = ["purchase_number"]


async def purchase_number(
    ctx: Context,
    inventory_id: InventoryId,
    plan: Annotated[PurchasePlan, Resolve(plan_purchase)],
    answer: Annotated[ElicitationResult[ConfirmPurchase], Resolve(ask_purchase)],
    endpoint_id: EndpointId | None = None,
    allow_inbound: bool = True,
    allow_outbound: bool = True,
    dry_run: DryRun = False,
    confirmation_token: Token = None,
) -> PurchaseResult:
    """Buy a number from search_available. SPENDS MONEY: setup + first month now, then monthly.
    Preview: dry_run=true. Needs confirmation: the person is asked, or you get a
    confirmation_token to resend with the same arguments."""
    deps = deps_of(ctx)
    if plan.dry_run:
        return await preview(deps, plan)
    if plan.refusal is not None:
        raise await refuse(
            deps,
            "purchase_number",
            plan.terms.arguments(),
            plan.refusal,
            what="bought",
            quote=plan.terms.quote(),
        )
    await endpoint_lines(deps, plan.terms.endpoint_id, strict=True, what="bought")
    settled = await confirm(deps, plan, answer_of(answer))
    if settled is not None:
        return settled
    return await purchase(ctx, deps, plan)
