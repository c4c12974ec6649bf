"""Fakes for the KrosAI client tests: scripted and in-memory KrosAI answers, and clients wired to
them with fast retry and reconcile rules."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

import httpx2

from kros_mcp.krosai import KrosAIClient, ReconcilePolicy, RetryPolicy

API_KEY = "kros_test_SECRETSECRET123"
BASE_URL = "https://api.krosai.test/v1"
FAST_RETRY = RetryPolicy(initial_backoff=0.001, max_backoff=0.01, deadline=5)
FAST_RECONCILE = ReconcilePolicy(scan_delays=(0, 0.01))

Handler = Callable[[httpx2.Request], Any]


def make_client(handler: Handler, **kwargs: Any) -> KrosAIClient:
    """A client wired to `handler` through httpx2.MockTransport, with fast retry and reconcile."""
    kwargs.setdefault("retry", FAST_RETRY)
    kwargs.setdefault("reconcile", FAST_RECONCILE)
    kwargs.setdefault("base_url", BASE_URL)
    return KrosAIClient(API_KEY, transport=httpx2.MockTransport(handler), **kwargs)


def number_json(
    id: str = "pn_1", number: str = "+14155550100", inventory_id: str | None = "inv_1", **extra: Any
) -> dict[str, Any]:
    """An owned phone number as KrosAI returns it."""
    body: dict[str, Any] = {
        "id": id,
        "number": number,
        "country": "US",
        "type": "local",
        "status": "active",
    }
    if inventory_id is not None:
        body["inventory_id"] = inventory_id
    return {**body, **extra}


def error_response(
    status: int, code: str | None = None, message: str = "boom", **headers: str
) -> httpx2.Response:
    """A JSON error answer in KrosAI's common `{"error": ..., "code": ...}` shape."""
    body: dict[str, Any] = {"error": message}
    if code is not None:
        body["code"] = code
    return httpx2.Response(status, json=body, headers=headers)


def fresh(response: httpx2.Response) -> httpx2.Response:
    """A new copy of a prepared answer, so one Response object is never sent twice."""
    return httpx2.Response(response.status_code, headers=response.headers, content=response.content)


def api_path(request: httpx2.Request) -> str:
    """The request path below the API version, e.g. `/phone-numbers/pn_1`."""
    path = request.url.raw_path.split(b"?")[0].decode()
    prefix = httpx2.URL(BASE_URL).path
    assert path.startswith(prefix), f"request escaped the API base: {path}"
    return path[len(prefix) :]


class Scripted:
    """A handler that plays a script: each step is a Response, an exception to raise, or a callable.

    The last step repeats once the script is exhausted. Every request is recorded.
    """

    def __init__(self, *steps: Any) -> None:
        assert steps, "a script needs at least one step"
        self.steps = list(steps)
        self.requests: list[httpx2.Request] = []

    @property
    def calls(self) -> int:
        return len(self.requests)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        step = self.steps[min(len(self.requests), len(self.steps)) - 1]
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, type) and issubclass(step, BaseException):
            raise step("scripted failure", request=request)
        if callable(step):
            return step(request)
        return fresh(step)


# A fault for FakeKrosAI: what to do with one request of a given method.
#   None              serve it normally
#   "timeout_after"   serve it (the server state changes), then lose the answer: ReadTimeout
#   "drop_after"      serve it, then drop the connection: RemoteProtocolError
#   "timeout_before"  time out without the server doing anything
#   "connect"         the request never leaves: ConnectError
#   "commit_later"    answer 504 now; the purchase shows up only from the second listing on
#   ("serve_then", r) serve it (the server state changes), then answer the Response r instead
#   int               answer that status with nothing done
#   httpx2.Response    answer it with nothing done
Fault = Any


class FakeKrosAI:
    """A tiny in-memory KrosAI: owned numbers, an inventory, and scripted faults per method."""

    def __init__(
        self,
        *,
        owned: Iterable[dict[str, Any]] = (),
        inventory: Iterable[dict[str, Any]] = (),
        records_inventory_id: bool = True,
        page_cap: int = 100,
        with_total: bool = True,
    ) -> None:
        self.owned: list[dict[str, Any]] = list(owned)
        self.inventory = {item["id"]: item for item in inventory}
        self.records_inventory_id = records_inventory_id
        self.page_cap = page_cap
        self.with_total = with_total
        self.faults: dict[str, list[Fault]] = {}
        self.requests: list[httpx2.Request] = []
        self._pending: dict[str, Any] | None = None
        self._listings_until_commit = 0

    def fail(self, method: str, *faults: Fault) -> FakeKrosAI:
        """Apply `faults` to the next requests of `method`, one each."""
        self.faults.setdefault(method, []).extend(faults)
        return self

    def requests_of(self, method: str) -> list[httpx2.Request]:
        return [r for r in self.requests if r.method == method]

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        assert request.headers.get("x-api-key") == API_KEY
        queue = self.faults.get(request.method) or []
        fault = queue.pop(0) if queue else None
        if fault == "connect":
            raise httpx2.ConnectError("connection refused", request=request)
        if fault == "timeout_before":
            raise httpx2.ReadTimeout("timed out", request=request)
        if isinstance(fault, int):
            return error_response(fault, message=f"scripted {fault}")
        if isinstance(fault, httpx2.Response):
            return fresh(fault)
        if isinstance(fault, tuple) and fault[0] == "serve_then":
            self._serve(request)
            return fresh(fault[1])
        if fault == "commit_later":
            self._pending = self._purchase_record(json.loads(request.content))
            self._listings_until_commit = 1
            return httpx2.Response(504, text="<html>Gateway Timeout</html>")
        response = self._serve(request)
        if fault == "timeout_after":
            raise httpx2.ReadTimeout("timed out", request=request)
        if fault == "drop_after":
            raise httpx2.RemoteProtocolError("server disconnected", request=request)
        assert fault is None, f"unknown fault {fault!r}"
        return response

    def _purchase_record(self, body: dict[str, Any]) -> dict[str, Any]:
        item = self.inventory.pop(body["inventory_id"])
        record = number_json(
            id=f"pn_{len(self.owned) + 1}",
            number=item["number"],
            inventory_id=item["id"] if self.records_inventory_id else None,
            endpoint_id=body.get("endpoint_id"),
        )
        return record

    def _serve(self, request: httpx2.Request) -> httpx2.Response:
        path = api_path(request)
        params = request.url.params
        if request.method == "GET" and (
            path == "/phone-numbers/available"
            or (path == "/phone-numbers" and params.get("action") == "available")
        ):
            return httpx2.Response(200, json={"available_numbers": list(self.inventory.values())})
        if request.method == "GET" and path == "/phone-numbers":
            if self._pending is not None:
                if self._listings_until_commit == 0:
                    self.owned.append(self._pending)
                    self._pending = None
                else:
                    self._listings_until_commit -= 1
            limit = int(params.get("limit", 20))
            offset = int(params.get("offset", 0))
            page = self.owned[offset : offset + min(limit, self.page_cap)]
            body: dict[str, Any] = {"phone_numbers": page, "limit": limit, "offset": offset}
            if self.with_total:
                body["total"] = len(self.owned)
            return httpx2.Response(200, json=body)
        if request.method == "POST" and path == "/phone-numbers":
            body = json.loads(request.content)
            if body["inventory_id"] not in self.inventory:
                return error_response(409, "NUMBER_NOT_AVAILABLE", "Number is no longer available")
            record = self._purchase_record(body)
            self.owned.append(record)
            return httpx2.Response(201, json=record)
        if path.startswith("/phone-numbers/"):
            number_id = unquote(path.removeprefix("/phone-numbers/"))
            found = [n for n in self.owned if n["id"] == number_id]
            if not found:
                return error_response(404, "NOT_FOUND", "Phone number not found")
            if request.method == "GET":
                return httpx2.Response(200, json=found[0])
            if request.method == "DELETE":
                self.owned.remove(found[0])
                return httpx2.Response(
                    200, json={"success": True, "message": "Phone number released"}
                )
            if request.method == "PATCH":
                found[0].update(json.loads(request.content))
                return httpx2.Response(200, json=found[0])
        return error_response(404, "NOT_FOUND", f"no route {request.method} {path}")
