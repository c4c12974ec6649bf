"""The six tools. Each is defined once here, with its annotations set deliberately."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import AcceptedElicitation, Context, ElicitationResult, MCPServer, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from ..krosai import UNSET, KrosAIError, PhoneNumber, ServerError, TransportError
from ..safety import ConfirmationError, PolicyError, TokenClaims, arguments_digest
from ..store import StoreError
from .confirmation import ConfirmPurchase, ConfirmRelease, ask_purchase, ask_release, token_step
from .context import deps_of, resolve_number_id
from .deps import Deps
from .errors import to_tool_error
from .guard import DAY, begin_write, claim_once, refusal
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
from .names import TOOL_NAMES, WRITE_TOOLS
from .notify import notify_changed
from .purchase import buy, price_change, purchase_token
from .quotes import offer_from, refresh_offer
from .wording import buy_line, iso_time, policy_line, release_effects, replayed, routing_effects

__all__ = ["TOOL_NAMES", "WRITE_TOOLS", "register_tools"]

KEEP = "keep"
# Reads change nothing and can be repeated; KrosAI is outside this server (open world).
READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)

NumberId = Annotated[
    str,
    Field(
        max_length=64,
        pattern=r"^[\w+][\w+\-. ()]*$",
        description="pn_... id, or the E.164 number",
    ),
]
Country = Annotated[
    str, Field(pattern=r"^[A-Za-z]{2}$", description="ISO country code: NG, KE, GH, RW, EG, AE")
]
NumberType = Literal["local", "mobile", "toll_free"]
DryRun = bool
Token = Annotated[str | None, Field(max_length=2048)]


# -- resolvers: ask the person before spending or releasing ------------------------------------


def register_tools(mcp: MCPServer) -> None:
    """Add the six tools to `mcp`."""

    @mcp.tool(
        title="List owned numbers",
        annotations=READ_ONLY,
    )
    async def list_numbers(
        ctx: Context,
        status: Literal["active", "pending", "suspended", "porting", "inactive"] | None = None,
        country: Annotated[
            str | None, Field(pattern=r"^[A-Za-z]{2}$", description="ISO code")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        offset: Annotated[int, Field(ge=0)] = 0,
    ) -> NumberList:
        """List the organisation's phone numbers: status, endpoint, monthly cost. Free."""
        deps = deps_of(ctx)
        try:
            page = await deps.client.list_numbers(
                status=status,
                country=country.upper() if country else None,
                limit=limit,
                offset=offset,
            )
        except KrosAIError as exc:
            raise to_tool_error(exc) from exc
        seen = offset + len(page.items)
        # Without a total (KrosAI may omit it), a full page means there may be more.
        more = bool(page.items) and (
            seen < page.total if page.total is not None else len(page.items) >= limit
        )
        return NumberList(
            numbers=[NumberSummary.of(n) for n in page.items],
            total=page.total,
            next_offset=seen if more else None,
        )

    @mcp.tool(
        title="Get a number",
        annotations=READ_ONLY,
    )
    async def get_number(ctx: Context, number_id: NumberId) -> NumberDetail:
        """One owned number in full: endpoint, call flags, SIP URI, cost. Free."""
        deps = deps_of(ctx)
        try:
            return NumberDetail.of(
                await deps.client.get_number(await resolve_number_id(deps, number_id))
            )
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
        area_code: Annotated[
            str | None, Field(pattern=r"^0?\d{1,5}$", description="e.g. 803")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 10,
        max_monthly_cost_cents: Annotated[int | None, Field(ge=0)] = None,
    ) -> OfferList:
        """Numbers for sale, with setup and monthly cost in cents. Free. Buy with purchase_number
        (dry_run=true first)."""
        deps = deps_of(ctx)
        country = country.upper()
        fetch = 100 if max_monthly_cost_cents is not None else limit
        try:
            page = await deps.client.search_available(
                country, type=type, area_code=area_code, limit=fetch
            )
        except KrosAIError as exc:
            raise to_tool_error(exc) from exc
        items = [
            i
            for i in page.items
            if max_monthly_cost_cents is None
            or (i.monthly_cost_cents or 0) <= max_monthly_cost_cents
        ][:limit]
        query = {"type": type, "area_code": area_code, "offset": 0}
        await deps.store.remember_offers(
            deps.tenant, [offer_from(i, country, query) for i in items], deps.settings.offer_ttl
        )
        return OfferList(offers=[Offer.of(i) for i in items], total=page.total)

    @mcp.tool(
        title="Buy a number",
        annotations=ToolAnnotations(
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=False,
            open_world_hint=True,
        ),
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
                    await deps.store.remember_offers(
                        deps.tenant, [current], deps.settings.offer_ttl
                    )  # type: ignore[list-item]
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

    @mcp.tool(
        title="Route a number's calls",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=True
        ),
    )
    async def update_routing(
        ctx: Context,
        number_id: NumberId,
        endpoint_id: Annotated[
            str | None, Field(description=("ep_...; null detaches; 'keep' leaves it"))
        ] = KEEP,
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
            before = Routing(
                endpoint_id=current.endpoint_id,
                allow_inbound=current.allow_inbound,
                allow_outbound=current.allow_outbound,
            )
            after = Routing(
                endpoint_id=before.endpoint_id if endpoint_id == KEEP else endpoint_id,
                allow_inbound=before.allow_inbound if allow_inbound is None else allow_inbound,
                allow_outbound=before.allow_outbound if allow_outbound is None else allow_outbound,
            )
            effects = routing_effects(current, before, after)
            verdict = deps.policy.change_verdict(
                number_id=current.id, number=current.number, action="re-routed"
            )
            if dry_run:
                return RoutingResult(
                    status="dry_run",
                    executed=False,
                    number_id=current.id,
                    number=current.number,
                    before=before,
                    after=after,
                    effects=[*effects, policy_line(verdict)],
                    message="Preview only: nothing changed."
                    + ("" if verdict.allowed else " The operator's policy would refuse it."),
                )
            if not verdict.allowed:
                raise refusal(verdict, what="changed")
            attempt = await begin_write(
                deps,
                tool="update_routing",
                confirmation="none",
                arguments={
                    "number_id": current.id,
                    "number": current.number,
                    "before": before.model_dump(),
                    "after": after.model_dump(),
                },
            )
        except (StoreError, KrosAIError) as exc:
            raise to_tool_error(exc, write="changed") from exc
        try:
            updated = await deps.client.update_number(
                number_id,
                endpoint_id=UNSET if endpoint_id == KEEP else endpoint_id,
                allow_inbound=UNSET if allow_inbound is None else allow_inbound,
                allow_outbound=UNSET if allow_outbound is None else allow_outbound,
            )
        except KrosAIError as exc:
            if isinstance(exc, (TransportError, ServerError)):
                await attempt.unknown(exc.message)
            else:
                await attempt.failed(exc.message)
            raise to_tool_error(exc, write="changed") from exc
        await attempt.succeeded(
            {
                "result": "updated",
                "endpoint_id": updated.endpoint_id,
                "allow_inbound": updated.allow_inbound,
                "allow_outbound": updated.allow_outbound,
            }
        )
        await notify_changed(ctx, deps.subscribers, updated.id)
        final = Routing(
            endpoint_id=updated.endpoint_id,
            allow_inbound=updated.allow_inbound,
            allow_outbound=updated.allow_outbound,
        )
        return RoutingResult(
            status="updated",
            executed=True,
            message=f"Routing of {updated.number} updated.",
            number_id=updated.id,
            number=updated.number,
            before=before,
            after=final,
            effects=effects,
        )

    @mcp.tool(
        title="Release a number",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True
        ),
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
        claims: TokenClaims | None = None
        dedupe: str | None = None
        try:
            if confirmation_token and deps.confirmation == "auto" and not dry_run:
                claims = deps.tokens.verify(
                    confirmation_token, tenant=deps.tenant, tool="release_number", arguments=None
                )
                dedupe = f"token:{claims.token_id}"
                # A call re-sent with a token that already released replays that result.
                replay = await claim_once(deps, dedupe, claims.args_digest, what="released")
                if replay is not None:
                    return replayed(ReleaseResult.model_validate(replay))
            try:
                prepared = await _prepare_release(ctx, deps, number_id, answer, claims, dry_run)
            except BaseException:
                if dedupe is not None:
                    await deps.store.release_request(deps.tenant, dedupe)
                raise
            if isinstance(prepared, ReleaseResult):
                if dedupe is not None:
                    await deps.store.release_request(deps.tenant, dedupe)
                return prepared
            number, plan, confirmation = prepared
            attempt = await begin_write(
                deps,
                tool="release_number",
                arguments={"number_id": number.id, "number": number.number, "dedupe": dedupe},
                confirmation=confirmation,
                claim_key=dedupe,
            )
        except (PolicyError, ConfirmationError, StoreError, KrosAIError) as exc:
            raise to_tool_error(exc, write="released") from exc
        try:
            released = await deps.client.release_number(number.id)
        except KrosAIError as exc:
            if isinstance(exc, (TransportError, ServerError)):
                await attempt.unknown(exc.message)
            else:
                await attempt.failed(exc.message)
            raise to_tool_error(exc, write="released") from exc
        result = ReleaseResult(
            status="released",
            executed=True,
            number_id=number.id,
            number=number.number,
            plan=plan,
            message=f"Released {number.number}."
            + (
                " (The first answer was lost; a retry found it already released.)"
                if released.confirmed_by_retry
                else ""
            ),
        )
        await attempt.succeeded({"result": "released"}, result=result.model_dump(mode="json"))
        await notify_changed(ctx, deps.subscribers, number.id)
        return result


async def _prepare_release(
    ctx: Context, deps: Deps, number_id: str, answer: Any, claims: TokenClaims | None, dry_run: bool
) -> ReleaseResult | tuple[PhoneNumber, list[str], str]:
    """Everything before a release: lookup, policy, confirmation. A result to return as is, or
    the number, its plan and how the release was confirmed."""
    number_id = await resolve_number_id(deps, number_id)
    number = await deps.client.get_number(number_id)
    plan = release_effects(number)
    arguments = {"number_id": number.id}
    verdict = deps.policy.change_verdict(
        number_id=number.id, number=number.number, action="released"
    )
    if dry_run:
        return ReleaseResult(
            status="dry_run",
            executed=False,
            number_id=number.id,
            number=number.number,
            plan=[*plan, policy_line(verdict)],
            message="Preview only: nothing was released."
            + ("" if verdict.allowed else " The operator's policy would refuse it."),
        )
    if not verdict.allowed:
        raise PolicyError(verdict)
    if claims is not None:
        if claims.args_digest != arguments_digest(arguments):
            raise ConfirmationError(
                "mismatch",
                "this confirmation_token was issued for another number; call "
                "release_number without a token to get one for this number",
            )
        return number, plan, "token"
    step = token_step(deps, ctx, answer)
    if step == "refuse":
        raise ToolError(
            "This server requires a person to confirm releases, and this client cannot ask "
            "(no elicitation support). Nothing was released."
        )
    if step == "issue":
        token, expires = deps.tokens.issue(
            tenant=deps.tenant, tool="release_number", arguments=arguments, price_cents=None
        )
        return ReleaseResult(
            status="confirmation_required",
            executed=False,
            number_id=number.id,
            number=number.number,
            plan=plan,
            confirmation_token=token,
            token_expires_at=iso_time(expires),
            message=f"NOT RELEASED YET. Show the user what stops working and ask them. If they agree, "
            f"call release_number again with number_id={number.id} and this confirmation_token.",
        )
    if step == "elicited" and (
        not isinstance(answer, AcceptedElicitation) or not answer.data.confirm
    ):
        return ReleaseResult(
            status="declined",
            executed=False,
            number_id=number.id,
            number=number.number,
            plan=plan,
            message="The person declined: nothing was released.",
        )
    return number, plan, "none" if step == "none" else "elicitation"
