"""Every transport over real sockets, in both protocol eras, with and without authentication.

Eight `kros-mcp serve` processes start together: SSE, streamable HTTP stateful, stateless, and
stateless with JSON responses, each once open (loopback, no auth) and once with
KROS_MCP_AUTH_TOKENS. stdio runs as a subprocess of the MCP client. Each tour lists the tools,
searches, buys a number through the confirmation-token path (and replays the token), and reads the
resources that must reflect the purchase.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.support.http_servers import (
    LEGACY_HEADERS,
    LEGACY_VERSION,
    MODERN_VERSION,
    Server,
    ServerSpec,
    base_env,
    bearer,
    buy_with_token,
    connect,
    first_offer,
    initialize_body,
    ok,
    read_json,
    start_servers,
)

pytestmark = pytest.mark.anyio

VARIANTS = ("sse", "stateful", "stateless", "stateless-json")
TOOLS = {
    "list_numbers",
    "get_number",
    "search_available",
    "list_endpoints",
    "purchase_number",
    "update_routing",
    "release_number",
}
TOKENS = (f"tok-{secrets.token_urlsafe(24)}", f"tok-{secrets.token_urlsafe(24)}")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    tmp = tmp_path_factory.mktemp("transports")
    specs = [
        ServerSpec(
            f"{variant}.{auth}",
            variant,
            env={"KROS_MCP_AUTH_TOKENS": ",".join(TOKENS)} if auth == "token" else {},
        )
        for variant in VARIANTS
        for auth in ("open", "token")
    ]
    with start_servers(tmp, specs) as running:
        yield {server.spec.name: server for server in running}


async def tour(client: Client, mode: str, country: str) -> None:
    """List, search, buy with a token, replay the token, and read the resources."""
    assert client.protocol_version == (MODERN_VERSION if mode == "auto" else LEGACY_VERSION)
    assert client.server_info.name == "kros-mcp"
    assert {tool.name for tool in (await client.list_tools()).tools} == TOOLS

    spent_before = (await read_json(client, "kros://policy"))["spent_last_24h_cents"]
    offer = await first_offer(client, country)
    quote, bought = await buy_with_token(client, offer["inventory_id"])
    number = bought["number"]
    assert (
        number["number"] == offer["number"]
        and quote["quote"]["first_charge_cents"] == offer["first_charge_cents"]
    )

    # The same token again buys nothing new: it replays what it did.
    again = ok(
        await client.call_tool(
            "purchase_number",
            {
                "inventory_id": offer["inventory_id"],
                "confirmation_token": quote["confirmation_token"],
            },
        )
    )
    assert again["message"].startswith("ALREADY USED"), again

    listed = ok(await client.call_tool("list_numbers", {"limit": 100}))
    assert number["id"] in [n["id"] for n in listed["numbers"]]
    owned = await read_json(client, "kros://phone-numbers")
    assert number["id"] in [n["id"] for n in owned["numbers"]]
    detail = await read_json(client, f"kros://phone-numbers/{number['id']}")
    assert detail["number"] == offer["number"]
    policy = await read_json(client, "kros://policy")
    assert (
        policy["spent_last_24h_cents"] == spent_before + offer["first_charge_cents"]
    )  # once, not twice
    audit = await read_json(client, "kros://audit")
    mine = [
        e for e in audit["entries"] if e["arguments"].get("inventory_id") == offer["inventory_id"]
    ]
    assert [(e["tool"], e["status"], e["confirmation"]) for e in mine] == [
        ("purchase_number", "succeeded", "token")
    ]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("auth", ["open", "token"])
async def test_tour(servers: dict[str, Server], variant: str, auth: str, mode: str) -> None:
    server = servers[f"{variant}.{auth}"]
    headers = bearer(TOKENS[1]) if auth == "token" else None  # any configured token works
    with anyio.fail_after(30):
        async with connect(server, mode, headers=headers) as client:
            await tour(client, mode, "KE" if mode == "auto" else "GH")


async def test_stdio_tour(tmp_path: Path, mode: str) -> None:
    """stdio: the client starts the server as its subprocess (HTTP auth settings do not apply)."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "kros_mcp", "serve"],
        env=base_env(tmp_path),
        cwd=str(tmp_path),
    )
    with (tmp_path / "stderr.log").open("w") as errlog, anyio.fail_after(30):
        async with Client(stdio_client(params, errlog=errlog), mode=mode, cache=None) as client:
            await tour(client, mode, "NG")
    assert "using the SANDBOX" in (tmp_path / "stderr.log").read_text()


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc`, everything in its exception groups, and their causes."""
    found, todo = [], [exc]
    while todo:
        e = todo.pop()
        found.append(e)
        todo += list(getattr(e, "exceptions", ()))
        todo += [c for c in (e.__cause__, e.__context__) if c is not None and c not in found]
    return found


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("credential", ["none", "wrong"])
async def test_client_without_the_right_token_is_refused(
    servers: dict[str, Server], variant: str, credential: str, mode: str
) -> None:
    server = servers[f"{variant}.token"]
    headers = bearer("not-" + TOKENS[0]) if credential == "wrong" else None
    with anyio.fail_after(20), pytest.raises(BaseException) as caught:
        async with connect(server, mode, headers=headers) as client:
            await client.list_tools()
    chain = _chain(caught.value)
    assert not any(
        isinstance(e, (AssertionError, TimeoutError, anyio.get_cancelled_exc_class()))
        for e in chain
    ), chain
    if server.transport == "sse":  # the SSE client surfaces the HTTP status itself
        assert any(
            isinstance(e, httpx2.HTTPStatusError) and e.response.status_code == 401 for e in chain
        ), chain
    else:  # the streamable HTTP client reports a failed exchange (the 401 is checked raw below)
        assert any(isinstance(e, MCPError) and "error response" in str(e) for e in chain), chain
    text = " ".join(repr(e) for e in chain)
    assert TOKENS[0] not in text and TOKENS[1] not in text


def _assert_401(response: httpx2.Response, *secrets_: str, presented: bool = True) -> None:
    """401 with a Bearer challenge: `invalid_token` when a bearer token came, and no error code
    at all when none did (RFC 6750 §3.1)."""
    assert response.status_code == 401, (response.status_code, response.text)
    challenge = response.headers.get("www-authenticate", "")
    assert challenge.startswith("Bearer "), challenge
    assert ('error="invalid_token"' in challenge) == presented, challenge
    assert response.json()["code"] == "UNAUTHORIZED"
    for secret in secrets_:
        assert secret not in response.text and secret not in challenge


async def _probe(
    http: httpx2.AsyncClient, server: Server, headers: dict[str, str]
) -> httpx2.Response:
    """One request a client would open with: POST initialize (streamable) or GET /sse (SSE)."""
    if server.transport == "sse":
        async with http.stream(
            "GET", server.url, headers={"Accept": "text/event-stream", **headers}
        ) as response:
            if (
                response.status_code == 200
            ):  # the stream opens with its endpoint event: read it, then leave
                async for line in response.aiter_lines():
                    if line.startswith("data:"):
                        assert "/messages/?session_id=" in line, line
                        break
            else:
                await response.aread()
            return response
    return await http.post(
        server.url, json=initialize_body(), headers={**LEGACY_HEADERS, **headers}
    )


@pytest.mark.parametrize("variant", VARIANTS)
async def test_raw_401_with_www_authenticate(servers: dict[str, Server], variant: str) -> None:
    server, open_server = servers[f"{variant}.token"], servers[f"{variant}.open"]
    wrong = "wrong-" + secrets.token_hex(8)
    async with httpx2.AsyncClient(timeout=10.0) as http:
        _assert_401(await _probe(http, server, {}), presented=False)
        _assert_401(await _probe(http, server, bearer(wrong)), wrong)
        basic = {"Authorization": f"Basic {TOKENS[0]}"}
        _assert_401(await _probe(http, server, basic), TOKENS[0], presented=False)
        _assert_401(await _probe(http, server, {"Authorization": "Bearer"}), presented=False)
        _assert_401(await _probe(http, server, bearer(TOKENS[0] + "x")), TOKENS[0])
        if server.transport == "sse":  # the message endpoint is guarded too, not just the stream
            _assert_401(
                await http.post(server.root + "/messages/?session_id=00", json=initialize_body()),
                presented=False,
            )
        for token in TOKENS:
            assert (await _probe(http, server, bearer(token))).status_code == 200
        # Without KROS_MCP_AUTH_TOKENS (loopback only) nothing is asked for.
        assert (await _probe(http, open_server, {})).status_code == 200
        # Health endpoints stay open on the authenticated server.
        for path in ("/healthz", "/readyz"):
            response = await http.get(server.root + path)
            assert response.status_code == 200, response.text
            assert not any(t in response.text for t in TOKENS)


async def test_tokens_never_logged(servers: dict[str, Server]) -> None:
    """After all of the above, no server log holds a configured token."""
    for server in servers.values():
        log = server.log()
        assert not any(token in log for token in TOKENS), server.spec.name
        assert "Traceback" not in log, f"{server.spec.name}:\n{log[-3000:]}"
