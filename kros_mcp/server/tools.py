"""The six tools. Each is defined once here, with its annotations set deliberately."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import AcceptedElicitation, Context, Elicit, ElicitationResult, MCPServer, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from ..krosai import UNSET, KrosAIError, PhoneNumber
from ..safety import ConfirmationError, TokenClaims
from ..store import StoredOffer
from .deps import Deps
from .errors import to_tool_error
from .models import (
    NumberDetail,
    NumberList,
    NumberSummary,
    Offer,
    OfferList,
    PurchaseResult,
    Quote,
    ReleaseResult,
    Routing,
    RoutingResult,
)
from .notify import notify_changed
from .quotes import offer_from, refresh_offer
from .sanitize import clean_text

__all__ = ["TOOL_NAMES", "WRITE_TOOLS", "register_tools"]

TOOL_NAMES = ("list_numbers", "get_number", "search_available", "purchase_number", "update_routing",
              "release_number")
WRITE_TOOLS = ("purchase_number", "update_routing", "release_number")
KEEP = "keep"
# Reads change nothing and can be repeated; KrosAI is outside this server (open world).
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)

NumberId = Annotated[str, Field(
    max_length=64, pattern=r"^[\w+][\w+\-. ()]*$",
    description="pn_... id, or the E.164 number",
)]
Country = Annotated[str, Field(pattern=r"^[A-Za-z]{2}$", description="ISO country code: NG, KE, GH, RW, EG, AE")]
NumberType = Literal["local", "mobile", "toll_free"]
DryRun = bool
Token = Annotated[str | None, Field(max_length=2048)]


class ConfirmPurchase(BaseModel):
    confirm: bool = Field(description="Buy this number and pay the amount shown?")


class ConfirmRelease(BaseModel):
    confirm: bool = Field(description="Release this number? This cannot be undone.")


class _NoQuestion:
    """A resolver's answer when no person was asked (dry run, token given, or no elicitation)."""

    def __init__(self, why: Literal["skipped", "unsupported"]) -> None:
        self.why = why


def deps_of(ctx: Context) -> Deps:
    return ctx.request_context.lifespan_context  # type: ignore[no-any-return]


def _can_elicit(ctx: Context) -> bool:
    caps = ctx.client_capabilities
    return caps is not None and caps.elicitation is not None


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _cents(cents: int) -> str:
    return f"{cents / 100:,.2f} USD"


async def resolve_number_id(deps: Deps, number_id: str) -> str:
    """Accept a pn_ id as is; turn an E.164 number into the id of the owned number."""
    value = number_id.strip()
    compact = value.replace(" ", "").replace("-", "").replace("(", "").replace(")", "").replace(".", "")
    if not (compact.startswith("+") or compact.isdigit()):
        return value
    import phonenumbers

    try:
        parsed = phonenumbers.parse(compact if compact.startswith("+") else "+" + compact)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        raise ToolError(f"{value!r} is neither a number id (pn_...) nor a valid E.164 number such as "
                        "+2348031234567. Call list_numbers to see the organisation's numbers.")
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    async for owned in deps.client.iter_numbers():
        if "".join(c for c in owned.number if c.isdigit()) == e164[1:]:
            return owned.id
    raise ToolError(f"{e164} is not one of this organisation's numbers. Call list_numbers to see them, or "
                    "search_available to buy one.")


# -- resolvers: ask the person before spending or releasing ------------------------------------


async def ask_purchase(
    inventory_id: str, endpoint_id: str | None, allow_inbound: bool, allow_outbound: bool, dry_run: bool,
    confirmation_token: str | None, ctx: Context,
) -> _NoQuestion | Elicit[ConfirmPurchase]:
    deps = deps_of(ctx)
    if dry_run or deps.confirmation == "none" or (confirmation_token and deps.confirmation == "auto"):
        return _NoQuestion("skipped")
    if not _can_elicit(ctx):
        return _NoQuestion("unsupported")
    offer = await deps.store.get_offer(deps.tenant, inventory_id)
    if offer is None:
        return _NoQuestion("skipped")  # the tool explains: search first
    route = f", routed to endpoint {endpoint_id}" if endpoint_id else ", not routed to any endpoint yet"
    return Elicit(
        f"Buy {offer.number} ({offer.country} {offer.type or 'number'}){route}? "
        f"It costs {_cents(offer.first_charge_cents)} now (setup {_cents(offer.setup_cost_cents)} + first month), "
        f"then {_cents(offer.monthly_cost_cents)} a month.",
        ConfirmPurchase,
    )


async def ask_release(
    number_id: str, dry_run: bool, confirmation_token: str | None, ctx: Context
) -> _NoQuestion | Elicit[ConfirmRelease]:
    deps = deps_of(ctx)
    if dry_run or deps.confirmation == "none" or (confirmation_token and deps.confirmation == "auto"):
        return _NoQuestion("skipped")
    if not _can_elicit(ctx):
        return _NoQuestion("unsupported")
    try:
        number = await deps.client.get_number(await resolve_number_id(deps, number_id))
    except KrosAIError as exc:
        # Fail here: skipping the question would let the tool, if KrosAI answers it a moment later,
        # fall back to a confirmation token although this person could have been asked.
        raise to_tool_error(exc, write="released") from exc
    return Elicit(f"Release {number.number}? {_release_effects(number)[0]} This cannot be undone.", ConfirmRelease)


def _release_effects(number: PhoneNumber) -> list[str]:
    effects = []
    if number.endpoint_id:
        # Cleaned: the name is KrosAI data that also reaches the person's confirmation question.
        label = clean_text(number.endpoint.name, limit=100) if number.endpoint else None
        name = f" '{label}'" if label else ""
        effects.append(f"Calls to {number.number} will no longer reach endpoint{name} ({number.endpoint_id}).")
    else:
        effects.append(f"{number.number} stops receiving and making calls.")
    if number.monthly_cost_cents:
        effects.append(f"The monthly charge of {_cents(number.monthly_cost_cents)} stops; nothing is refunded.")
    effects.append("The number goes back to KrosAI's pool; anyone may buy it, and it may not be available again.")
    return effects


def _token_step(deps: Deps, ctx: Context, answer: Any) -> Literal["elicited", "none", "issue", "refuse"]:
    """How a call without a usable token is confirmed."""
    if deps.confirmation == "none":
        return "none"
    if isinstance(answer, AcceptedElicitation) and isinstance(answer.data, _NoQuestion):
        if answer.data.why == "unsupported" and deps.confirmation == "human":
            return "refuse"
        return "issue"
    return "elicited"


def register_tools(mcp: MCPServer) -> None:
    """Add the six tools to `mcp`."""

    @mcp.tool(
        title="List owned numbers",
        annotations=READ_ONLY,
    )
    async def list_numbers(
        ctx: Context,
        status: Literal["active", "pending", "suspended", "porting", "inactive"] | None = None,
        country: Annotated[str | None, Field(pattern=r"^[A-Za-z]{2}$", description="ISO code")] = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        offset: Annotated[int, Field(ge=0)] = 0,
    ) -> NumberList:
        """List the organisation's phone numbers: status, endpoint, monthly cost. Free."""
        deps = deps_of(ctx)
        try:
            page = await deps.client.list_numbers(status=status, country=country.upper() if country else None,
                                                  limit=limit, offset=offset)
        except KrosAIError as exc:
            raise to_tool_error(exc) from exc
        seen = offset + len(page.items)
        # Without a total (KrosAI may omit it), a full page means there may be more.
        more = bool(page.items) and (seen < page.total if page.total is not None else len(page.items) >= limit)
        return NumberList(numbers=[NumberSummary.of(n) for n in page.items], total=page.total,
                          next_offset=seen if more else None)

    @mcp.tool(
        title="Get a number",
        annotations=READ_ONLY,
    )
    async def get_number(ctx: Context, number_id: NumberId) -> NumberDetail:
        """One owned number in full: endpoint, call flags, SIP URI, cost. Free."""
        deps = deps_of(ctx)
        try:
            return NumberDetail.of(await deps.client.get_number(await resolve_number_id(deps, number_id)))
        except KrosAIError as exc:
            raise to_tool_error(exc) from exc

    @mcp.tool(
        title="Search numbers for sale",
        annotations=READ_ONLY,
    )
    async def search_available(
        ctx: Context,
        country: Country,
        type: NumberType | None = None,
        area_code: Annotated[str | None, Field(pattern=r"^0?\d{1,5}$", description="e.g. 803")] = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 10,
        max_monthly_cost_cents: Annotated[int | None, Field(ge=0)] = None,
    ) -> OfferList:
        """Numbers for sale, with setup and monthly cost in cents. Free. Buy with purchase_number
        (dry_run=true first)."""
        deps = deps_of(ctx)
        country = country.upper()
        fetch = 100 if max_monthly_cost_cents is not None else limit
        try:
            page = await deps.client.search_available(country, type=type, area_code=area_code, limit=fetch)
        except KrosAIError as exc:
            raise to_tool_error(exc) from exc
        items = [i for i in page.items if max_monthly_cost_cents is None or (i.monthly_cost_cents or 0) <= max_monthly_cost_cents][:limit]
        query = {"type": type, "area_code": area_code, "offset": 0}
        await deps.store.remember_offers(deps.tenant, [offer_from(i, country, query) for i in items],
                                         deps.settings.offer_ttl)
        return OfferList(offers=[Offer.of(i) for i in items], total=page.total)

    @mcp.tool(
        title="Buy a number",
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False,
                                    open_world_hint=True),
    )
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
            raise ToolError(f"No current quote for {inventory_id}: call search_available first (the offers it shows "
                            f"are remembered for {int(deps.settings.offer_ttl // 60)} minutes) so the price is known. Nothing was bought.")
        arguments = {"inventory_id": inventory_id, "endpoint_id": endpoint_id, "allow_inbound": allow_inbound,
                     "allow_outbound": allow_outbound}
        quote = Quote.of(offer)
        plan = [_buy_line(offer),
                f"Route inbound calls to {endpoint_id}." if endpoint_id else "No endpoint: calls are not routed "
                "until update_routing sets one.",
                f"Inbound calls {'allowed' if allow_inbound else 'blocked'}; outbound calls "
                f"{'allowed' if allow_outbound else 'blocked'}."]
        if dry_run:
            return PurchaseResult(status="dry_run", executed=False, message="Preview only: nothing was bought.",
                                  quote=quote, plan=plan)
        claims: TokenClaims | None = None
        step = _token_step(deps, ctx, answer)
        try:
            if confirmation_token and deps.confirmation == "auto":
                claims = deps.tokens.verify(confirmation_token, tenant=deps.tenant, tool="purchase_number",
                                            arguments=arguments)
                # Consumed before anything else, so two calls with one token can never both buy.
                await deps.tokens.redeem(claims)
            elif step == "refuse":
                raise ToolError("This server requires a person to confirm purchases, and this client cannot ask "
                                "(no elicitation support). Nothing was bought. Use a client that supports "
                                "elicitation, or ask the operator to change KROS_MCP_CONFIRMATION.")
            elif step == "issue":
                return _purchase_token(deps, arguments, quote, plan)
            elif step == "elicited":
                if not isinstance(answer, AcceptedElicitation) or not answer.data.confirm:
                    return PurchaseResult(status="declined", executed=False, quote=quote, plan=plan,
                                          message="The person declined: nothing was bought.")
            current = await refresh_offer(deps.client, offer)
            if current is None:
                raise ToolError(f"NUMBER_NOT_AVAILABLE: {offer.number} is no longer for sale. Nothing was bought. "
                                "Call search_available for current offers.")
            quoted_price = claims.price_cents if claims is not None else offer.first_charge_cents
            # The monthly price counts too: the person agreed to both amounts.
            if current.first_charge_cents != quoted_price or current.monthly_cost_cents != offer.monthly_cost_cents:
                await deps.store.remember_offers(deps.tenant, [current], deps.settings.offer_ttl)
                new_quote = Quote.of(current)
                result = PurchaseResult(
                    status="price_changed", executed=False, quote=new_quote, plan=[_buy_line(current), *plan[1:]],
                    message=f"NOT BOUGHT: the price changed from {_cents(quoted_price)} now and "
                            f"{_cents(offer.monthly_cost_cents)} a month to {_cents(current.first_charge_cents)} now "
                            f"and {_cents(current.monthly_cost_cents)} a month. Confirm the new price to buy.")
                if claims is not None or step == "issue":
                    result.confirmation_token, expires = deps.tokens.issue(
                        tenant=deps.tenant, tool="purchase_number", arguments=arguments,
                        price_cents=current.first_charge_cents)
                    result.token_expires_at = _iso(expires)
                return result
            key = f"kros-mcp-{deps.tenant}-{claims.token_id}" if claims is not None else None
            receipt = await deps.client.purchase(inventory_id, endpoint_id=endpoint_id, allow_inbound=allow_inbound,
                                                 allow_outbound=allow_outbound, idempotency_key=key,
                                                 expected_number=offer.number)
        except ConfirmationError as exc:
            raise to_tool_error(exc, write="bought") from exc
        except KrosAIError as exc:
            raise to_tool_error(exc, write="bought") from exc
        await notify_changed(ctx, deps.subscribers, receipt.number.id)
        note = " (KrosAI's answer was lost; the purchase was confirmed by listing owned numbers)" if receipt.reconciled else ""
        return PurchaseResult(status="purchased", executed=True, quote=quote, plan=plan,
                              number=NumberDetail.of(receipt.number),
                              message=f"Bought {receipt.number.number} as {receipt.number.id}{note}.")

    @mcp.tool(
        title="Route a number's calls",
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True,
                                    open_world_hint=True),
    )
    async def update_routing(
        ctx: Context,
        number_id: NumberId,
        endpoint_id: Annotated[str | None, Field(description=(
            "ep_...; null detaches; 'keep' leaves it"))] = KEEP,
        allow_inbound: bool | None = None,
        allow_outbound: bool | None = None,
        dry_run: DryRun = False,
    ) -> RoutingResult:
        """Route a number's calls to an endpoint; allow or block inbound/outbound calls (omitted:
        unchanged). Free; safe to repeat. dry_run=true shows before and after."""
        deps = deps_of(ctx)
        try:
            number_id = await resolve_number_id(deps, number_id)
            current = await deps.client.get_number(number_id)
            before = Routing(endpoint_id=current.endpoint_id, allow_inbound=current.allow_inbound,
                             allow_outbound=current.allow_outbound)
            after = Routing(
                endpoint_id=before.endpoint_id if endpoint_id == KEEP else endpoint_id,
                allow_inbound=before.allow_inbound if allow_inbound is None else allow_inbound,
                allow_outbound=before.allow_outbound if allow_outbound is None else allow_outbound,
            )
            effects = _routing_effects(current, before, after)
            if dry_run:
                return RoutingResult(status="dry_run", executed=False, message="Preview only: nothing changed.",
                                     number_id=current.id, number=current.number, before=before, after=after,
                                     effects=effects)
            updated = await deps.client.update_number(
                number_id,
                endpoint_id=UNSET if endpoint_id == KEEP else endpoint_id,
                allow_inbound=UNSET if allow_inbound is None else allow_inbound,
                allow_outbound=UNSET if allow_outbound is None else allow_outbound,
            )
        except KrosAIError as exc:
            raise to_tool_error(exc, write="changed") from exc
        await notify_changed(ctx, deps.subscribers, updated.id)
        final = Routing(endpoint_id=updated.endpoint_id, allow_inbound=updated.allow_inbound,
                        allow_outbound=updated.allow_outbound)
        return RoutingResult(status="updated", executed=True, message=f"Routing of {updated.number} updated.",
                             number_id=updated.id, number=updated.number, before=before, after=final, effects=effects)

    @mcp.tool(
        title="Release a number",
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False,
                                    open_world_hint=True),
    )
    async def release_number(
        ctx: Context,
        number_id: NumberId,
        answer: Annotated[ElicitationResult[ConfirmRelease], Resolve(ask_release)],
        dry_run: DryRun = False,
        confirmation_token: Token = None,
    ) -> ReleaseResult:
        """Give a number back to KrosAI. IRREVERSIBLE: its calls stop at once. dry_run=true shows
        what stops working. Needs confirmation, like purchase_number."""
        deps = deps_of(ctx)
        try:
            number_id = await resolve_number_id(deps, number_id)
            number = await deps.client.get_number(number_id)
            plan = _release_effects(number)
            arguments = {"number_id": number_id}
            if dry_run:
                return ReleaseResult(status="dry_run", executed=False, message="Preview only: nothing was released.",
                                     number_id=number.id, number=number.number, plan=plan)
            claims: TokenClaims | None = None
            step = _token_step(deps, ctx, answer)
            if confirmation_token and deps.confirmation == "auto":
                claims = deps.tokens.verify(confirmation_token, tenant=deps.tenant, tool="release_number",
                                            arguments=arguments)
                await deps.tokens.redeem(claims)
            elif step == "refuse":
                raise ToolError("This server requires a person to confirm releases, and this client cannot ask "
                                "(no elicitation support). Nothing was released.")
            elif step == "issue":
                token, expires = deps.tokens.issue(tenant=deps.tenant, tool="release_number", arguments=arguments,
                                                   price_cents=None)
                return ReleaseResult(
                    status="confirmation_required", executed=False, number_id=number.id, number=number.number,
                    plan=plan, confirmation_token=token, token_expires_at=_iso(expires),
                    message=f"NOT RELEASED YET. Show the user what stops working and ask them. If they agree, "
                            f"call release_number again with number_id={number.id} and this confirmation_token.")
            elif step == "elicited":
                if not isinstance(answer, AcceptedElicitation) or not answer.data.confirm:
                    return ReleaseResult(status="declined", executed=False, number_id=number.id, number=number.number,
                                         plan=plan, message="The person declined: nothing was released.")
            result = await deps.client.release_number(number_id)
        except ConfirmationError as exc:
            raise to_tool_error(exc, write="released") from exc
        except KrosAIError as exc:
            raise to_tool_error(exc, write="released") from exc
        await notify_changed(ctx, deps.subscribers, number_id)
        return ReleaseResult(status="released", executed=True, number_id=number_id, number=number.number, plan=plan,
                             message=f"Released {number.number}." + (
                                 " (The first answer was lost; a retry found it already released.)"
                                 if result.confirmed_by_retry else ""))


def _buy_line(offer: StoredOffer) -> str:
    return (f"Buy {offer.number} ({offer.country} {offer.type or 'number'}) for {_cents(offer.first_charge_cents)} "
            f"now, then {_cents(offer.monthly_cost_cents)} a month.")


def _purchase_token(deps: Deps, arguments: dict[str, Any], quote: Quote, plan: list[str]) -> PurchaseResult:
    token, expires = deps.tokens.issue(tenant=deps.tenant, tool="purchase_number", arguments=arguments,
                                       price_cents=quote.first_charge_cents)
    return PurchaseResult(
        status="confirmation_required", executed=False, quote=quote, plan=plan, confirmation_token=token,
        token_expires_at=_iso(expires),
        message=f"NOT BOUGHT YET. Show the user the price ({_cents(quote.first_charge_cents)} now, "
                f"{_cents(quote.monthly_cost_cents)} a month) and ask them. If they agree, call purchase_number "
                "again with the same arguments and this confirmation_token.")


def _routing_effects(number: PhoneNumber, before: Routing, after: Routing) -> list[str]:
    effects = []
    if before.endpoint_id != after.endpoint_id:
        if after.endpoint_id is None:
            effects.append(f"Calls to {number.number} will no longer be routed to {before.endpoint_id}; "
                           "they go nowhere until an endpoint is set.")
        elif before.endpoint_id is None:
            effects.append(f"Calls to {number.number} will be routed to {after.endpoint_id}.")
        else:
            effects.append(f"Calls to {number.number} move from {before.endpoint_id} to {after.endpoint_id}.")
    for flag, label in (("allow_inbound", "Inbound"), ("allow_outbound", "Outbound")):
        old, new = getattr(before, flag), getattr(after, flag)
        if old != new:
            effects.append(f"{label} calls will be {'allowed' if new else 'blocked'}.")
    return effects or ["No change: the number is already routed this way."]
