"""Async client for the KrosAI Phone Numbers API."""

from __future__ import annotations

import functools
import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar

import anyio
import httpx2
from pydantic import BaseModel, SecretStr, ValidationError

from ._auth import ApiKeyAuth, mask_api_key
from ._errors_map import error_from_response, translate_transport_errors
from ._observe import capped, emit, spending, watch_slow
from ._retry import RETRYABLE_STATUSES, Deadline, RetryPolicy
from ._singleflight import SingleFlight
from .errors import (
    APIError,
    BaseURLError,
    KrosAIError,
    NotFoundError,
    PurchaseNotCompleted,
    PurchaseOutcomeUnknown,
    RateLimitError,
    ResponseFormatError,
    TransportError,
)
from .models import (
    AvailableNumberPage,
    Endpoint,
    EndpointPage,
    PhoneNumber,
    PhoneNumberPage,
    PurchaseReceipt,
    ReleaseResult,
)
from .numbers import same_number

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TIMEOUT", "UNSET", "KrosAIClient", "ReconcilePolicy"]

log = logging.getLogger("kros_mcp.krosai")

_M = TypeVar("_M", bound=BaseModel)

DEFAULT_BASE_URL: Final = "https://api.krosai.com/v1"
DEFAULT_TIMEOUT: Final = httpx2.Timeout(connect=5.0, read=20.0, write=10.0, pool=5.0)
DEFAULT_MAX_CONNECTIONS: Final = 32  # requests to KrosAI in flight at once, per client
PAGE_MAX: Final = 100
_OFFER_MEMORY = 10_000


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()


@dataclass(frozen=True)
class ReconcilePolicy:
    """After an ambiguous purchase: how long to look for the number among owned numbers."""

    # Pauses before each scan of owned numbers; later scans catch a request still in flight.
    scan_delays: tuple[float, ...] = (0.0, 1.0, 3.0)
    # All scans together stop after this long; the outcome is then reported unknown.
    max_seconds: float = 90.0


@dataclass
class _Attempts:
    count: int = 0
    # True once an attempt may have reached the server without us seeing its answer.
    ambiguous: bool = False


class KrosAIClient:
    """Typed async access to `/phone-numbers`: list, get, search, purchase, update, release.

    Reads, PATCH and DELETE are retried on connection errors, 429, 502, 503 and 504 within one
    deadline per call. A purchase is never re-sent once it may have reached KrosAI: an ambiguous
    failure is settled by looking for the number among owned numbers.
    """

    def __init__(
        self,
        api_key: str | SecretStr,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: httpx2.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        reconcile: ReconcilePolicy | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        available_route: Literal["auto", "path", "action"] = "auto",
        user_agent: str = "kros-mcp",
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self._api_key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.reconcile = reconcile or ReconcilePolicy()
        self._available_route = available_route
        self._offer_numbers: OrderedDict[str, str] = OrderedDict()
        # Requests queue here rather than in httpcore's pool, whose hand-out of free connections
        # costs time in proportion to the queue: a thousand queued requests saturated the CPU.
        self._slots = anyio.CapacityLimiter(max_connections)
        self._searches: SingleFlight[AvailableNumberPage] = SingleFlight()
        # Identical reads in flight at once share one request; a write makes later reads fresh.
        self._reads: SingleFlight[Any] = SingleFlight()
        self._http = httpx2.AsyncClient(
            limits=httpx2.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            base_url=self.base_url + "/",
            auth=ApiKeyAuth(self._api_key),
            timeout=timeout,
            transport=transport,
            headers={"accept": "application/json", "user-agent": user_agent},
        )

    def __repr__(self) -> str:
        return f"KrosAIClient(base_url={self.base_url!r}, api_key={mask_api_key(self._api_key)!r})"

    async def __aenter__(self) -> KrosAIClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- reads ----------------------------------------------------------------------------

    async def list_numbers(
        self,
        *,
        status: str | None = None,
        country: str | None = None,
        limit: int = 20,
        offset: int = 0,
        fresh: bool = False,
    ) -> PhoneNumberPage:
        """One page of owned numbers (KrosAI allows at most 100 a page). An identical request
        already in flight is joined unless `fresh` (reconciliation must see what is true now)."""
        params = _drop_none(
            {"status": status, "country": country, "limit": limit, "offset": offset}
        )
        if fresh:
            return await self._list_numbers(params)
        key = ("list", *sorted(params.items()))
        page: PhoneNumberPage = await self._reads.run(key, lambda: self._list_numbers(params))
        return page

    async def _list_numbers(self, params: dict[str, Any]) -> PhoneNumberPage:
        response = await self._collection("phone-numbers", params)
        return _parse(PhoneNumberPage, response)

    async def iter_numbers(
        self, *, status: str | None = None, country: str | None = None, page_size: int = PAGE_MAX
    ) -> AsyncIterator[PhoneNumber]:
        """Every owned number, fetched page by page."""
        page_size = max(1, min(PAGE_MAX, page_size))
        offset = 0
        seen: set[str] = set()
        while True:
            page = await self.list_numbers(
                status=status, country=country, limit=page_size, offset=offset, fresh=True
            )
            fresh = 0
            for number in page.items:
                if number.id not in seen:  # pages can shift while numbers are bought or released
                    seen.add(number.id)
                    fresh += 1
                    yield number
            offset += len(page.items)
            # A total, when given, is trusted over the page length: KrosAI may cap pages lower.
            done = offset >= page.total if page.total is not None else len(page.items) < page_size
            if done or not fresh:  # nothing new: an empty page, or a server ignoring `offset`
                return

    async def get_number(self, number_id: str, *, fresh: bool = False) -> PhoneNumber:
        """One owned number, with its endpoint and SIP details when KrosAI gives them. An
        identical request already in flight is joined unless `fresh`."""
        path = f"phone-numbers/{_segment(number_id)}"
        if fresh:
            return await self._get_number(path)
        number: PhoneNumber = await self._reads.run(("get", path), lambda: self._get_number(path))
        return number

    async def _get_number(self, path: str) -> PhoneNumber:
        return _parse(PhoneNumber, _unwrap_data(await self._request("GET", path)))

    async def search_available(
        self,
        country: str,
        *,
        type: str | None = None,
        area_code: str | None = None,
        limit: int = 20,
        offset: int | None = None,
    ) -> AvailableNumberPage:
        """Numbers for sale in `country` (ISO alpha-2), optionally by type and area code.

        Identical searches made while one is in flight share its answer (inventory may be a moment
        old, as it may be anyway by the time a purchase is sent).
        """
        params = _drop_none(
            {
                "country": country,
                "type": type,
                "area_code": area_code,
                "limit": limit,
                "offset": offset,
            }
        )
        return await self._searches.run(tuple(sorted(params.items())), lambda: self._search(params))

    async def _search(self, params: dict[str, Any]) -> AvailableNumberPage:
        if self._available_route in ("auto", "path"):
            try:
                response = await self._request("GET", "phone-numbers/available", params=params)
            except APIError as exc:
                # The OpenAPI spec only has ?action=available; fall back to it once and remember.
                if (
                    self._available_route == "path"
                    or exc.status not in (404, 405)
                    or exc.code
                    not in (
                        "NOT_FOUND",
                        "NUMBER_NOT_FOUND",
                        "PHONE_NUMBER_NOT_FOUND",
                        "HTTP_404",
                        "HTTP_405",
                    )
                ):
                    raise
                log.info("GET /phone-numbers/available is not served here; using ?action=available")
                self._available_route = "action"
                return await self._search(params)
        else:
            response = await self._collection("phone-numbers", {"action": "available", **params})
        page = _parse(AvailableNumberPage, response)
        for item in page.items:
            self._remember_offer(item.id, item.number)
        return page

    async def list_endpoints(
        self,
        *,
        type: str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> EndpointPage:
        """One page of the organisation's endpoints (where calls to a number can be routed)."""
        params = _drop_none({"type": type, "status": status, "limit": limit, "offset": offset})
        return _parse(EndpointPage, await self._collection("endpoints", params))

    async def iter_endpoints(self, *, status: str | None = None) -> AsyncIterator[Endpoint]:
        """Every endpoint, page by page."""
        offset = 0
        while True:
            page = await self.list_endpoints(status=status, limit=PAGE_MAX, offset=offset)
            for endpoint in page.items:
                yield endpoint
            offset += len(page.items)
            done = offset >= page.total if page.total is not None else len(page.items) < PAGE_MAX
            if done or not page.items:
                return

    async def get_endpoint(self, endpoint_id: str) -> Endpoint:
        response = await self._request("GET", f"endpoints/{_segment(endpoint_id)}")
        return _parse(Endpoint, _unwrap_data(response, ("data", "endpoint")))

    # -- writes ---------------------------------------------------------------------------

    async def purchase(
        self,
        inventory_id: str,
        *,
        endpoint_id: str | None = None,
        allow_inbound: bool | None = None,
        allow_outbound: bool | None = None,
        idempotency_key: str | None = None,
        expected_number: str | None = None,
    ) -> PurchaseReceipt:
        """Buy an inventory number. Debits setup plus the first month.

        Returns a receipt, or raises: an `APIError` when KrosAI refused (nothing bought),
        `PurchaseNotCompleted` when reconciliation proved nothing was bought, or
        `PurchaseOutcomeUnknown` when it could not tell. `expected_number` (E.164) helps
        reconciliation recognise the number; numbers seen in `search_available` are remembered.
        """
        with spending():
            return await self._purchase(
                inventory_id,
                endpoint_id=endpoint_id,
                allow_inbound=allow_inbound,
                allow_outbound=allow_outbound,
                idempotency_key=idempotency_key,
                expected_number=expected_number,
            )

    async def _purchase(
        self,
        inventory_id: str,
        *,
        endpoint_id: str | None,
        allow_inbound: bool | None,
        allow_outbound: bool | None,
        idempotency_key: str | None,
        expected_number: str | None,
    ) -> PurchaseReceipt:
        key = idempotency_key or f"kros-mcp-{uuid.uuid4()}"
        body = _drop_none(
            {
                "inventory_id": inventory_id,
                "endpoint_id": endpoint_id,
                "allow_inbound": allow_inbound,
                "allow_outbound": allow_outbound,
            }
        )
        headers = {"Idempotency-Key": key}
        # An ambiguous outcome is settled by looking for the number, never by sending again.
        settle = functools.partial(self._reconcile_purchase, inventory_id, expected_number, key)
        deadline = Deadline(capped(self.retry.deadline))
        attempts = 0
        while True:
            attempts += 1
            try:
                response = await self._send_once(
                    "POST", "phone-numbers", deadline, json=body, headers=headers
                )
            except TransportError as exc:
                if exc.request_sent:
                    return await settle(exc, authoritative=False, attempts=attempts)
                await self._wait_to_resend_purchase(exc, attempts, deadline, inventory_id, key)
                continue
            if response.is_success:
                try:
                    number = _parse(PhoneNumber, _unwrap_data(response))
                except ResponseFormatError as exc:
                    # KrosAI accepted the purchase: find the number rather than report a failure.
                    return await settle(exc, authoritative=False, attempts=attempts)
                return PurchaseReceipt(number=number, idempotency_key=key, attempts=attempts)
            error = self._error(response)
            if await self._waited_out_rate_limit(error, attempts, deadline):
                continue
            if response.status_code >= 500:
                # A gateway error (502/504) may hide a request still running behind it.
                authoritative = response.status_code not in (502, 504)
                return await settle(error, authoritative=authoritative, attempts=attempts)
            raise error

    async def _wait_to_resend_purchase(
        self, exc: TransportError, attempts: int, deadline: Deadline, inventory_id: str, key: str
    ) -> None:
        """Wait before sending a purchase again that never left; raise when it may not be resent."""
        wait = self.retry.backoff(attempts)
        if attempts < self.retry.max_attempts and deadline.allows(wait):
            log.info("purchase: KrosAI unreachable, nothing sent; retrying in %.2fs", wait)
            await emit(
                "retry",
                "info",
                "Could not reach KrosAI for the purchase (nothing was sent); "
                f"retry {attempts} in {wait:.1f}s.",
            )
            await anyio.sleep(wait)
            return
        raise PurchaseNotCompleted(
            f"could not reach KrosAI, so nothing was bought: {exc.message}",
            inventory_id=inventory_id,
            idempotency_key=key,
            cause=exc,
        ) from exc

    async def _waited_out_rate_limit(
        self, error: APIError, attempts: int, deadline: Deadline
    ) -> bool:
        """True after waiting out a 429 that allows another attempt in time."""
        if not isinstance(error, RateLimitError) or attempts >= self.retry.max_attempts:
            return False
        # A 429 is refused before processing, so sending again cannot buy twice.
        wait = self._wait_for(error, attempts)
        if wait is None or not deadline.allows(wait):
            return False
        log.info("purchase rate limited; retrying in %.2fs", wait)
        await emit(
            "retry",
            "info",
            f"KrosAI rate-limited the purchase (not processed); retry {attempts} in {wait:.1f}s.",
        )
        await anyio.sleep(wait)
        return True

    async def update_number(
        self,
        number_id: str,
        *,
        endpoint_id: str | _Unset | None = UNSET,
        allow_inbound: bool | _Unset = UNSET,
        allow_outbound: bool | _Unset = UNSET,
    ) -> PhoneNumber:
        """Change routing. Only the fields given are sent; `endpoint_id=None` detaches the endpoint."""
        body = {
            name: value
            for name, value in (
                ("endpoint_id", endpoint_id),
                ("allow_inbound", allow_inbound),
                ("allow_outbound", allow_outbound),
            )
            if value is not UNSET
        }
        response = await self._request("PATCH", f"phone-numbers/{_segment(number_id)}", json=body)
        return _parse(PhoneNumber, _unwrap_data(response))

    async def release_number(self, number_id: str) -> ReleaseResult:
        """Give a number back to KrosAI. Irreversible: it stops receiving calls at once."""
        attempts = _Attempts()
        try:
            response = await self._request(
                "DELETE", f"phone-numbers/{_segment(number_id)}", attempts=attempts
            )
        except NotFoundError:
            if not attempts.ambiguous:
                raise
            # An earlier attempt's answer was lost; the number being gone means it was released.
            return ReleaseResult(number_id=number_id, confirmed_by_retry=True)
        body = _json_or_none(response)
        if isinstance(body, dict):
            success = body.get("success")
            message = body.get("message")
            return ReleaseResult(
                number_id=number_id,
                success=success if isinstance(success, bool) else True,
                message=message if isinstance(message, str) else None,
            )
        return ReleaseResult(number_id=number_id)

    # -- plumbing -------------------------------------------------------------------------

    def _remember_offer(self, inventory_id: str, number: str) -> None:
        self._offer_numbers[inventory_id] = number
        self._offer_numbers.move_to_end(inventory_id)
        while len(self._offer_numbers) > _OFFER_MEMORY:
            self._offer_numbers.popitem(last=False)

    def _error(self, response: httpx2.Response) -> APIError:
        """The APIError for `response`, with the API key blanked should KrosAI echo it."""
        return error_from_response(response, secret=self._api_key.get_secret_value())

    def _wait_for(self, error: APIError, attempt: int) -> float | None:
        """How long to wait before retrying after `error`, or None to give up now."""
        if error.retry_after is not None:
            return error.retry_after if error.retry_after <= self.retry.max_retry_after else None
        return self.retry.backoff(attempt)

    async def _send_once(
        self,
        method: str,
        path: str,
        deadline: Deadline,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx2.Response:
        remaining = deadline.remaining()
        if remaining > 0:
            acquired = False
            # One cancel scope bounds the wait for a connection slot and the request; it also
            # bounds transports that ignore httpx2 timeouts (in-process ASGI).
            with anyio.CancelScope(deadline=anyio.current_time() + remaining):
                try:
                    try:
                        self._slots.acquire_nowait()  # the usual case: a slot is free
                    except anyio.WouldBlock:
                        await self._slots.acquire()
                    acquired = True
                    with translate_transport_errors(method, "/" + path, self.base_url):
                        async with watch_slow(f"{method} /{path}", remaining):
                            return await self._http.request(
                                method, path, params=params, json=json, headers=headers
                            )
                finally:
                    if acquired:
                        self._slots.release()
                    if method != "GET":  # reads in flight may predate this write
                        self._reads.forget()
            if acquired:  # the deadline ended the request
                raise TransportError(
                    f"KrosAI did not answer {method} /{path} before the deadline",
                    request_sent=True,
                )
        raise TransportError(
            f"deadline passed before {method} /{path} could be sent", request_sent=False
        )

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        attempts: _Attempts | None = None,
    ) -> httpx2.Response:
        """Send an idempotent request, retrying what is safe to retry, and return a 2xx answer."""
        with spending():
            return await self._request_loop(method, path, params, json, attempts or _Attempts())

    async def _collection(self, path: str, params: Mapping[str, Any]) -> httpx2.Response:
        """GET a list route. A 404 there cannot mean a missing object: the base URL is wrong."""
        try:
            return await self._request("GET", path, params=params)
        except NotFoundError as exc:
            raise BaseURLError.for_route(self.base_url, "/" + path, exc) from exc

    async def _request_loop(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json: Any,
        attempts: _Attempts,
    ) -> httpx2.Response:
        deadline = Deadline(capped(self.retry.deadline))
        while True:
            attempts.count += 1
            try:
                response = await self._send_once(method, path, deadline, params=params, json=json)
            except TransportError as exc:
                attempts.ambiguous = attempts.ambiguous or exc.request_sent
                backoff = self.retry.backoff(attempts.count)
                if attempts.count >= self.retry.max_attempts or not deadline.allows(backoff):
                    raise
                await _announce_retry(f"{method} /{path} failed ({exc.message})", attempts, backoff)
                await anyio.sleep(backoff)
                continue
            if response.is_success:
                return response
            error = self._error(response)
            if (
                response.status_code in RETRYABLE_STATUSES
                and attempts.count < self.retry.max_attempts
            ):
                # A gateway error may hide a request that went through; a 503 or 429 was refused.
                attempts.ambiguous = attempts.ambiguous or response.status_code in (502, 504)
                wait = self._wait_for(error, attempts.count)
                if wait is not None and deadline.allows(wait):
                    what = f"KrosAI answered {method} /{path} with {error.code}"
                    await _announce_retry(what, attempts, wait)
                    await anyio.sleep(wait)
                    continue
            raise error

    async def _reconcile_purchase(
        self,
        inventory_id: str,
        expected_number: str | None,
        key: str,
        cause: KrosAIError,
        *,
        authoritative: bool,
        attempts: int,
    ) -> PurchaseReceipt:
        """Settle an ambiguous purchase by looking for the number among owned numbers."""
        hint = expected_number or self._offer_numbers.get(inventory_id)
        log.warning(
            "purchase of %s ended ambiguously (%s); checking owned numbers",
            inventory_id,
            cause.message,
        )
        await emit("reconcile", "warning", _RECONCILING.format(inventory_id, cause.message))
        scan_error: KrosAIError | None = None
        clean_scan = False
        found: PhoneNumber | None = None
        with anyio.move_on_after(capped(self.reconcile.max_seconds)) as scope:
            found, clean_scan, scan_error = await self._scan_for_purchase(
                inventory_id, hint, authoritative
            )
        if found is not None:
            log.warning("purchase of %s reconciled: bought as %s", inventory_id, found.id)
            return PurchaseReceipt(
                number=found, idempotency_key=key, reconciled=True, attempts=attempts
            )
        if scope.cancelled_caught:
            clean_scan = False
        if clean_scan and authoritative:
            raise PurchaseNotCompleted(
                f"KrosAI failed the purchase ({cause.message}) and the number is not among owned "
                "numbers: nothing was bought",
                inventory_id=inventory_id,
                idempotency_key=key,
                cause=cause,
            ) from cause
        reason = (
            f"; checking owned numbers failed: {scan_error.message}"
            if scan_error and not clean_scan
            else ""
        )
        raise PurchaseOutcomeUnknown(
            f"the purchase may or may not have gone through ({cause.message}){reason}. Check owned numbers "
            "before buying again",
            inventory_id=inventory_id,
            idempotency_key=key,
            cause=cause,
        ) from cause

    async def _scan_for_purchase(
        self, inventory_id: str, hint: str | None, authoritative: bool
    ) -> tuple[PhoneNumber | None, bool, KrosAIError | None]:
        """Scan owned numbers (repeatedly, per the policy): (found, clean scan seen, last error)."""
        scan_error: KrosAIError | None = None
        clean_scan = False
        scans = len(self.reconcile.scan_delays)
        for scan, delay in enumerate(self.reconcile.scan_delays, start=1):
            await anyio.sleep(delay)
            await emit("reconcile", "info", f"Checking owned numbers ({scan} of {scans}).")
            unidentifiable = False
            try:
                async for number in self.iter_numbers():
                    if number.inventory_id == inventory_id or (
                        hint and same_number(number.number, hint)
                    ):
                        await emit("reconcile", "notice", f"Found it: bought as {number.id}.")
                        return number, True, None
                    unidentifiable = unidentifiable or (
                        number.inventory_id is None and hint is None
                    )
            except KrosAIError as exc:
                scan_error = exc
                continue
            # Without a way to recognise the number, an empty result proves nothing.
            clean_scan = not unidentifiable
            if clean_scan and authoritative:
                break
        return None, clean_scan, scan_error


async def _announce_retry(what: str, attempts: _Attempts, wait: float) -> None:
    """Log a retry, and tell whoever observes the call."""
    message = f"{what}; retry {attempts.count} in {wait:.1f}s."
    log.info("%s", message)
    await emit("retry", "info", message)


_RECONCILING = (
    "The purchase of {} ended without a clear answer ({}); checking owned numbers before "
    "anything else."
)


def _segment(value: str) -> str:
    """A path segment that cannot escape its route (`../`, `?`, `#`)."""
    from urllib.parse import quote

    if value in ("", ".", ".."):  # quote() keeps these, and URL normalisation resolves them
        raise ValueError(f"{value!r} is not a valid id")
    return quote(value, safe="")


def _drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _json_or_none(response: httpx2.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _unwrap_data(
    response: httpx2.Response, keys: tuple[str, ...] = ("data", "phone_number", "phoneNumber")
) -> Any:
    """Single objects may come bare or as `{"data": {...}}` / `{"phone_number": {...}}`."""
    body = _json_or_none(response)
    if isinstance(body, dict) and "id" not in body:
        for key in keys:
            inner = body.get(key)
            if isinstance(inner, dict):
                return inner
    return body


def _parse(model: type[_M], payload: Any) -> _M:
    try:
        if isinstance(payload, httpx2.Response):
            # Parsed and validated in one pass (pydantic-core), not json.loads then validation.
            return model.model_validate_json(payload.content)
        if payload is None:
            raise ResponseFormatError("KrosAI answered with a body that is not JSON")
        return model.model_validate(payload)
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            raise ResponseFormatError("KrosAI answered with a body that is not JSON") from None
        fields = ", ".join(
            ".".join(str(p) for p in err["loc"]) or "body" for err in exc.errors()[:5]
        )
        raise ResponseFormatError(
            f"KrosAI answered with an unexpected {model.__name__} (fields: {fields})"
        ) from exc
