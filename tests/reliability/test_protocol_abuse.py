"""Protocol abuse over HTTP: a randomized batch of what no client library would send.

A standalone sandbox stands in for KrosAI behind a stateful streamable-HTTP server and a stateless
JSON one (KROS_MCP_MAX_BODY_BYTES lowered so oversized bodies are cheap). Each abusive request gets
the error its kind calls for (HTTP status, and the JSON-RPC error code where the answer is
JSON-RPC), never a 5xx or a traceback, while a well-behaved client keeps calling a tool and every
one of its calls completes within 3 s. (tests/http/test_robustness.py already covers a fixed
garbage list, stalled connections and hang-ups mid-call; this is the randomized, counted campaign.)

Observed transport behaviour the expectations below encode (mcp SDK 2.3.0):
- an invalid Request object (wrong "jsonrpc", no "method", params not an object, a batch array)
  is answered 400 with code -32602 "Validation error" rather than JSON-RPC 2.0's -32600; both are
  accepted here (-32600 is what the spec names).
- a request with a null or object id is taken as a notification: 202, empty body, no answer.
- an unknown method: -32601 (HTTP 200 in the 2025-11-25 era, 404 in the 2026-07-28 era).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import pytest

from tests.http.test_robustness import PROMPT, _raw, heartbeat
from tests.support.http_servers import (
    LEGACY_HEADERS,
    LEGACY_VERSION,
    Server,
    ServerSpec,
    legacy_session,
    modern_request,
    rpc_messages,
    servers_on_sandbox,
)

from .sizes import BIG, size

pytestmark = pytest.mark.anyio

VARIANTS = ("stateful", "stateless-json")
MAX_BODY = 4096
INVALID_REQUEST = (-32600, -32602)  # JSON-RPC 2.0 says -32600; the SDK answers -32602 (see above)
SEED = 20261129


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    env = {"KROS_MCP_MAX_BODY_BYTES": str(MAX_BODY), "KROS_MCP_TOOL_RATE_LIMIT": "10000"}
    with servers_on_sandbox(
        tmp_path_factory.mktemp("protocol-abuse"), [ServerSpec(v, v, env=env) for v in VARIANTS]
    ) as (started, _):
        yield {s.spec.name: s for s in started}


# -- the cases ---------------------------------------------------------------------------------


@dataclass
class Case:
    kind: str
    body: bytes
    headers: dict[str, str]
    check: Callable[[httpx2.Response], None]
    raw: str = ""  # "trickle" or "vanish": sent over a raw socket instead of httpx


def _req(rng: random.Random, method: str = "tools/list", **extra: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rng.randint(1, 10**6), "method": method, **extra}


def _enc(message: Any) -> bytes:
    return json.dumps(message).encode()


def _no_crash(response: httpx2.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    assert "Traceback" not in response.text, response.text[:500]


def _error(
    status: int | tuple[int, ...], codes: tuple[int, ...] | None
) -> Callable[[httpx2.Response], None]:
    statuses = (status,) if isinstance(status, int) else status

    def check(response: httpx2.Response) -> None:
        _no_crash(response)
        assert response.status_code in statuses, (response.status_code, response.text[:300])
        if codes is not None:
            (message,) = rpc_messages(response)
            assert message["error"]["code"] in codes, message
            assert "result" not in message

    return check


def _accepted_silently(response: httpx2.Response) -> None:
    """A notification (or what the transport takes for one): 202, nothing answered."""
    _no_crash(response)
    if response.status_code == 202:
        assert response.text == "", response.text[:300]
    else:  # rejecting it outright would be correct too
        _error((400,), INVALID_REQUEST)(response)


def _answers_id(request_id: Any) -> Callable[[httpx2.Response], None]:
    def check(response: httpx2.Response) -> None:
        _no_crash(response)
        assert response.status_code == 200, (response.status_code, response.text[:300])
        (message,) = rpc_messages(response)
        assert message["id"] == request_id and "result" in message, str(message)[:300]

    return check


def make_case(rng: random.Random, kind: str, session: dict[str, str], variant: str) -> Case:
    h = dict(session)
    if kind == "invalid_json":
        whole = _enc(_req(rng, "tools/call", params={"name": "list_numbers", "arguments": {}}))
        cut = whole[: rng.randint(1, len(whole) - 1)]
        return Case(kind, cut, h, _error(400, (-32700,)))
    if kind == "not_utf8":
        return Case(
            kind,
            bytes(rng.randrange(128, 256) for _ in range(rng.randint(1, 200))),
            h,
            _error(400, (-32700, *INVALID_REQUEST)),
        )
    if kind == "lone_surrogate":
        # Valid JSON syntax, but an escaped half of a UTF-16 pair is no Unicode text: a parse error.
        half = f"\\u{rng.randint(0xD800, 0xDFFF):04x}"
        where = rng.choice(["key", "value"])
        arguments = f'{{"{half}x": 1}}' if where == "key" else f'{{"status": "a{half}"}}'
        request_id = rng.randint(1, 10**6)
        body = (
            f'{{"jsonrpc": "2.0", "id": {request_id}, "method": "tools/call", '
            f'"params": {{"name": "list_numbers", "arguments": {arguments}}}}}'
        )
        return Case(kind, body.encode(), h, _error(400, (-32700,)))
    if kind == "wrong_version":
        message = _req(rng)
        message["jsonrpc"] = rng.choice(["1.0", "3.0", 2, 2.0, None, ""])
        return Case(kind, _enc(message), h, _error(400, INVALID_REQUEST))
    if kind == "missing_method":
        message = _req(rng)
        del message["method"]
        return Case(kind, _enc(message), h, _error(400, INVALID_REQUEST))
    if kind == "params_wrong_type":
        message = _req(rng, rng.choice(["tools/list", "tools/call", "resources/read"]))
        message["params"] = rng.choice(["x", 5, True, [1, 2], [{"name": "list_numbers"}]])
        return Case(kind, _enc(message), h, _error(400, INVALID_REQUEST))
    if kind == "batch":
        batch = [_req(rng) for _ in range(rng.randint(0, 4))]
        return Case(kind, _enc(batch), h, _error(400, INVALID_REQUEST))
    if kind == "huge_id":
        request_id: Any = rng.choice(
            [10 ** rng.randint(19, 60), -(10 ** rng.randint(19, 60)), "i" * rng.randint(500, 3000)]
        )
        return Case(kind, _enc({**_req(rng), "id": request_id}), h, _answers_id(request_id))
    if kind == "null_id":
        request_id = rng.choice([None, {"a": 1}, [1]])
        return Case(kind, _enc({**_req(rng), "id": request_id}), h, _accepted_silently)
    if kind == "notification_needing_id":
        message = rng.choice(
            [
                {"jsonrpc": "2.0", "method": "tools/list"},
                {
                    "jsonrpc": "2.0",
                    "method": "tools/call",
                    "params": {"name": "list_numbers", "arguments": {}},
                },
                {"jsonrpc": "2.0", "method": "resources/read", "params": {"uri": "kros://policy"}},
            ]
        )
        return Case(kind, _enc(message), h, _accepted_silently)
    if kind == "oversized":
        padding = "a" * rng.randint(MAX_BODY + 1, MAX_BODY * 8)
        return Case(
            kind,
            _enc(
                _req(
                    rng,
                    "tools/call",
                    params={"name": "list_numbers", "arguments": {"pad": padding}},
                )
            ),
            h,
            _error(413, None),
        )
    if kind == "wrong_content_type":
        h["Content-Type"] = rng.choice(
            [
                "text/plain",
                "application/x-www-form-urlencoded",
                "multipart/form-data",
                "application/xml",
                "image/png",
            ]
        )
        return Case(kind, _enc(_req(rng)), h, _error((400, 415), None))
    if kind == "wrong_accept":
        h["Accept"] = rng.choice(["text/html", "image/png", "application/xml"])
        return Case(kind, _enc(_req(rng)), h, _error(406, INVALID_REQUEST))
    if kind == "unknown_method":
        name = rng.choice(
            ["kros/nope", "tools/lists", "x" * rng.randint(1, 300), "rpc.discover", ""]
        )
        if rng.random() < 0.5:
            message = _req(rng, name)
            if name == "":
                return Case(kind, _enc(message), h, _error((200, 400), (-32601, *INVALID_REQUEST)))
            return Case(kind, _enc(message), h, _error(200, (-32601,)))
        body, headers = modern_request(rng.randint(1, 10**6), name or "kros/nope")
        return Case(kind + "_modern", _enc(body), headers, _error(404, (-32601,)))
    if kind == "slow_client":
        request_id = rng.randint(1, 10**6)
        return Case(
            kind,
            _enc({"jsonrpc": "2.0", "id": request_id, "method": "tools/list"}),
            h,
            _answers_id(request_id),
            raw="trickle",
        )
    if kind == "vanishing_client":
        return Case(
            kind,
            _enc(_req(rng, "tools/call", params={"name": "list_numbers", "arguments": {}})),
            h,
            _no_crash,
            raw="vanish",
        )
    raise AssertionError(kind)


KINDS = (
    "invalid_json",
    "not_utf8",
    "lone_surrogate",
    "wrong_version",
    "missing_method",
    "params_wrong_type",
    "batch",
    "huge_id",
    "null_id",
    "notification_needing_id",
    "oversized",
    "wrong_content_type",
    "wrong_accept",
    "unknown_method",
    "slow_client",
    "vanishing_client",
)


def _http_head(server: Server, headers: dict[str, str], length: int) -> bytes:
    lines = [
        "POST /mcp HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}",
        f"Content-Length: {length}",
        "Connection: close",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _parse_raw(data: bytes) -> httpx2.Response:
    """A raw HTTP/1.1 answer (Connection: close) as an httpx2.Response, de-chunked if needed."""
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = [tuple(x.strip() for x in line.split(":", 1)) for line in header_lines if ":" in line]
    if any(k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in headers):
        body, remaining = b"", rest
        while remaining:
            size_line, _, remaining = remaining.partition(b"\r\n")
            length = int(size_line.split(b";")[0] or b"0", 16)
            if length == 0:
                break
            body, remaining = body + remaining[:length], remaining[length + 2 :]
        rest = body
        headers = [(k, v) for k, v in headers if k.lower() != "transfer-encoding"]
    return httpx2.Response(int(status_line.split()[1]), headers=headers, content=rest)


async def _trickle(server: Server, case: Case, delay: float) -> httpx2.Response:
    """The request sent a byte at a time (headers at once, then the body trickled)."""
    async with await anyio.connect_tcp("127.0.0.1", server.port) as stream:
        await stream.send(
            _http_head(
                server,
                {k: v for k, v in case.headers.items() if k.lower() != "content-length"},
                len(case.body),
            )
        )
        for i in range(len(case.body)):
            await stream.send(case.body[i : i + 1])
            await anyio.sleep(delay)
        received = b""
        with anyio.fail_after(10):
            try:
                while True:
                    received += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                pass
    return _parse_raw(received)


async def _vanish(server: Server, case: Case, rng: random.Random) -> None:
    """Headers promising the whole body, part of it, then the connection closes."""
    partial = case.body[: rng.randint(0, len(case.body) - 1)]
    await _raw(server, _http_head(server, case.headers, len(case.body)) + partial, read=False)


async def _session_headers(http: httpx2.AsyncClient, server: Server) -> dict[str, str]:
    if server.spec.variant == "stateful":
        return await legacy_session(http, server.url)
    return {**LEGACY_HEADERS, "MCP-Protocol-Version": LEGACY_VERSION}


@pytest.mark.parametrize("variant", VARIANTS)
async def test_protocol_abuse_gets_correct_errors_and_others_are_served(
    servers: dict[str, Server], variant: str, figures: dict[str, Any]
) -> None:
    server = servers[variant]
    rng = random.Random(f"{SEED}-{variant}")
    total = size(ci=40, big=1000)
    kinds: Counter[str] = Counter()
    failures: list[str] = []
    trickle_delay = 0.002 if BIG else 0.004
    with anyio.fail_after(60 if not BIG else 900):
        async with httpx2.AsyncClient(timeout=10.0) as http, heartbeat(server, "legacy") as beat:
            session = await _session_headers(http, server)
            # Every kind at least once, the rest at random.
            plan = list(KINDS) + [rng.choice(KINDS) for _ in range(max(0, total - len(KINDS)))]
            rng.shuffle(plan)
            for kind in plan[: max(total, len(KINDS))]:
                case = make_case(rng, kind, session, variant)
                kinds[case.kind] += 1
                try:
                    if case.raw == "trickle":
                        case.check(await _trickle(server, case, trickle_delay))
                    elif case.raw == "vanish":
                        await _vanish(server, case, rng)
                    else:
                        case.check(
                            await http.post(server.url, content=case.body, headers=case.headers)
                        )
                except AssertionError as exc:
                    failures.append(f"{case.kind}: {case.body[:80]!r} {case.headers}: {exc}")
        # The server still answers a plain request from the same session afterwards.
        async with httpx2.AsyncClient(timeout=10.0) as http:
            after = await http.post(
                server.url,
                json={"jsonrpc": "2.0", "id": 9, "method": "tools/list"},
                headers=session,
            )
            _answers_id(9)(after)
    figures.update(
        {
            "requests": sum(kinds.values()),
            "by_kind": dict(sorted(kinds.items())),
            "wrong_answers": len(failures),
            "client_disconnect_tracebacks_logged": server.log().count(
                "starlette.requests.ClientDisconnect"
            ),
            "heartbeat_calls": len(beat.latencies),
            "heartbeat_max_latency_s": round(max(beat.latencies), 3) if beat.latencies else None,
        }
    )
    assert not failures, "\n".join(failures[:20])
    beat.check(at_least=3)
    assert max(beat.latencies) < PROMPT
    assert not _unexpected_tracebacks(server.log())


def _unexpected_tracebacks(log: str) -> list[str]:
    """Tracebacks in the server's log, except the SDK's ERROR for a client that vanished mid-body
    (mcp.server.streamable_http logs starlette's ClientDisconnect with a full traceback: noise, no
    answer is lost, since nobody is left to answer)."""
    blocks = log.split("Traceback (most recent call last):")[1:]
    return [
        b[:2000]
        for b in blocks
        if "starlette.requests.ClientDisconnect" not in b.split("\n\n")[0]
        and not _ends_in_client_disconnect(b)
    ]


def _ends_in_client_disconnect(block: str) -> bool:
    lines = [line for line in block.splitlines() if line and not line.startswith((" ", "\t"))]
    return bool(lines) and lines[0].startswith("starlette.requests.ClientDisconnect")
