"""`kros-mcp serve` policy flags as an operator uses them: bad values stop it, flags win over the environment."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from .helpers import READ_TOOLS, run_cli, subprocess_env

pytestmark = pytest.mark.anyio


def _assert_refused_start(result, *expected: str) -> None:
    assert result.returncode != 0, result
    assert result.stdout == "", "nothing may reach stdout: it is the protocol stream"
    assert "Traceback" not in result.stderr, result.stderr
    for piece in expected:
        assert piece in result.stderr, (piece, result.stderr)


@pytest.mark.parametrize("flag", ["--exclude-tools", "--tools"])
def test_unknown_tool_name_stops_the_server(data_dir: Path, flag: str) -> None:
    result = run_cli(data_dir, "serve", flag, "nope")
    _assert_refused_start(
        result,
        "kros-mcp:",
        "unknown tool name",
        "nope",
        "get_number, list_endpoints, list_numbers, "
        "purchase_number, release_number, search_available, update_routing",
    )


@pytest.mark.parametrize(
    ("flag", "value", "problem"),
    [
        ("--daily-budget-cents", "abc", "valid integer"),
        ("--daily-budget-cents", "-5", "greater than or equal to 0"),
        ("--max-monthly-cost-cents", "1.5", "valid integer"),
    ],
)
def test_bad_flag_value_names_the_flag(data_dir: Path, flag: str, value: str, problem: str) -> None:
    result = run_cli(data_dir, "serve", flag, value)
    _assert_refused_start(result, "invalid configuration", flag, problem)
    assert not (data_dir / "state.sqlite3").exists()


def test_bad_environment_value_names_the_variable(data_dir: Path) -> None:
    result = run_cli(data_dir, "serve", env={"KROS_MCP_DAILY_BUDGET_CENTS": "lots"})
    _assert_refused_start(
        result, "invalid configuration", "KROS_MCP_DAILY_BUDGET_CENTS", "valid integer"
    )
    # A good flag replaces the bad variable: the flag wins.
    fixed = run_cli(
        data_dir,
        "serve",
        "--daily-budget-cents",
        "100",
        env={"KROS_MCP_DAILY_BUDGET_CENTS": "lots"},
    )
    assert fixed.returncode == 0, (
        fixed.stderr
    )  # stdin is /dev/null: it serves, sees end of input, exits


@pytest.mark.parametrize(
    "args", [["serve", "--read-only"], ["--read-only"]], ids=["serve", "default-command"]
)
async def test_flags_win_over_the_environment(tmp_path: Path, mode: str, args: list[str]) -> None:
    env = subprocess_env(
        tmp_path / "data",
        KROS_MCP_READ_ONLY="false",
        KROS_MCP_DAILY_BUDGET_CENTS="100",
        KROS_MCP_EXCLUDE_TOOLS="list_numbers",
    )
    params = StdioServerParameters(
        command=sys.executable,
        cwd=str(tmp_path),
        env=env,
        args=[
            "-m",
            "kros_mcp",
            *args,
            "--daily-budget-cents",
            "900",
            "--exclude-tools",
            "get_number",
        ],
    )
    with (tmp_path / "stderr.txt").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode=mode) as client:
            tools = sorted(t.name for t in (await client.list_tools()).tools)
            # --read-only beats KROS_MCP_READ_ONLY=false; --exclude-tools replaces KROS_MCP_EXCLUDE_TOOLS.
            assert tools == sorted(t for t in READ_TOOLS if t != "get_number")
            policy = json.loads((await client.read_resource("kros://policy")).contents[0].text)
            assert policy["read_only"] is True and policy["exclude_tools"] == ["get_number"]
            assert policy["daily_budget_cents"] == 900 and policy["budget_left_cents"] == 900

            found = await client.call_tool("search_available", {"country": "NG", "limit": 1})
            assert found.is_error is False
            offer = found.structured_content["offers"][0]
            refused = await client.call_tool(
                "purchase_number", {"inventory_id": offer["inventory_id"]}
            )
            assert refused.is_error is True
            assert (
                "read-only" in refused.content[0].text
                and "KROS_MCP_READ_ONLY" in refused.content[0].text
            )
            listed = await client.call_tool("list_numbers", {})
            assert listed.is_error is False and listed.structured_content["total"] == 0
    assert "Traceback" not in (tmp_path / "stderr.txt").read_text()


async def test_environment_applies_without_flags(tmp_path: Path, mode: str) -> None:
    env = subprocess_env(
        tmp_path / "data", KROS_MCP_READ_ONLY="1", KROS_MCP_ALLOWED_COUNTRIES="NG,KE"
    )
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "kros_mcp", "serve"], env=env, cwd=str(tmp_path)
    )
    with (tmp_path / "stderr.txt").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode=mode) as client:
            assert sorted(t.name for t in (await client.list_tools()).tools) == READ_TOOLS
            policy = json.loads((await client.read_resource("kros://policy")).contents[0].text)
            assert policy["read_only"] is True and policy["allowed_countries"] == ["KE", "NG"]
