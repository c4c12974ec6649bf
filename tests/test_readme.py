"""README.md checked against the code: the generated configuration reference is current, the CI
script runs the README's test command, the client configurations shown are the shipped files, and
the quick start works word for word in a fresh copy of the repository.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from kros_mcp.cli.main import _build_parser
from kros_mcp.config import Settings
from kros_mcp.server import TOOL_NAMES
from scripts.config_reference import END_MARKER, START_MARKER, config_reference, is_secret

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
REGENERATE = "python -m scripts.config_reference --write README.md"
CLIENT_FILES = ("claude_desktop_config.json", "vscode-mcp.json", "cursor-mcp.json")


def _readme() -> str:
    return README.read_text(encoding="utf-8")


def _section(markdown: str, heading: str) -> str:
    """The text under a `## heading`, up to the next second-level heading."""
    match = re.search(rf"^## {re.escape(heading)}[ \t]*\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    assert match, f"README.md has no '## {heading}' section"
    return match.group(1)


def _fenced(markdown: str, language: str) -> list[str]:
    return [
        block.strip() for block in re.findall(rf"^```{language}\n(.*?)^```", markdown, re.M | re.S)
    ]


def quick_start_commands() -> dict[str, str]:
    """The quick start's `sh` blocks by role: 'server', 'demo' and 'tests'."""
    commands: dict[str, str] = {}
    for block in _fenced(_section(_readme(), "Quick start"), "sh"):
        assert "\n" not in block, f"a quick-start block should be one command line: {block!r}"
        role = "tests" if "pytest" in block else "demo" if block.endswith(" demo") else "server"
        assert role not in commands, (
            f"two quick-start commands look like the {role} command: {block!r}"
        )
        commands[role] = block
    assert sorted(commands) == ["demo", "server", "tests"], (
        f"quick-start commands found: {commands}"
    )
    return commands


# -- the generated configuration reference --------------------------------------------------------


def test_config_reference_is_current() -> None:
    text = _readme()
    start, end = text.find(START_MARKER), text.find(END_MARKER)
    assert 0 <= start < end, f"README.md needs the markers {START_MARKER} and {END_MARKER}"
    current = text[start + len(START_MARKER) : end].strip("\n")
    assert current == config_reference().strip("\n"), (
        f"The configuration reference in README.md is out of date: run `{REGENERATE}`"
    )


def test_config_reference_lists_every_variable_and_flag() -> None:
    reference = config_reference()
    for name, field in Settings.model_fields.items():
        assert f"| `{field.alias}` |" in reference, f"{field.alias} ({name}) is missing"
    parser = _build_parser()
    pending = [parser]
    while pending:
        current = pending.pop()
        for action in current._actions:
            if hasattr(action, "choices") and isinstance(action.choices, dict):  # subcommands
                pending.extend(action.choices.values())
                for command in action.choices:
                    assert f"`{command}`" in reference, f"command {command} is missing"
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}`" in reference, f"{current.prog} {option} is missing"


def test_config_reference_shows_no_secret_defaults() -> None:
    reference = config_reference()
    secrets = [(n, f) for n, f in Settings.model_fields.items() if is_secret(n, f)]
    assert {f.alias for _, f in secrets} >= {
        "KROSAI_API_KEY",
        "KROS_MCP_SECRET",
        "KROS_MCP_AUTH_TOKENS",
    }
    for _, field in secrets:
        row = next(
            line for line in reference.splitlines() if line.startswith(f"| `{field.alias}` |")
        )
        assert row.split("|")[2].strip() == "*secret*", row
        if isinstance(field.default, str):
            assert field.default not in row.split("|")[2], row


# -- what the README shows of other files ------------------------------------------------------------


def test_ci_runs_the_readme_test_command() -> None:
    command = quick_start_commands()["tests"]
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert command in lines, f".ci/run should run the README's test command verbatim: {command}"


@pytest.mark.parametrize("name", CLIENT_FILES)
def test_client_configuration_matches_the_shipped_file(name: str) -> None:
    path = ROOT / "manifests" / "clients" / name
    if not path.exists():
        pytest.skip(f"manifests/clients/{name} is not in this checkout")
    text = _readme()
    link = text.find(f"manifests/clients/{name}")
    assert link >= 0, f"README.md should link to manifests/clients/{name}"
    blocks = _fenced(text[link:], "json")
    assert blocks, f"README.md shows no JSON after its link to {name}"
    assert json.loads(blocks[0]) == json.loads(path.read_text()), (
        f"the JSON shown after the link to manifests/clients/{name} differs from the file"
    )


def test_registry_name_is_in_the_readme() -> None:
    """The MCP Registry accepts a PyPI package only if its README names the server."""
    server = ROOT / "manifests" / "mcp" / "server.json"
    if not server.exists():
        pytest.skip("manifests/mcp/server.json is not in this checkout")
    name = json.loads(server.read_text())["name"]
    assert f"mcp-name: {name}" in _readme(), f"README.md should contain <!-- mcp-name: {name} -->"


# -- the quick start, word for word ------------------------------------------------------------------


def _copy_repository(target: Path) -> None:
    """The working tree as git sees it: tracked and untracked files, without ignored ones."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"needs a git checkout to know which files belong to the repository ({exc})")
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not copied
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name, follow_symlinks=False)


def _clean_environment(tmp_path: Path) -> dict[str, str]:
    """This process's environment without kros-mcp settings or Python and pytest overrides."""
    dropped = (
        "KROSAI_",
        "KROS_MCP_",
        "PYTEST_",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "VIRTUAL_ENV",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    for name in ("home", "data"):
        (tmp_path / name).mkdir()
    env.update(HOME=str(tmp_path / "home"), KROS_MCP_DATA_DIR=str(tmp_path / "data"))
    return env


class StdioSession:
    """JSON-RPC over the stdin and stdout of a process; every stdout line must be JSON."""

    def __init__(self, process: subprocess.Popen[bytes], stderr_path: Path) -> None:
        self.process = process
        self.stderr_path = stderr_path
        self.lines: queue.Queue[bytes] = queue.Queue()
        assert process.stdout is not None
        threading.Thread(target=self._pump, args=(process.stdout,), daemon=True).start()

    def _pump(self, stream: BinaryIO) -> None:
        for line in stream:
            self.lines.put(line)
        self.lines.put(b"")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_for_stderr(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.stderr():
            assert self.process.poll() is None, (
                f"the command exited ({self.process.returncode}):\n{self.stderr()}"
            )
            assert time.monotonic() < deadline, (
                f"no {text!r} on stderr after {timeout:.0f}s:\n{self.stderr()}"
            )
            time.sleep(0.5)

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"jsonrpc": "2.0", **message}).encode() + b"\n")
        self.process.stdin.flush()

    def answer(self, request_id: int, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"no answer to request {request_id} within {timeout:.0f}s:\n{self.stderr()}"
                ) from None
            assert line, (
                f"stdout closed before the answer to request {request_id}:\n{self.stderr()}"
            )
            try:
                message = json.loads(line)
            except ValueError:
                raise AssertionError(
                    f"stdout carried a line that is not JSON-RPC: {line[:200]!r}"
                ) from None
            if message.get("id") == request_id:
                assert "error" not in message, message
                return message["result"]


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the process group this test started, if it is still running."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def _run(
    command: str, cwd: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", "-c", command],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _check_server(command: str, repo: Path, env: dict[str, str], stderr_path: Path) -> None:
    """Start the server command, talk MCP to it over stdio, then close stdin: it must exit cleanly."""
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            ["sh", "-c", command],
            cwd=repo,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        session = StdioSession(process, stderr_path)
        # The install comes first; only the server reads stdin, so speak once it has announced itself.
        session.wait_for_stderr("kros-mcp is using the SANDBOX", timeout=600)
        session.send(
            {
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "readme", "version": "0"},
                },
            }
        )
        initialized = session.answer(1)
        assert initialized["serverInfo"]["name"] == "kros-mcp", initialized
        session.send({"method": "notifications/initialized"})
        session.send({"id": 2, "method": "tools/list"})
        tools = session.answer(2)["tools"]
        assert sorted(t["name"] for t in tools) == sorted(TOOL_NAMES)
        session.send(
            {
                "id": 3,
                "method": "tools/call",
                "params": {"name": "search_available", "arguments": {"country": "NG", "limit": 1}},
            }
        )
        found = session.answer(3)
        assert found.get("isError") is not True, found
        assert found["structuredContent"]["offers"], found
        assert process.stdin is not None
        process.stdin.close()
        assert process.wait(timeout=60) == 0, session.stderr()
        assert "Traceback" not in session.stderr(), session.stderr()
    finally:
        _stop(process)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.skipif(
    os.environ.get("KROS_MCP_SKIP_README_INSTALL") == "1",
    reason="KROS_MCP_SKIP_README_INSTALL=1: the quick start's installs from PyPI are skipped",
)
def test_quick_start_runs_verbatim(tmp_path: Path) -> None:
    commands = quick_start_commands()
    repo = tmp_path / "kros-mcp"
    _copy_repository(repo)
    env = _clean_environment(tmp_path)

    _check_server(commands["server"], repo, env, tmp_path / "server-stderr.txt")
    assert (tmp_path / "data" / "sandbox.sqlite3").exists()

    demo = _run(commands["demo"], repo, env, timeout=300)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "no real number was bought" in demo.stdout, demo.stdout

    # Running the whole suite from inside the suite would recurse: install, then only collect.
    assert commands["tests"].endswith(" -m pytest"), commands["tests"]
    tests = _run(commands["tests"] + " --collect-only -q", repo, env, timeout=900)
    assert tests.returncode == 0, tests.stdout[-5000:] + tests.stderr[-5000:]
    assert re.search(r"^\d+ tests? collected", tests.stdout, re.M), tests.stdout[-2000:]
