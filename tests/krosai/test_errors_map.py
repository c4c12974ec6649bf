"""HTTP answers and httpx failures become the right KrosAI errors."""

from __future__ import annotations

import email.utils

import httpx2
import pytest

from kros_mcp.krosai import (
    APIError,
    AuthenticationError,
    ConflictError,
    EndpointNotFoundError,
    IdempotencyConflictError,
    InsufficientBalanceError,
    InvalidRequestError,
    KYCError,
    NotFoundError,
    NumberNotAvailableError,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    TransportError,
)
from kros_mcp.krosai._errors_map import (
    ERRORS_BY_CODE,
    error_from_response,
    parse_retry_after,
    translate_transport_errors,
)

from .fakes import error_response, make_client

# The codes the KrosAI guide documents, each with a status it is published with.
DOCUMENTED = [
    ("KYC_REQUIRED", 403, KYCError),
    ("KYC_PENDING", 403, KYCError),
    ("KYC_NOT_SUBMITTED", 403, KYCError),
    ("KYC_INITIATED", 403, KYCError),
    ("KYC_DECLINED", 403, KYCError),
    ("INSUFFICIENT_BALANCE", 400, InsufficientBalanceError),
    ("INSUFFICIENT_BALANCE", 402, InsufficientBalanceError),
    ("NUMBER_NOT_AVAILABLE", 404, NumberNotAvailableError),
    ("NUMBER_NOT_AVAILABLE", 409, NumberNotAvailableError),
    ("MISSING_FIELDS", 400, InvalidRequestError),
    ("ENDPOINT_NOT_FOUND", 404, EndpointNotFoundError),
    ("IDEMPOTENCY_KEY_REUSED", 422, IdempotencyConflictError),
    ("RATE_LIMIT_EXCEEDED", 429, RateLimitError),
]


def _error(status: int, **kwargs) -> APIError:
    return error_from_response(httpx2.Response(status, **kwargs))


@pytest.mark.parametrize(("code", "status", "cls"), DOCUMENTED)
def test_documented_code_maps_to_specific_class(
    code: str, status: int, cls: type[APIError]
) -> None:
    """Each documented code becomes its own exception class carrying status, code and message."""
    error = _error(status, json={"error": "The API says no", "code": code})
    assert type(error) is cls
    assert (error.status, error.code, error.message) == (status, code, "The API says no")
    assert str(error) == f"{code} (HTTP {status}): The API says no"


@pytest.mark.parametrize(("code", "cls"), sorted(ERRORS_BY_CODE.items()))
@pytest.mark.parametrize("status", [400, 404, 500])
def test_every_code_in_table_wins_over_status(code: str, cls: type[APIError], status: int) -> None:
    """The code decides the class whatever status KrosAI chose to send it with."""
    error = _error(status, json={"error": "x", "code": code})
    assert type(error) is cls
    assert error.code == code
    assert error.status == status


@pytest.mark.anyio
@pytest.mark.parametrize(("code", "status", "cls"), DOCUMENTED)
async def test_documented_code_reaches_caller_of_purchase(
    code: str, status: int, cls: type[APIError]
) -> None:
    """A purchase refused with a documented code raises that class to the caller, after one POST."""
    calls = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        calls.append(request.method)
        return error_response(status, code, "refused", **{"Retry-After": "7"})

    async with make_client(handler, retry=RetryPolicy(max_attempts=1, deadline=5)) as client:
        with pytest.raises(cls) as caught:
            await client.purchase("inv_1")
    assert (caught.value.status, caught.value.code, caught.value.message) == (
        status,
        code,
        "refused",
    )
    assert calls == ["POST"]


def test_rate_limit_carries_fractional_retry_after_header() -> None:
    """A 429 exposes Retry-After (fractional) as retry_after seconds."""
    error = _error(
        429,
        json={"error": "slow down", "code": "RATE_LIMIT_EXCEEDED"},
        headers={"Retry-After": "1.5"},
    )
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 1.5


def test_retry_after_in_body_is_used_and_header_wins() -> None:
    """A `retry_after` in the body is used when there is no header, and the header overrides it."""
    body = {"error": "slow down", "code": "RATE_LIMIT_EXCEEDED", "retry_after": 2}
    assert _error(429, json=body).retry_after == 2.0
    assert _error(429, json=body, headers={"Retry-After": "0.25"}).retry_after == 0.25
    assert _error(429, json={**body, "retry_after": True}).retry_after is None


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, InvalidRequestError),
        (401, AuthenticationError),
        (402, InsufficientBalanceError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (413, InvalidRequestError),
        (422, InvalidRequestError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (418, APIError),
        (451, APIError),
    ],
)
@pytest.mark.parametrize("code", [None, "SOMETHING_NEW_FROM_KROSAI"])
def test_unknown_or_missing_code_falls_back_on_status(
    status: int, cls: type[APIError], code: str | None
) -> None:
    """Without a known code the status picks the class; an unknown code is still reported."""
    body = {"error": "nope"} if code is None else {"error": "nope", "code": code}
    error = _error(status, json=body)
    assert type(error) is cls
    assert error.status == status
    assert error.code == (code or f"HTTP_{status}")
    assert error.message == "nope"


def test_nested_error_object_envelope() -> None:
    """`{"error": {"message", "code", "details"}}` gives message, code and details."""
    error = _error(
        400,
        json={
            "error": {
                "message": "Top up first",
                "code": "INSUFFICIENT_BALANCE",
                "details": {"needed": 1500},
            }
        },
    )
    assert type(error) is InsufficientBalanceError
    assert (error.message, error.code, error.details) == (
        "Top up first",
        "INSUFFICIENT_BALANCE",
        {"needed": 1500},
    )


def test_flat_error_string_with_code_and_details() -> None:
    """`{"error": "msg", "code": ..., "details": {...}}` keeps the details dict."""
    error = _error(
        400,
        json={
            "error": "Missing fields",
            "code": "MISSING_FIELDS",
            "details": {"fields": ["country"]},
        },
    )
    assert type(error) is InvalidRequestError
    assert error.details == {"fields": ["country"]}


def test_detail_string_envelope() -> None:
    """`{"detail": "..."}` (FastAPI style) gives the message; status picks the class."""
    error = _error(404, json={"detail": "Phone number not found"})
    assert type(error) is NotFoundError
    assert error.message == "Phone number not found"
    assert error.code == "HTTP_404"


def test_detail_list_envelope_is_readable() -> None:
    """A validation `detail` list becomes a JSON message rather than being lost."""
    error = _error(422, json={"detail": [{"loc": ["body", "country"], "msg": "field required"}]})
    assert type(error) is InvalidRequestError
    assert "field required" in error.message


def test_message_key_envelope() -> None:
    """`{"message": ..., "code": ...}` is understood too."""
    error = _error(403, json={"message": "KYC is pending review", "code": "KYC_PENDING"})
    assert type(error) is KYCError
    assert error.message == "KYC is pending review"


@pytest.mark.parametrize(
    ("status", "text", "cls"),
    [
        (402, "INSUFFICIENT_BALANCE", InsufficientBalanceError),
        (403, "KYC_PENDING\n", KYCError),
        (409, "  NUMBER_NOT_AVAILABLE ", NumberNotAvailableError),
    ],
)
def test_bare_text_code_body(status: int, text: str, cls: type[APIError]) -> None:
    """A non-JSON body that is just a code, like `INSUFFICIENT_BALANCE`, is read as that code."""
    error = _error(status, text=text)
    assert type(error) is cls
    assert error.code == text.strip()
    assert error.status == status


def test_html_body_gives_server_error_with_bounded_message() -> None:
    """A gateway's HTML page is a ServerError whose message is capped, not a crash."""
    html = "<html><head><title>502 Bad Gateway</title></head><body>" + "x" * 2000 + "</body></html>"
    error = _error(502, text=html, headers={"content-type": "text/html"})
    assert type(error) is ServerError
    assert error.code == "HTTP_502"
    assert "502 Bad Gateway" in error.message
    assert len(error.message) <= 500


def test_plain_text_sentence_is_message_not_code() -> None:
    """Ordinary text becomes the message; it is not mistaken for a code."""
    error = _error(400, text="Bad request: country is required")
    assert type(error) is InvalidRequestError
    assert error.code == "HTTP_400"
    assert error.message == "Bad request: country is required"


@pytest.mark.parametrize(
    ("status", "cls", "reason"),
    [
        (503, ServerError, "Service Unavailable"),
        (401, AuthenticationError, "Unauthorized"),
    ],
)
def test_empty_body_uses_reason_phrase(status: int, cls: type[APIError], reason: str) -> None:
    """An empty error body still gives a class from the status and a readable message."""
    error = _error(status)
    assert type(error) is cls
    assert error.message == reason
    assert error.code == f"HTTP_{status}"


def test_json_that_is_not_an_object() -> None:
    """A JSON list or number as an error body falls back on status without crashing."""
    assert type(_error(404, json=["nope"])) is NotFoundError
    assert type(_error(500, json=42)) is ServerError


def test_invalid_utf8_body() -> None:
    """Undecodable bytes do not break error mapping."""
    error = _error(
        500, content=b"\xff\xfe\xfa", headers={"content-type": "text/plain; charset=utf-8"}
    )
    assert type(error) is ServerError


# -- Retry-After --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.5", 1.5),
        ("0.137", 0.137),
        ("3", 3.0),
        ("  2 ", 2.0),
        ("0", 0.0),
    ],
)
def test_parse_retry_after_seconds(value: str, expected: float) -> None:
    """Integer and fractional seconds are read exactly."""
    assert parse_retry_after(value) == pytest.approx(expected)


def test_parse_retry_after_http_date() -> None:
    """An HTTP-date gives the seconds from now until then."""
    now = 1_700_000_000.0
    header = email.utils.formatdate(now + 42, usegmt=True)
    assert parse_retry_after(header, now=now) == pytest.approx(42)


def test_parse_retry_after_past_http_date_is_zero() -> None:
    """A date already passed means retry now, never a negative wait."""
    now = 1_700_000_000.0
    assert parse_retry_after(email.utils.formatdate(now - 100, usegmt=True), now=now) == 0.0


@pytest.mark.parametrize("value", [None, "", "   ", "soon", "1,5", "Wednesday", "12s"])
def test_parse_retry_after_garbage_is_none(value: str | None) -> None:
    """Unreadable values give None so the client falls back on its own backoff."""
    assert parse_retry_after(value) is None


@pytest.mark.parametrize("value", ["-1", "-0.5"])
def test_parse_retry_after_negative_never_negative(value: str) -> None:
    """A negative value never becomes a negative wait."""
    result = parse_retry_after(value)
    assert result is None or result == 0.0


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity", "1e400"])
def test_parse_retry_after_non_finite_is_none(value: str) -> None:
    """NaN and infinities are ignored rather than making the client sleep forever."""
    assert parse_retry_after(value) is None


# -- transport failures -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "sent"),
    [
        (httpx2.ConnectError, False),
        (httpx2.ConnectTimeout, False),
        (httpx2.PoolTimeout, False),
        (httpx2.UnsupportedProtocol, False),
        (httpx2.ReadTimeout, True),
        (httpx2.WriteTimeout, True),
        (httpx2.ReadError, True),
        (httpx2.WriteError, True),
        (httpx2.RemoteProtocolError, True),
    ],
)
def test_transport_errors_say_whether_request_left(exc: type[httpx2.HTTPError], sent: bool) -> None:
    """Only failures before any byte left are marked `request_sent=False`."""
    request = httpx2.Request("POST", "https://api.krosai.test/v1/phone-numbers")
    with (
        pytest.raises(TransportError) as caught,
        translate_transport_errors("POST", "/phone-numbers"),
    ):
        raise exc("boom", request=request)
    assert caught.value.request_sent is sent
    assert "POST /phone-numbers" in caught.value.message
    assert isinstance(caught.value.__cause__, exc)


def test_deadline_timeout_is_transport_error_after_sending() -> None:
    """The client's own deadline firing counts as a request that may have been sent."""
    with (
        pytest.raises(TransportError) as caught,
        translate_transport_errors("GET", "/phone-numbers"),
    ):
        raise TimeoutError
    assert caught.value.request_sent is True


def test_unrelated_exceptions_pass_through() -> None:
    """Programming errors are not disguised as transport errors."""
    with pytest.raises(KeyError), translate_transport_errors("GET", "/x"):
        raise KeyError("oops")
