"""The real thing: `python -m kros_mcp` as a subprocess over stdio, in both protocol eras."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from kros_mcp.server import TOOL_NAMES

pytestmark = pytest.mark.anyio

REPO_ROOT = Path(__file__).resolve().parents[2]


async def test_stdio_subprocess(tmp_path: Path, mode: str) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "kros_mcp"],
        env={"KROS_MCP_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(REPO_ROOT)},
        cwd=str(tmp_path),
    )
    errlog_path = tmp_path / "stderr.txt"
    with errlog_path.open("w") as errlog:
        # Any stray byte on stdout would break the JSON-RPC stream and fail these calls.
        async with Client(stdio_client(params, errlog=errlog), mode=mode) as client:
            assert client.session.protocol_version == (
                "2026-07-28" if mode == "auto" else "2025-11-25"
            )
            resources = client.session.server_capabilities.resources
            assert (
                resources is not None and resources.subscribe and resources.list_changed
            )  # both eras
            tools = await client.list_tools()
            assert sorted(t.name for t in tools.tools) == sorted(TOOL_NAMES)

            found = await client.call_tool("search_available", {"country": "NG", "limit": 2})
            assert found.is_error is False, found.content
            offer = found.structured_content["offers"][0]

            args = {"inventory_id": offer["inventory_id"]}
            first = await client.call_tool("purchase_number", args)
            assert first.structured_content["status"] == "confirmation_required"
            token = first.structured_content["confirmation_token"]
            bought = await client.call_tool(
                "purchase_number", {**args, "confirmation_token": token}
            )
            assert bought.is_error is False, bought.content
            assert bought.structured_content["status"] == "purchased"

            listed = await client.call_tool("list_numbers", {})
            assert [n["number"] for n in listed.structured_content["numbers"]] == [offer["number"]]

    stderr = errlog_path.read_text()
    assert "SANDBOX" in stderr and "no real money" in stderr, stderr
    assert "Traceback" not in stderr, stderr
    assert (tmp_path / "data" / "sandbox.sqlite3").exists()


def test_a_client_that_closes_stdout_stops_the_server_quietly(tmp_path: Path) -> None:
    """A client gone mid-answer (its end of the server's stdout closed): one line, exit 0, no traceback."""
    import json
    import subprocess
    import time

    process = subprocess.Popen(
        [sys.executable, "-m", "kros_mcp"],
        cwd=str(tmp_path),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={"KROS_MCP_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(REPO_ROOT)},
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdout.close()  # gone before the first answer
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "gone", "version": "1"},
        },
    }
    try:
        process.stdin.write((json.dumps(hello) + "\n").encode())
        process.stdin.flush()
        time.sleep(0.5)
        process.stdin.close()
    except BrokenPipeError:
        pass  # it has stopped already
    process.wait(timeout=30)
    assert process.stderr is not None
    text = process.stderr.read().decode()
    assert "Traceback" not in text, text
    assert "the client closed the connection" in text, text
    assert process.returncode == 0
