"""The sandbox's own controls (`/_sandbox`), never mixed into the KrosAI routes: organisations,
KYC and balance, how long purchases stay pending, number states, faults, rate limits and prices."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import Field, StrictInt, StrictStr
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ._http import Body, JSONResponse, error_response, invalid, read_body, read_json, validate
from .api_routes import NUMBER_STATUSES, authenticate
from .db import KYC_STATES, Org, SandboxError
from .faults import FAULT_KINDS, OPERATIONS, Fault
from .render import render_inventory, render_number
from .state import Sandbox

__all__ = ["CONTROL_ROUTES"]

_MAX_PROVISIONING_SECONDS = 86_400


class OrgBody(Body):
    kyc_status: StrictStr = "approved"
    balance_cents: StrictInt = Field(10_000, ge=0, le=10**12)
    name: StrictStr | None = Field(None, max_length=100)
    provisioning_seconds: float = Field(0.0, ge=0, le=_MAX_PROVISIONING_SECONDS)


class OrgPatch(Body):
    kyc_status: StrictStr | None = None
    balance_cents: StrictInt | None = Field(None, ge=0, le=10**12)
    provisioning_seconds: float | None = Field(None, ge=0, le=_MAX_PROVISIONING_SECONDS)


class NumberStatePatch(Body):
    status: StrictStr
    # With status pending: seconds until the number becomes active on its own (unset: stays).
    pending_seconds: float | None = Field(None, gt=0, le=_MAX_PROVISIONING_SECONDS)


class PricePatch(Body):
    setup_cost_cents: StrictInt | None = Field(None, ge=0, le=10**9)
    monthly_cost_cents: StrictInt | None = Field(None, ge=0, le=10**9)


class FaultBody(Body):
    kind: StrictStr
    operation: StrictStr = "*"
    status: StrictInt = Field(503, ge=500, le=599)
    seconds: float = Field(0.0, ge=0, le=600)
    retry_after: float = Field(0.1, ge=0, le=600)
    times: StrictInt | None = Field(1, ge=1)
    probability: float = Field(1.0, ge=0, le=1)


def control(
    handler: Callable[[Request, Sandbox], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            request.state.raw_body = await read_body(request)
            return await handler(request, request.app.state.sandbox)
        except SandboxError as exc:
            return error_response(exc.status, exc.code, exc.message, exc.details)

    endpoint.__name__ = handler.__name__
    return endpoint


def _check_kyc(value: str | None) -> None:
    if value is not None and value not in KYC_STATES:
        raise invalid("kyc_status", f"must be one of {', '.join(KYC_STATES)}")


def _org_json(org: Org) -> dict[str, Any]:
    return {
        "organization_id": org.id,
        "name": org.name,
        "kyc_status": org.kyc_status,
        "balance_cents": org.balance_cents,
        "provisioning_seconds": org.provisioning_seconds,
    }


@control
async def create_org(request: Request, sandbox: Sandbox) -> Response:
    body = validate(OrgBody, await read_json(request))
    _check_kyc(body.kyc_status)
    org = sandbox.db.create_org(
        kyc_status=body.kyc_status,
        balance_cents=body.balance_cents,
        name=body.name,
        provisioning_seconds=body.provisioning_seconds,
    )
    return JSONResponse({"api_key": org.api_key, **_org_json(org)}, status_code=201)


@control
async def get_org(request: Request, sandbox: Sandbox) -> Response:
    return JSONResponse(_org_json(authenticate(request, sandbox)))


@control
async def patch_org(request: Request, sandbox: Sandbox) -> Response:
    org = authenticate(request, sandbox)
    body = validate(OrgPatch, await read_json(request))
    _check_kyc(body.kyc_status)
    updated = sandbox.db.update_org(
        org.id,
        kyc_status=body.kyc_status,
        balance_cents=body.balance_cents,
        provisioning_seconds=body.provisioning_seconds,
    )
    return JSONResponse(_org_json(updated))


@control
async def org_transactions(request: Request, sandbox: Sandbox) -> Response:
    org = authenticate(request, sandbox)
    fields = ("kind", "amount_cents", "phone_number_id", "inventory_id", "created_at")
    rows = sandbox.db.transactions(org.id)
    return JSONResponse({"transactions": [{k: r[k] for k in fields} for r in rows]})


@control
async def patch_number_state(request: Request, sandbox: Sandbox) -> Response:
    """Put an owned number in a state KrosAI reaches on its own (pending, suspended, porting)."""
    org = authenticate(request, sandbox)
    body = validate(NumberStatePatch, await read_json(request))
    if body.status not in NUMBER_STATUSES:
        raise invalid("status", f"must be one of {', '.join(NUMBER_STATUSES)}")
    if body.pending_seconds is not None and body.status != "pending":
        raise invalid("pending_seconds", "applies only with status pending")
    row = sandbox.db.set_number_status(
        org.id, request.path_params["number_id"], body.status, body.pending_seconds
    )
    return JSONResponse(render_number(row))


@control
async def faults_control(request: Request, sandbox: Sandbox) -> Response:
    if request.method == "DELETE":
        sandbox.faults.clear()
        return JSONResponse({"faults": []})
    if request.method == "POST":
        body = validate(FaultBody, await read_json(request))
        if body.kind not in FAULT_KINDS:
            raise invalid("kind", f"must be one of {', '.join(FAULT_KINDS)}")
        if body.operation not in (*OPERATIONS, "*"):
            raise invalid("operation", f"must be * or one of {', '.join(OPERATIONS)}")
        fault = sandbox.faults.add(Fault(**body.model_dump()))
        return JSONResponse(fault.as_dict(), status_code=201)
    return JSONResponse({"faults": [f.as_dict() for f in sandbox.faults.list()]})


@control
async def rate_limits_control(request: Request, sandbox: Sandbox) -> Response:
    if request.method == "PUT":
        body = await read_json(request)
        for bucket, value in body.items():
            if (
                bucket not in ("default", "purchase")
                or not isinstance(value, (int, float))
                or value <= 0
            ):
                raise invalid(
                    str(bucket), "buckets are default and purchase, each a positive rate per second"
                )
        for bucket, value in body.items():
            sandbox.limiter.set_limit(bucket, float(value))
    return JSONResponse({"rate_limits": sandbox.limiter.limits})


@control
async def patch_inventory(request: Request, sandbox: Sandbox) -> Response:
    body = validate(PricePatch, await read_json(request))
    row = sandbox.db.set_inventory_price(
        request.path_params["inventory_id"], body.setup_cost_cents, body.monthly_cost_cents
    )
    return JSONResponse(render_inventory(row))


CONTROL_ROUTES = [
    Route("/orgs", create_org, methods=["POST"]),
    Route("/org", get_org, methods=["GET"]),
    Route("/org", patch_org, methods=["PATCH"]),
    Route("/org/transactions", org_transactions, methods=["GET"]),
    Route("/phone-numbers/{number_id}", patch_number_state, methods=["PATCH"]),
    Route("/faults", faults_control, methods=["GET", "POST", "DELETE"]),
    Route("/rate-limits", rate_limits_control, methods=["GET", "PUT"]),
    Route("/inventory/{inventory_id}", patch_inventory, methods=["PATCH"]),
]
