"""The sandbox: a local KrosAI-compatible API (`/v1`) with its own controls (`/_sandbox`)."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pydantic_core
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
)
from starlette import responses
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..ratelimit import RateLimiter
from .db import KYC_STATES, SIP_DOMAIN, Org, SandboxDB, SandboxError, request_hash
from .faults import FAULT_KINDS, OPERATIONS, ConnectionDropped, Fault, FaultBoard
from .inventory import COUNTRIES

__all__ = ["Sandbox", "create_app"]

log = logging.getLogger("kros_mcp.sandbox")

MAX_BODY_BYTES = 64 * 1024
MAX_OFFSET = 1_000_000_000
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


class JSONResponse(responses.JSONResponse):
    """Starlette's JSONResponse (compact UTF-8 JSON), rendered by pydantic-core: a third of the time
    of `json.dumps`, which every sandbox answer paid for."""

    def render(self, content: Any) -> bytes:
        return pydantic_core.to_json(content)


@dataclass
class Sandbox:
    """Everything the sandbox app holds: its database, armed faults and rate limiter."""

    db: SandboxDB
    faults: FaultBoard
    limiter: RateLimiter


# -- errors and parsing ---------------------------------------------------------------------


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    retry_after: float | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": message, "code": code}
    if details:
        body["details"] = details
    headers = dict(headers or {})
    if retry_after is not None:
        body["retry_after"] = retry_after
        headers["Retry-After"] = f"{retry_after:.3f}".rstrip("0").rstrip(".") or "0"
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="krosai-sandbox"'
    return JSONResponse(body, status_code=status, headers=headers)


def _invalid(field: str, message: str) -> SandboxError:
    return SandboxError(
        400,
        "INVALID_REQUEST",
        f"{field}: {message}",
        {"errors": [{"field": field, "message": message}]},
    )


def _int_param(request: Request, name: str, default: int, low: int, high: int | None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _invalid(name, f"must be an integer, got {raw[:40]!r}") from None
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise _invalid(name, f"must be {bounds}, got {value}")
    return value


def _choice_param(request: Request, name: str, choices: tuple[str, ...]) -> str | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw not in choices:
        raise _invalid(name, f"must be one of {', '.join(choices)}")
    return raw


def _country_param(request: Request, *, required: bool) -> str | None:
    raw = request.query_params.get("country")
    if raw is None or raw.strip() == "":
        if required:
            raise SandboxError(
                400,
                "MISSING_FIELDS",
                "country is required (ISO code such as NG, KE, AE)",
                {"missing": ["country"]},
            )
        return None
    country = raw.strip().upper()
    if country not in COUNTRIES:
        raise SandboxError(
            400,
            "UNSUPPORTED_COUNTRY",
            f"country {raw[:20]!r} is not served; use one of {', '.join(COUNTRIES)}",
            {"supported": list(COUNTRIES)},
        )
    return country


async def _read_body(request: Request) -> bytes:
    """The request body, at most MAX_BODY_BYTES; read before any fault so a late commit still has it."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise SandboxError(413, "PAYLOAD_TOO_LARGE", f"request body is over {MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise SandboxError(
                413, "PAYLOAD_TOO_LARGE", f"request body is over {MAX_BODY_BYTES} bytes"
            )
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_json(request: Request) -> dict[str, Any]:
    raw: bytes = request.state.raw_body
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise SandboxError(400, "INVALID_REQUEST", "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise SandboxError(400, "INVALID_REQUEST", "request body must be a JSON object")
    return body


def _validate(model: type[BaseModel], body: dict[str, Any]) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"]}
            for err in exc.errors(include_url=False, include_input=False)
        ]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:3])
        raise SandboxError(
            400, "INVALID_REQUEST", f"invalid request body ({summary})", {"errors": errors}
        ) from None


def _alias(*names: str) -> Any:
    return AliasChoices(*names)


class _Body(BaseModel):
    # defer_build: validators are built on first use, not while the server starts.
    model_config = ConfigDict(extra="forbid", defer_build=True)


class PurchaseBody(_Body):
    inventory_id: StrictStr | None = Field(
        None, min_length=1, max_length=100, validation_alias=_alias("inventory_id", "inventoryId")
    )
    endpoint_id: StrictStr | None = Field(
        None, min_length=1, max_length=100, validation_alias=_alias("endpoint_id", "endpointId")
    )
    allow_inbound: StrictBool = Field(
        True, validation_alias=_alias("allow_inbound", "allowInbound")
    )
    allow_outbound: StrictBool = Field(
        True, validation_alias=_alias("allow_outbound", "allowOutbound")
    )


class UpdateBody(_Body):
    endpoint_id: StrictStr | None = Field(
        None, min_length=1, max_length=100, validation_alias=_alias("endpoint_id", "endpointId")
    )
    allow_inbound: StrictBool | None = Field(
        None, validation_alias=_alias("allow_inbound", "allowInbound")
    )
    allow_outbound: StrictBool | None = Field(
        None, validation_alias=_alias("allow_outbound", "allowOutbound")
    )


class EndpointBody(_Body):
    name: StrictStr = Field(min_length=1, max_length=100)
    type: StrictStr
    url: StrictStr | None = Field(None, max_length=2000)
    provider_config: dict[str, Any] | None = None


class OrgBody(_Body):
    kyc_status: StrictStr = "approved"
    balance_cents: StrictInt = Field(10_000, ge=0, le=10**12)
    name: StrictStr | None = Field(None, max_length=100)


class OrgPatch(_Body):
    kyc_status: StrictStr | None = None
    balance_cents: StrictInt | None = Field(None, ge=0, le=10**12)


class PricePatch(_Body):
    setup_cost_cents: StrictInt | None = Field(None, ge=0, le=10**9)
    monthly_cost_cents: StrictInt | None = Field(None, ge=0, le=10**9)


class FaultBody(_Body):
    kind: StrictStr
    operation: StrictStr = "*"
    status: StrictInt = Field(503, ge=500, le=599)
    seconds: float = Field(0.0, ge=0, le=600)
    retry_after: float = Field(0.1, ge=0, le=600)
    times: StrictInt | None = Field(1, ge=1)
    probability: float = Field(1.0, ge=0, le=1)


# -- rendering ------------------------------------------------------------------------------


def render_endpoint(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "type": row["type"],
        "url": row["url"],
        "status": row["status"],
        "provider_config": json.loads(row["provider_config"]) if row["provider_config"] else None,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def render_number(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "number": row["e164"],
        "e164": row["e164"],
        "country": row["country"],
        "type": row["type"],
        "status": row["status"],
        "endpoint_id": row["endpoint_id"],
        "allow_inbound": bool(row["allow_inbound"]),
        "allow_outbound": bool(row["allow_outbound"]),
        "monthly_cost_cents": row["monthly_cost_cents"],
        "inventory_id": row["inventory_id"],
        "sip_uri": f"sip:{row['e164']}@{SIP_DOMAIN}",
        "organization_id": row["org_id"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def render_purchased(row: Any) -> dict[str, Any]:
    body = render_number(row)
    body["setup_cost_cents"] = row["setup_cost_cents"]
    body["total_cost_cents"] = row["setup_cost_cents"] + row["monthly_cost_cents"]
    return body


def render_number_detail(db: SandboxDB, row: Any) -> dict[str, Any]:
    body = render_number(row)
    endpoint = db.get_endpoint(row["org_id"], row["endpoint_id"]) if row["endpoint_id"] else None
    body["endpoint"] = None
    if endpoint is not None:
        config = json.loads(endpoint["provider_config"]) if endpoint["provider_config"] else {}
        body["endpoint"] = {
            "id": endpoint["id"],
            "name": endpoint["name"],
            "type": endpoint["type"],
            "provider": config.get("provider", endpoint["type"]),
            "url": endpoint["url"],
            "status": endpoint["status"],
        }
    body["sip_credentials"] = {
        "username": row["e164"].lstrip("+"),
        "password": row["sip_password"],
        "domain": SIP_DOMAIN,
        "ip_address": "127.0.0.1",
        "port": 5060,
        "transport": "udp",
    }
    return body


def render_inventory(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "number": row["e164"],
        "e164": row["e164"],
        "country": row["country"],
        "type": row["type"],
        "area_code": row["area_code"],
        "setup_cost_cents": row["setup_cost_cents"],
        "monthly_cost_cents": row["monthly_cost_cents"],
        "capabilities": {"voice": True, "sms": bool(row["sms"]), "fax": False},
    }


# -- KrosAI routes --------------------------------------------------------------------------

Handler = Callable[[Request, Sandbox, Org], Awaitable[Response]]


def _api_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def _authenticate(request: Request, sandbox: Sandbox) -> Org:
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
                org = _authenticate(request, sandbox)
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
                request.state.raw_body = await _read_body(request)
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


@kros_route("list")
async def list_numbers(request: Request, sandbox: Sandbox, org: Org) -> Response:
    action = _choice_param(request, "action", ("assigned", "available"))
    if action == "available":
        return await _search(request, sandbox)
    status = _choice_param(request, "status", NUMBER_STATUSES)
    country = _country_param(request, required=False)
    limit = _int_param(request, "limit", 20, 1, 100)
    offset = _int_param(request, "offset", 0, 0, MAX_OFFSET)
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
    country = _country_param(request, required=True)
    assert country is not None
    number_type = _choice_param(request, "type", NUMBER_TYPES)
    area_code = request.query_params.get("area_code") or None
    if area_code is not None:
        area_code = area_code.strip().lstrip("0")
        if not area_code.isdigit() or not area_code.isascii() or len(area_code) > 5:
            raise _invalid("area_code", "must be 1 to 5 digits")
    limit = _int_param(request, "limit", 20, 1, 100)
    offset = _int_param(request, "offset", 0, 0, MAX_OFFSET)
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
        raise _invalid("Idempotency-Key", "must be 1 to 255 printable characters")
    body = _validate(PurchaseBody, await _read_json(request))
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
    raw = await _read_json(request)
    body = _validate(UpdateBody, raw)
    # Only fields present in the request change; an explicit null endpoint detaches.
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    for name in ("allow_inbound", "allow_outbound"):
        if name in changes and changes[name] is None:
            raise _invalid(name, "must be true or false")
    row = sandbox.db.update_number(org.id, request.path_params["number_id"], changes)
    return JSONResponse(render_number_detail(sandbox.db, row))


@kros_route("release")
async def release_number(request: Request, sandbox: Sandbox, org: Org) -> Response:
    row = sandbox.db.release_number(org.id, request.path_params["number_id"])
    return JSONResponse(
        {"success": True, "message": f"{row['e164']} was released back to the inventory"}
    )


@kros_route("endpoints")
async def list_endpoints(request: Request, sandbox: Sandbox, org: Org) -> Response:
    limit = _int_param(request, "limit", 50, 1, 100)
    offset = _int_param(request, "offset", 0, 0, MAX_OFFSET)
    rows, total = sandbox.db.list_endpoints(org.id, limit, offset)
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
    body = _validate(EndpointBody, await _read_json(request))
    if body.type not in ENDPOINT_TYPES:
        raise _invalid("type", f"must be one of {', '.join(ENDPOINT_TYPES)}")
    row = sandbox.db.create_endpoint(
        org.id, name=body.name, type=body.type, url=body.url, provider_config=body.provider_config
    )
    return JSONResponse(render_endpoint(row), status_code=201)


# -- sandbox controls (not KrosAI routes) ---------------------------------------------------


def control(
    handler: Callable[[Request, Sandbox], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            request.state.raw_body = await _read_body(request)
            return await handler(request, request.app.state.sandbox)
        except SandboxError as exc:
            return error_response(exc.status, exc.code, exc.message, exc.details)

    endpoint.__name__ = handler.__name__
    return endpoint


def _check_kyc(value: str | None) -> None:
    if value is not None and value not in KYC_STATES:
        raise _invalid("kyc_status", f"must be one of {', '.join(KYC_STATES)}")


def _org_json(org: Org) -> dict[str, Any]:
    return {
        "organization_id": org.id,
        "name": org.name,
        "kyc_status": org.kyc_status,
        "balance_cents": org.balance_cents,
    }


@control
async def create_org(request: Request, sandbox: Sandbox) -> Response:
    body = _validate(OrgBody, await _read_json(request))
    _check_kyc(body.kyc_status)
    org = sandbox.db.create_org(
        kyc_status=body.kyc_status, balance_cents=body.balance_cents, name=body.name
    )
    return JSONResponse({"api_key": org.api_key, **_org_json(org)}, status_code=201)


@control
async def get_org(request: Request, sandbox: Sandbox) -> Response:
    return JSONResponse(_org_json(_authenticate(request, sandbox)))


@control
async def patch_org(request: Request, sandbox: Sandbox) -> Response:
    org = _authenticate(request, sandbox)
    body = _validate(OrgPatch, await _read_json(request))
    _check_kyc(body.kyc_status)
    return JSONResponse(
        _org_json(
            sandbox.db.update_org(
                org.id, kyc_status=body.kyc_status, balance_cents=body.balance_cents
            )
        )
    )


@control
async def org_transactions(request: Request, sandbox: Sandbox) -> Response:
    org = _authenticate(request, sandbox)
    rows = sandbox.db.transactions(org.id)
    return JSONResponse(
        {
            "transactions": [
                {
                    k: r[k]
                    for k in (
                        "kind",
                        "amount_cents",
                        "phone_number_id",
                        "inventory_id",
                        "created_at",
                    )
                }
                for r in rows
            ]
        }
    )


@control
async def faults_control(request: Request, sandbox: Sandbox) -> Response:
    if request.method == "DELETE":
        sandbox.faults.clear()
        return JSONResponse({"faults": []})
    if request.method == "POST":
        body = _validate(FaultBody, await _read_json(request))
        if body.kind not in FAULT_KINDS:
            raise _invalid("kind", f"must be one of {', '.join(FAULT_KINDS)}")
        if body.operation not in (*OPERATIONS, "*"):
            raise _invalid("operation", f"must be * or one of {', '.join(OPERATIONS)}")
        fault = sandbox.faults.add(Fault(**body.model_dump()))  # type: ignore[arg-type]
        return JSONResponse(fault.as_dict(), status_code=201)
    return JSONResponse({"faults": [f.as_dict() for f in sandbox.faults.list()]})


@control
async def rate_limits_control(request: Request, sandbox: Sandbox) -> Response:
    if request.method == "PUT":
        body = await _read_json(request)
        for bucket, value in body.items():
            if (
                bucket not in ("default", "purchase")
                or not isinstance(value, (int, float))
                or value <= 0
            ):
                raise _invalid(
                    str(bucket), "buckets are default and purchase, each a positive rate per second"
                )
        for bucket, value in body.items():
            sandbox.limiter.set_limit(bucket, float(value))
    return JSONResponse({"rate_limits": sandbox.limiter.limits})


@control
async def patch_inventory(request: Request, sandbox: Sandbox) -> Response:
    body = _validate(PricePatch, await _read_json(request))
    row = sandbox.db.set_inventory_price(
        request.path_params["inventory_id"], body.setup_cost_cents, body.monthly_cost_cents
    )
    return JSONResponse(render_inventory(row))


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


# -- the app --------------------------------------------------------------------------------


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return error_response(
            405,
            "METHOD_NOT_ALLOWED",
            f"{request.method} is not allowed on {request.url.path}",
            headers=dict(exc.headers or {}),
        )
    return error_response(
        exc.status_code, "NOT_FOUND", f"no route {request.method} {request.url.path}"
    )


class _GuardMiddleware:
    """Last line: dropped connections are cut mid-response; any bug becomes a JSON 500, no traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            log.info("client went away during %s %s", scope.get("method"), scope.get("path"))
        except ConnectionDropped:
            if not started:
                # Promise a body that never arrives, so the client sees the connection cut.
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", b"1024"),
                        ],
                    }
                )
                await send(
                    {"type": "http.response.body", "body": b'{"id": "pn_', "more_body": True}
                )
            raise
        except Exception:
            log.exception("sandbox bug while serving %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            response = error_response(
                500, "INTERNAL_ERROR", "the sandbox failed unexpectedly; see its log"
            )
            await response(scope, receive, send)


def create_app(
    db_path: str | Path = ":memory:",
    *,
    inventory_per_block: int = 25,
    seed: int = 0,
    rate_limits: dict[str, float] | None = None,
) -> Starlette:
    """The sandbox ASGI app over the SQLite file at `db_path` (created and seeded when new)."""
    sandbox = Sandbox(
        db=SandboxDB(db_path, inventory_per_block=inventory_per_block, seed=seed),
        faults=FaultBoard(seed),
        limiter=RateLimiter(rate_limits),
    )
    routes = [
        Route("/v1/phone-numbers", list_numbers, methods=["GET"]),
        Route("/v1/phone-numbers", purchase, methods=["POST"]),
        Route("/v1/phone-numbers/available", search_available, methods=["GET"]),
        Route("/v1/phone-numbers/{number_id}", get_number, methods=["GET"]),
        Route("/v1/phone-numbers/{number_id}", update_number, methods=["PATCH"]),
        Route("/v1/phone-numbers/{number_id}", release_number, methods=["DELETE"]),
        Route("/v1/endpoints", list_endpoints, methods=["GET"]),
        Route("/v1/endpoints", create_endpoint, methods=["POST"]),
        Route("/v1/endpoints/{endpoint_id}", get_endpoint, methods=["GET"]),
        Route("/_sandbox/orgs", create_org, methods=["POST"]),
        Route("/_sandbox/org", get_org, methods=["GET"]),
        Route("/_sandbox/org", patch_org, methods=["PATCH"]),
        Route("/_sandbox/org/transactions", org_transactions, methods=["GET"]),
        Route("/_sandbox/faults", faults_control, methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/rate-limits", rate_limits_control, methods=["GET", "PUT"]),
        Route("/_sandbox/inventory/{inventory_id}", patch_inventory, methods=["PATCH"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    app.state.sandbox = sandbox
    app.add_middleware(_GuardMiddleware)
    return app
