"""The KrosAI API routes the sandbox serves (`/v1`): phone numbers and endpoints.

Each handler is wrapped by `kros_route`: authentication, rate limits, armed faults and rendering
of `SandboxError`s in KrosAI's error shape. The sandbox's own controls are in `control_routes`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from pydantic import Field, StrictBool, StrictStr
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ._http import (
    MAX_OFFSET,
    Body,
    JSONResponse,
    alias,
    choice_param,
    country_param,
    error_response,
    int_param,
    invalid,
    read_body,
    read_json,
    validate,
)
from .db import Org, SandboxError, request_hash
from .faults import ConnectionDropped, Fault
from .render import (
    render_endpoint,
    render_inventory,
    render_number,
    render_number_detail,
    render_purchased,
)
from .state import Sandbox

__all__ = ["API_ROUTES", "ENDPOINT_STATUSES", "ENDPOINT_TYPES", "NUMBER_STATUSES", "authenticate"]

NUMBER_TYPES = ("local", "mobile", "toll_free")
NUMBER_STATUSES = ("active", "pending", "suspended", "porting", "inactive")
ENDPOINT_TYPES = (
    "agent",
    "webhook",
    "vapi",
    "retell",
    "livekit",
    "elevenlabs",
    "vogent",
    "custom_sip",
)
ENDPOINT_STATUSES = ("active", "inactive", "error")
# The Buy Numbers guide: "limit (default 50)" for owned numbers, 20 for available ones.
OWNED_PAGE_DEFAULT = 50
AVAILABLE_PAGE_DEFAULT = 20


class PurchaseBody(Body):
    inventory_id: StrictStr | None = Field(
        None, min_length=1, max_length=100, validation_alias=alias("inventory_id", "inventoryId")
    )
    endpoint_id: StrictStr | None = Field(
        None, min_length=1, max_length=100, validation_alias=alias("endpoint_id", "endpointId")
    )
    allow_inbound: StrictBool = Field(True, validation_alias=alias("allow_inbound", "allowInbound"))
    allow_outbound: StrictBool = Field(
        True, validation_alias=alias("allow_outbound", "allowOutbound")
    )


class UpdateBody(Body):
    endpoint_id: StrictStr | None = Field(
        None, min_length=1, max_length=100, validation_alias=alias("endpoint_id", "endpointId")
    )
    allow_inbound: StrictBool | None = Field(
        None, validation_alias=alias("allow_inbound", "allowInbound")
    )
    allow_outbound: StrictBool | None = Field(
        None, validation_alias=alias("allow_outbound", "allowOutbound")
    )


class EndpointBody(Body):
    name: StrictStr = Field(min_length=1, max_length=100)
    type: StrictStr
    url: StrictStr | None = Field(None, max_length=2000)
    provider_config: dict[str, Any] | None = None


class EndpointPatch(Body):
    name: StrictStr | None = Field(None, min_length=1, max_length=100)
    url: StrictStr | None = Field(None, max_length=2000)
    status: StrictStr | None = None
    provider_config: dict[str, Any] | None = None


# -- authentication, limits, faults ---------------------------------------------------------

Handler = Callable[[Request, Sandbox, Org], Awaitable[Response]]


def _api_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def authenticate(request: Request, sandbox: Sandbox) -> Org:
    key = _api_key(request)
    if key is None:
        raise SandboxError(401, "UNAUTHORIZED", "missing API key: send it in the x-api-key header")
    org = sandbox.db.org_for_key(key) if key.startswith("kros_test_") else None
    if org is None:
        raise SandboxError(
            401, "INVALID_API_KEY", "invalid API key: the sandbox accepts only its kros_test_ keys"
        )
    return org


def kros_route(
    operation: str, *, bucket: str = "default"
) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a KrosAI handler with auth, rate limiting, fault injection and error rendering."""

    def decorate(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            sandbox: Sandbox = request.app.state.sandbox
            try:
                org = authenticate(request, sandbox)
            except SandboxError as exc:
                return error_response(exc.status, exc.code, exc.message, exc.details)
            verdict = sandbox.limiter.check(org.id, bucket)
            limit_headers = verdict.headers()
            if not verdict.allowed:
                return error_response(
                    429,
                    "RATE_LIMIT_EXCEEDED",
                    "rate limit exceeded",
                    headers=limit_headers,
                    retry_after=verdict.retry_after,
                )
            try:
                # Read before any fault, so a write delayed past the client's timeout still has its body.
                request.state.raw_body = await read_body(request)
            except SandboxError as exc:
                return error_response(
                    exc.status, exc.code, exc.message, exc.details, headers=limit_headers
                )
            fault = sandbox.faults.take(operation)
            if fault is not None:
                early = await _fault_before(fault, limit_headers)
                if early is not None:
                    return early
            try:
                response = await handler(request, sandbox, org)
            except SandboxError as exc:
                response = error_response(exc.status, exc.code, exc.message, exc.details)
            if fault is not None:
                response = await _fault_after(fault, response)
            response.headers.update(limit_headers)
            return response

        endpoint.__name__ = handler.__name__
        return endpoint

    return decorate


async def _fault_before(fault: Fault, headers: dict[str, str]) -> Response | None:
    if fault.kind == "latency":
        await anyio.sleep(fault.seconds)
    elif fault.kind == "rate_limit":
        return error_response(
            429,
            "RATE_LIMIT_EXCEEDED",
            "rate limit exceeded (sandbox fault)",
            headers=headers,
            retry_after=fault.retry_after,
        )
    elif fault.kind == "error_before":
        return error_response(
            fault.status, "SERVICE_UNAVAILABLE", "service unavailable (sandbox fault)"
        )
    return None


async def _fault_after(fault: Fault, response: Response) -> Response:
    if fault.kind == "error_after":
        return error_response(fault.status, "INTERNAL_ERROR", "internal error (sandbox fault)")
    if fault.kind == "drop_after":
        raise ConnectionDropped("sandbox fault: connection dropped after the write")
    if fault.kind == "latency_after":
        await anyio.sleep(fault.seconds)
    return response


def _page(request: Request, default: int) -> tuple[int, int]:
    return int_param(request, "limit", default, 1, 100), int_param(
        request, "offset", 0, 0, MAX_OFFSET
    )


# -- phone numbers --------------------------------------------------------------------------


@kros_route("list")
async def list_numbers(request: Request, sandbox: Sandbox, org: Org) -> Response:
    action = choice_param(request, "action", ("assigned", "available"))
    if action == "available":
        return await _search(request, sandbox)
    status = choice_param(request, "status", NUMBER_STATUSES)
    country = country_param(request, required=False)
    limit, offset = _page(request, OWNED_PAGE_DEFAULT)
    rows, total = sandbox.db.list_numbers(org.id, status, country, limit, offset)
    return JSONResponse(
        {
            "phone_numbers": [render_number(r) for r in rows],
            "total": total,
            "limit": limit,
            "offset": offset,
        }
    )


@kros_route("search")
async def search_available(request: Request, sandbox: Sandbox, org: Org) -> Response:
    return await _search(request, sandbox)


async def _search(request: Request, sandbox: Sandbox) -> Response:
    country = country_param(request, required=True)
    if country is None:  # country_param raises first; this keeps the type narrow
        raise invalid("country", "is required")
    number_type = choice_param(request, "type", NUMBER_TYPES)
    area_code = request.query_params.get("area_code") or None
    if area_code is not None:
        area_code = area_code.strip().lstrip("0")
        if not area_code.isdigit() or not area_code.isascii() or len(area_code) > 5:
            raise invalid("area_code", "must be 1 to 5 digits")
    limit, offset = _page(request, AVAILABLE_PAGE_DEFAULT)
    rows, total = sandbox.db.search_inventory(country, number_type, area_code, limit, offset)
    return JSONResponse(
        {
            "available_numbers": [render_inventory(r) for r in rows],
            "total": total,
            "limit": limit,
            "offset": offset,
        }
    )


@kros_route("get")
async def get_number(request: Request, sandbox: Sandbox, org: Org) -> Response:
    row = sandbox.db.get_number(org.id, request.path_params["number_id"])
    return JSONResponse(render_number_detail(sandbox.db, row))


@kros_route("purchase", bucket="purchase")
async def purchase(request: Request, sandbox: Sandbox, org: Org) -> Response:
    key = request.headers.get("idempotency-key")
    if key is not None and not (1 <= len(key) <= 255 and key.isprintable()):
        raise invalid("Idempotency-Key", "must be 1 to 255 printable characters")
    body = validate(PurchaseBody, await read_json(request))
    if body.inventory_id is None:
        raise SandboxError(
            400,
            "MISSING_FIELDS",
            "inventory_id is required (from GET /phone-numbers/available)",
            {"missing": ["inventory_id"]},
        )
    status, payload, replayed = sandbox.db.purchase(
        org,
        inventory_id=body.inventory_id,
        endpoint_id=body.endpoint_id,
        allow_inbound=body.allow_inbound,
        allow_outbound=body.allow_outbound,
        idempotency_key=key,
        request_hash=request_hash(body.model_dump()),
        render=render_purchased,
    )
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return JSONResponse(payload, status_code=status, headers=headers)


@kros_route("update")
async def update_number(request: Request, sandbox: Sandbox, org: Org) -> Response:
    body = validate(UpdateBody, await read_json(request))
    # Only fields present in the request change; an explicit null endpoint detaches.
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    for name in ("allow_inbound", "allow_outbound"):
        if name in changes and changes[name] is None:
            raise invalid(name, "must be true or false")
    row = sandbox.db.update_number(org.id, request.path_params["number_id"], changes)
    return JSONResponse(render_number_detail(sandbox.db, row))


@kros_route("release")
async def release_number(request: Request, sandbox: Sandbox, org: Org) -> Response:
    row = sandbox.db.release_number(org.id, request.path_params["number_id"])
    return JSONResponse(
        {"success": True, "message": f"{row['e164']} was released back to the inventory"}
    )


# -- endpoints ------------------------------------------------------------------------------


@kros_route("endpoints")
async def list_endpoints(request: Request, sandbox: Sandbox, org: Org) -> Response:
    type_ = choice_param(request, "type", ENDPOINT_TYPES)
    status = choice_param(request, "status", ENDPOINT_STATUSES)
    limit, offset = _page(request, 50)
    rows, total = sandbox.db.list_endpoints(org.id, limit, offset, type=type_, status=status)
    return JSONResponse(
        {
            "endpoints": [render_endpoint(r) for r in rows],
            "total": total,
            "limit": limit,
            "offset": offset,
        }
    )


@kros_route("endpoints")
async def get_endpoint(request: Request, sandbox: Sandbox, org: Org) -> Response:
    row = sandbox.db.get_endpoint(org.id, request.path_params["endpoint_id"])
    if row is None:
        raise SandboxError(
            404, "NOT_FOUND", f"endpoint {request.path_params['endpoint_id']!r} not found"
        )
    return JSONResponse(render_endpoint(row))


@kros_route("endpoints")
async def create_endpoint(request: Request, sandbox: Sandbox, org: Org) -> Response:
    body = validate(EndpointBody, await read_json(request))
    if body.type not in ENDPOINT_TYPES:
        raise invalid("type", f"must be one of {', '.join(ENDPOINT_TYPES)}")
    row = sandbox.db.create_endpoint(
        org.id, name=body.name, type=body.type, url=body.url, provider_config=body.provider_config
    )
    return JSONResponse(render_endpoint(row), status_code=201)


@kros_route("endpoints")
async def update_endpoint(request: Request, sandbox: Sandbox, org: Org) -> Response:
    body = validate(EndpointPatch, await read_json(request))
    # KrosAI's guide: status may be set to active or inactive (error is KrosAI's own verdict).
    if body.status is not None and body.status not in ("active", "inactive"):
        raise invalid("status", "must be active or inactive")
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    if changes.get("name", "") is None:
        raise invalid("name", "must be a non-empty string")
    if "status" in changes and changes["status"] is None:
        raise invalid("status", "must be active or inactive")
    row = sandbox.db.update_endpoint(org.id, request.path_params["endpoint_id"], changes)
    return JSONResponse(render_endpoint(row))


API_ROUTES = [
    Route("/phone-numbers", list_numbers, methods=["GET"]),
    Route("/phone-numbers", purchase, methods=["POST"]),
    Route("/phone-numbers/available", search_available, methods=["GET"]),
    Route("/phone-numbers/{number_id}", get_number, methods=["GET"]),
    Route("/phone-numbers/{number_id}", update_number, methods=["PATCH"]),
    Route("/phone-numbers/{number_id}", release_number, methods=["DELETE"]),
    Route("/endpoints", list_endpoints, methods=["GET"]),
    Route("/endpoints", create_endpoint, methods=["POST"]),
    Route("/endpoints/{endpoint_id}", get_endpoint, methods=["GET"]),
    Route("/endpoints/{endpoint_id}", update_endpoint, methods=["PATCH"]),
]
