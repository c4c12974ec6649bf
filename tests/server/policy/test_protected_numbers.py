"""KROS_MCP_PROTECTED_NUMBERS: protected numbers are neither released nor re-routed; others still are."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.harness import Harness, elicitation

from .helpers import line_for, other_harness, policy_of

pytestmark = pytest.mark.anyio

RULE = "KROS_MCP_PROTECTED_NUMBERS"


def spaced(e164: str) -> str:
    """'+2342011234567' as an operator might paste it: '+234 201 123 4567'."""
    digits = e164[1:]
    return f"+{digits[:3]} {digits[3:6]} {digits[6:9]} {digits[9:]}"


async def _numbers(harness: Harness) -> list[dict[str, Any]]:
    """Three numbers bought on the sandbox before the protected server starts."""
    async with harness.connect() as s:
        return [
            await s.sandbox_buy(country, endpoint_id="ep_support_agent")
            for country in ("NG", "KE", "GH")
        ]


async def _assert_untouched(s, number: dict[str, Any]) -> None:
    now = await s.sandbox("GET", f"/v1/phone-numbers/{number['id']}")
    assert now["status"] == "active"
    assert now["endpoint_id"] == "ep_support_agent"
    assert now["allow_inbound"] is True and now["allow_outbound"] is True


@pytest.mark.parametrize("how", ["id", "e164"])
async def test_protected_number_is_neither_released_nor_rerouted(
    harness: Harness, how: str
) -> None:
    protected, free, third = await _numbers(harness)
    setting = protected["id"] if how == "id" else spaced(protected["number"])
    server = other_harness(harness, KROS_MCP_PROTECTED_NUMBERS=f" {setting} ,pn_not_ours")
    async with server.connect() as s:
        # kros://policy shows the setting as matched: ids as given, numbers without spaces.
        shown = protected["id"] if how == "id" else protected["number"]
        assert (await policy_of(s))["protected_numbers"] == sorted([shown, "pn_not_ours"])

        # Dry runs say so, for both tools, and for either way of naming the number.
        for ref in (protected["id"], protected["number"], spaced(protected["number"])):
            release = await s.ok("release_number", {"number_id": ref, "dry_run": True})
            assert release["status"] == "dry_run" and release["number_id"] == protected["id"]
            line = line_for(release["plan"], RULE)
            assert "REFUSED" in line and "is protected" in line
            assert "would refuse" in release["message"]
        routing = await s.ok(
            "update_routing", {"number_id": protected["id"], "endpoint_id": None, "dry_run": True}
        )
        line = line_for(routing["effects"], RULE)
        assert (
            "REFUSED" in line
            and "cannot be re-routed" in line
            and "would refuse" in routing["message"]
        )

        # For real: refused, naming the rule and what an operator changes.
        for ref in (protected["id"], protected["number"]):
            await s.error(
                "release_number",
                {"number_id": ref},
                "Refused by the operator's policy",
                "NUMBER_PROTECTED",
                RULE,
                "remove it",
                "Nothing was released",
            )
        await s.error(
            "update_routing",
            {"number_id": protected["id"], "endpoint_id": None},
            "NUMBER_PROTECTED",
            RULE,
            "Nothing was changed",
        )
        await s.error(
            "update_routing", {"number_id": protected["number"], "allow_inbound": False}, RULE
        )
        await _assert_untouched(s, protected)

        # An unprotected number is still routed and released as usual.
        preview = await s.ok("release_number", {"number_id": free["id"], "dry_run": True})
        assert line_for(preview["plan"], RULE).startswith(f"Policy {RULE}: ok")
        assert "would refuse" not in preview["message"]
        routed = await s.ok("update_routing", {"number_id": free["id"], "allow_outbound": False})
        assert routed["status"] == "updated" and routed["after"]["allow_outbound"] is False
        first = await s.ok("release_number", {"number_id": free["id"]})
        assert first["status"] == "confirmation_required"
        released = await s.ok(
            "release_number",
            {"number_id": free["id"], "confirmation_token": first["confirmation_token"]},
        )
        assert released["status"] == "released"
        owned = {n["id"] for n in await s.owned()}
        assert owned == {protected["id"], third["id"]}


async def test_protected_number_release_is_refused_without_asking_the_person(
    harness: Harness,
) -> None:
    protected, free, _ = await _numbers(harness)
    ask, seen = elicitation("accept")
    server = other_harness(harness, KROS_MCP_PROTECTED_NUMBERS=protected["id"])
    async with server.connect(elicitation_callback=ask) as s:
        await s.error(
            "release_number",
            {"number_id": protected["id"]},
            "NUMBER_PROTECTED",
            "Nothing was released",
        )
        assert seen == [], "the person must not be asked to approve what the policy refuses"
        await _assert_untouched(s, protected)
        # The person is asked as usual for a number that is not protected.
        assert (await s.ok("release_number", {"number_id": free["id"]}))["status"] == "released"
        assert len(seen) == 1 and free["number"] in seen[0]


async def test_token_issued_before_protection_is_refused_after(harness: Harness) -> None:
    """An operator protects a number while a release token for it is outstanding."""
    async with harness.connect() as s:
        number = await s.sandbox_buy("NG")
        first = await s.ok("release_number", {"number_id": number["id"]})
        token = first["confirmation_token"]
    server = other_harness(harness, KROS_MCP_PROTECTED_NUMBERS=spaced(number["number"]))
    async with server.connect() as s:
        await s.error(
            "release_number",
            {"number_id": number["id"], "confirmation_token": token},
            "NUMBER_PROTECTED",
            "Nothing was released",
        )
        assert [n["id"] for n in await s.owned()] == [number["id"]]
