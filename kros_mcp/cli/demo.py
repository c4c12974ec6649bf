"""`kros-mcp demo`: a scripted tour through a real MCP client session on a throwaway sandbox."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from mcp import Client
from mcp.types import ElicitResult, TextContent

if TYPE_CHECKING:
    from ..config import Settings

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


class DemoStopped(Exception):
    """A step failed; the message says which and why."""


async def _person(context: Any, params: Any) -> ElicitResult:
    _say(f"  [the server asks the person] {params.message}")
    _say("  [the person answers] yes")
    return ElicitResult(action="accept", content={"confirm": True})


async def _call(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    shown = ", ".join(
        f"{k}={v!r}" if k != "confirmation_token" else f"{k}='kc1…'" for k, v in args.items()
    )
    _say(f"> {tool}({shown})")
    result = await client.call_tool(tool, args)
    if result.is_error:
        text = " ".join(b.text for b in result.content if isinstance(b, TextContent))
        raise DemoStopped(f"  error: {text}")
    return result.structured_content or {}


async def _search_and_buy(client: Client) -> dict[str, Any]:
    """Steps 1 to 5: the tools, a search, a dry run, a quote and the purchase; the number bought."""
    tools = await client.list_tools()
    _step("1. The server's tools")
    for tool in tools.tools:
        _say(f"  {tool.name:<18} {tool.title}")

    _step("2. Search numbers for sale in Nigeria")
    offers = await _call(
        client, "search_available", {"country": "NG", "type": "mobile", "limit": 3}
    )
    for offer in offers["offers"]:
        _say(
            f"  {offer['inventory_id']:<22} {offer['number']:<16} setup {offer['setup_cost_cents']}c, "
            f"{offer['monthly_cost_cents']}c/month"
        )
    purchase = {
        "inventory_id": offers["offers"][0]["inventory_id"],
        "endpoint_id": "ep_support_agent",
    }

    _step("3. Preview the purchase (dry run: nothing is bought)")
    _show(await _call(client, "purchase_number", {**purchase, "dry_run": True}), ("status", "plan"))

    _step("4. Ask to buy: without a person to ask, the server wants a confirmation token")
    quote = await _call(client, "purchase_number", purchase)
    _show(quote, ("status", "executed", "message", "confirmation_token"))

    _step("5. Confirm with the token: the number is bought")
    token = {"confirmation_token": quote["confirmation_token"]}
    bought = await _call(client, "purchase_number", {**purchase, **token})
    _show(bought, ("status", "executed", "message"))
    number: dict[str, Any] = bought["number"]
    return number


async def _route_and_read(client: Client, number: dict[str, Any]) -> None:
    """Steps 6 and 7: route the number elsewhere (preview, then for real) and read it back."""
    _step("6. Route it elsewhere (preview, then for real)")
    routing = {"number_id": number["id"], "endpoint_id": "ep_webhook_handler"}
    plan = await _call(client, "update_routing", {**routing, "dry_run": True})
    _show(plan, ("status", "before", "after", "effects"))
    _show(await _call(client, "update_routing", routing), ("status", "after"))

    _step("7. Read it back")
    detail = await _call(client, "get_number", {"number_id": number["number"]})
    _show(detail, ("id", "number", "status", "endpoint", "monthly_cost_cents"))


async def _release(client: Client, number: dict[str, Any]) -> None:
    """Steps 8 and 9: release the number (the server asks the person) and list what is left."""
    _step("8. Release it: this client can ask the person, so the server asks")
    released = await _call(client, "release_number", {"number_id": number["id"]})
    _show(released, ("status", "executed", "message", "plan"))

    _step("9. What is left")
    left = await _call(client, "list_numbers", {})
    _say(f"  numbers owned: {left['total']}")


def demo_settings(data_dir: Path) -> Settings:
    """Every setting at its default, whatever the environment holds: a KROSAI_API_KEY or a policy
    exported in the shell must not turn the tour into real purchases, or make it fail."""
    from ..config import Settings

    defaults = {
        name: field.get_default(call_default_factory=True)
        for name, field in Settings.model_fields.items()
    }
    return Settings(**{**defaults, "data_dir": data_dir})


async def _tour(data_dir: Path) -> None:
    from .wiring import build_server

    mcp = build_server(demo_settings(data_dir))
    async with Client(mcp) as client:
        number = await _search_and_buy(client)
        await _route_and_read(client, number)
    async with Client(mcp, elicitation_callback=_person) as client:
        await _release(client, number)
    _say()
    _say("Done. That was a throwaway sandbox: no real number was bought and no money moved.")


def run_demo() -> int:
    """Run the tour on a sandbox in a temporary directory, deleted afterwards."""
    try:
        scratch = tempfile.TemporaryDirectory(prefix="kros-mcp-demo-")
    except OSError as exc:
        print(
            f"kros-mcp demo: cannot make a throwaway data directory in {tempfile.gettempdir()} "
            f"({exc.strerror or exc}): set TMPDIR to a writable directory",
            file=sys.stderr,
        )
        return 1
    with scratch as data_dir:
        try:
            anyio.run(_tour, Path(data_dir))
        except DemoStopped as exc:
            print(exc, file=sys.stderr)
            return 1
        except BaseException as exc:
            if not _reader_left(exc):
                raise
            # `kros-mcp demo | head`: the reader has gone, so stop quietly.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
    return 0


def _reader_left(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return all(_reader_left(e) for e in exc.exceptions)
    return isinstance(exc, BrokenPipeError)
