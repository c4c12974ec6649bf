"""The purchase itself: the price checked again, the upstream call, and its outcome recorded."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from ..krosai import KrosAIError, NumberNotAvailableError, PhoneNumber, PurchaseOutcomeUnknown
from ..safety import TokenClaims
from ..store import StoredOffer
from .deps import Deps
from .errors import to_tool_error
from .guard import WriteAttempt
from .models import NumberDetail, PurchaseResult, Quote
from .notify import notify_changed
from .wording import buy_line, iso_time, usd

__all__ = ["buy", "owned_already", "price_change", "purchase_token"]


def price_change(
    deps: Deps,
    offer: StoredOffer,
    current: StoredOffer | None,
    claims: TokenClaims | None,
    arguments: dict[str, Any],
    plan: list[str],
    step: str,
) -> PurchaseResult | None:
    """A result that stops the purchase when the number is gone or its price moved, else None."""
    if current is None:
        raise ToolError(
            f"NUMBER_NOT_AVAILABLE: {offer.number} is no longer for sale. Nothing was bought. "
            "Call search_available for current offers."
        )
    quoted_price = offer.first_charge_cents if claims is None else claims.price_cents
    if quoted_price is None:  # purchase tokens always quote one: a token without binds no price
        raise ToolError(
            "Confirmation refused (mismatch): this confirmation_token quotes no price, so nothing "
            "was bought. Call purchase_number with dry_run=true for a new quote."
        )
    # The monthly price counts too: the person agreed to both amounts.
    if (
        current.first_charge_cents == quoted_price
        and current.monthly_cost_cents == offer.monthly_cost_cents
    ):
        return None
    result = PurchaseResult(
        status="price_changed",
        executed=False,
        quote=Quote.of(current),
        plan=[buy_line(current), *plan[1:]],
        message=f"NOT BOUGHT: the price changed from {usd(quoted_price)} now and "
        f"{usd(offer.monthly_cost_cents)} a month to {usd(current.first_charge_cents)} now "
        f"and {usd(current.monthly_cost_cents)} a month. Confirm the new price to buy.",
    )
    if claims is not None or step == "issue":
        result.confirmation_token, expires = deps.tokens.issue(
            tenant=deps.tenant,
            tool="purchase_number",
            arguments=arguments,
            price_cents=current.first_charge_cents,
        )
        result.token_expires_at = iso_time(expires)
    return result


async def buy(
    ctx: Context,
    deps: Deps,
    attempt: WriteAttempt,
    offer: StoredOffer,
    arguments: dict[str, Any],
    quote: Quote,
    plan: list[str],
    *,
    idempotency_key: str | None,
) -> PurchaseResult:
    """The upstream purchase, with its outcome settled in the ledger, the audit and the claim."""
    try:
        receipt = await deps.client.purchase(
            arguments["inventory_id"],
            endpoint_id=arguments["endpoint_id"],
            allow_inbound=arguments["allow_inbound"],
            allow_outbound=arguments["allow_outbound"],
            idempotency_key=idempotency_key,
            expected_number=offer.number,
        )
    except PurchaseOutcomeUnknown as exc:
        await attempt.unknown(exc.message)
        raise to_tool_error(exc, write="bought") from exc
    except NumberNotAvailableError as exc:
        owned = await owned_already(deps, offer)
        if owned is None:
            await attempt.failed(exc.message)
            raise to_tool_error(exc, write="bought") from exc
        # Sold to this very organisation: an earlier, lost call bought it.
        await attempt.succeeded({"result": "already_owned", "number_id": owned.id}, spent_cents=0)
        return PurchaseResult(
            status="purchased",
            executed=True,
            quote=quote,
            plan=plan,
            number=NumberDetail.of(owned),
            message=f"{owned.number} is already this organisation's ({owned.id}): an earlier call "
            "bought it. Nothing new was bought.",
        )
    except KrosAIError as exc:
        await attempt.failed(exc.message)
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
        plan=plan,
        number=NumberDetail.of(receipt.number),
        message=f"Bought {receipt.number.number} as {receipt.number.id}{note}.",
    )
    await attempt.succeeded(
        {"result": "purchased", "number_id": receipt.number.id, "reconciled": receipt.reconciled},
        result=result.model_dump(mode="json"),
        spent_cents=receipt.number.total_cost_cents,
    )
    await notify_changed(ctx, deps.subscribers, receipt.number.id)
    return result


async def owned_already(deps: Deps, offer: StoredOffer) -> PhoneNumber | None:
    try:
        async for number in deps.client.iter_numbers():
            if number.inventory_id == offer.inventory_id or (
                "".join(c for c in number.number if c.isdigit())
                == "".join(c for c in offer.number if c.isdigit())
            ):
                return number
    except KrosAIError:
        return None
    return None


def purchase_token(
    deps: Deps, arguments: dict[str, Any], quote: Quote, plan: list[str]
) -> PurchaseResult:
    token, expires = deps.tokens.issue(
        tenant=deps.tenant,
        tool="purchase_number",
        arguments=arguments,
        price_cents=quote.first_charge_cents,
    )
    return PurchaseResult(
        status="confirmation_required",
        executed=False,
        quote=quote,
        plan=plan,
        confirmation_token=token,
        token_expires_at=iso_time(expires),
        message=f"NOT BOUGHT YET. Show the user the price ({usd(quote.first_charge_cents)} now, "
        f"{usd(quote.monthly_cost_cents)} a month) and ask them. If they agree, call purchase_number "
        "again with the same arguments and this confirmation_token.",
    )
