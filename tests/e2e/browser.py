"""The rig for the browser tests: Chromium from Debian driven by Playwright, a test host page that
implements the host side of MCP Apps, and kros-mcp on a throwaway sandbox behind it.

The host is this process: it holds the MCP client (which negotiates MCP Apps) and exposes it to the
host page as `window.hostRpc`; the page renders the view through a sandbox proxy served from
another origin, as the spec asks of web hosts. Both origins are served by Playwright's request
routing, so nothing leaves the machine; any other request is refused and recorded.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from mcp.types import CallToolResult

from kros_mcp.cli.wiring import build_server
from kros_mcp.config import Settings
from kros_mcp.server.deps import Deps

CHROMIUM = os.environ.get("KROS_MCP_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOST_DIR = Path(__file__).with_name("host")
HOST_ORIGIN = "http://host.test"
SANDBOX_ORIGIN = "http://sandbox.test"  # another origin, as the spec asks of a sandbox proxy
SERVED = {
    f"{HOST_ORIGIN}/host.html": (HOST_DIR / "host.html", "text/html"),
    f"{HOST_ORIGIN}/host.js": (HOST_DIR / "host.js", "text/javascript"),
    f"{HOST_ORIGIN}/official.html": (HOST_DIR / "official.html", "text/html"),
    f"{HOST_ORIGIN}/official.js": (HOST_DIR / "official.js", "text/javascript"),
    f"{SANDBOX_ORIGIN}/sandbox.html": (HOST_DIR / "sandbox.html", "text/html"),
    f"{SANDBOX_ORIGIN}/sandbox.js": (HOST_DIR / "sandbox.js", "text/javascript"),
}
# The official host bridge (scripts/build_ext_apps_bridge.sh builds it from npm), for the
# reference run: the view against @modelcontextprotocol/ext-apps' own AppBridge.
EXT_APPS_BRIDGE = os.environ.get("KROS_MCP_TEST_EXT_APPS_BRIDGE")
HOSTS = {"own": "host.html", "ext-apps": "official.html"}
PROOF_SHAPE = re.compile(r"kc1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def chromium_or_skip() -> str:
    """Chromium's path, or skip saying how to get it (Playwright cannot download one here)."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        pytest.skip("Playwright is not installed: pip install -e '.[test]'")
    if not Path(CHROMIUM).is_file():
        pytest.skip(
            f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install -y chromium; "
            ".ci/run does) or point KROS_MCP_TEST_CHROMIUM at a Chromium binary"
        )
    return CHROMIUM


@dataclass
class AppHost:
    """A host with the kros-mcp view open in a page."""

    page: Any  # playwright Page
    client: Client
    deps: Deps
    model_saw: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    @property
    def view(self) -> Any:
        """The view's document (inside the sandbox proxy's inner iframe)."""
        return self.page.frame_locator("#proxy").frame_locator("iframe")

    async def model_calls(self, name: str, arguments: dict[str, Any]) -> CallToolResult:
        """A tool call the model makes: everything in its result is the model's to read."""
        result = await self.client.call_tool(name, arguments)
        self.model_saw.append(json.dumps(result.model_dump(mode="json", by_alias=True)))
        return result

    async def open_view(
        self, tool: str, arguments: dict[str, Any], *, theme: str = "light"
    ) -> None:
        """The model calls a UI-bound tool; the host renders its view with the input and result."""
        listing = (await self.client.list_tools()).model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        tools = {t["name"]: t for t in listing["tools"]}
        uri = tools[tool]["_meta"]["ui"]["resourceUri"]
        result = await self.model_calls(tool, arguments)
        [content] = (await self.client.read_resource(uri)).contents
        assert content.mime_type == APP_MIME_TYPE
        options = {
            "html": content.text,
            "csp": (content.meta or {}).get("ui", {}).get("csp", {}),
            "tools": list(tools.values()),
            "toolName": tool,
            "toolArgs": arguments,
            "toolResult": result.model_dump(mode="json", by_alias=True, exclude_none=True),
            "sandboxUrl": f"{SANDBOX_ORIGIN}/sandbox.html",
            "theme": theme,
        }
        await self.page.evaluate("options => window.kros.start(options)", options)

    async def log(self) -> dict[str, Any]:
        """What the host page recorded: the view's calls and what it told the model."""
        value: dict[str, Any] = await self.page.evaluate("() => window.kros.log")
        return value

    async def proofs_seen_by_view(self) -> list[str]:
        log = await self.log()
        return [
            call["result"]["_meta"]["kros-mcp/proof"]
            for call in log["viewCalls"]
            if "kros-mcp/proof" in (call["result"].get("_meta") or {})
        ]

    async def sandbox(self, method: str, path: str, body: Any = None) -> Any:
        transport = httpx2.ASGITransport(app=self.deps.sandbox_app)
        async with httpx2.AsyncClient(
            transport=transport,
            base_url="http://sandbox.local",
            headers={"x-api-key": self.deps.settings.sandbox_api_key},
        ) as http:
            response = await http.request(method, path, json=body)
        assert response.status_code < 300, response.text
        return response.json()

    async def purchases(self) -> list[dict[str, Any]]:
        ledger = await self.sandbox("GET", "/_sandbox/org/transactions")
        return [t for t in ledger["transactions"] if t["kind"] == "purchase"]

    async def owned(self) -> list[dict[str, Any]]:
        return list((await self.sandbox("GET", "/v1/phone-numbers?limit=100"))["phone_numbers"])

    async def audit(self) -> list[dict[str, Any]]:
        text = (await self.client.read_resource("kros://audit")).contents[0].text
        return list(json.loads(text)["entries"])

    async def set_theme(self, theme: str) -> None:
        await self.page.evaluate("theme => window.kros.setTheme(theme)", theme)
        expected = await self.page.evaluate(
            "theme => window.kros.hostStyles[theme]['--color-background-primary']", theme
        )
        # The view applied the host's variables: its background is the host's colour.
        await self.view.locator("body").evaluate(
            """(body, want) => new Promise((resolve, reject) => {
                const probe = document.createElement('div');
                probe.style.color = want;
                document.body.append(probe);
                const target = getComputedStyle(probe).color;
                probe.remove();
                const started = Date.now();
                (function check() {
                  if (getComputedStyle(body).backgroundColor === target) resolve(true);
                  else if (Date.now() - started > 5000) reject(new Error('theme not applied'));
                  else requestAnimationFrame(check);
                })();
            })""",
            expected,
        )

    async def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        await self.page.wait_for_timeout(150)  # the size the view reported has been applied
        await self.page.locator("#proxy").screenshot(path=str(path), animations="disabled")


def bridge_or_skip(host: str) -> dict[str, tuple[Path, str]]:
    """What the host page needs besides SERVED: the official bridge's bundle for 'ext-apps'."""
    if host == "own":
        return {}
    if not EXT_APPS_BRIDGE or not Path(EXT_APPS_BRIDGE).is_file():
        pytest.skip(
            "the reference run against @modelcontextprotocol/ext-apps' AppBridge needs its "
            "bundle: scripts/build_ext_apps_bridge.sh OUT.js, then KROS_MCP_TEST_EXT_APPS_BRIDGE=OUT.js"
        )
    return {f"{HOST_ORIGIN}/ext-apps-bridge.js": (Path(EXT_APPS_BRIDGE), "text/javascript")}


@asynccontextmanager
async def app_host(data_dir: Path, *, host: str = "own", **options: Any) -> AsyncIterator[AppHost]:
    """kros-mcp on a fresh sandbox, an MCP client that negotiates Apps, and Chromium with the test
    host page loaded ('own': host.js; 'ext-apps': the official AppBridge)."""
    from playwright.async_api import async_playwright

    chromium = chromium_or_skip()
    served = {**SERVED, **bridge_or_skip(host)}
    server = build_server(Settings(KROS_MCP_DATA_DIR=data_dir, **options))
    extensions = [advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})]
    async with (
        Client(server, mode="legacy", extensions=extensions) as client,
        async_playwright() as playwright,
    ):
        deps: Deps = server.opened[-1]
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            context = await browser.new_context(viewport={"width": 820, "height": 1800})
            page = await context.new_page()
            rig = AppHost(page, client, deps)
            await context.route("**/*", lambda route: _serve(route, served, rig.blocked))
            await page.expose_function("hostRpc", lambda method, params: _rpc(rig, method, params))
            page.on("console", lambda message: rig.console.append(message.text))
            await page.goto(f"{HOST_ORIGIN}/{HOSTS[host]}")
            try:
                yield rig
            except BaseException:
                await _keep_evidence(rig, data_dir.parent / "failure")
                raise
        finally:
            await browser.close()


async def _keep_evidence(host: AppHost, folder: Path) -> None:
    """On failure: the page as it looked and what the host recorded, next to the test's data."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        await host.page.screenshot(path=str(folder / "page.png"), full_page=True)
        log = await host.log()
    except Exception as exc:  # noqa: BLE001 - evidence is best effort; the failure is reported
        log = {"error": repr(exc)}
    record = {"log": log, "console": host.console, "blocked": host.blocked}
    (folder / "host-log.json").write_text(json.dumps(record, indent=2, default=str))
    print(f"browser evidence kept in {folder}")


async def _serve(route: Any, served: dict[str, tuple[Path, str]], blocked: list[str]) -> None:
    url = route.request.url
    if url in served:
        path, content_type = served[url]
        await route.fulfill(status=200, content_type=content_type, body=path.read_text())
        return
    blocked.append(url)
    await route.abort()


async def _rpc(host: AppHost, method: str, params_json: str) -> str:
    """The host's MCP client answering a request the view made (tools/call, resources/read)."""
    params = json.loads(params_json)
    if method == "tools/call":
        result = await host.client.call_tool(params["name"], params.get("arguments") or {})
        return json.dumps(result.model_dump(mode="json", by_alias=True, exclude_none=True))
    if method == "resources/read":
        read = await host.client.read_resource(params["uri"])
        return json.dumps(read.model_dump(mode="json", by_alias=True, exclude_none=True))
    raise ValueError(f"the test host does not proxy {method}")
