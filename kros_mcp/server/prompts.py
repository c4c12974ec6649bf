"""Prompts for the common workflows, and a clear -32602 for an unknown prompt or a missing argument."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

from mcp import MCPError
from mcp.server import ServerRequestContext
from mcp.server.mcpserver import MCPServer, UserMessage
from mcp.types import INVALID_PARAMS
from pydantic import Field

__all__ = ["register_prompts"]


def _check_prompt_request(mcp: MCPServer) -> Any:
    """Middleware answering prompts/get for an unknown prompt or without a required argument
    with -32602 and a message naming what to send. The SDK raises a plain ValueError for both,
    which goes out as code 0 (or an internal error in the 2026 era) with a traceback logged."""

    async def check(
        ctx: ServerRequestContext[Any, Any],
        call_next: Callable[[ServerRequestContext[Any, Any]], Awaitable[Any]],
    ) -> Any:
        if ctx.method != "prompts/get" or not isinstance(ctx.params, Mapping):
            return await call_next(ctx)
        name = ctx.params.get("name")
        arguments = ctx.params.get("arguments") or {}
        prompts = {p.name: p for p in await mcp.list_prompts()}
        prompt = prompts.get(name) if isinstance(name, str) else None
        if prompt is None:
            shown = repr(name[:80]) if isinstance(name, str) else "(none)"
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"Unknown prompt {shown}: the prompts are {', '.join(sorted(prompts))}.",
            )
        required = [a.name for a in prompt.arguments or () if a.required]
        missing = [a for a in required if not isinstance(arguments, Mapping) or a not in arguments]
        if missing:
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"Prompt {name} needs the argument(s) {', '.join(missing)}.",
            )
        return await call_next(ctx)

    return check


def register_prompts(mcp: MCPServer) -> None:
    mcp.middleware.append(_check_prompt_request(mcp))

    @mcp.prompt(name="provision_number", title="Provision a number for an agent")
    def provision_number(
        country: Annotated[str, Field(description="ISO country code, e.g. NG")],
        endpoint_id: Annotated[
            str, Field(description="Endpoint (ep_...) the number should route to")
        ],
        type: Annotated[str, Field(description="local, mobile or toll_free")] = "local",
    ) -> list[UserMessage]:
        """Search, quote, confirm, buy and route a number for a voice agent."""
        return [
            UserMessage(
                f"Provision a {type} phone number in {country} for the voice agent at endpoint {endpoint_id}.\n"
                f"1. Call search_available(country={country!r}, type={type!r}) and pick the cheapest suitable offer; "
                "show me its number, setup and monthly cost.\n"
                f"2. Call purchase_number with that inventory_id, endpoint_id={endpoint_id!r} and dry_run=true, "
                "and show me the plan.\n"
                "3. Only after I agree, call purchase_number again without dry_run. If it answers "
                "confirmation_required, show me the quote and ask me before passing the confirmation_token back.\n"
                "4. Call get_number on the new number and confirm it routes to the endpoint.\n"
                "Never buy more than one number, and stop if anything costs more than quoted."
            )
        ]

    @mcp.prompt(name="route_number", title="Route a number to an agent")
    def route_number(
        number: Annotated[str, Field(description="Number id (pn_...) or E.164 number")],
        endpoint_id: Annotated[str, Field(description="Endpoint (ep_...) to route calls to")],
    ) -> list[UserMessage]:
        """Preview, confirm and apply new routing for one number."""
        return [
            UserMessage(
                f"Route the calls of {number} to endpoint {endpoint_id}.\n"
                f"1. Call update_routing(number_id={number!r}, endpoint_id={endpoint_id!r}, dry_run=true) "
                "and show me what changes; if the endpoint is unknown or inactive, show me the valid ones "
                "(list_endpoints) and stop.\n"
                "2. Only after I agree, call it again without dry_run, then get_number to confirm."
            )
        ]

    @mcp.prompt(name="review_numbers", title="Review numbers for waste")
    def review_numbers() -> list[UserMessage]:
        """Find numbers that cost money but route calls nowhere."""
        return [
            UserMessage(
                "Review this organisation's phone numbers. Call list_numbers (follow next_offset until it is null). "
                "List every number with no endpoint_id (it costs money but its calls go nowhere), with its monthly "
                "cost and the total per month. Also list suspended or pending numbers. Suggest update_routing or "
                "release_number for each, but do not change anything without my explicit go-ahead; if I agree to a "
                "release, preview it with dry_run=true first."
            )
        ]
