"""purchase_number: buy a number at the quoted price, once, with the person's agreement."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import AcceptedElicitation, Context, ElicitationResult, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from ...krosai import KrosAIError
from ...safety import ConfirmationError, PolicyError, TokenClaims, arguments_digest
from ...store import StoreError
from ..confirmation import ConfirmPurchase, ask_purchase, token_step
from ..context import deps_of
from ..errors import to_tool_error
from ..guard import DAY, begin_write, claim_once, refusal
from ..models import (
    PurchaseResult,
    Quote,
)
from ..purchase import buy, price_change, purchase_token
from ..quotes import refresh_offer
from ..wording import buy_line, policy_line, replayed
from ._params import DryRun, Token

__all__ = ["purchase_number"]


async def purchase_number(
    ctx: Context,
    inventory_id: Annotated[str, Field(max_length=100, pattern=r"^[\w\-]+$")],
    answer: Annotated[ElicitationResult[ConfirmPurchase], Resolve(ask_purchase)],
    endpoint_id: Annotated[str | None, Field(description="ep_... to route to")] = None,
    allow_inbound: bool = True,
    allow_outbound: bool = True,
    dry_run: DryRun = False,
    confirmation_token: Token = None,
) -> PurchaseResult:
    """Buy a number from search_available. SPENDS MONEY: setup + first month now, then monthly.
    Preview with dry_run=true. Needs confirmation: the person is asked, or you get a
    confirmation_token to resend with the same arguments once they agree."""
    deps = deps_of(ctx)
    offer = await deps.store.get_offer(deps.tenant, inventory_id)
    if offer is None:
        raise ToolError(
            f"No current quote for {inventory_id}: call search_available first (the offers it shows "
            f"are remembered for {int(deps.settings.offer_ttl // 60)} minutes) so the price is known. "
            "Nothing was bought."
        )
    arguments = {
        "inventory_id": inventory_id,
        "endpoint_id": endpoint_id,
        "allow_inbound": allow_inbound,
        "allow_outbound": allow_outbound,
    }
    quote = Quote.of(offer)
    plan = [
        buy_line(offer),
        f"Route inbound calls to {endpoint_id}."
        if endpoint_id
        else "No endpoint: calls are not routed until update_routing sets one.",
        f"Inbound calls {'allowed' if allow_inbound else 'blocked'}; outbound calls "
        f"{'allowed' if allow_outbound else 'blocked'}.",
    ]
    try:
        spent = await deps.store.spent_in_window(deps.tenant, DAY)
    except StoreError as exc:
        raise to_tool_error(exc, write="bought") from exc
    verdicts = deps.policy.purchase_verdicts(
        country=offer.country,
        monthly_cost_cents=offer.monthly_cost_cents,
        first_charge_cents=offer.first_charge_cents,
        spent_24h_cents=spent,
    )
    refused = [v for v in verdicts if not v.allowed]
    if dry_run:
        return PurchaseResult(
            status="dry_run",
            executed=False,
            quote=quote,
            plan=plan + [policy_line(v) for v in verdicts],
            message="Preview only: nothing was bought."
            + (" The operator's policy would refuse it." if refused else ""),
        )
    if refused:
        raise refusal(refused[0], what="bought")
    claims: TokenClaims | None = None
    step = token_step(deps, ctx, answer)
    try:
        if confirmation_token and deps.confirmation == "auto":
            claims = deps.tokens.verify(
                confirmation_token,
                tenant=deps.tenant,
                tool="purchase_number",
                arguments=arguments,
            )
        elif step == "refuse":
            raise ToolError(
                "This server requires a person to confirm purchases, and this client cannot ask "
                "(no elicitation support). Nothing was bought. Use a client that supports "
                "elicitation, or ask the operator to change KROS_MCP_CONFIRMATION."
            )
        elif step == "issue":
            return purchase_token(deps, arguments, quote, plan)
        elif step == "elicited" and (
            not isinstance(answer, AcceptedElicitation) or not answer.data.confirm
        ):
            return PurchaseResult(
                status="declined",
                executed=False,
                quote=quote,
                plan=plan,
                message="The person declined: nothing was bought.",
            )
        dedupe = f"token:{claims.token_id}" if claims is not None else None
        # A call re-sent with a token that already bought replays that result instead of buying again.
        replay = await claim_once(deps, dedupe, arguments_digest(arguments), what="bought")
        if replay is not None:
            return replayed(PurchaseResult.model_validate(replay))
        try:
            current = await refresh_offer(deps.client, offer)
            changed = price_change(deps, offer, current, claims, arguments, plan, step)
        except BaseException:
            if dedupe is not None:
                await deps.store.release_request(deps.tenant, dedupe)
            raise
        if changed is not None:
            if dedupe is not None:
                await deps.store.release_request(deps.tenant, dedupe)
            if changed.status == "price_changed":
                await deps.store.remember_offers(deps.tenant, [current], deps.settings.offer_ttl)  # type: ignore[list-item]
            return changed
        assert current is not None
        attempt = await begin_write(
            deps,
            tool="purchase_number",
            arguments={**arguments, "dedupe": dedupe},
            confirmation="token" if claims else ("none" if step == "none" else "elicitation"),
            quote=quote.model_dump(),
            reserve_cents=current.first_charge_cents,
            claim_key=dedupe,
        )
    except (PolicyError, ConfirmationError, StoreError, KrosAIError) as exc:
        raise to_tool_error(exc, write="bought") from exc
    result = await buy(
        ctx,
        deps,
        attempt,
        offer,
        arguments,
        quote,
        plan,
        idempotency_key=f"kros-mcp-{deps.tenant}-{claims.token_id}" if claims else None,
    )
    return result
