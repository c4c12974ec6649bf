"""The compact text block: every field of the structured result, read back by a parser that knows
only the documented format (tests/support/compact_text.py), for each tool and for hostile values;
and the operator's switch back to JSON text."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from kros_mcp.server.models import (
    Endpoint,
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
from kros_mcp.server.render import render
from kros_mcp.server.results import tool_result
from tests.support.compact_text import parse_text
from tests.support.harness import Harness, elicitation
from tests.support.results import text_of

pytestmark = pytest.mark.anyio


def _round_trip(model: BaseModel) -> None:
    structured = tool_result(model).structured_content
    assert structured is not None
    text = render(structured)
    parsed = parse_text(type(model), text)
    again = type(model).model_validate(parsed)
    assert again.model_dump(mode="json", exclude_none=True, exclude_unset=True) == structured, text


# -- the format, value by value -------------------------------------------------------------------

TRICKY = [
    "plain",
    "two words",
    "a,b",
    'say "hi"',
    "line\nbreak",
    " padded ",
    "",
    "-",
    "[bracket",
    "{brace",
    "back\\slash",
    "x=y",
    "key: value",
    "- dash first",
    "ünïcode ☎",
    "tab\there",
]


@pytest.mark.parametrize("value", TRICKY)
def test_a_tricky_string_survives_a_row_a_pair_and_a_line(value: str) -> None:
    summaries = [
        NumberSummary(id="pn_1", number="+2348030000001", status=value, endpoint_id=value),
        NumberSummary(id="pn_2", number="+2348030000002", status="active", type=value),
    ]
    _round_trip(NumberList(numbers=summaries, total=2))
    same = [NumberSummary(id=f"pn_{i}", number=f"+23480300000{i}", status=value) for i in range(3)]
    _round_trip(NumberList(numbers=same))  # `value` in the `same for all` line
    _round_trip(
        NumberDetail(
            id="pn_1",
            number="+2348030000001",
            status=value,
            endpoint=Endpoint(id="ep_1", name=value, provider=value),
            sip_uri=value,
        )
    )
    _round_trip(_release(message=value, plan=[value, "second"]))


def _offer(i: int, capabilities: list[str], area_code: str | None = "803") -> Offer:
    return Offer(
        inventory_id=f"inv_{i}",
        number=f"+23480300000{i:02d}",
        type="mobile",
        area_code=area_code,
        setup_cost_cents=100,
        monthly_cost_cents=200 + i,
        first_charge_cents=300 + i,
        capabilities=capabilities,
    )


@pytest.mark.parametrize(
    "capabilities",
    [[], ["voice"], ["sms", "voice"], ["two words"], ["a+b"], ["-"], ["x", ""]],
)
def test_lists_inside_rows_and_shared_facts(capabilities: list[str]) -> None:
    _round_trip(OfferList(offers=[_offer(1, capabilities), _offer(2, ["voice"])], total=9))
    _round_trip(OfferList(offers=[_offer(1, capabilities), _offer(2, capabilities)]))


def test_a_list_result_is_a_header_shared_facts_and_one_csv_line_per_item() -> None:
    numbers = [
        NumberSummary(
            id=f"pn_{i}",
            number=f"+23480300000{i}",
            country="NG",
            status="active",
            endpoint_id="ep_a" if i % 2 else None,
            monthly_cost_cents=300,
        )
        for i in range(1, 4)
    ]
    text = render(
        tool_result(NumberList(numbers=numbers, total=7, next_offset=3)).structured_content
    )
    assert text.split("\n") == [
        "3 numbers, total=7, next_offset=3 (amounts in cents)",
        "same for all: country=NG status=active monthly_cost_cents=300",
        "id,number,endpoint_id",
        "pn_1,+234803000001,ep_a",
        "pn_2,+234803000002,-",
        "pn_3,+234803000003,ep_a",
    ]


def test_one_item_and_no_items() -> None:
    _round_trip(NumberList(numbers=[NumberSummary(id="pn_1", number="+1", status="active")]))
    _round_trip(NumberList(numbers=[], total=0))
    _round_trip(OfferList(offers=[]))


def _release(**fields: Any) -> ReleaseResult:
    values: dict[str, Any] = {
        "status": "dry_run",
        "executed": False,
        "message": "Preview only.",
        "number_id": "pn_1",
        "number": "+2348030000001",
        **fields,
    }
    return ReleaseResult(**values)


def test_single_objects_nested_objects_and_sentences() -> None:
    quote = Quote(
        inventory_id="inv_1",
        number="+2348030000001",
        country="NG",
        setup_cost_cents=100,
        monthly_cost_cents=200,
        first_charge_cents=300,
    )
    detail = NumberDetail(
        id="pn_1",
        number="+2348030000001",
        status="active",
        endpoint=Endpoint(id="ep_1", name="Support, first line"),
        allow_inbound=True,
        allow_outbound=False,
    )
    for result in (
        PurchaseResult(status="purchased", executed=True, message="Bought.", quote=quote),
        PurchaseResult(
            status="purchased", executed=True, message="m", quote=quote, plan=[], number=detail
        ),
        RoutingResult(
            status="updated",
            executed=True,
            message="Routing of +234 updated.",
            number_id="pn_1",
            number="+234",
            before=Routing(endpoint_id="ep_1", allow_inbound=True),
            after=Routing(),
            effects=["Calls go to ep_2.", "Outbound calls blocked."],
        ),
        _release(plan=[], confirmation_token="kc1.abc.def", token_expires_at="2026-01-01T00:00Z"),
    ):
        _round_trip(result)


texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
words = st.lists(texts, max_size=3)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(texts, st.one_of(st.none(), texts), st.one_of(st.none(), st.integers()), words),
        max_size=4,
    ),
    total=st.one_of(st.none(), st.integers(min_value=0)),
)
def test_any_values_read_back_the_same(
    rows: list[tuple[str, str | None, int | None, list[str]]], total: int | None
) -> None:
    numbers = [
        NumberSummary(id=a, number=a, status=a, type=b, monthly_cost_cents=c) for a, b, c, _ in rows
    ]
    _round_trip(NumberList(numbers=numbers, total=total))
    offers = [
        Offer(
            inventory_id=a,
            number=b or "",
            area_code=b,
            setup_cost_cents=c or 0,
            monthly_cost_cents=0,
            first_charge_cents=c or 0,
            capabilities=w,
        )
        for a, b, c, w in rows
    ]
    _round_trip(OfferList(offers=offers, total=total))
    for a, b, _, w in rows:
        _round_trip(_release(message=a, plan=w, token_expires_at=b))


# -- through the server, for each tool -----------------------------------------------------------


async def test_every_tool_s_text_carries_its_structured_result(harness: Harness) -> None:
    """Session.ok() reads the text back (compact_text.parse_result) and compares it with the
    structured content; here each tool and each kind of outcome passes through it once."""
    ask, _ = elicitation("decline")
    async with harness.connect(elicitation_callback=ask) as s:
        offer = await s.offer("NG")
        await s.ok("search_available", {"country": "KE", "limit": 20})
        preview = await s.ok(
            "purchase_number", {"inventory_id": offer["inventory_id"], "dry_run": True}
        )
        assert len(preview["plan"]) > 3
        declined = await s.ok("purchase_number", {"inventory_id": offer["inventory_id"]})
        assert declined["status"] == "declined"
    async with harness.connect() as s:
        offer = await s.offer("GH")
        bought = await s.buy_with_token(offer["inventory_id"], endpoint_id="ep_support_agent")
        assert bought["status"] == "purchased" and bought["number"]["endpoint"]["id"]
        number_id = bought["number"]["id"]
        listed = await s.ok("list_numbers", {"limit": 20})
        assert listed["numbers"][0]["id"] == number_id
        await s.ok("get_number", {"number_id": number_id})
        await s.ok("update_routing", {"number_id": number_id, "endpoint_id": None, "dry_run": True})
        routed = await s.ok("update_routing", {"number_id": number_id, "allow_outbound": False})
        assert routed["after"]["allow_outbound"] is False
        await s.ok("release_number", {"number_id": number_id, "dry_run": True})
        asked = await s.ok("release_number", {"number_id": number_id})
        released = await s.ok(
            "release_number",
            {"number_id": number_id, "confirmation_token": asked["confirmation_token"]},
        )
        assert released["status"] == "released"


async def test_list_text_is_far_smaller_than_json(harness: Harness) -> None:
    async with harness.connect() as s:
        result = await s.call("search_available", {"country": "NG", "limit": 20})
        text = text_of(result)
        as_json = json.dumps(result.structured_content, separators=(",", ":"))
        assert len(result.structured_content["offers"]) == 20
        assert len(text) < 0.5 * len(as_json), text
        assert text.count("\n") == 22  # header, shared facts, columns, 20 offers


async def test_errors_do_not_repeat_the_tool_name(harness: Harness) -> None:
    async with harness.connect() as s:
        text = await s.error("get_number", {"number_id": "pn_nope"}, "NOT_FOUND")
        assert text.startswith("NOT_FOUND:"), text


async def test_the_operator_can_switch_back_to_json_text(harness: Harness) -> None:
    harness.configure(KROS_MCP_RESULT_TEXT="json")
    async with harness.connect() as s:
        for name, arguments in (
            ("list_numbers", {}),
            ("search_available", {"country": "NG", "limit": 3}),
        ):
            result = await s.call(name, arguments)
            assert json.loads(text_of(result)) == result.structured_content
        offer = result.structured_content["offers"][0]
        preview = await s.call(
            "purchase_number", {"inventory_id": offer["inventory_id"], "dry_run": True}
        )
        assert json.loads(text_of(preview)) == preview.structured_content


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from kros_mcp.config import Settings

    monkeypatch.setenv("KROS_MCP_RESULT_TEXT", "json")
    assert Settings().result_text == "json"
    monkeypatch.delenv("KROS_MCP_RESULT_TEXT")
    assert Settings().result_text == "compact"


@settings(max_examples=300, deadline=None)
@given(st.one_of(texts, st.sampled_from(TRICKY), st.text(max_size=4)))
def test_the_fast_cell_rule_is_the_general_one(value: str) -> None:
    from kros_mcp.server import render as module

    general = module._text(value, module._BREAKS_OR_CSV, "[{")
    assert module._cell(value) == general
