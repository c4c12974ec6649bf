"""Two replicas behind an imaginary round-robin balancer: `--stateless --json-response`, one
PostgreSQL schema, one standalone sandbox as KrosAI, shared signing keys mid-rotation.

Rotation scenario: replica A runs KROS_MCP_SECRET="new,old" (signs with new), replica B runs
"old,new" (signs with old); both verify both. So a quote from A (signed with the new key) is
confirmed on B and a quote from B (signed with the old key) on A: old and new are accepted
together. A token signed with a key neither replica has is refused as tampered. A token sent to
both replicas at once buys once, and a 2026-era elicitation begun on one replica is finished on the
other (its sealed request state travels with the client).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, ElicitRequestFormParams, ElicitResult

from tests.support.http_servers import (
    POSTGRES_SKIP_REASON,
    POSTGRES_URL,
    Server,
    ServerSpec,
    connect,
    first_offer,
    launch,
    ok,
    pg_schema,
    read_json,
)
from tests.support.postgres import with_search_path
from tests.support.results import text_of

pytestmark = [pytest.mark.anyio, pytest.mark.skipif(not POSTGRES_URL, reason=POSTGRES_SKIP_REASON)]

OLD_KEY = "old-" + secrets.token_hex(20)
NEW_KEY = "new-" + secrets.token_hex(20)
FOREIGN_KEY = "foreign-" + secrets.token_hex(20)
SANDBOX_KEY = "kros_test_sandbox"


@dataclass
class Cluster:
    a: Server
    b: Server
    sandbox: Server

    def replica(self, name: str) -> Server:
        return {"A": self.a, "B": self.b}[name]

    async def purchases(self, inventory_id: str) -> list[dict[str, Any]]:
        async with httpx2.AsyncClient(timeout=10.0) as http:
            response = await http.get(
                self.sandbox.root + "/_sandbox/org/transactions", headers={"x-api-key": SANDBOX_KEY}
            )
        assert response.status_code == 200, response.text
        return [
            t
            for t in response.json()["transactions"]
            if t["kind"] == "purchase" and t["inventory_id"] == inventory_id
        ]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("scale-out")
    with pg_schema() as schema:
        state_url = with_search_path(POSTGRES_URL, schema)  # type: ignore[arg-type]
        (sandbox,) = launch(tmp, [ServerSpec("sandbox", "sandbox")])
        try:
            response = httpx2.put(
                sandbox.root + "/_sandbox/rate-limits",
                json={"purchase": 1000, "default": 1000},
                timeout=5.0,
            )
            assert response.status_code == 200, response.text
            common = {
                "KROSAI_API_KEY": SANDBOX_KEY,
                "KROSAI_BASE_URL": sandbox.root + "/v1",
                "KROS_MCP_STATE_URL": state_url,
                "KROS_MCP_LOG_FORMAT": "json",
            }
            a, b = launch(
                tmp,
                [
                    ServerSpec(
                        "replica-a",
                        "stateless-json",
                        env={**common, "KROS_MCP_SECRET": f"{NEW_KEY},{OLD_KEY}"},
                    ),
                    ServerSpec(
                        "replica-b",
                        "stateless-json",
                        env={**common, "KROS_MCP_SECRET": f"{OLD_KEY},{NEW_KEY}"},
                    ),
                ],
            )
            try:
                yield Cluster(a, b, sandbox)
                for replica in (a, b):
                    log = replica.log()
                    assert not any(k in log for k in (OLD_KEY, NEW_KEY, "postgresql://")), (
                        replica.spec.name
                    )
            finally:
                a.stop()
                b.stop()
        finally:
            sandbox.stop()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed_with(token: str, key: str) -> bool:
    prefix, payload, signature = token.split(".")
    expected = _b64(hmac.new(key.encode(), f"{prefix}.{payload}".encode(), hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature)


def resign(token: str, key: str, **changes: Any) -> str:
    """`token` with its claims changed as given, signed with `key`."""
    prefix, payload, _ = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{prefix}.{payload}.{_b64(hmac.new(key.encode(), f'{prefix}.{payload}'.encode(), hashlib.sha256).digest())}"


async def _purchase(
    server: Server, mode: str, inventory_id: str, token: str | None = None
) -> CallToolResult:
    arguments = {"inventory_id": inventory_id, **({"confirmation_token": token} if token else {})}
    async with connect(server, mode) as client:
        return await client.call_tool("purchase_number", arguments)


async def _quote(server: Server, mode: str, country: str) -> tuple[dict[str, Any], str]:
    async with connect(server, mode) as client:
        offer = await first_offer(client, country)
        quote = ok(
            await client.call_tool("purchase_number", {"inventory_id": offer["inventory_id"]})
        )
    assert quote["status"] == "confirmation_required"
    return offer, quote["confirmation_token"]


async def _spent(server: Server, mode: str) -> int:
    async with connect(server, mode) as client:
        return int((await read_json(client, "kros://policy"))["spent_last_24h_cents"])


@pytest.mark.parametrize(("quoted_on", "confirmed_on"), [("A", "B"), ("B", "A")])
async def test_quote_on_one_replica_confirmed_on_the_other(
    cluster: Cluster, quoted_on: str, confirmed_on: str, mode: str
) -> None:
    first, second = cluster.replica(quoted_on), cluster.replica(confirmed_on)
    with anyio.fail_after(40):
        spent_before = await _spent(first, mode)
        offer, token = await _quote(first, mode, "NG" if mode == "auto" else "GH")
        # A signs with the new key, B with the old one: each replica accepts the other's.
        assert signed_with(token, NEW_KEY if quoted_on == "A" else OLD_KEY)

        bought = ok(await _purchase(second, mode, offer["inventory_id"], token))
        assert bought["status"] == "purchased" and bought["number"]["number"] == offer["number"], (
            bought
        )

        # The token is spent on every replica: using it again buys nothing.
        for replica in (first, second):
            again = await _purchase(replica, mode, offer["inventory_id"], token)
            text = text_of(again)
            replayed = again.structured_content or {}
            assert str(replayed.get("message", "")).startswith("ALREADY USED") or (
                again.is_error and "Nothing" in text
            ), text

        assert len(await cluster.purchases(offer["inventory_id"])) == 1
        for replica in (
            first,
            second,
        ):  # the shared ledger counts it once, seen from either replica
            assert await _spent(replica, mode) == spent_before + offer["first_charge_cents"]


async def test_one_token_sent_to_both_replicas_at_once_buys_once(cluster: Cluster) -> None:
    offer, token = await _quote(cluster.a, "legacy", "KE")
    answers: list[CallToolResult] = []

    async def confirm(server: Server) -> None:
        answers.append(await _purchase(server, "legacy", offer["inventory_id"], token))

    with anyio.fail_after(40):
        async with anyio.create_task_group() as tg:
            for server in (cluster.a, cluster.b, cluster.a, cluster.b):
                tg.start_soon(confirm, server)
    assert len(await cluster.purchases(offer["inventory_id"])) == 1
    fresh = [
        a
        for a in answers
        if not a.is_error
        and a.structured_content["status"] == "purchased"
        and not a.structured_content["message"].startswith("ALREADY USED")
    ]
    assert len(fresh) == 1, [text_of(a)[:200] for a in answers]
    for answer in answers:
        if answer.is_error:
            assert (
                "Nothing new was bought" in text_of(answer) or "already" in text_of(answer).lower()
            ), text_of(answer)


async def test_token_signed_with_an_unknown_key_is_refused(cluster: Cluster, mode: str) -> None:
    offer, token = await _quote(cluster.b, mode, "RW")
    forgeries = {
        "foreign key": resign(token, FOREIGN_KEY),
        "cheaper, re-signed with a foreign key": resign(token, FOREIGN_KEY, price=1),
        "cheaper, old signature kept": ".".join(
            [*resign(token, FOREIGN_KEY, price=1).split(".")[:2], token.split(".")[2]]
        ),
    }
    with anyio.fail_after(40):
        for what, forged in forgeries.items():
            for replica in (cluster.a, cluster.b):
                refused = await _purchase(replica, mode, offer["inventory_id"], forged)
                assert refused.is_error, (what, text_of(refused))
                assert "Confirmation refused (tampered)" in text_of(refused), text_of(refused)
                assert "Nothing was bought" in text_of(refused)
        assert await cluster.purchases(offer["inventory_id"]) == []
        # The genuine token still works afterwards (the refusals spent nothing).
        assert (
            ok(await _purchase(cluster.a, mode, offer["inventory_id"], token))["status"]
            == "purchased"
        )
    assert len(await cluster.purchases(offer["inventory_id"])) == 1


class RoundRobin(httpx2.AsyncBaseTransport):
    """A load balancer in the client: each HTTP request goes to the next replica in turn."""

    def __init__(self, replicas: list[Server]) -> None:
        self.ports = [r.port for r in replicas]
        self.sent_to: list[tuple[int, str | None]] = []
        self._inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        port = self.ports[len(self.sent_to) % len(self.ports)]
        self.sent_to.append((port, request.headers.get("mcp-method")))
        request.url = request.url.copy_with(port=port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_elicitation_continues_on_the_other_replica(cluster: Cluster) -> None:
    """2026-07-28: the person is asked through an InputRequiredResult whose request state is sealed
    with the shared keys; the client's retry lands on the other replica, which unseals it and buys."""
    asked: list[str] = []

    async def on_elicit(context: Any, params: Any) -> ElicitResult:
        assert isinstance(params, ElicitRequestFormParams)
        asked.append(params.message)
        return ElicitResult(action="accept", content={"confirm": True})

    balancer = RoundRobin([cluster.a, cluster.b])
    with anyio.fail_after(30):
        async with (
            httpx2.AsyncClient(transport=balancer, timeout=httpx2.Timeout(30.0)) as http,
            Client(
                streamable_http_client(cluster.a.url, http_client=http),
                mode="auto",
                cache=None,
                elicitation_callback=on_elicit,
            ) as client,
        ):
            offer = await first_offer(client, "AE")
            balancer.sent_to.clear()
            bought = ok(
                await client.call_tool("purchase_number", {"inventory_id": offer["inventory_id"]})
            )
            audit = await read_json(client, "kros://audit")
    assert bought["status"] == "purchased" and len(asked) == 1 and offer["number"] in asked[0]
    # The first round and its retry went to different replicas.
    assert [m for _, m in balancer.sent_to[:2]] == ["tools/call", "tools/call"]
    assert balancer.sent_to[0][0] != balancer.sent_to[1][0]
    (entry,) = [
        e for e in audit["entries"] if e["arguments"]["inventory_id"] == offer["inventory_id"]
    ]
    assert (entry["status"], entry["confirmation"]) == ("succeeded", "elicitation")
    assert len(await cluster.purchases(offer["inventory_id"])) == 1


async def test_replicas_are_ready(cluster: Cluster) -> None:
    async with httpx2.AsyncClient(timeout=10.0) as http:
        for replica in (cluster.a, cluster.b):
            response = await http.get(replica.root + "/readyz")
            assert response.status_code == 200, response.text
            assert response.json()["checks"][0] == "state store ok"
            assert "postgres" not in response.text.lower()
