"""`kros-mcp --help` and `kros-mcp call`: one tool through a real MCP client session, in a subprocess."""

from __future__ import annotations

import json
import shlex

import pytest

from kros_mcp.cli.call import (
    CallRequest,
    UsageError,
    coerce,
    parse_arguments,
    render,
    typed_arguments,
)

from .runner import Run

SUBCOMMANDS = ("serve", "sandbox", "demo", "call", "audit", "doctor")


def test_help_lists_the_six_subcommands(kros: Run) -> None:
    done = kros("--help")
    assert done.returncode == 0, done.stderr
    listed = [
        line.split()[0]
        for line in done.stdout.splitlines()
        if line.startswith("    ") and line.split()
    ]
    assert set(SUBCOMMANDS) <= set(listed), done.stdout


def test_list_numbers_json_on_a_fresh_sandbox(kros: Run) -> None:
    done = kros("call", "list_numbers", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"numbers": [], "total": 0, "currency": "USD"}


def test_search_prints_a_table_of_offers(kros: Run) -> None:
    done = kros("call", "search_available", "--arg", "country=KE", "--arg", "limit=2")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if "inventory_id" in line)
    assert set(lines[header + 1]) == {"-", " "}
    rows = [line for line in lines[header + 2 :] if line.strip().startswith("inv_ke_")]
    assert len(rows) == 2 and all("+254" in row for row in rows), done.stdout


def test_a_purchase_confirmed_by_a_second_process_buys_one_number(kros: Run) -> None:
    env = {"KROS_MCP_CONFIRMATION": "auto"}
    found = kros(
        "call", "search_available", "--arg", "country=KE", "--arg", "limit=1", "--json", env=env
    )
    assert found.returncode == 0, found.stderr
    offer = json.loads(found.stdout)["offers"][0]["inventory_id"]

    quote = kros(
        "call",
        "purchase_number",
        "--arg",
        f"inventory_id={offer}",
        "--arg",
        "endpoint_id=ep_support_agent",
        env=env,
    )
    assert quote.returncode == 0, quote.stderr
    assert "status: confirmation_required" in quote.stdout and "executed: no" in quote.stdout
    # The printed command repeats the arguments and adds the token: run it as given.
    command = next(
        line.strip()
        for line in quote.stdout.splitlines()
        if line.strip().startswith("kros-mcp call")
    )
    confirm = shlex.split(command)[1:]
    assert any(arg.startswith("confirmation_token=kc1.") for arg in confirm)

    bought = kros(*confirm, "--json", env=env)
    assert bought.returncode == 0, bought.stderr
    result = json.loads(bought.stdout)
    assert result["status"] == "purchased" and result["executed"] is True

    owned = kros("call", "list_numbers", "--json", env=env)
    assert owned.returncode == 0, owned.stderr
    numbers = json.loads(owned.stdout)["numbers"]
    assert [n["id"] for n in numbers] == [result["number"]["id"]]


def test_unknown_tool_is_a_usage_error_listing_the_tools(kros: Run) -> None:
    done = kros("call", "buy_everything")
    assert done.returncode == 2
    assert (
        "buy_everything" in done.stderr
        and "search_available" in done.stderr
        and "purchase_number" in done.stderr
    )
    assert "Traceback" not in done.stderr


def test_misspelt_argument_is_a_usage_error(kros: Run) -> None:
    done = kros("call", "list_numbers", "--arg", "dryrun=true")
    assert done.returncode == 2
    assert "dryrun" in done.stderr and "limit" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("limit=-5", "greater than or equal to 1"),
        ("country=ZZ", "UNSUPPORTED_COUNTRY"),
    ],
)
def test_bad_argument_is_a_tool_error(kros: Run, arg: str, expected: str) -> None:
    country = [] if arg.startswith("country") else ["--arg", "country=KE"]
    done = kros("call", "search_available", *country, "--arg", arg)
    assert done.returncode == 1, done.stdout
    assert expected in done.stderr and "search_available failed" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


# -- parsing and rendering, in process ----------------------------------------------------------

STRING_OR_NULL = {"type": ["string", "null"], "pattern": "^0?\\d{1,5}$"}


@pytest.mark.parametrize(
    ("raw", "schema", "value"),
    [
        ("5", {"type": "integer"}, 5),
        ("true", {"type": "boolean"}, True),
        ("null", STRING_OR_NULL, None),
        ("803", STRING_OR_NULL, "803"),  # a string parameter keeps digits as text
        ('"803"', {"type": "integer"}, "803"),  # quoted: always a string
        ("mobile", {"anyOf": [{"enum": ["local", "mobile"]}, {"type": "null"}]}, "mobile"),
        ("-5", {"type": "integer", "minimum": 1}, -5),  # the server judges the value
        ("2.5", {}, 2.5),
    ],
)
def test_values_are_json_literals_where_the_parameter_takes_them(
    raw: str, schema: dict, value: object
) -> None:
    assert coerce(raw, schema) == value and type(coerce(raw, schema)) is type(value)


def test_repeated_and_malformed_arguments_are_refused() -> None:
    with pytest.raises(UsageError, match="more than once"):
        parse_arguments(["limit=1", "limit=2"], None)
    with pytest.raises(UsageError, match="more than once"):
        parse_arguments(["limit=1"], '{"limit": 2}')
    with pytest.raises(UsageError, match="KEY=VALUE"):
        parse_arguments(["limit"], None)
    arguments, raw = parse_arguments(["country=KE"], '{"limit": 2}')
    request = CallRequest("search_available", arguments, raw)
    schema = {"properties": {"country": {"type": "string"}, "limit": {"type": "integer"}}}
    assert typed_arguments(request, schema) == {"country": "KE", "limit": 2}


def test_render_shows_message_tables_and_fields() -> None:
    lines = render(
        {
            "status": "purchased",
            "executed": True,
            "message": "Bought it.",
            "offers": [{"inventory_id": "inv_1", "monthly_cost_cents": 300}],
            "quote": {"number": "+254700000000"},
            "plan": ["Buy it."],
        }
    )
    assert lines[0] == "Bought it."
    assert "status: purchased" in lines and "executed: yes" in lines
    assert any("inv_1" in line and line.rstrip().endswith("300") for line in lines)
    assert "  number: +254700000000" in lines and "  - Buy it." in lines
