"""Buying in the view: a quote that carries the proof of the click, and the click itself."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult

from ...krosai import KrosAIError
from ...safety import ConfirmationError, PolicyError, TokenClaims, arguments_digest
from ...store import StoredOffer, StoreError
from ..context import deps_of
from ..deps import Deps
from ..errors import to_tool_error
from ..models import NumberDetail, PurchaseResult
from ..wording import buy_line, iso_time, money
from . import _adapter as core
from .common import (
    EndpointArg,
    InventoryArg,
    ProofArg,
    app_result,
    person_verdicts,
    require_app_client,
)
from .models import BuyOutcome, PurchaseQuote, Verdict
from .proof import PurchaseTerms, issue_proof, refusal_text, verify_proof

__all__ = ["app_buy", "app_quote_purchase"]


async def app_quote_purchase(
    ctx: Context,
    inventory_id: InventoryArg,
    endpoint_id: EndpointArg = None,
    allow_inbound: bool = True,
    allow_outbound: bool = True,
) -> Annotated[CallToolResult, PurchaseQuote]:
    """For the kros-mcp app: the current price of an offer it showed, with the routing chosen,
    and (when the policy allows it) the proof its Buy button needs."""
    require_app_client(ctx, "app_quote_purchase")
    deps = deps_of(ctx)
    try:
        shown = await deps.store.get_offer(deps.tenant, inventory_id)
        if shown is None:
            raise ToolError(
                "This offer is no longer held (offers are kept for "
                f"{int(deps.settings.offer_ttl // 60)} minutes): search again. Nothing was bought."
            )
        current = await _still_for_sale(deps, shown)
        terms = PurchaseTerms.of(current, endpoint_id, allow_inbound, allow_outbound)
        quote, proof = await _quote(deps, terms, current, shown)
    except (KrosAIError, StoreError) as exc:
        raise to_tool_error(exc, write="bought") from exc
    return app_result(quote, _quote_line(quote), proof=proof)


async def app_buy(
    ctx: Context,
    inventory_id: InventoryArg,
    number: str,
    setup_cost_cents: int,
    monthly_cost_cents: int,
    proof: ProofArg,
    endpoint_id: EndpointArg = None,
    allow_inbound: bool = True,
    allow_outbound: bool = True,
) -> Annotated[CallToolResult, BuyOutcome]:
    """For the kros-mcp app's Buy button only: buys the quoted number at the quoted prices. It
    needs the proof of a click, which only the app receives; without it nothing is bought."""
    require_app_client(ctx, "app_buy")
    deps = deps_of(ctx)
    terms = PurchaseTerms(
        inventory_id=inventory_id,
        number=number,
        endpoint_id=endpoint_id,
        allow_inbound=allow_inbound,
        allow_outbound=allow_outbound,
        setup_cost_cents=setup_cost_cents,
        monthly_cost_cents=monthly_cost_cents,
    )
    try:
        claims = verify_proof(deps, proof, terms)
    except ConfirmationError as exc:
        raise ToolError(refusal_text(exc, what="bought")) from None
    try:
        outcome, new_proof = await _buy(ctx, deps, terms, claims)
    except (PolicyError, ConfirmationError, StoreError, KrosAIError) as exc:
        raise to_tool_error(exc, write="bought") from exc
    return app_result(outcome, outcome.message, proof=new_proof)


async def _buy(
    ctx: Context, deps: Deps, terms: PurchaseTerms, claims: TokenClaims
) -> tuple[BuyOutcome, str | None]:
    """Buy on a verified click: once, at the quoted prices, within the policy and budget."""
    key = f"app:{claims.token_id}"
    replay = await core.claim_click(deps, key, arguments_digest(terms.binding()), what="bought")
    if replay is not None:
        return _replayed(terms, PurchaseResult.model_validate(replay), deps.settings.currency), None
    try:
        shown = await deps.store.get_offer(deps.tenant, terms.inventory_id)
        if shown is None:
            raise ToolError("This offer is no longer held: search again. Nothing was bought.")
        current = await _still_for_sale(deps, shown)
        if not terms.same_offer(current):
            # The person agreed to other terms: show the new quote, buy nothing.
            new_terms = PurchaseTerms.of(
                current, terms.endpoint_id, terms.allow_inbound, terms.allow_outbound
            )
            quote, proof = await _quote(deps, new_terms, current, _as_offer(shown, terms))
            await core.free_click(deps, key)
            return _price_changed(terms, quote), proof
        spent = await core.spent_today(deps)
        refused = [v for v in core.purchase_verdicts(deps, current, spent) if not v.allowed]
        if refused:
            raise PolicyError(refused[0])
        plan = _plan(terms, current)
        arguments = terms.purchase_arguments()
        attempt = await core.start_write(
            deps,
            tool="purchase_number",
            arguments={**arguments, "dedupe": key},
            claim_key=key,
            quote=core.audit_quote(current),
            reserve_cents=current.first_charge_cents,
        )
    except BaseException:
        await core.free_click(deps, key)  # nothing was bought under this proof
        raise
    result = await core.execute_purchase(
        ctx,
        deps,
        attempt,
        current,
        arguments,
        plan,
        idempotency_key=f"kros-mcp-{deps.tenant}-{claims.token_id}",
    )
    quote = _quote_model(terms, current, plan, refusals=[])
    return BuyOutcome(
        status="purchased",
        executed=True,
        message=result.message,
        quote=quote,
        number=result.number,
    ), None


async def _still_for_sale(deps: Deps, shown: StoredOffer) -> StoredOffer:
    current = await core.current_offer(deps, shown)
    if current is None:
        raise ToolError(
            f"NUMBER_NOT_AVAILABLE: {shown.number} is no longer for sale. Nothing was bought. "
            "Search again for current offers."
        )
    if current != shown:
        await deps.store.remember_offers(deps.tenant, [current], deps.settings.offer_ttl)
    return current


async def _quote(
    deps: Deps, terms: PurchaseTerms, current: StoredOffer, shown: StoredOffer
) -> tuple[PurchaseQuote, str | None]:
    """The quote for `terms` at the current price, with a proof when the policy allows it."""
    spent = await core.spent_today(deps)
    refusals = person_verdicts(deps, core.purchase_verdicts(deps, current, spent), spent)
    quote = _quote_model(terms, current, _plan(terms, current), refusals=refusals)
    if (shown.setup_cost_cents, shown.monthly_cost_cents) != (
        current.setup_cost_cents,
        current.monthly_cost_cents,
    ):
        quote.previous_setup_cost_cents = shown.setup_cost_cents
        quote.previous_monthly_cost_cents = shown.monthly_cost_cents
    if not quote.buyable:
        return quote, None
    proof, expires = issue_proof(deps, terms)
    quote.expires_at = iso_time(expires)
    return quote, proof


def _quote_model(
    terms: PurchaseTerms, offer: StoredOffer, plan: list[str], *, refusals: list[Verdict]
) -> PurchaseQuote:
    return PurchaseQuote(
        inventory_id=offer.inventory_id,
        number=offer.number,
        country=offer.country,
        type=offer.type,
        setup_cost_cents=offer.setup_cost_cents,
        monthly_cost_cents=offer.monthly_cost_cents,
        first_charge_cents=offer.first_charge_cents,
        currency=offer.currency,
        endpoint_id=terms.endpoint_id,
        allow_inbound=terms.allow_inbound,
        allow_outbound=terms.allow_outbound,
        plan=plan,
        buyable=not refusals,
        refusals=refusals,
    )


def _plan(terms: PurchaseTerms, offer: StoredOffer) -> list[str]:
    return [
        buy_line(offer),
        f"Route inbound calls to {terms.endpoint_id}."
        if terms.endpoint_id
        else "No endpoint: calls are not routed until one is set.",
        f"Inbound calls {'allowed' if terms.allow_inbound else 'blocked'}; outbound calls "
        f"{'allowed' if terms.allow_outbound else 'blocked'}.",
    ]


def _as_offer(shown: StoredOffer, terms: PurchaseTerms) -> StoredOffer:
    """The offer as the person saw it when they clicked (for the 'was' prices of a new quote)."""
    return replace(
        shown,
        setup_cost_cents=terms.setup_cost_cents,
        monthly_cost_cents=terms.monthly_cost_cents,
    )


def _price_changed(terms: PurchaseTerms, quote: PurchaseQuote) -> BuyOutcome:
    cur = quote.currency  # the offer's, shown and agreed with the amounts
    if (terms.setup_cost_cents, terms.monthly_cost_cents) == (
        quote.setup_cost_cents,
        quote.monthly_cost_cents,
    ):
        change = f"the offer changed since it was shown (it is now {quote.number})"
    else:
        change = (
            f"the price changed from {money(terms.first_charge_cents, cur)} now and "
            f"{money(terms.monthly_cost_cents, cur)} a month to "
            f"{money(quote.first_charge_cents, cur)} now and "
            f"{money(quote.monthly_cost_cents, cur)} a month"
        )
    return BuyOutcome(
        status="price_changed",
        executed=False,
        quote=quote,
        message=f"NOT BOUGHT: {change}. Check the new quote and press Buy again to agree to it.",
    )


def _replayed(terms: PurchaseTerms, earlier: PurchaseResult, currency: str) -> BuyOutcome:
    quote = PurchaseQuote(
        inventory_id=terms.inventory_id,
        number=terms.number,
        country=earlier.quote.country,
        type=earlier.quote.type,
        setup_cost_cents=terms.setup_cost_cents,
        monthly_cost_cents=terms.monthly_cost_cents,
        first_charge_cents=terms.first_charge_cents,
        currency=earlier.quote.currency or currency,
        endpoint_id=terms.endpoint_id,
        allow_inbound=terms.allow_inbound,
        allow_outbound=terms.allow_outbound,
        plan=earlier.plan,
        buyable=False,
    )
    number: NumberDetail | None = earlier.number
    return BuyOutcome(
        status="purchased",
        executed=earlier.executed,
        quote=quote,
        number=number,
        message="ALREADY DONE: this click was handled before, so nothing new was bought. "
        + earlier.message,
    )


def _quote_line(quote: PurchaseQuote) -> str:
    return (
        f"Quote for {quote.number}: {money(quote.first_charge_cents, quote.currency)} now, then "
        f"{money(quote.monthly_cost_cents, quote.currency)} a month"
        + ("." if quote.buyable else "; the operator's policy refuses it.")
    )
