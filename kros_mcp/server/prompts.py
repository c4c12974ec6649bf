"""Prompts for the common workflows."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer, UserMessage
from pydantic import Field

__all__ = ["register_prompts"]


def register_prompts(mcp: MCPServer) -> None:
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
