"""purchase_number's steps after its plan: preview, confirmation, the price checked again, the
upstream call, and its outcome settled."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from ..krosai import (
    KrosAIError,
    NumberNotAvailableError,
    PhoneNumber,
    PurchaseOutcomeUnknown,
    same_number,
)
from ..safety import (
    Answer,
    PolicyError,
    PurchaseTerms,
    Step,
    WriteAttempt,
    error_code_of,
)
from ..safety import purchase as purchasing
from ..safety.confirmation import step_after
from ..safety.purchase import PurchasePlan
from ..store import StoredOffer, StoreError
from .deps import Deps
from .endpoint_checks import endpoint_lines
from .errors import to_tool_error
from .guard import scope_of
from .models import NumberDetail, PurchaseResult, Quote
from .notify import notify_changed
from .number_states import purchase_note
from .wording import buy_line, iso_time, money, payment_checks, policy_line, replayed

__all__ = [
    "CLAIM_REFUSALS",
    "audit_quote",
    "buy",
    "confirm",
    "preview",
    "price_change_result",
    "purchase",
]

TOOL = "purchase_number"
CLAIM_REFUSALS = {
    Step.BUSY: "A call with this confirmation is already running or its outcome is being "
    "checked. Nothing new was {done}. Call list_numbers in a minute to see the result.",
    Step.REFUSED_TOKEN: "This confirmation was used with other arguments. Nothing was {done}.",
}


def _plan_lines(offer: StoredOffer, terms: PurchaseTerms) -> list[str]:
    return [
        buy_line(offer),
        f"Route inbound calls to {terms.endpoint_id}."
        if terms.endpoint_id
        else "No endpoint: calls are not routed until update_routing sets one.",
        f"Inbound calls {'allowed' if terms.allow_inbound else 'blocked'}; outbound calls "
        f"{'allowed' if terms.allow_outbound else 'blocked'}.",
    ]


def audit_quote(offer: StoredOffer) -> dict[str, Any]:
    # What recovery needs to look for the offer again, besides what was quoted.
    return {**Quote.of(offer).model_dump(), "area_code": offer.area_code, "query": offer.query}


async def preview(deps: Deps, plan: PurchasePlan) -> PurchaseResult:
    """The dry run: the plan, every policy verdict, and what cannot be known before buying."""
    try:
        blocked = await scope_of(deps).trail.last_purchase_blocker()
    except StoreError as exc:
        raise to_tool_error(exc, write="bought") from exc
    blocker = (blocked.error_code or "", blocked.created_at) if blocked else None
    refused = plan.refusal is not None
    lines = _plan_lines(plan.offer, plan.terms)
    lines[1:2] = await endpoint_lines(deps, plan.terms.endpoint_id, strict=False, what="bought")
    return PurchaseResult(
        status="dry_run",
        executed=False,
        quote=Quote.of(plan.offer),
        plan=lines + [policy_line(v) for v in plan.verdicts] + payment_checks(blocker),
        message="Preview only: nothing was bought."
        + (" The operator's policy would refuse it." if refused else "")
        + (" Warning: the last purchase failed for KYC or balance." if blocker else ""),
    )


def _token(deps: Deps, plan: PurchasePlan, offer: StoredOffer) -> tuple[str, str]:
    """A confirmation token for these terms at `offer`'s price, and when it expires."""
    token, expires = deps.tokens.issue(
        tenant=deps.tenant,
        tool=TOOL,
        arguments=plan.terms.arguments(),
        quote={
            "number": offer.number,
            "setup_cost_cents": offer.setup_cost_cents,
            "monthly_cost_cents": offer.monthly_cost_cents,
        },
    )
    return token, iso_time(expires)


async def confirm(deps: Deps, plan: PurchasePlan, answer: Answer) -> PurchaseResult | None:
    """Settle confirmation: a result to return (a token to show, a refusal of the person), an
    error raised, or None when the purchase may go ahead."""
    confirmation = plan.confirmation
    try:
        step = await step_after(deps.store, deps.tenant, confirmation, plan.terms.subject(), answer)
    except StoreError as exc:
        raise to_tool_error(exc, write="bought") from exc
    if step is Step.PROCEED:
        return None
    if step is Step.CANNOT_ASK:
        raise ToolError(
            "This server requires a person to confirm purchases, and this client cannot ask "
            "(no elicitation support). Nothing was bought. Use a client that supports "
            "elicitation, or ask the operator to change KROS_MCP_CONFIRMATION."
        )
    if step is Step.REFUSED_TOKEN and confirmation.token_error is not None:
        raise to_tool_error(confirmation.token_error, write="bought")
    if step is Step.ANSWER_USED:
        raise ToolError(
            "This answer was already used by another call, so nothing new was bought. Call "
            "purchase_number again to ask the person afresh."
        )
    lines = _plan_lines(plan.offer, plan.terms)
    if step is Step.ISSUE_TOKEN:
        token, expires = _token(deps, plan, plan.offer)
        quote = Quote.of(plan.offer)
        cur = plan.offer.currency
        return PurchaseResult(
            status="confirmation_required",
            executed=False,
            quote=quote,
            plan=lines,
            confirmation_token=token,
            token_expires_at=expires,
            message=f"NOT BOUGHT YET. Show the user the price ({money(quote.first_charge_cents, cur)} "
            f"now, {money(quote.monthly_cost_cents, cur)} a month) and ask them. If they agree, call "
            "purchase_number again with the same arguments and this confirmation_token.",
        )
    if step not in (Step.DECLINED, Step.CANCELLED):
        raise ToolError(f"This purchase could not be confirmed ({step.value}). Nothing was bought.")
    return PurchaseResult(
        status="declined",
        executed=False,
        quote=Quote.of(plan.offer),
        plan=lines,
        message="The person "
        + ("dismissed the question" if step is Step.CANCELLED else "declined")
        + ": nothing was bought.",
    )


async def purchase(ctx: Context, deps: Deps, plan: PurchasePlan) -> PurchaseResult:
    """Claim the confirmation, check the quote against KrosAI's price now, then buy once."""
    try:
        step = await purchasing.prepare(scope_of(deps), deps.client, plan, audit_quote(plan.offer))
    except purchasing.ConfirmationInUse as exc:
        raise ToolError(
            CLAIM_REFUSALS[Step.BUSY if exc.in_progress else Step.REFUSED_TOKEN].format(
                done="bought"
            )
        ) from None
    except purchasing.NoLongerForSale:
        raise ToolError(
            f"NUMBER_NOT_AVAILABLE: {plan.offer.number} is no longer for sale. Nothing was "
            "bought. Call search_available for current offers."
        ) from None
    except (PolicyError, StoreError, KrosAIError) as exc:
        raise to_tool_error(exc, write="bought") from exc
    if isinstance(step, purchasing.Replay):
        return replayed(PurchaseResult.model_validate(step.result))
    if isinstance(step, purchasing.PriceChanged):
        # The new price is the quote now: what the next call previews, asks and checks.
        await deps.store.remember_offers(deps.tenant, [step.current], deps.settings.offer_ttl)
        return price_change_result(deps, plan, step)
    claims = plan.confirmation.claims
    idempotency_key = f"kros-mcp-{deps.tenant}-{claims.token_id}" if claims else None
    lines = _plan_lines(plan.offer, plan.terms)
    return await buy(ctx, deps, step.attempt, plan.offer, plan.terms, lines, idempotency_key)


def price_change_result(
    deps: Deps, plan: PurchasePlan, change: purchasing.PriceChanged
) -> PurchaseResult:
    """Nothing bought: the quote moved from what was agreed to `change.current`. On the token
    path the result carries a token for the new quote."""
    current, was = change.current, change.agreed
    was_setup, was_monthly = was.get("setup_cost_cents", 0), was.get("monthly_cost_cents", 0)
    cur = current.currency
    result = PurchaseResult(
        status="price_changed",
        executed=False,
        quote=Quote.of(current),
        plan=[buy_line(current), *_plan_lines(current, plan.terms)[1:]],
        message=f"NOT BOUGHT: the price changed from {money(was_setup + was_monthly, cur)} now "
        f"and {money(was_monthly, cur)} a month to {money(current.first_charge_cents, cur)} now "
        f"and {money(current.monthly_cost_cents, cur)} a month. Confirm the new price to buy.",
    )
    if plan.confirmation.claims is not None:
        result.confirmation_token, result.token_expires_at = _token(deps, plan, current)
    return result


async def buy(
    ctx: Context,
    deps: Deps,
    attempt: WriteAttempt,
    offer: StoredOffer,
    terms: PurchaseTerms,
    lines: list[str],
    idempotency_key: str | None,
) -> PurchaseResult:
    """The upstream purchase of `terms` at `offer`'s price, its outcome settled in the ledger,
    the audit and the claim. A call cancelled midway is left to recovery."""
    try:
        return await _buy(ctx, deps, attempt, offer, terms, lines, idempotency_key)
    finally:
        attempt.abandon()


async def _buy(
    ctx: Context,
    deps: Deps,
    attempt: WriteAttempt,
    offer: StoredOffer,
    terms: PurchaseTerms,
    lines: list[str],
    idempotency_key: str | None,
) -> PurchaseResult:
    quote = Quote.of(offer)
    try:
        receipt = await deps.client.purchase(
            terms.inventory_id,
            endpoint_id=terms.endpoint_id,
            allow_inbound=terms.allow_inbound,
            allow_outbound=terms.allow_outbound,
            idempotency_key=idempotency_key,
            expected_number=offer.number,
        )
    except PurchaseOutcomeUnknown as exc:
        await attempt.unknown(exc.message, exc.code)
        raise to_tool_error(exc, write="bought") from exc
    except NumberNotAvailableError as exc:
        return await _sold_already(deps, attempt, offer, exc, Quote.of(offer), lines)
    except KrosAIError as exc:
        await attempt.failed(exc.message, error_code_of(exc))
        raise to_tool_error(exc, write="bought") from exc
    note = (
        " (KrosAI's answer was lost; the purchase was confirmed by listing owned numbers)"
        if receipt.reconciled
        else ""
    )
    result = PurchaseResult(
        status="purchased",
        executed=True,
        quote=quote,
        plan=lines,
        number=NumberDetail.of(receipt.number),
        message=f"Bought {receipt.number.number} as {receipt.number.id}{note}."
        + purchase_note(receipt.number),
    )
    await attempt.succeeded(
        {"result": "purchased", "number_id": receipt.number.id, "reconciled": receipt.reconciled},
        result=result.model_dump(mode="json"),
        spent_cents=receipt.number.total_cost_cents,
    )
    await notify_changed(ctx, deps.subscribers, receipt.number.id)
    return result


async def _sold_already(
    deps: Deps,
    attempt: WriteAttempt,
    offer: StoredOffer,
    exc: NumberNotAvailableError,
    quote: Quote,
    lines: list[str],
) -> PurchaseResult:
    """KrosAI says the number is sold: to this very organisation (an earlier, lost call bought
    it), or to someone else."""
    owned = await _owned_already(deps, offer)
    if owned is None:
        await attempt.failed(exc.message, exc.code)
        raise to_tool_error(exc, write="bought") from exc
    await attempt.succeeded({"result": "already_owned", "number_id": owned.id}, spent_cents=0)
    return PurchaseResult(
        status="purchased",
        executed=False,
        quote=quote,
        plan=lines,
        number=NumberDetail.of(owned),
        message=f"{owned.number} is already this organisation's ({owned.id}): an earlier "
        "call bought it. Nothing new was bought.",
    )


async def _owned_already(deps: Deps, offer: StoredOffer) -> PhoneNumber | None:
    try:
        async for number in deps.client.iter_numbers():
            if number.inventory_id == offer.inventory_id or same_number(
                number.number, offer.number
            ):
                return number
    except KrosAIError:
        return None
    return None
