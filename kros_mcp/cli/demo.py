"""`kros-mcp demo`: a scripted tour through a real MCP client session on a throwaway sandbox."""

from __future__ import annotations

import sys
import tempfile
from typing import Any

import anyio

__all__ = ["run_demo"]


def _say(text: str = "") -> None:
    print(text, flush=True)


def _step(title: str) -> None:
    _say()
    _say(f"== {title} " + "=" * max(0, 70 - len(title)))


def _show(data: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        value = data.get(key)
        if value in (None, [], ""):
            continue
        if isinstance(value, list):
            _say(f"  {key}:")
            for item in value:
                _say(f"    - {item}")
        elif isinstance(value, dict):
            _say(f"  {key}: " + ", ".join(f"{k}={v}" for k, v in value.items() if v is not None))
        else:
            shown = str(value)
            _say(f"  {key}: {shown[:60] + '…' if key == 'confirmation_token' else shown}")


async def _tour(data_dir: str) -> None:
    from mcp import Client
    from mcp.types import ElicitResult

    from ..config import Settings
    from ..server import build_server

    async def person(context: Any, params: Any) -> ElicitResult:
        _say(f"  [the server asks the person] {params.message}")
        _say("  [the person answers] yes")
        return ElicitResult(action="accept", content={"confirm": True})

    mcp = build_server(Settings(KROS_MCP_DATA_DIR=data_dir))

    async def call(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
        shown = ", ".join(
            f"{k}={v!r}" if k != "confirmation_token" else f"{k}='kc1…'" for k, v in args.items()
        )
        _say(f"> {tool}({shown})")
        result = await client.call_tool(tool, args)
        if result.is_error:
            raise SystemExit(f"  error: {result.content[0].text}")
        return result.structured_content or {}

    async with Client(mcp) as client:
        tools = await client.list_tools()
        _step("1. The server's tools")
        for tool in tools.tools:
            _say(f"  {tool.name:<18} {tool.title}")

        _step("2. Search numbers for sale in Nigeria")
        offers = await call(
            client, "search_available", {"country": "NG", "type": "mobile", "limit": 3}
        )
        for offer in offers["offers"]:
            _say(
                f"  {offer['inventory_id']:<22} {offer['number']:<16} setup {offer['setup_cost_cents']}c, "
                f"{offer['monthly_cost_cents']}c/month"
            )
        choice = offers["offers"][0]["inventory_id"]

        _step("3. Preview the purchase (dry run: nothing is bought)")
        preview = await call(
            client,
            "purchase_number",
            {"inventory_id": choice, "endpoint_id": "ep_support_agent", "dry_run": True},
        )
        _show(preview, ("status", "plan"))

        _step("4. Ask to buy: without a person to ask, the server wants a confirmation token")
        quote = await call(
            client, "purchase_number", {"inventory_id": choice, "endpoint_id": "ep_support_agent"}
        )
        _show(quote, ("status", "executed", "message", "confirmation_token"))

        _step("5. Confirm with the token: the number is bought")
        bought = await call(
            client,
            "purchase_number",
            {
                "inventory_id": choice,
                "endpoint_id": "ep_support_agent",
                "confirmation_token": quote["confirmation_token"],
            },
        )
        _show(bought, ("status", "executed", "message"))
        number_id = bought["number"]["id"]

        _step("6. Route it elsewhere (preview, then for real)")
        plan = await call(
            client,
            "update_routing",
            {"number_id": number_id, "endpoint_id": "ep_webhook_handler", "dry_run": True},
        )
        _show(plan, ("status", "before", "after", "effects"))
        routed = await call(
            client, "update_routing", {"number_id": number_id, "endpoint_id": "ep_webhook_handler"}
        )
        _show(routed, ("status", "after"))

        _step("7. Read it back")
        detail = await call(client, "get_number", {"number_id": bought["number"]["number"]})
        _show(detail, ("id", "number", "status", "endpoint", "monthly_cost_cents"))

    async with Client(mcp, elicitation_callback=person) as client:
        _step("8. Release it: this client can ask the person, so the server asks")
        released = await call(client, "release_number", {"number_id": number_id})
        _show(released, ("status", "executed", "message", "plan"))

        _step("9. What is left")
        left = await call(client, "list_numbers", {})
        _say(f"  numbers owned: {left['total']}")
    _say()
    _say("Done. That was a throwaway sandbox: no real number was bought and no money moved.")


def run_demo() -> int:
    """Run the tour on a sandbox in a temporary directory, deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="kros-mcp-demo-") as data_dir:
        try:
            anyio.run(_tour, data_dir)
        except SystemExit as exc:
            print(exc, file=sys.stderr)
            return 1
    return 0
