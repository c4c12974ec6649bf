"""The SDK's logging set-up is skipped when logging is configured already (no rich import at
start), and left alone otherwise; a canary fails loudly if the SDK changes how it calls it."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver import server as sdk_server

from kros_mcp.server._sdk_compat import _SDK_LOGGING_SETUP as _SDK_NAME


def test_the_sdk_still_calls_configure_logging_by_that_name() -> None:
    assert callable(getattr(sdk_server, _SDK_NAME))
    assert f"{_SDK_NAME}(self.settings.log_level)" in inspect.getsource(MCPServer.__init__)


def _run(code: str, data_dir: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "KROS_MCP_DATA_DIR": str(data_dir)},
        check=True,
    )
    return done.stdout.strip()


def test_configured_logging_is_kept_and_rich_never_imported(tmp_path: Path) -> None:
    code = (
        "import logging, sys\n"
        "from kros_mcp.cli.logs import configure_logging\n"
        "configure_logging('json')\n"
        "before = logging.getLogger().handlers[:]\n"
        "from kros_mcp.cli.wiring import build_server\n"
        "build_server()\n"
        "from mcp.server.mcpserver import server\n"
        "print(logging.getLogger().handlers == before, 'rich' in sys.modules,"
        " server.configure_logging.__module__)\n"
    )
    assert _run(code, tmp_path) == "True False mcp.server.mcpserver.utilities.logging"


def test_without_configured_logging_the_sdk_sets_it_up_as_usual(tmp_path: Path) -> None:
    code = (
        "import logging\n"
        "from kros_mcp.cli.wiring import build_server\n"
        "build_server()\n"
        "print([type(h).__name__ for h in logging.getLogger().handlers])\n"
    )
    assert _run(code, tmp_path) == "['RichHandler']"
