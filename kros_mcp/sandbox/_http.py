"""HTTP plumbing shared by the sandbox's KrosAI routes and its control routes: JSON answers in
KrosAI's error shape, query parameters, bounded request bodies and body validation."""

from __future__ import annotations

import json
from typing import Any

import pydantic_core
from pydantic import AliasChoices, BaseModel, ConfigDict, ValidationError
from starlette import responses
from starlette.requests import Request

from .db import SandboxError
from .inventory import COUNTRIES

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_OFFSET",
    "Body",
    "JSONResponse",
    "alias",
    "choice_param",
    "country_param",
    "error_response",
    "int_param",
    "invalid",
    "read_body",
    "read_json",
    "validate",
]

MAX_BODY_BYTES = 64 * 1024
MAX_OFFSET = 1_000_000_000


class JSONResponse(responses.JSONResponse):
    """Starlette's JSONResponse (compact UTF-8 JSON), rendered by pydantic-core: a third of the time
    of `json.dumps`, which every sandbox answer paid for."""

    def render(self, content: Any) -> bytes:
        return pydantic_core.to_json(content)


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


def invalid(field: str, message: str) -> SandboxError:
    return SandboxError(
        400,
        "INVALID_REQUEST",
        f"{field}: {message}",
        {"errors": [{"field": field, "message": message}]},
    )


def int_param(request: Request, name: str, default: int, low: int, high: int | None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(name, f"must be an integer, got {raw[:40]!r}") from None
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise invalid(name, f"must be {bounds}, got {value}")
    return value


def choice_param(request: Request, name: str, choices: tuple[str, ...]) -> str | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw not in choices:
        raise invalid(name, f"must be one of {', '.join(choices)}")
    return raw


def country_param(request: Request, *, required: bool) -> str | None:
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


async def read_body(request: Request) -> bytes:
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


async def read_json(request: Request) -> dict[str, Any]:
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


def validate(model: type[BaseModel], body: dict[str, Any]) -> Any:
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


def alias(*names: str) -> Any:
    return AliasChoices(*names)


class Body(BaseModel):
    # defer_build: validators are built on first use, not while the server starts.
    model_config = ConfigDict(extra="forbid", defer_build=True)
