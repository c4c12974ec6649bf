"""Admission of new sessions: caps overall and per principal, and a rate limit on opening them.

A session is a stateful streamable HTTP session (opened by `initialize`, named by the
`Mcp-Session-Id` the response carries) or an SSE stream (open while its GET lasts). Opening one is
refused, before the SDK sees the request, when its principal or its client address opens them too
fast (429), when its principal already holds its share (429), or when the process holds as many as
it may (503). The SDK's own `max_sessions` and idle timeout stay in force behind this.

A stateful session is counted until the client deletes it, a request for it is answered 404 (the
SDK has forgotten it), or it has had no request in flight for the idle timeout, which is when the
SDK closes it too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from limits import RateLimitItem
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .principal import Principal, client_address
from .throttle import Throttle

__all__ = ["AdmissionRules", "SessionAdmission"]

_SESSION_HEADER = b"mcp-session-id"
_VERSION_HEADER = b"mcp-protocol-version"
_PRUNE_EVERY = 1.0  # seconds between sweeps of expired stateful sessions


@dataclass(frozen=True)
class AdmissionRules:
    max_sessions: int
    per_principal: int
    idle_timeout: float
    principal_rate: RateLimitItem
    address_rate: RateLimitItem


@dataclass
class _Session:
    owner: str
    last: float
    in_flight: int = 0


@dataclass
class _Table:
    """Open sessions by id, and the ids each owner holds."""

    sessions: dict[str, _Session] = field(default_factory=dict)
    owned: dict[str, set[str]] = field(default_factory=dict)

    def add(self, session_id: str, owner: str, now: float) -> None:
        self.sessions[session_id] = _Session(owner, now)
        self.owned.setdefault(owner, set()).add(session_id)

    def drop(self, session_id: str) -> None:
        session = self.sessions.pop(session_id, None)
        if session is not None:
            held = self.owned.get(session.owner, set())
            held.discard(session_id)
            if not held:
                self.owned.pop(session.owner, None)


def owner_of(scope: Scope) -> str:
    """The principal a session belongs to; without authentication (loopback), the address."""
    user = scope.get("user")
    token = user.access_token if isinstance(user, AuthenticatedUser) else None
    if isinstance(token, Principal):
        return token.principal
    return f"address:{client_address(scope)}"


class SessionAdmission:
    """ASGI middleware in front of the MCP endpoint; `kind` says what opens a session there."""

    def __init__(
        self,
        app: ASGIApp,
        rules: AdmissionRules,
        *,
        kind: Literal["stateful", "stateless", "sse"],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.rules = rules
        self.kind = kind
        self._clock = clock
        self._throttle = Throttle()
        self.table = _Table()
        self._pruned = 0.0
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        session_id = headers.get(_SESSION_HEADER)
        if self.kind == "sse":
            await self._sse(scope, receive, send)
        elif session_id is not None:
            await self._continue(session_id.decode("latin-1"), scope, receive, send)
        elif scope.get("method") == "POST" and _handshake_era(headers):
            await self._open(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _sse(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") != "GET":
            await self.app(scope, receive, send)
            return
        owner = owner_of(scope)
        if await self._refuse(owner, scope, send):
            return
        session_id = f"sse:{id(scope)}"
        self.table.add(session_id, owner, self._clock())
        try:
            await self.app(scope, receive, send)
        finally:
            self.table.drop(session_id)

    async def _open(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.kind == "stateless":
            body, receive = await _peek(receive)
            if not _is_initialize(body):
                await self.app(scope, receive, send)
                return
        owner = owner_of(scope)
        if await self._refuse(owner, scope, send, count_only=self.kind == "stateless"):
            return
        opened: dict[str, object] = {}
        # Hold the place while the opening request is served, so concurrent openings all count.
        placeholder = f"opening:{id(scope)}"

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.table.drop(placeholder)
                found = dict(message.get("headers", [])).get(_SESSION_HEADER)
                if message["status"] < 400 and found is not None and self.kind == "stateful":
                    opened["id"] = found.decode("latin-1")
                    self.table.add(str(opened["id"]), owner, self._clock())
            await send(message)

        if self.kind == "stateful":
            self.table.add(placeholder, owner, self._clock())
        try:
            await self.app(scope, receive, watch)
        finally:
            self.table.drop(placeholder)

    async def _continue(self, session_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        session = self.table.sessions.get(session_id)
        if session is None:
            await self.app(scope, receive, send)
            return
        session.in_flight += 1
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            session.in_flight -= 1
            session.last = self._clock()
            # Another principal's request is answered 404 too: only the owner's ends the session.
            mine = owner_of(scope) == session.owner
            gone = mine and (status == 404 or (scope.get("method") == "DELETE" and status < 300))
            if gone:
                self.table.drop(session_id)

    async def _refuse(self, owner: str, scope: Scope, send: Send, count_only: bool = False) -> bool:
        """Answer and return True if a new session for `owner` may not open now."""
        rules = self.rules
        # The principal first: a principal over its rate does not use up its address's (which
        # other principals behind the same NAT share).
        wait = self._throttle.hit(rules.principal_rate, "open", owner)
        if wait is None:
            wait = self._throttle.hit(rules.address_rate, "open", client_address(scope))
        if wait is not None:
            return await self._answer(send, 429, "too many new sessions; retry later", wait)
        if count_only:
            return False
        self._prune()
        if len(self.table.owned.get(owner, ())) >= rules.per_principal:
            message = f"this principal already holds {rules.per_principal} open sessions"
            return await self._answer(send, 429, message, 5)
        if len(self.table.sessions) >= rules.max_sessions:
            return await self._answer(send, 503, "too many open sessions; retry later", 5)
        return False

    async def _answer(self, send: Send, status: int, message: str, wait: float) -> bool:
        self.refused += 1
        body = json.dumps(
            {"jsonrpc": "2.0", "id": None, "error": {"code": -32000, "message": message}}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(max(1, round(wait))).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return True

    def _prune(self) -> None:
        """Forget stateful sessions idle past the timeout (the SDK has closed them)."""
        now = self._clock()
        if self.kind != "stateful" or now - self._pruned < _PRUNE_EVERY:
            return
        self._pruned = now
        limit = self.rules.idle_timeout
        for session_id, session in list(self.table.sessions.items()):
            if session.in_flight == 0 and now - session.last > limit:
                self.table.drop(session_id)


def _handshake_era(headers: dict[bytes, bytes]) -> bool:
    """A request the SDK serves on the 2025 paths (which open sessions): no protocol header, or
    a handshake-era version. 2026-07-28 requests are sessionless."""
    version = headers.get(_VERSION_HEADER)
    return version is None or version.decode("latin-1") in HANDSHAKE_PROTOCOL_VERSIONS


async def _peek(receive: Receive, limit: int = 1 << 16) -> tuple[bytes, Receive]:
    """The start of the body (at most `limit` bytes read), and a receive replaying what was read."""
    messages: list[Message] = []
    size = 0
    while size <= limit:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return body, replay


def _is_initialize(body: bytes) -> bool:
    if b'"initialize"' not in body:
        return False
    try:
        parsed = json.loads(body)
    except ValueError:
        return False
    messages = parsed if isinstance(parsed, list) else [parsed]
    return any(isinstance(m, dict) and m.get("method") == "initialize" for m in messages)
