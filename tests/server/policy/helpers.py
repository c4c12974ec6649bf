"""Helpers for the operator-policy tests: resource readers, a second server on the same data
directory, the policy lines of a dry run, and running `python -m kros_mcp` as a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.harness import Harness, Session

REPO_ROOT = Path(__file__).resolve().parents[3]
READ_TOOLS = ["get_number", "list_endpoints", "list_numbers", "search_available"]
WRITE_TOOLS = ["purchase_number", "release_number", "update_routing"]


def other_harness(first: Harness, **options: Any) -> Harness:
    """A second server on the same data directory (same sandbox, same state store), other settings."""
    return Harness(first.data_dir, first.mode, first.opened, dict(options))


async def read_json(s: Session, uri: str) -> Any:
    result = await s.client.read_resource(uri, cache_mode="bypass")
    return json.loads(result.contents[0].text)


async def policy_of(s: Session) -> dict[str, Any]:
    return await read_json(s, "kros://policy")


async def audit_of(s: Session, uri: str = "kros://audit") -> dict[str, Any]:
    return await read_json(s, uri)


async def tool_names(s: Session) -> list[str]:
    return sorted(t.name for t in (await s.client.list_tools(cache_mode="bypass")).tools)


def policy_lines(lines: list[str]) -> dict[str, str]:
    """{rule: 'ok'|'REFUSED'} from the 'Policy <RULE>: ok|REFUSED, ...' lines of a dry run."""
    found = {}
    for line in lines:
        if line.startswith("Policy "):
            rule, rest = line[len("Policy ") :].split(": ", 1)
            found[rule] = rest.split(",", 1)[0]
    return found


def line_for(lines: list[str], rule: str) -> str:
    matches = [line for line in lines if line.startswith(f"Policy {rule}:")]
    assert len(matches) == 1, lines
    return matches[0]


def run_cli(
    data_dir: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """`python -m kros_mcp ARGS` with a clean environment (no operator settings), stdin closed."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KROS_MCP_", "KROSAI_"))}
    clean.update({"KROS_MCP_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO_ROOT), **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "kros_mcp", *args],
        env=clean,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=str(data_dir.parent),
    )


def subprocess_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment for a stdio server subprocess: only what it needs (no operator settings)."""
    env = {"KROS_MCP_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO_ROOT)}
    if "PATH" in os.environ:
        env["PATH"] = os.environ["PATH"]
    env.update(extra)
    return env
