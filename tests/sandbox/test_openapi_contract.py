"""The sandbox against its OpenAPI contract (manifests/openapi/krosai-phone-numbers.yaml).

Two layers:
- property-based: schemathesis generates valid and invalid requests for every operation (and
  follows the spec's links) and checks that the sandbox never fails with a 5xx, answers only
  documented statuses with the documented content type, body schema and headers, rejects invalid
  input, and never rejects valid input as malformed;
- explicit: one request per documented (operation, status, error code), each validated against the
  spec for that status, plus a check that this table covers exactly what the spec documents.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import jsonschema
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.testclient import TestClient

from kros_mcp.sandbox import SANDBOX_API_KEY, create_app

SPEC_PATH = Path(__file__).resolve().parents[2] / "manifests/openapi/krosai-phone-numbers.yaml"
SPEC: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
AUTH = {"x-api-key": SANDBOX_API_KEY}
# High enough that generated traffic is never throttled; 429s are produced on purpose below.
UNTHROTTLED = {"default": 100_000, "purchase": 100_000}
UNKNOWN_NUMBER = "/phone-numbers/pn_0000000000000000"

schema = schemathesis.openapi.from_path(SPEC_PATH)
schema.config.update(base_url="http://testserver/v1")
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=30,
    # Credentials are sent explicitly; generated ones would only ever reach the 401 path.
    with_security_parameters=False,
)
OPERATIONS = {
    result.ok().definition.raw["operationId"]: result.ok() for result in schema.get_all_operations()
}
HYPOTHESIS_SETTINGS: dict[str, Any] = {
    "deadline": None,
    "derandomize": True,  # the same examples on every run, so CI is reproducible
    "database": None,
}

# -- extra checks ----------------------------------------------------------------------------

# Codes saying "your request is malformed": a request the spec calls valid must never get them.
MALFORMED_CODES = frozenset({"INVALID_REQUEST", "MISSING_FIELDS", "UNSUPPORTED_COUNTRY"})
# GET /phone-numbers serves two things: `type` and `area_code` apply only with action=available
# (as in KrosAI's own OpenAPI) and `status` only without it; an ignored parameter is not rejected.
SEARCH_ONLY_PARAMETERS = frozenset({"type", "area_code"})
OWNED_ONLY_PARAMETERS = frozenset({"status"})


def _is_assigned_list(case: schemathesis.Case) -> bool:
    return (
        case.operation.label == "GET /phone-numbers"
        and (case.query or {}).get("action") != "available"
    )


def valid_data_not_rejected_as_malformed(ctx: Any, response: Any, case: schemathesis.Case) -> None:
    """A request from the spec's valid space may break a business rule, never validation."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 400:
        return
    query = case.query or {}
    # "country is required when action=available" spans two parameters: the spec can't say it.
    if (
        case.operation.label == "GET /phone-numbers"
        and not _is_assigned_list(case)
        and not query.get("country")
    ):
        return
    try:
        code = response.json().get("code")
    except ValueError:
        code = None
    if code in MALFORMED_CODES:
        raise AssertionError(f"Valid request rejected as malformed: {code}: {response.text[:300]}")


def _negated_parameters(case: schemathesis.Case) -> set[str]:
    data = case.meta.phase.data if case.meta is not None else None
    names = {getattr(data, "parameter", None)}
    names.update(mutation.parameter for mutation in getattr(data, "mutations", ()))
    return {name for name in names if name is not None}


def _ignored_by_design(case: schemathesis.Case) -> bool:
    """True when every invalid parameter of `case` is one the sandbox ignores on purpose."""
    negated = _negated_parameters(case)
    query = case.query or {}

    def ignored(name: str) -> bool:
        value = query.get(name)
        # An empty query value counts as a parameter left out (`?country=` lists everything), and
        # a repeated or exploded parameter is read by its last value, as most frameworks do.
        if value == "" or isinstance(value, (list, dict)):
            return True
        if case.operation.label != "GET /phone-numbers":
            return False
        if _is_assigned_list(case):
            return name in SEARCH_ONLY_PARAMETERS
        return name in OWNED_ONLY_PARAMETERS

    return bool(negated) and all(ignored(name) for name in negated)


def invalid_data_rejected(ctx: Any, response: Any, case: schemathesis.Case) -> Any:
    """schemathesis's negative_data_rejection, minus parameters the sandbox ignores by design."""
    if _ignored_by_design(case):
        return None
    return negative_data_rejection(ctx, response, case)


CONFORMANCE_CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
PROPERTY_CHECKS = [
    not_a_server_error,
    *CONFORMANCE_CHECKS,
    invalid_data_rejected,
    valid_data_not_rejected_as_malformed,
]


def validate(operation_id: str, response: httpx2.Response) -> None:
    """Check `response` against the spec for its status: status, content type, body, headers."""
    operation = OPERATIONS[operation_id]
    path_parameters = {"id": "x"} if "{id}" in operation.path else None
    case = operation.Case(path_parameters=path_parameters)
    case.validate_response(response, checks=CONFORMANCE_CHECKS)


# -- property-based --------------------------------------------------------------------------


def unthrottled_app(db_path: Path) -> Any:
    app = create_app(db_path, inventory_per_block=20, seed=0)
    with TestClient(app) as client:
        client.put("/_sandbox/rate-limits", json=UNTHROTTLED).raise_for_status()
    return app


@pytest.fixture(scope="module")
def contract_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One sandbox on a fresh database for the per-operation runs of this module."""
    return unthrottled_app(tmp_path_factory.mktemp("contract") / "sandbox.db")


@schema.parametrize()
@settings(
    **HYPOTHESIS_SETTINGS,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
def test_every_operation_conforms(case: schemathesis.Case, contract_app: Any) -> None:
    case.call_and_validate(app=contract_app, headers=AUTH, checks=PROPERTY_CHECKS)


def test_linked_workflows_conform(tmp_path: Path) -> None:
    """Follow the spec's links: search -> purchase -> get/update/release, endpoints -> get."""
    scenarios = itertools.count()

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            # A fresh sandbox per scenario: what is generated must not depend on earlier runs.
            self.app = unthrottled_app(tmp_path / f"workflow-{next(scenarios)}.db")

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"app": self.app, "headers": AUTH}

        def validate_response(
            self,
            response: Any,
            case: schemathesis.Case,
            additional_checks: Any = None,
            **kwargs: Any,
        ) -> None:
            case.validate_response(response, checks=PROPERTY_CHECKS, transport_kwargs=kwargs)

    Workflow.run(
        settings=settings(
            **HYPOTHESIS_SETTINGS,
            max_examples=30,
            stateful_step_count=8,
            suppress_health_check=list(HealthCheck),
        )
    )


# -- explicit: every documented status and error code is produced ----------------------------


class Sandbox:
    """A fresh sandbox reached in-process, with helpers for its own controls (`/_sandbox/`)."""

    def __init__(self, app: Any) -> None:
        self.client = TestClient(app, raise_server_exceptions=False)

    def request(
        self, method: str, path: str, *, key: str | None = SANDBOX_API_KEY, **kwargs: Any
    ) -> httpx2.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if key is not None:
            headers.setdefault("x-api-key", key)
        return self.client.request(method, "/v1" + path, headers=headers, **kwargs)

    def org(self, *, kyc_status: str = "approved", balance_cents: int = 10_000) -> str:
        """A new organisation's API key."""
        body = {"kyc_status": kyc_status, "balance_cents": balance_cents}
        response = self.client.post("/_sandbox/orgs", json=body)
        assert response.status_code == 201, response.text
        return response.json()["api_key"]

    def rate_limits(self, **per_second: float) -> None:
        self.client.put("/_sandbox/rate-limits", json=per_second).raise_for_status()

    def fault(self, operation: str, status: int = 500) -> None:
        body = {"kind": "error_before", "operation": operation, "status": status, "times": 1}
        response = self.client.post("/_sandbox/faults", json=body)
        assert response.status_code == 201, response.text

    def available(self, country: str = "NG", **query: Any) -> list[dict[str, Any]]:
        params = {"country": country, **query}
        response = self.request("GET", "/phone-numbers/available", params=params)
        assert response.status_code == 200, response.text
        return response.json()["available_numbers"]

    def offer(self) -> str:
        return self.available(limit=1)[0]["inventory_id"]

    def purchase(self, body: Any, **kwargs: Any) -> httpx2.Response:
        return self.request("POST", "/phone-numbers", json=body, **kwargs)

    def buy(self, **body: Any) -> dict[str, Any]:
        response = self.purchase({"inventory_id": self.offer(), **body})
        assert response.status_code == 201, response.text
        return response.json()

    def number_path(self, **body: Any) -> str:
        """The path of a number just bought."""
        return f"/phone-numbers/{self.buy(**body)['id']}"

    def until_throttled(
        self, send: Callable[[], httpx2.Response], limit: int = 50
    ) -> httpx2.Response:
        for _ in range(limit):
            response = send()
            if response.status_code == 429:
                return response
        raise AssertionError(f"no 429 within {limit} requests (last: {response.status_code})")


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    helper = Sandbox(create_app(tmp_path / "sandbox.db", inventory_per_block=5, seed=0))
    yield helper
    helper.client.close()


Produce = Callable[[Sandbox], httpx2.Response]
PathSpec = str | Callable[[Sandbox], str]


def call(method: str, path: PathSpec, **kwargs: Any) -> Produce:
    """A request; `path` may be computed from the sandbox (e.g. a number bought first)."""

    def produce(sb: Sandbox) -> httpx2.Response:
        return sb.request(method, path if isinstance(path, str) else path(sb), **kwargs)

    return produce


def owned(**body: Any) -> Callable[[Sandbox], str]:
    return lambda sb: sb.number_path(**body)


def throttled(operation: str, method: str, path: str, **kwargs: Any) -> Produce:
    """Requests until the limiter answers 429 (default bucket lowered to 1/s; purchases: 5/s)."""

    def produce(sb: Sandbox) -> httpx2.Response:
        if operation != "purchase":
            sb.rate_limits(default=1)
        return sb.until_throttled(lambda: sb.request(method, path, **kwargs))

    return produce


def faulty(operation: str, method: str, path: str, **kwargs: Any) -> Produce:
    """A request while a 500 fault is armed for the operation."""

    def produce(sb: Sandbox) -> httpx2.Response:
        sb.fault(operation)
        return sb.request(method, path, **kwargs)

    return produce


def purchase_with(
    body: Callable[[Sandbox], Any], key: Callable[[Sandbox], str] | None = None, **kwargs: Any
) -> Produce:
    def produce(sb: Sandbox) -> httpx2.Response:
        return sb.purchase(body(sb), key=key(sb) if key else SANDBOX_API_KEY, **kwargs)

    return produce


def replayed_purchase(sb: Sandbox) -> httpx2.Response:
    body = {"inventory_id": sb.offer()}
    first = sb.purchase(body, headers={"Idempotency-Key": "replay-1"})
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    second = sb.purchase(body, headers={"Idempotency-Key": "replay-1"})
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert (second.status_code, second.json()) == (first.status_code, first.json())
    return second


def reused_key(sb: Sandbox) -> httpx2.Response:
    first, second = sb.available(limit=2)
    response = sb.purchase(
        {"inventory_id": first["inventory_id"]}, headers={"Idempotency-Key": "reuse-1"}
    )
    assert response.status_code == 201, response.text
    return sb.purchase(
        {"inventory_id": second["inventory_id"]}, headers={"Idempotency-Key": "reuse-1"}
    )


def released_twice(sb: Sandbox) -> httpx2.Response:
    path = sb.number_path()
    assert sb.request("DELETE", path).status_code == 200
    return sb.request("DELETE", path)


def in_state(status: str) -> Callable[[Sandbox], str]:
    """The path of a number just bought and put in `status` through the sandbox's control."""

    def make(sb: Sandbox) -> str:
        path = sb.number_path()
        control = sb.client.patch(
            "/_sandbox" + path, json={"status": status}, headers={"x-api-key": SANDBOX_API_KEY}
        )
        assert control.status_code == 200, control.text
        return path

    return make


def others_endpoint(sb: Sandbox) -> httpx2.Response:
    created = sb.request("POST", "/endpoints", json={"name": "Mine", "type": "webhook"})
    assert created.status_code == 201, created.text
    return sb.request("GET", f"/endpoints/{created.json()['id']}", key=sb.org())


@dataclass(frozen=True)
class Scenario:
    """How to make `operation_id` answer `status` (the spec's key, "5XX" for the range)."""

    operation_id: str
    status: str
    code: str | None
    produce: Produce
    name: str = ""

    @property
    def id(self) -> str:
        suffix = f"-{self.name}" if self.name else ""
        return f"{self.operation_id}-{self.status}-{self.code or 'ok'}{suffix}"


def common(
    operation_id: str, operation: str, method: str, path: str, **kwargs: Any
) -> list[Scenario]:
    """401s, 429 and 5XX, which every operation documents."""
    live_key = "kros_live_0123456789abcdef0123456789abcdef"
    return [
        Scenario(operation_id, "401", "UNAUTHORIZED", call(method, path, key=None, **kwargs)),
        Scenario(
            operation_id,
            "401",
            "INVALID_API_KEY",
            call(method, path, key=live_key, **kwargs),
            "live-key",
        ),
        Scenario(
            operation_id,
            "401",
            "INVALID_API_KEY",
            call(method, path, key="kros_test_unknown", **kwargs),
            "unknown-test-key",
        ),
        Scenario(
            operation_id, "429", "RATE_LIMIT_EXCEEDED", throttled(operation, method, path, **kwargs)
        ),
        Scenario(operation_id, "5XX", None, faulty(operation, method, path, **kwargs)),
    ]


def list_numbers(**params: Any) -> Produce:
    return call("GET", "/phone-numbers", params=params)


def search(**params: Any) -> Produce:
    return call("GET", "/phone-numbers/available", params=params)


def create_endpoint(body: Any) -> Produce:
    return call("POST", "/endpoints", json=body)


def _bought_then_listed(sb: Sandbox) -> httpx2.Response:
    sb.buy()
    return sb.request("GET", "/phone-numbers")


TOO_BIG = "x" * 70_000
KYC_ERRORS = [
    ("not_submitted", "KYC_REQUIRED"),
    ("initiated", "KYC_INITIATED"),
    ("pending", "KYC_PENDING"),
    ("declined", "KYC_DECLINED"),
]
RETELL = {
    "name": "Retell",
    "type": "retell",
    "url": "sip:agent@retell.ai",
    "provider_config": {"provider": "retell", "agent_id": "a1"},
}

SCENARIOS: list[Scenario] = [
    # GET /phone-numbers
    Scenario("listPhoneNumbers", "200", None, _bought_then_listed),
    Scenario(
        "listPhoneNumbers",
        "200",
        None,
        list_numbers(action="available", country="ke"),
        "action-available",
    ),
    Scenario("listPhoneNumbers", "400", "INVALID_REQUEST", list_numbers(limit=0)),
    Scenario("listPhoneNumbers", "400", "INVALID_REQUEST", list_numbers(status="sold"), "status"),
    Scenario("listPhoneNumbers", "400", "MISSING_FIELDS", list_numbers(action="available")),
    Scenario(
        "listPhoneNumbers",
        "400",
        "UNSUPPORTED_COUNTRY",
        list_numbers(action="available", country="ZA"),
    ),
    *common("listPhoneNumbers", "list", "GET", "/phone-numbers"),
    # POST /phone-numbers
    Scenario(
        "purchasePhoneNumber", "201", None, purchase_with(lambda sb: {"inventory_id": sb.offer()})
    ),
    Scenario(
        "purchasePhoneNumber",
        "201",
        None,
        purchase_with(
            lambda sb: {
                "inventoryId": sb.offer(),
                "endpointId": "ep_support_agent",
                "allowOutbound": False,
            }
        ),
        "camel-case",
    ),
    Scenario("purchasePhoneNumber", "201", None, replayed_purchase, "idempotent-replay"),
    Scenario(
        "purchasePhoneNumber",
        "400",
        "MISSING_FIELDS",
        purchase_with(lambda sb: {"allow_inbound": True}),
    ),
    Scenario(
        "purchasePhoneNumber",
        "400",
        "INVALID_REQUEST",
        purchase_with(lambda sb: {"inventory_id": "inv_ng_1", "colour": "red"}),
        "unknown-field",
    ),
    Scenario(
        "purchasePhoneNumber",
        "400",
        "INVALID_REQUEST",
        purchase_with(lambda sb: {"inventory_id": "inv_ng_1", "allow_inbound": "yes"}),
        "wrong-type",
    ),
    Scenario(
        "purchasePhoneNumber",
        "400",
        "INVALID_REQUEST",
        call(
            "POST",
            "/phone-numbers",
            content=b"{not json",
            headers={"content-type": "application/json"},
        ),
        "malformed-json",
    ),
    Scenario(
        "purchasePhoneNumber",
        "400",
        "INVALID_REQUEST",
        purchase_with(lambda sb: ["inv_ng_1"]),
        "not-an-object",
    ),
    Scenario(
        "purchasePhoneNumber",
        "400",
        "INVALID_REQUEST",
        purchase_with(
            lambda sb: {"inventory_id": "inv_ng_1"}, headers={"Idempotency-Key": "k" * 256}
        ),
        "idempotency-key",
    ),
    *[
        Scenario(
            "purchasePhoneNumber",
            "400",
            code,
            purchase_with(
                lambda sb: {"inventory_id": sb.offer()},
                key=lambda sb, state=state: sb.org(kyc_status=state),
            ),
        )
        for state, code in KYC_ERRORS
    ],
    Scenario(
        "purchasePhoneNumber",
        "400",
        "INSUFFICIENT_BALANCE",
        purchase_with(
            lambda sb: {"inventory_id": sb.offer()}, key=lambda sb: sb.org(balance_cents=0)
        ),
    ),
    Scenario(
        "purchasePhoneNumber",
        "404",
        "NUMBER_NOT_AVAILABLE",
        purchase_with(lambda sb: {"inventory_id": "inv_ng_0"}),
    ),
    Scenario(
        "purchasePhoneNumber",
        "404",
        "NUMBER_NOT_AVAILABLE",
        purchase_with(lambda sb: {"inventory_id": sb.buy()["inventory_id"]}),
        "sold",
    ),
    Scenario(
        "purchasePhoneNumber",
        "404",
        "ENDPOINT_NOT_FOUND",
        purchase_with(lambda sb: {"inventory_id": sb.offer(), "endpoint_id": "ep_nope"}),
    ),
    Scenario(
        "purchasePhoneNumber",
        "413",
        "PAYLOAD_TOO_LARGE",
        purchase_with(lambda sb: {"inventory_id": TOO_BIG}),
    ),
    Scenario("purchasePhoneNumber", "422", "IDEMPOTENCY_KEY_REUSED", reused_key),
    *common(
        "purchasePhoneNumber",
        "purchase",
        "POST",
        "/phone-numbers",
        json={"inventory_id": "inv_ng_0"},
    ),
    # GET /phone-numbers/available
    Scenario(
        "searchAvailableNumbers",
        "200",
        None,
        search(country="ng", type="mobile", area_code="0803", limit=3),
    ),
    Scenario("searchAvailableNumbers", "400", "MISSING_FIELDS", search()),
    Scenario("searchAvailableNumbers", "400", "UNSUPPORTED_COUNTRY", search(country="ZA")),
    *[
        Scenario(
            "searchAvailableNumbers",
            "400",
            "INVALID_REQUEST",
            search(country="NG", **query),
            next(iter(query)),
        )
        for query in [{"type": "premium"}, {"limit": 101}, {"offset": -1}, {"area_code": "12a"}]
    ],
    *common(
        "searchAvailableNumbers",
        "search",
        "GET",
        "/phone-numbers/available",
        params={"country": "NG"},
    ),
    # GET /phone-numbers/{id}
    Scenario("getPhoneNumber", "200", None, call("GET", owned(endpoint_id="ep_support_agent"))),
    Scenario("getPhoneNumber", "200", None, call("GET", owned()), "no-endpoint"),
    Scenario("getPhoneNumber", "404", "NOT_FOUND", call("GET", UNKNOWN_NUMBER)),
    Scenario(
        "getPhoneNumber",
        "404",
        "NOT_FOUND",
        lambda sb: sb.request("GET", sb.number_path(), key=sb.org()),
        "other-org",
    ),
    *common("getPhoneNumber", "get", "GET", UNKNOWN_NUMBER),
    # PATCH /phone-numbers/{id}
    Scenario(
        "updatePhoneNumber",
        "200",
        None,
        call("PATCH", owned(), json={"endpoint_id": "ep_webhook_handler", "allow_outbound": False}),
    ),
    Scenario(
        "updatePhoneNumber",
        "200",
        None,
        call(
            "PATCH",
            owned(endpoint_id="ep_support_agent"),
            json={"endpointId": None, "allowInbound": False},
        ),
        "detach-camel-case",
    ),
    Scenario(
        "updatePhoneNumber",
        "400",
        "INVALID_REQUEST",
        call("PATCH", owned(), json={"label": "x"}),
        "unknown-field",
    ),
    Scenario(
        "updatePhoneNumber",
        "400",
        "INVALID_REQUEST",
        call("PATCH", owned(), json={"allow_inbound": None}),
        "null-bool",
    ),
    Scenario(
        "updatePhoneNumber",
        "404",
        "NOT_FOUND",
        call("PATCH", UNKNOWN_NUMBER, json={"allow_inbound": True}),
    ),
    Scenario(
        "updatePhoneNumber",
        "404",
        "ENDPOINT_NOT_FOUND",
        call("PATCH", owned(), json={"endpoint_id": "ep_nope"}),
    ),
    Scenario(
        "updatePhoneNumber",
        "413",
        "PAYLOAD_TOO_LARGE",
        call("PATCH", UNKNOWN_NUMBER, json={"endpoint_id": TOO_BIG}),
    ),
    *[
        Scenario(
            "updatePhoneNumber",
            "409",
            code,
            call("PATCH", in_state(state), json={"endpoint_id": "ep_support_agent"}),
        )
        for state, code in (("suspended", "NUMBER_SUSPENDED"), ("porting", "NUMBER_PORTING"))
    ],
    *common("updatePhoneNumber", "update", "PATCH", UNKNOWN_NUMBER, json={}),
    # DELETE /phone-numbers/{id}
    Scenario("releasePhoneNumber", "200", None, call("DELETE", owned())),
    Scenario(
        "releasePhoneNumber",
        "200",
        None,
        call("DELETE", owned(), params={"action": "release"}),
        "action-release",
    ),
    Scenario("releasePhoneNumber", "404", "NOT_FOUND", call("DELETE", UNKNOWN_NUMBER)),
    Scenario("releasePhoneNumber", "404", "NOT_FOUND", released_twice, "twice"),
    Scenario("releasePhoneNumber", "200", None, call("DELETE", in_state("suspended")), "suspended"),
    *[
        Scenario("releasePhoneNumber", "409", code, call("DELETE", in_state(state)))
        for state, code in (("porting", "NUMBER_PORTING"), ("pending", "NUMBER_PENDING"))
    ],
    *common("releasePhoneNumber", "release", "DELETE", UNKNOWN_NUMBER),
    # GET /endpoints
    Scenario("listEndpoints", "200", None, call("GET", "/endpoints")),
    Scenario(
        "listEndpoints",
        "200",
        None,
        call("GET", "/endpoints", params={"type": "agent", "status": "active"}),
        "filtered",
    ),
    Scenario(
        "listEndpoints", "400", "INVALID_REQUEST", call("GET", "/endpoints", params={"limit": "x"})
    ),
    *common("listEndpoints", "endpoints", "GET", "/endpoints"),
    # POST /endpoints
    Scenario("createEndpoint", "201", None, create_endpoint(RETELL)),
    Scenario(
        "createEndpoint",
        "201",
        None,
        create_endpoint({"name": "Bare", "type": "custom_sip"}),
        "minimal",
    ),
    Scenario(
        "createEndpoint",
        "400",
        "INVALID_REQUEST",
        create_endpoint({"type": "webhook"}),
        "missing-name",
    ),
    Scenario(
        "createEndpoint",
        "400",
        "INVALID_REQUEST",
        create_endpoint({"name": "x", "type": "carrier_pigeon"}),
        "bad-type",
    ),
    Scenario(
        "createEndpoint",
        "400",
        "INVALID_REQUEST",
        create_endpoint({"name": "x" * 101, "type": "webhook"}),
        "long-name",
    ),
    Scenario(
        "createEndpoint",
        "413",
        "PAYLOAD_TOO_LARGE",
        create_endpoint({"name": TOO_BIG, "type": "webhook"}),
    ),
    *common(
        "createEndpoint", "endpoints", "POST", "/endpoints", json={"name": "x", "type": "webhook"}
    ),
    # GET /endpoints/{id}
    Scenario("getEndpoint", "200", None, call("GET", "/endpoints/ep_support_agent")),
    Scenario("getEndpoint", "404", "NOT_FOUND", call("GET", "/endpoints/ep_nope")),
    Scenario("getEndpoint", "404", "NOT_FOUND", others_endpoint, "other-org"),
    *common("getEndpoint", "endpoints", "GET", "/endpoints/ep_support_agent"),
    # PATCH /endpoints/{id}
    Scenario(
        "updateEndpoint",
        "200",
        None,
        call("PATCH", "/endpoints/ep_webhook_handler", json={"status": "inactive"}),
    ),
    Scenario(
        "updateEndpoint",
        "400",
        "INVALID_REQUEST",
        call("PATCH", "/endpoints/ep_webhook_handler", json={"status": "error"}),
    ),
    Scenario(
        "updateEndpoint",
        "404",
        "NOT_FOUND",
        call("PATCH", "/endpoints/ep_nope", json={"name": "x"}),
    ),
    Scenario(
        "updateEndpoint",
        "413",
        "PAYLOAD_TOO_LARGE",
        call("PATCH", "/endpoints/ep_nope", json={"name": TOO_BIG}),
    ),
    *common("updateEndpoint", "endpoints", "PATCH", "/endpoints/ep_support_agent", json={}),
]


def _status_matches(declared: str, actual: int) -> bool:
    if declared.endswith("XX"):
        return str(actual)[0] == declared[0]
    return str(actual) == declared


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.id)
def test_documented_response_is_produced(sandbox: Sandbox, scenario: Scenario) -> None:
    response = scenario.produce(sandbox)
    assert _status_matches(scenario.status, response.status_code), response.text
    if scenario.code is not None:
        assert response.json().get("code") == scenario.code, response.text
    validate(scenario.operation_id, response)


def _documented_codes(response: dict[str, Any]) -> set[str | None]:
    """The error codes one documented response allows (None: no particular code)."""
    if "$ref" in response:
        response = SPEC["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    body = response.get("content", {}).get("application/json", {}).get("schema", {})
    codes: set[str | None] = set()
    for part in body.get("allOf", []):
        code = part.get("properties", {}).get("code", {})
        codes.update(code.get("enum", []))
        if "const" in code:
            codes.add(code["const"])
    return codes or {None}


def test_scenarios_cover_exactly_the_documented_responses() -> None:
    documented = {
        (operation["operationId"], status, code)
        for path_item in SPEC["paths"].values()
        for method, operation in path_item.items()
        if method in {"get", "put", "post", "patch", "delete"}
        for status, response in operation["responses"].items()
        for code in _documented_codes(response)
    }
    covered = {(s.operation_id, s.status, s.code) for s in SCENARIOS}
    assert sorted(documented - covered, key=str) == [], "documented but never produced"
    assert sorted(covered - documented, key=str) == [], "produced but not documented"


# -- behaviour the operations alone do not describe ------------------------------------------


def test_bearer_auth_is_accepted(sandbox: Sandbox) -> None:
    bearer = {"Authorization": f"Bearer {SANDBOX_API_KEY}"}
    response = sandbox.request("GET", "/phone-numbers", key=None, headers=bearer)
    assert response.status_code == 200, response.text
    validate("listPhoneNumbers", response)


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/v1/no-such-route", 404, "NOT_FOUND"),
        ("PUT", "/v1/phone-numbers", 405, "METHOD_NOT_ALLOWED"),
        ("POST", "/v1/phone-numbers/available", 405, "METHOD_NOT_ALLOWED"),
        ("DELETE", "/v1/endpoints", 405, "METHOD_NOT_ALLOWED"),
    ],
)
def test_unknown_routes_and_methods_answer_errors(
    sandbox: Sandbox, method: str, path: str, status: int, code: str
) -> None:
    response = sandbox.client.request(method, path, headers=AUTH)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error_schema = SPEC["components"]["schemas"]["Error"]
    jsonschema.Draft202012Validator(error_schema).validate(response.json())
    assert response.json()["code"] == code
    if status == 405:
        assert "allow" in response.headers, "405 without an Allow header (RFC 9110, 15.5.6)"


def test_rate_limited_response_carries_fractional_retry_after(sandbox: Sandbox) -> None:
    response = sandbox.until_throttled(lambda: sandbox.purchase({"inventory_id": "inv_ng_0"}))
    retry_after = float(response.headers["Retry-After"])
    assert 0 < retry_after <= 1
    assert response.json()["retry_after"] == pytest.approx(retry_after, abs=0.001)


def test_released_number_is_gone_and_back_in_inventory(sandbox: Sandbox) -> None:
    bought = sandbox.buy()
    assert sandbox.request("DELETE", f"/phone-numbers/{bought['id']}").status_code == 200
    response = sandbox.request("GET", f"/phone-numbers/{bought['id']}")
    assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"
    assert bought["inventory_id"] in {n["inventory_id"] for n in sandbox.available(limit=100)}


def test_purchase_debits_setup_plus_first_month(sandbox: Sandbox) -> None:
    offer = sandbox.available(limit=1)[0]
    response = sandbox.purchase({"inventory_id": offer["inventory_id"]})
    assert response.status_code == 201, response.text
    bought = response.json()
    assert bought["setup_cost_cents"] == offer["setup_cost_cents"]
    assert bought["monthly_cost_cents"] == offer["monthly_cost_cents"]
    assert bought["total_cost_cents"] == offer["setup_cost_cents"] + offer["monthly_cost_cents"]
    assert bought["number"] == bought["e164"] == offer["e164"]
    assert bought["allow_inbound"] is True and bought["allow_outbound"] is True
    assert bought["status"] == "active"


def test_refused_purchases_are_not_replayed(sandbox: Sandbox) -> None:
    """Only a successful purchase is recorded under its key: a refusal can be retried with the same key."""
    headers = {"Idempotency-Key": "replay-error-1"}
    first = sandbox.purchase({"inventory_id": "inv_ng_0"}, headers=headers)
    assert first.status_code == 404, first.text
    second = sandbox.purchase({"inventory_id": "inv_ng_0"}, headers=headers)
    assert second.status_code == 404 and "Idempotent-Replayed" not in second.headers
