"""The sandbox speaks the Buy Numbers document where it is explicit, and reaches every number state.

The document's available-number shape (`inventory_id`), its page default for owned numbers (50),
its `KYC_REQUIRED`; and the sandbox controls that make a purchase stay `pending` for a while, and
that suspend a number or start porting it, with what KrosAI then allows.
"""

from __future__ import annotations

import ast
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from kros_mcp.sandbox import SANDBOX_API_KEY, create_app

AUTH = {"x-api-key": SANDBOX_API_KEY}
SANDBOX_DIR = Path(__file__).resolve().parents[2] / "kros_mcp" / "sandbox"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(tmp_path / "sandbox.db", inventory_per_block=30, seed=0)
    with TestClient(app) as http:
        http.put("/_sandbox/rate-limits", json={"default": 10_000, "purchase": 10_000})
        yield http


def _buy(client: TestClient, key: str = SANDBOX_API_KEY, **body: Any) -> dict[str, Any]:
    headers = {"x-api-key": key}
    offers = client.get("/v1/phone-numbers/available?country=NG&limit=1", headers=headers).json()
    response = client.post(
        "/v1/phone-numbers",
        json={"inventory_id": offers["available_numbers"][0]["inventory_id"], **body},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


def _set_state(client: TestClient, number_id: str, **body: Any) -> Any:
    return client.patch(f"/_sandbox/phone-numbers/{number_id}", json=body, headers=AUTH)


def test_available_numbers_carry_inventory_id_as_the_document_shows(client: TestClient) -> None:
    body = client.get("/v1/phone-numbers/available?country=NG&limit=3", headers=AUTH).json()
    for item in body["available_numbers"]:
        assert item["inventory_id"].startswith("inv_ng_")
        assert "id" not in item
        assert item["country"] == "NG" and item["capabilities"]["voice"] is True
    action = client.get(
        "/v1/phone-numbers?action=available&country=NG&limit=3", headers=AUTH
    ).json()
    assert action["available_numbers"] == body["available_numbers"]


def test_owned_numbers_default_to_pages_of_fifty(client: TestClient) -> None:
    client.patch("/_sandbox/org", json={"balance_cents": 1_000_000}, headers=AUTH)
    for _ in range(55):
        _buy(client)
    page = client.get("/v1/phone-numbers", headers=AUTH).json()
    assert (page["limit"], len(page["phone_numbers"]), page["total"]) == (50, 50, 55)
    search = client.get("/v1/phone-numbers/available?country=NG", headers=AUTH).json()
    assert search["limit"] == 20  # the document's default for available numbers


def test_an_organisation_that_has_not_started_kyc_gets_kyc_required(client: TestClient) -> None:
    org = client.post("/_sandbox/orgs", json={"kyc_status": "not_submitted"}).json()
    offer = client.get("/v1/phone-numbers/available?country=KE&limit=1", headers=AUTH).json()
    response = client.post(
        "/v1/phone-numbers",
        json={"inventory_id": offer["available_numbers"][0]["inventory_id"]},
        headers={"x-api-key": org["api_key"]},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "KYC_REQUIRED"


def test_a_slow_provisioning_organisation_buys_pending_numbers_that_turn_active(
    client: TestClient,
) -> None:
    org = client.post("/_sandbox/orgs", json={"provisioning_seconds": 0.4}).json()
    key = org["api_key"]
    bought = _buy(client, key)
    assert bought["status"] == "pending"
    got = client.get(f"/v1/phone-numbers/{bought['id']}", headers={"x-api-key": key}).json()
    assert got["status"] == "pending"
    time.sleep(0.5)
    got = client.get(f"/v1/phone-numbers/{bought['id']}", headers={"x-api-key": key}).json()
    assert got["status"] == "active"
    assert got["updated_at"] > bought["updated_at"]
    listed = client.get("/v1/phone-numbers?status=active", headers={"x-api-key": key}).json()
    assert [n["id"] for n in listed["phone_numbers"]] == [bought["id"]]


def test_provisioning_time_is_an_organisation_setting(client: TestClient) -> None:
    changed = client.patch("/_sandbox/org", json={"provisioning_seconds": 30}, headers=AUTH)
    assert changed.json()["provisioning_seconds"] == 30
    assert _buy(client)["status"] == "pending"
    client.patch("/_sandbox/org", json={"provisioning_seconds": 0}, headers=AUTH)
    assert _buy(client)["status"] == "active"


@pytest.mark.parametrize(
    ("status", "patch", "release"),
    [
        ("suspended", (409, "NUMBER_SUSPENDED"), (200, None)),
        ("porting", (409, "NUMBER_PORTING"), (409, "NUMBER_PORTING")),
        ("pending", (200, None), (409, "NUMBER_PENDING")),
        ("active", (200, None), (200, None)),
    ],
)
def test_what_each_number_state_allows(
    client: TestClient,
    status: str,
    patch: tuple[int, str | None],
    release: tuple[int, str | None],
) -> None:
    number = _buy(client)
    controlled = _set_state(client, number["id"], status=status)
    assert controlled.status_code == 200 and controlled.json()["status"] == status
    routed = client.patch(
        f"/v1/phone-numbers/{number['id']}", json={"endpoint_id": "ep_support_agent"}, headers=AUTH
    )
    assert routed.status_code == patch[0], routed.text
    assert routed.json().get("code") == patch[1]
    released = client.delete(f"/v1/phone-numbers/{number['id']}", headers=AUTH)
    assert released.status_code == release[0], released.text
    assert released.json().get("code") == release[1]


def test_a_number_set_pending_for_a_while_becomes_active(client: TestClient) -> None:
    number = _buy(client)
    _set_state(client, number["id"], status="pending", pending_seconds=0.3)
    time.sleep(0.4)
    assert client.get(f"/v1/phone-numbers/{number['id']}", headers=AUTH).json()["status"] == (
        "active"
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "sold"}, "status"),
        ({"status": "active", "pending_seconds": 5}, "pending_seconds"),
        ({"status": "pending", "colour": "red"}, "colour"),
    ],
)
def test_number_state_control_rejects_bad_requests(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    number = _buy(client)
    response = _set_state(client, number["id"], **body)
    assert response.status_code == 400
    assert field in response.json()["error"]


def test_number_state_control_only_reaches_the_callers_numbers(client: TestClient) -> None:
    number = _buy(client)
    other = client.post("/_sandbox/orgs", json={}).json()["api_key"]
    response = client.patch(
        f"/_sandbox/phone-numbers/{number['id']}",
        json={"status": "suspended"},
        headers={"x-api-key": other},
    )
    assert response.status_code == 404


def test_endpoints_filter_by_type_and_status_and_can_be_deactivated(client: TestClient) -> None:
    off = client.patch(
        "/v1/endpoints/ep_webhook_handler", json={"status": "inactive"}, headers=AUTH
    )
    assert off.status_code == 200 and off.json()["status"] == "inactive"
    active = client.get("/v1/endpoints?status=active", headers=AUTH).json()
    assert [e["id"] for e in active["endpoints"]] == ["ep_support_agent"]
    webhooks = client.get("/v1/endpoints?type=webhook", headers=AUTH).json()
    assert [e["id"] for e in webhooks["endpoints"]] == ["ep_webhook_handler"]


def test_a_sandbox_file_from_before_gets_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    create_app(path, inventory_per_block=2).state.sandbox.db.close()
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE orgs DROP COLUMN provisioning_seconds")
    conn.execute("ALTER TABLE phone_numbers DROP COLUMN active_at")
    conn.commit()
    conn.close()
    with TestClient(create_app(path, inventory_per_block=2)) as http:
        assert _buy(http)["status"] == "active"
        assert http.get("/_sandbox/org", headers=AUTH).json()["provisioning_seconds"] == 0


def test_the_sandbox_imports_nothing_of_the_server() -> None:
    """The sandbox is its own program: it reaches no other part of kros_mcp."""
    offenders = []
    for module in sorted(SANDBOX_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom):
                name = node.module or ""
                if node.level > 1 or (node.level == 0 and name.startswith("kros_mcp")):
                    offenders.append(f"{module.name}: from {'.' * node.level}{name}")
            elif isinstance(node, ast.Import):
                offenders += [
                    f"{module.name}: import {a.name}"
                    for a in node.names
                    if a.name.startswith("kros_mcp")
                ]
    assert offenders == []


def test_control_routes_are_apart_from_the_krosai_routes(client: TestClient) -> None:
    assert client.get("/v1/org", headers=AUTH).status_code == 404
    assert client.get("/_sandbox/phone-numbers", headers=AUTH).status_code in (404, 405)
    routes = {getattr(r, "path", "") for r in client.app.routes}  # type: ignore[attr-defined]
    assert {"/v1", "/_sandbox", "/healthz"} == routes
