"""kros_mcp uses the mcp SDK's public surface only; everything else is in server/_sdk_compat.py.

Public here means: imported from one of the SDK's public modules below, by a name that module
exports (its `__all__`, or for a module without one, a name it defines itself)."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "kros_mcp"
COMPAT = PACKAGE / "server" / "_sdk_compat.py"

# Reaching into SDK objects: their private managers, tool metadata, cached values, or a private
# attribute fetched by name.
PRIVATE_TOUCHES = re.compile(
    r"_tool_manager|_resource_manager|_prompt_manager|_lowlevel_server|fn_metadata|FuncMetadata"
    r"|__dict__|getattr\([^)]*[\"']_[a-z]"
)
# The SDK's public modules: packages that declare what they export, and the modules its guide
# tells users to import from.
PUBLIC_MODULES = (
    "mcp",
    "mcp.types",
    "mcp.server",
    "mcp.server.mcpserver",
    "mcp.server.mcpserver.exceptions",
    "mcp.server.mcpserver.tools",
    "mcp.server.apps",  # the MCP Apps extension; the SDK documents Apps as kept in-core here
    "mcp.server.transport_security",
    # The SDK's auth support for resource servers, as its guide documents it: the token verifier
    # and access token, the authenticated user its session-owner checks read from the ASGI scope,
    # the request's token, and the RFC 9728 metadata routes.
    "mcp.server.auth.provider",
    "mcp.server.auth.middleware.auth_context",
    "mcp.server.auth.middleware.bearer_auth",
    "mcp.server.auth.routes",
    # The `subscriptions=` seam MCPServer takes (a SubscriptionBus), with its exports.
    "mcp.server.subscriptions",
    "mcp.client.stdio",
    "mcp.client.streamable_http",
)


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p != COMPAT)


def _sdk_imports(path: Path) -> list[tuple[int, str, str]]:
    """(line, module, name) for every `from mcp... import name` in `path`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "mcp" or node.module.startswith("mcp."):
                found += [(node.lineno, node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name, "") for a in node.names if a.name.startswith("mcp.")]
    return found


def _exports(module_name: str, name: str) -> bool:
    module = importlib.import_module(module_name)
    exported = getattr(module, "__all__", None)
    if exported is not None:
        return name in exported
    value = getattr(module, name, None)
    return not name.startswith("_") and getattr(value, "__module__", module_name) == module_name


def test_no_private_sdk_touch_outside_the_compat_module() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}"
        for path in _sources()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if PRIVATE_TOUCHES.search(line)
    ]
    assert not offenders, "move these into kros_mcp/server/_sdk_compat.py:\n" + "\n".join(offenders)


def test_sdk_names_come_from_public_modules() -> None:
    offenders = []
    for path in _sources():
        for line, module, name in _sdk_imports(path):
            where = f"{path.relative_to(PACKAGE.parent)}:{line}"
            if module not in PUBLIC_MODULES:
                offenders.append(f"{where}: {module} is not a public SDK module")
            elif name and not _exports(module, name):
                offenders.append(f"{where}: {module} does not export {name}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize(
    ("line", "touch"),
    [
        ("    for tool in mcp._tool_manager.list_tools():", True),
        ("    tool.__dict__.pop('output_schema', None)", True),
        ("    low = mcp._lowlevel_server", True),
        ("    tool.fn_metadata = meta", True),
        ('    return getattr(session, "_connection", session)', True),
        ("    async with self._connection('op') as conn:", False),
    ],
)
def test_the_private_touch_pattern(line: str, touch: bool) -> None:
    assert bool(PRIVATE_TOUCHES.search(line)) is touch


def test_an_unexported_name_is_caught() -> None:
    assert not _exports("mcp.server.mcpserver", "Settings")  # defined there, not in its __all__
    assert _exports("mcp.server.mcpserver", "MCPServer")
    assert _exports("mcp.server.mcpserver.exceptions", "ToolError")  # no __all__: defined there
