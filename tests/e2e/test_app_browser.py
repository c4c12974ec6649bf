"""The MCP App in a real browser: a person finds a number, buys it, routes it and releases it in the
view, through a host that implements the MCP Apps host side, against kros-mcp on the sandbox.

Screenshots (light and dark) are written to the test's temporary directory; with
UPDATE_SCREENSHOTS=1 they replace the README's images in docs/images/ (review them, then commit).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from .browser import PROOF_SHAPE, AppHost, app_host

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
README_IMAGES = ROOT / "docs" / "images"
UPDATE_SCREENSHOTS = os.environ.get("UPDATE_SCREENSHOTS") == "1"


def shot_dir(tmp_path: Path) -> Path:
    return README_IMAGES if UPDATE_SCREENSHOTS else tmp_path / "screenshots"


def cents(text: str) -> int:
    """'3.00 USD' as shown in the view, in cents."""
    amount, currency = text.replace("\u00a0", " ").rsplit(" ", 1)
    assert currency == "USD", text
    return round(float(amount.replace(",", "")) * 100)


async def wait_for_call(host: AppHost, name: str, count: int = 1) -> dict[str, Any]:
    """The view's latest call of `name`, once it has made `count` of them."""
    await host.page.wait_for_function(
        "([name, count]) => window.kros.log.viewCalls.filter(c => c.name === name).length >= count",
        arg=[name, count],
    )
    calls = [c for c in (await host.log())["viewCalls"] if c["name"] == name]
    return calls[-1]


@pytest.mark.parametrize("host_side", ["own", "ext-apps"])
async def test_search_buy_route_and_release_in_the_browser(tmp_path: Path, host_side: str) -> None:
    """With the test host's own host side, and (when its bundle is given) with the official
    AppBridge of @modelcontextprotocol/ext-apps, which checks the view against the reference."""
    shots = shot_dir(tmp_path) if host_side == "own" else tmp_path / "screenshots"
    async with app_host(tmp_path / "data", host=host_side) as host:
        view = host.view
        await host.open_view("search_available", {"country": "NG", "limit": 5})
        await wait_for_call(host, "app_context")
        await wait_for_call(host, "app_offers")
        assert await view.locator("#offers li.row").count() >= 1

        # Filter with the keyboard: voice numbers only, then Enter in the form.
        await view.locator("#f-capability").select_option("voice")
        await view.locator("#f-area").press("Enter")
        page = (await wait_for_call(host, "app_offers", 2))["result"]["structuredContent"]
        assert page["filtered"] is True
        assert all("voice" in o["capabilities"] for o in page["offers"])
        offer = page["offers"][0]

        # Choose it, route it, switch outbound calls off: each change is quoted again.
        await view.get_by_role("button", name=f"Choose {offer['number']}").click()
        await wait_for_call(host, "app_quote_purchase")
        await view.locator("#q-endpoint").select_option("__other")
        await view.locator("#q-endpoint-other").fill("ep_support_agent")
        await view.locator("#q-outbound").focus()
        await host.page.keyboard.press("Space")
        buy = view.locator("#q-buy")
        await buy.get_by_text("Buy for").wait_for()
        quoted = (await host.log())["viewCalls"][-1]
        assert quoted["name"] == "app_quote_purchase"
        assert quoted["arguments"] == {
            "inventory_id": offer["inventory_id"],
            "endpoint_id": "ep_support_agent",
            "allow_inbound": True,
            "allow_outbound": False,
        }
        quote = quoted["result"]["structuredContent"]
        shown_now = cents(await view.locator("#q-now").inner_text())
        shown_monthly = cents(await view.locator("#q-monthly").inner_text())
        assert (shown_now, shown_monthly) == (
            quote["first_charge_cents"],
            quote["monthly_cost_cents"],
        )
        await host.screenshot(shots / "app-buy-light.png")
        await host.set_theme("dark")
        await host.screenshot(shots / "app-buy-dark.png")
        await host.set_theme("light")

        # The click, from the keyboard.
        await buy.focus()
        await host.page.keyboard.press("Enter")
        await view.locator("#status").get_by_text("Bought").wait_for()
        [debit] = await host.purchases()
        assert (
            debit["amount_cents"] == -shown_now and debit["inventory_id"] == offer["inventory_id"]
        )
        [number] = await host.owned()
        assert number["endpoint_id"] == "ep_support_agent"
        assert number["allow_outbound"] is False and number["allow_inbound"] is True
        [entry] = await host.audit()
        assert (entry["tool"], entry["confirmation"], entry["status"]) == (
            "purchase_number",
            "app",
            "succeeded",
        )
        assert entry["quote"]["first_charge_cents"] == shown_now

        # Your numbers (arrow key on the tabs), then its routing.
        await view.locator("#tab-buy").focus()
        await host.page.keyboard.press("ArrowRight")
        row = view.locator(f"#owned li.row[data-number-id='{number['id']}']")
        await row.wait_for()
        await row.get_by_role("button", name=f"Routing of {number['number']}").click()
        await view.locator("#routing").wait_for()
        await view.locator("#r-endpoint").select_option("__other")
        await view.locator("#r-endpoint-other").fill("ep_webhook_handler")
        await view.locator("#r-inbound").uncheck()
        await view.locator("#r-save").click()
        await view.locator("#r-effects li").first.wait_for()
        [routed] = await host.owned()
        assert routed["endpoint_id"] == "ep_webhook_handler"
        assert (routed["allow_inbound"], routed["allow_outbound"]) == (False, False)
        await view.locator("#r-cancel").click()

        # Release: a preview of what stops, then the click.
        await row.get_by_role("button", name=f"Release {number['number']}").click()
        release = view.locator("#x-release")
        await view.locator("#x-effects li").first.wait_for()
        await host.page.wait_for_function("() => true")
        assert await release.is_enabled()
        await host.screenshot(shots / "app-numbers-light.png")
        await host.set_theme("dark")
        await host.screenshot(shots / "app-numbers-dark.png")
        await release.click()
        await view.locator("#status").get_by_text("Released").wait_for()
        assert await host.owned() == []
        assert [e["tool"] for e in await host.audit()] == [
            "release_number",
            "update_routing",
            "purchase_number",
        ]
        assert (await host.audit())[0]["confirmation"] == "app"

        # What the model was told: what happened, never a proof of the click.
        log = await host.log()
        proofs = await host.proofs_seen_by_view()
        assert len(proofs) >= 2
        told = json.dumps(log["modelContext"]) + json.dumps(log["messages"])
        assert number["number"] in told and "released" in told
        for text in [*host.model_saw, told]:
            assert not PROOF_SHAPE.search(text), "a proof reached what the model reads"
        assert log["initialized"] is True
        assert log["appInfo"]["name"] == "kros-mcp numbers"
        if host_side == "ext-apps":
            assert await host.page.evaluate(
                "() => window.kros.bridge instanceof window.ExtApps.AppBridge"
            )
        # Nothing was loaded from anywhere, and the view's own CSP was never violated.
        assert host.blocked == []
        assert not [line for line in host.console if "Content Security Policy" in line]


async def test_a_new_price_is_a_new_quote_in_the_view(tmp_path: Path) -> None:
    shots = shot_dir(tmp_path)
    async with app_host(tmp_path / "data") as host:
        view = host.view
        await host.open_view("search_available", {"country": "KE", "limit": 4})
        offers = (await wait_for_call(host, "app_offers"))["result"]["structuredContent"]["offers"]
        offer = offers[0]
        await view.get_by_role("button", name=f"Choose {offer['number']}").click()
        buy = view.locator("#q-buy")
        await buy.get_by_text("Buy for").wait_for()
        was = cents(await view.locator("#q-now").inner_text())
        await host.sandbox(
            "PATCH",
            f"/_sandbox/inventory/{offer['inventory_id']}",
            {"monthly_cost_cents": offer["monthly_cost_cents"] + 250},
        )
        await buy.click()
        await view.locator("#alert").get_by_text("NOT BOUGHT").wait_for()
        assert await host.purchases() == []
        now = cents(await view.locator("#q-now").inner_text())
        assert now == was + 250
        assert "price changed" in (await view.locator("#q-changed").inner_text())
        await buy.get_by_text("Buy for").wait_for()
        await buy.click()
        await view.locator("#status").get_by_text("Bought").wait_for()
        assert [p["amount_cents"] for p in await host.purchases()] == [-now]

        # The app-only tool called without the view's proof changes nothing.
        proofs = await host.proofs_seen_by_view()
        [quote] = [
            c["result"]["structuredContent"]
            for c in (await host.log())["viewCalls"]
            if c["name"] == "app_quote_purchase"
        ][-1:]
        second = offers[1]
        attempts = [
            {},
            {"proof": "kc1.forged.proof"},
            {"proof": proofs[-1]},  # the one the view already used
            {"proof": proofs[-1], "inventory_id": second["inventory_id"]},
        ]
        for attempt in attempts:
            arguments = {
                "inventory_id": quote["inventory_id"],
                "number": quote["number"],
                "setup_cost_cents": quote["setup_cost_cents"],
                "monthly_cost_cents": quote["monthly_cost_cents"],
                **attempt,
            }
            result = await host.model_calls("app_buy", arguments)
            assert result.is_error or result.structured_content["message"].startswith(
                "ALREADY DONE"
            ), result
        assert len(await host.purchases()) == 1 and len(await host.owned()) == 1

        # Narrow: everything fits, nothing scrolls sideways.
        await host.page.evaluate("() => window.kros.setWidth(360)")
        await view.locator("#tab-buy").click()
        await view.get_by_role("button", name=f"Choose {second['number']}").click()
        await buy.get_by_text("Buy for").wait_for()
        overflow = await view.locator("html").evaluate(
            "root => root.scrollWidth - root.clientWidth"
        )
        assert overflow <= 0
        await host.screenshot(shots / "app-buy-narrow-light.png")


async def test_the_policy_is_shown_before_any_click(tmp_path: Path) -> None:
    async with app_host(tmp_path / "data", KROS_MCP_DAILY_BUDGET_CENTS=100) as host:
        view = host.view
        await host.open_view("search_available", {"country": "GH", "limit": 3})
        await wait_for_call(host, "app_offers")
        rows = view.locator("#offers li.row")
        await rows.first.locator(".why").wait_for()
        assert await rows.count() >= 1
        for index in range(await rows.count()):
            row = rows.nth(index)
            assert (await row.locator(".why").inner_text()).startswith("Over your daily budget")
            assert await row.get_by_role("button", name="Choose").is_disabled()
        budget = await view.locator("#budget").inner_text()
        assert "1.00 USD left of 1.00 USD" in budget
        assert await host.purchases() == []


async def test_list_numbers_opens_the_view_on_your_numbers(tmp_path: Path) -> None:
    async with app_host(tmp_path / "data") as host:
        found = await host.sandbox("GET", "/v1/phone-numbers/available?country=RW&limit=1")
        item = found["available_numbers"][0]
        bought = await host.sandbox(
            "POST", "/v1/phone-numbers", {"inventory_id": item["inventory_id"]}
        )
        await host.open_view("list_numbers", {})
        view = host.view
        row = view.locator(f"#owned li.row[data-number-id='{bought['id']}']")
        await row.wait_for()
        assert await view.locator("#tab-owned").get_attribute("aria-selected") == "true"
        assert bought["number"] in await row.inner_text()
        assert "not routed" in await row.inner_text()
