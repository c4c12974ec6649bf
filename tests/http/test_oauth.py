"""OAuth 2.1 resource-server mode against a local issuer whose keys this test makes (JWKS served on
127.0.0.1): valid tokens work; forged, expired, early, misdirected and under-scoped ones are refused
with the right status and challenge; the RFC 9728 metadata document; a read-only token sees a
read-only server; the user's token never goes upstream."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from mcp.shared.auth import ProtectedResourceMetadata

from kros_mcp.server.tools import READ_TOOLS, TOOL_NAMES
from tests.support.http_servers import (
    LEGACY_HEADERS,
    initialize_body,
    legacy_session,
    rpc_messages,
    run_cli,
)
from tests.support.processes import free_port

from .hosted_rig import Hosted, Issuer, client_for, hosted, serve_in_thread

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, issuer: Issuer) -> Iterator[Hosted]:
    port = free_port()
    with (
        serve_in_thread(issuer.app()) as issuer_root,
        hosted(
            tmp_path_factory.mktemp("oauth"),
            port=port,
            KROS_MCP_OAUTH_ISSUER=Issuer.ISSUER,
            KROS_MCP_OAUTH_AUDIENCE=f"http://127.0.0.1:{port}/mcp",
            KROS_MCP_OAUTH_JWKS_URL=issuer_root + "/jwks.json",
        ) as running,
    ):
        yield running


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def post_init(server: Hosted, headers: dict[str, str]) -> httpx2.Response:
    async with httpx2.AsyncClient(timeout=10.0) as http:
        return await http.post(
            server.url, json=initialize_body(), headers={**LEGACY_HEADERS, **headers}
        )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hmac_with_public_key(issuer: Issuer, claims: dict[str, Any]) -> str:
    """The key-confusion attack: HS256 keyed with the issuer's public key (which anyone has)."""
    public = issuer.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = (
        _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
        + "."
        + _b64(json.dumps(claims).encode())
    )
    signature = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64(signature)


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


async def test_valid_token_works_in_both_eras(server: Hosted, issuer: Issuer) -> None:
    token = issuer.token(server.url)
    for mode in ("legacy", "auto"):
        async with client_for(server.url, mode, bearer(token)) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert names == set(TOOL_NAMES)
            found = await client.call_tool("search_available", {"country": "NG", "limit": 1})
            assert found.is_error is False


@pytest.mark.parametrize(
    "case",
    [
        "expired",
        "not_yet_valid",
        "wrong_audience",
        "wrong_issuer",
        "bad_signature",
        "alg_none",
        "hmac_with_public_key",
        "garbage",
    ],
)
async def test_bad_tokens_get_401_invalid_token(server: Hosted, issuer: Issuer, case: str) -> None:
    audience = server.url
    good = _claims(issuer.token(audience))
    tokens = {
        "expired": lambda: issuer.token(audience, lifetime=-120),
        "not_yet_valid": lambda: issuer.token(audience, not_before=good["iat"] + 3600),
        "wrong_audience": lambda: issuer.token("https://other.example/mcp"),
        "wrong_issuer": lambda: issuer.token(audience, issuer="https://evil.example"),
        "bad_signature": lambda: issuer.token(audience, key=issuer.stranger),
        "alg_none": lambda: jwt.encode(good, None, algorithm="none"),
        "hmac_with_public_key": lambda: hmac_with_public_key(issuer, good),
        "garbage": lambda: "not.a.jwt",
    }
    response = await post_init(server, bearer(tokens[case]()))
    assert response.status_code == 401, (case, response.status_code, response.text)
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge, challenge
    assert f'resource_metadata="{_metadata_url(server)}"' in challenge


def _metadata_url(server: Hosted) -> str:
    return server.root + "/.well-known/oauth-protected-resource/mcp"


async def test_no_credentials_401_without_error_but_with_metadata(server: Hosted) -> None:
    response = await post_init(server, {})
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert "error=" not in challenge, challenge  # RFC 6750 §3.1
    assert f'resource_metadata="{_metadata_url(server)}"' in challenge
    assert 'scope="kros:read kros:write"' in challenge


async def test_metadata_document_is_rfc_9728(server: Hosted) -> None:
    async with httpx2.AsyncClient(timeout=10.0) as http:
        for url in (_metadata_url(server), server.root + "/.well-known/oauth-protected-resource"):
            response = await http.get(url)
            assert response.status_code == 200, url
            assert response.headers["content-type"].startswith("application/json")
            body = response.json()
            ProtectedResourceMetadata.model_validate(body)  # the SDK's RFC 9728 model
            assert body["resource"] == server.url  # RFC 9728 §3.3: the resource identifier
            assert body["authorization_servers"] == [Issuer.ISSUER]
            assert body["scopes_supported"] == ["kros:read", "kros:write"]
            assert body["bearer_methods_supported"] == ["header"]


async def test_read_only_token_sees_a_read_only_server(server: Hosted, issuer: Issuer) -> None:
    token = issuer.token(server.url, scope="kros:read", subject="reader")
    for mode in ("legacy", "auto"):
        async with client_for(server.url, mode, bearer(token)) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert names == set(READ_TOOLS), names
    # A write call anyway: 403 insufficient_scope naming the scope to ask for, nothing done.
    call = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": "purchase_number", "arguments": {"inventory_id": "inv_ng_1"}},
    }
    async with httpx2.AsyncClient(timeout=10.0) as http:
        session = await legacy_session(http, server.url, bearer(token))
        response = await http.post(server.url, json=call, headers=session)
        assert response.status_code == 403, response.text
        challenge = response.headers["www-authenticate"]
        assert 'error="insufficient_scope"' in challenge and 'scope="kros:read kros:write"' in (
            challenge
        )
        assert f'resource_metadata="{_metadata_url(server)}"' in challenge
        # Reads still work on the same session.
        read = dict(call, params={"name": "list_numbers", "arguments": {}})
        ok = await http.post(server.url, json=read, headers=session)
        assert ok.status_code == 200 and "result" in rpc_messages(ok)[-1]
    assert server.deps is not None
    audit = await server.deps.store.audit_page(server.deps.tenant, limit=10)
    assert [e for e in audit if e.tool == "purchase_number"] == []


async def test_token_without_the_read_scope_gets_403(server: Hosted, issuer: Issuer) -> None:
    response = await post_init(server, bearer(issuer.token(server.url, scope="profile")))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


async def test_sessions_belong_to_the_subject(server: Hosted, issuer: Issuer) -> None:
    alice, bob = issuer.token(server.url), issuer.token(server.url, subject="bob")
    call = {"jsonrpc": "2.0", "id": 3, "method": "tools/list"}
    async with httpx2.AsyncClient(timeout=10.0) as http:
        session = await legacy_session(http, server.url, bearer(alice))
        stolen = await http.post(server.url, json=call, headers={**session, **bearer(bob)})
        assert stolen.status_code == 404
        mine = await http.post(server.url, json=call, headers=session)
        assert mine.status_code == 200


async def test_the_users_token_never_goes_upstream(server: Hosted, issuer: Issuer) -> None:
    """KrosAI (here the in-process sandbox) sees the operator's key, never the access token."""
    seen: list[str] = []
    deps = server.deps
    assert deps is not None and deps.sandbox is not None
    original = deps.client._http.send

    async def spy(request: Any, **kwargs: Any) -> Any:
        seen.append(json.dumps(dict(request.headers)))
        return await original(request, **kwargs)

    deps.client._http.send = spy
    token = issuer.token(server.url, subject="carol")
    try:
        async with client_for(server.url, "legacy", bearer(token)) as client:
            assert (await client.call_tool("list_numbers", {})).is_error is False
    finally:
        deps.client._http.send = original
    assert seen and not any(token in headers for headers in seen)


def test_oauth_needs_its_settings(tmp_path: Path) -> None:
    done = run_cli(
        tmp_path,
        ["serve", "--transport", "streamable-http", "--port", str(free_port())],
        env={"KROS_MCP_OAUTH_ISSUER": Issuer.ISSUER},
    )
    assert done.returncode != 0 and "KROS_MCP_OAUTH_AUDIENCE" in done.stderr, done.stderr


# -- opaque tokens, by RFC 7662 introspection ----------------------------------------------------


class Introspection:
    """A local introspection endpoint that knows a few opaque tokens and wants Basic auth."""

    CLIENT = ("kros-mcp", "introspection-secret")

    def __init__(self, audience: str) -> None:
        import time

        now = int(time.time())
        base = {"active": True, "iss": Issuer.ISSUER, "aud": audience, "exp": now + 600}
        self.tokens: dict[str, dict[str, Any]] = {
            "opaque-writer": {**base, "sub": "dana", "scope": "kros:read kros:write"},
            "opaque-reader": {**base, "sub": "erin", "scope": "kros:read"},
            "opaque-elsewhere": {**base, "sub": "finn", "scope": "kros:read", "aud": "https://x"},
            "opaque-expired": {**base, "sub": "gus", "scope": "kros:read", "exp": now - 120},
        }
        self.asked = 0

    def app(self) -> Any:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def introspect(request: Request) -> JSONResponse:
            self.asked += 1
            expected = "Basic " + base64.b64encode(":".join(self.CLIENT).encode()).decode()
            if request.headers.get("authorization") != expected:
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            token = (await request.form()).get("token")
            return JSONResponse(self.tokens.get(str(token), {"active": False}))

        return Starlette(routes=[Route("/introspect", introspect, methods=["POST"])])


async def test_opaque_tokens_by_introspection(tmp_path: Path) -> None:
    port = free_port()
    audience = f"http://127.0.0.1:{port}/mcp"
    endpoint = Introspection(audience)
    with (
        serve_in_thread(endpoint.app()) as root,
        hosted(
            tmp_path,
            port=port,
            KROS_MCP_OAUTH_ISSUER=Issuer.ISSUER,
            KROS_MCP_OAUTH_AUDIENCE=audience,
            KROS_MCP_OAUTH_INTROSPECTION_URL=root + "/introspect",
            KROS_MCP_OAUTH_CLIENT_ID=Introspection.CLIENT[0],
            KROS_MCP_OAUTH_CLIENT_SECRET=Introspection.CLIENT[1],
        ) as server,
    ):
        async with client_for(server.url, "legacy", bearer("opaque-writer")) as client:
            assert {t.name for t in (await client.list_tools()).tools} == set(TOOL_NAMES)
        async with client_for(server.url, "legacy", bearer("opaque-reader")) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert names == set(READ_TOOLS)
        for refused in ("opaque-elsewhere", "opaque-expired", "opaque-unknown"):
            response = await post_init(server, bearer(refused))
            assert response.status_code == 401, refused
            assert 'error="invalid_token"' in response.headers["www-authenticate"]
        asked = endpoint.asked
        assert (await post_init(server, bearer("opaque-writer"))).status_code == 200
        assert endpoint.asked == asked  # the answer is remembered for a while


async def test_unreachable_jwks_is_503_not_401(tmp_path: Path, issuer: Issuer) -> None:
    """When the issuer's keys cannot be fetched the token cannot be judged: 503 with Retry-After
    (try again), never 200, and not 401 (which would send the client to re-authorize)."""
    port = free_port()
    audience = f"http://127.0.0.1:{port}/mcp"
    with hosted(
        tmp_path,
        port=port,
        KROS_MCP_OAUTH_ISSUER=Issuer.ISSUER,
        KROS_MCP_OAUTH_AUDIENCE=audience,
        KROS_MCP_OAUTH_JWKS_URL=f"http://127.0.0.1:{free_port()}/jwks.json",
    ) as server:
        response = await post_init(server, bearer(issuer.token(audience)))
    assert response.status_code == 503 and response.headers["retry-after"], response.text
