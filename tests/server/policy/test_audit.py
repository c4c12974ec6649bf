"""The audit trail an operator reads: kros://audit (paged) and `kros-mcp audit`, per organisation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kros_mcp.server.resources import AUDIT_PAGE
from tests.support.harness import SANDBOX_KEY, START_BALANCE, Harness, elicitation

from .helpers import audit_of, other_harness, policy_of, run_cli

pytestmark = pytest.mark.anyio


async def _three_writes(harness: Harness) -> dict[str, Any]:
    """A purchase (confirmed by token), a routing update, a release (confirmed by the person)."""
    ask, _ = elicitation("accept")
    async with harness.connect() as s:
        offer = await s.offer("NG")
        args = {"inventory_id": offer["inventory_id"], "endpoint_id": "ep_support_agent"}
        first = await s.ok("purchase_number", args)
        token = first["confirmation_token"]
        bought = await s.ok("purchase_number", {**args, "confirmation_token": token})
        number = bought["number"]
        await s.ok("update_routing", {"number_id": number["id"], "allow_outbound": False})
        password = (await s.sandbox("GET", f"/v1/phone-numbers/{number['id']}"))["sip_credentials"][
            "password"
        ]
    async with harness.connect(elicitation_callback=ask) as s:
        assert (await s.ok("release_number", {"number_id": number["number"]}))[
            "status"
        ] == "released"
        audit = await audit_of(s)
    return {"offer": offer, "number": number, "token": token, "password": password, "audit": audit}


async def test_audit_lists_writes_most_recent_first(harness: Harness) -> None:
    done = await _three_writes(harness)
    offer, number, audit = done["offer"], done["number"], done["audit"]
    entries = audit["entries"]
    assert audit["next"] is None
    assert [e["tool"] for e in entries] == ["release_number", "update_routing", "purchase_number"]
    assert [e["status"] for e in entries] == ["succeeded"] * 3
    assert [e["confirmation"] for e in entries] == ["elicitation", "none", "token"]
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == 3
    for e in entries:
        assert e["at"].endswith("Z") and e["finished_at"] is not None and e["id"].startswith("au_")

    release, routing, purchase = entries
    assert purchase["arguments"]["inventory_id"] == offer["inventory_id"]
    assert purchase["arguments"]["endpoint_id"] == "ep_support_agent"
    assert purchase["quote"]["number"] == offer["number"]
    assert purchase["quote"]["first_charge_cents"] == offer["first_charge_cents"]
    assert (
        purchase["outcome"]["result"] == "purchased"
        and purchase["outcome"]["number_id"] == number["id"]
    )

    assert routing["arguments"]["number_id"] == number["id"] and routing["quote"] is None
    assert routing["arguments"]["before"]["allow_outbound"] is True
    assert routing["arguments"]["after"]["allow_outbound"] is False
    assert routing["outcome"] == {
        "result": "updated",
        "endpoint_id": "ep_support_agent",
        "allow_inbound": True,
        "allow_outbound": False,
    }

    assert release["arguments"]["number_id"] == number["id"]  # given as E.164, recorded as the id
    assert release["arguments"]["number"] == number["number"]
    assert release["outcome"]["result"] == "released"

    text = json.dumps(audit)
    for secret in (done["token"], done["password"], SANDBOX_KEY):
        assert secret not in text
    assert "confirmation_token" not in text


async def test_failed_purchases_are_recorded(harness: Harness) -> None:
    harness.configure(KROS_MCP_CONFIRMATION="none")
    async with harness.connect() as s:
        await s.set_org(balance_cents=100)
        offer = await s.offer("NG")
        await s.error(
            "purchase_number",
            {"inventory_id": offer["inventory_id"]},
            "INSUFFICIENT_BALANCE",
            "Nothing was bought",
        )
        (entry,) = (await audit_of(s))["entries"]
        assert entry["tool"] == "purchase_number" and entry["status"] == "failed"
        assert entry["confirmation"] == "none" and entry["quote"]["number"] == offer["number"]
        assert "not enough credits" in entry["outcome"]["error"].lower()
        assert (await policy_of(s))["spent_last_24h_cents"] == 0  # the reservation was released
        kyc_org = await s.sandbox("POST", "/_sandbox/orgs", {"kyc_status": "pending"})

    server = other_harness(
        harness, KROS_MCP_CONFIRMATION="none", KROS_MCP_SANDBOX_KEY=kyc_org["api_key"]
    )
    async with server.connect() as s:
        offer = await s.offer("KE")
        await s.error(
            "purchase_number", {"inventory_id": offer["inventory_id"]}, "KYC", "Nothing was bought"
        )
        (entry,) = (await audit_of(s))["entries"]
        assert (
            entry["status"] == "failed"
            and "KYC verification is still pending" in entry["outcome"]["error"]
        )
        assert await s.owned() == [] and await s.balance() == 10_000


async def test_policy_refusals_are_audited(harness: Harness) -> None:
    """A refusal does nothing upstream, and is on record with the rule's code and setting (a dry
    run, which only previews, is not)."""
    harness.configure(KROS_MCP_ALLOWED_COUNTRIES="GH", KROS_MCP_CONFIRMATION="none")
    async with harness.connect() as s:
        offer = await s.offer("NG")
        await s.error(
            "purchase_number", {"inventory_id": offer["inventory_id"]}, "KROS_MCP_ALLOWED_COUNTRIES"
        )
        await s.ok("purchase_number", {"inventory_id": offer["inventory_id"], "dry_run": True})
        (entry,) = (await audit_of(s))["entries"]
        assert entry["tool"] == "purchase_number" and entry["status"] == "refused"
        assert entry["error_code"] == "COUNTRY_NOT_ALLOWED"
        assert entry["outcome"]["rule"] == "KROS_MCP_ALLOWED_COUNTRIES"
        assert entry["arguments"]["inventory_id"] == offer["inventory_id"]
        assert entry["quote"]["number"] == offer["number"] and entry["finished_at"] is not None
        assert await s.owned() == []


async def test_audit_pages(harness: Harness) -> None:
    flips = AUDIT_PAGE + 3
    async with harness.connect() as s:
        number = await s.sandbox_buy("NG")
        for i in range(flips):
            await s.ok("update_routing", {"number_id": number["id"], "allow_inbound": i % 2 == 1})
        first = await audit_of(s)
        assert len(first["entries"]) == AUDIT_PAGE
        assert first["next"] == f"kros://audit/before/{first['entries'][-1]['seq']}"
        second = await audit_of(s, first["next"])
        assert second["next"] is None and len(second["entries"]) == flips - AUDIT_PAGE
        entries = first["entries"] + second["entries"]
        seqs = [e["seq"] for e in entries]
        assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == flips
        # Most recent first: the last flip set allow_inbound to (flips - 1) % 2 == 1.
        assert [e["outcome"]["allow_inbound"] for e in entries] == [
            (flips - 1 - i) % 2 == 1 for i in range(flips)
        ]
        assert all(e["tool"] == "update_routing" and e["status"] == "succeeded" for e in entries)

        with pytest.raises(Exception) as caught:
            await audit_of(s, "kros://audit/before/abc")
        assert "next" in str(caught.value)


async def test_audit_command(harness: Harness) -> None:
    done = await _three_writes(harness)
    entries = done["audit"]["entries"]

    table = run_cli(harness.data_dir, "audit")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["seq", "time", "(UTC)", "tool", "status", "confirm", "detail"]
    rows = [line.split() for line in lines[1:]]
    assert [(int(r[0]), r[3], r[4], r[5]) for r in rows] == [
        (e["seq"], e["tool"], e["status"], e["confirmation"]) for e in entries
    ]
    assert (
        done["number"]["id"] in lines[3] and done["offer"]["inventory_id"] in lines[3]
    )  # purchase row
    assert done["token"] not in table.stdout

    as_json = run_cli(harness.data_dir, "audit", "--json")
    assert as_json.returncode == 0, as_json.stderr
    records = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [(r["seq"], r["id"], r["tool"], r["status"], r["confirmation"]) for r in records] == [
        (e["seq"], e["id"], e["tool"], e["status"], e["confirmation"]) for e in entries
    ]
    for r, e in zip(records, entries, strict=True):
        assert (r["arguments"], r["quote"], r["outcome"]) == (
            e["arguments"],
            e["quote"],
            e["outcome"],
        )
    assert done["token"] not in as_json.stdout

    paged = run_cli(harness.data_dir, "audit", "--limit", "2")
    assert f"kros-mcp audit --before {entries[1]['seq']}" in paged.stdout
    older = run_cli(harness.data_dir, "audit", "--json", "--before", str(entries[1]["seq"]))
    assert [json.loads(line)["id"] for line in older.stdout.splitlines()] == [entries[2]["id"]]


async def test_organisations_see_only_their_own_audit_and_spend(harness: Harness) -> None:
    harness.configure(KROS_MCP_CONFIRMATION="none", KROS_MCP_DAILY_BUDGET_CENTS=1000)
    async with harness.connect() as s:
        offer = await s.offer("NG")
        await s.ok("purchase_number", {"inventory_id": offer["inventory_id"]})
        mine = (await audit_of(s))["entries"]
        assert len(mine) == 1
        assert (await policy_of(s))["spent_last_24h_cents"] == offer["first_charge_cents"]
        other = await s.sandbox("POST", "/_sandbox/orgs", {"balance_cents": 5_000})

    server = other_harness(
        harness,
        KROS_MCP_CONFIRMATION="none",
        KROS_MCP_DAILY_BUDGET_CENTS=1000,
        KROS_MCP_SANDBOX_KEY=other["api_key"],
    )
    async with server.connect() as b:
        assert b.deps.tenant != s.deps.tenant
        assert await audit_of(b) == {"entries": [], "next": None}
        policy = await policy_of(b)
        assert policy["spent_last_24h_cents"] == 0 and policy["budget_left_cents"] == 1000
        assert (await b.ok("list_numbers"))["total"] == 0
        offer_b = await b.offer("KE")
        await b.ok("purchase_number", {"inventory_id": offer_b["inventory_id"]})
        theirs = (await audit_of(b))["entries"]
        assert [e["arguments"]["inventory_id"] for e in theirs] == [offer_b["inventory_id"]]

    quiet = run_cli(
        harness.data_dir, "audit", "--json", env={"KROS_MCP_SANDBOX_KEY": other["api_key"]}
    )
    assert [json.loads(line)["id"] for line in quiet.stdout.splitlines()] == [theirs[0]["id"]]
    async with harness.connect() as s:
        assert (await audit_of(s))["entries"] == mine
        assert (await policy_of(s))["spent_last_24h_cents"] == offer["first_charge_cents"]
        assert await s.balance() == START_BALANCE - offer["first_charge_cents"]
    nobody = run_cli(harness.data_dir, "audit", env={"KROS_MCP_SANDBOX_KEY": "kros_test_nobody"})
    assert nobody.returncode == 0 and "no write attempts recorded" in nobody.stdout
