"""`kros-mcp call`: run one tool through a real MCP client session on the server `serve` would run."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from ..config import ConfigError, Settings

__all__ = ["CallRequest", "UsageError", "coerce", "parse_arguments", "render", "run_call"]

# Writes that need confirmation: a token printed by one call is repeated in the next.
CONFIRMED_TOOLS = ("purchase_number", "release_number")
_SDK_PREFIX = "Error executing tool "


class UsageError(Exception):
    """The command line is wrong (exit code 2)."""


@dataclass(frozen=True)
class CallRequest:
    tool: str | None  # None: list the tools
    arguments: dict[str, Any]  # `--arg` values still raw strings; `--args-json` values typed
    raw_keys: frozenset[str]  # which arguments came from `--arg`
    as_json: bool = False
    interactive: bool = False  # ask the person on the terminal when the server wants to


def parse_arguments(
    pairs: Sequence[str], args_json: str | None
) -> tuple[dict[str, Any], frozenset[str]]:
    """`--arg KEY=VALUE` pairs (values kept raw) merged with `--args-json`. Raises UsageError."""
    arguments: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--arg expects KEY=VALUE, got {pair!r}")
        if key in arguments:
            raise UsageError(f"argument {key!r} is given more than once")
        arguments[key] = value
    raw_keys = frozenset(arguments)
    if args_json is not None:
        try:
            extra = json.loads(args_json)
        except ValueError as exc:
            raise UsageError(f"--args-json is not valid JSON: {exc}") from None
        if not isinstance(extra, dict):
            raise UsageError('--args-json must be a JSON object, e.g. \'{"country": "KE"}\'')
        for key, value in extra.items():
            if key in arguments:
                raise UsageError(f"argument {key!r} is given more than once")
            arguments[key] = value
    return arguments, raw_keys


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "unknown"


def _kinds(schema: Any) -> set[str]:
    """The JSON types a schema accepts (empty: unknown, anything goes)."""
    if not isinstance(schema, dict):
        return set()
    kinds: set[str] = set()
    declared = schema.get("type")
    kinds.update([declared] if isinstance(declared, str) else declared or [])
    kinds.update(_kind(v) for v in schema.get("enum", ()))
    for option in (*schema.get("anyOf", ()), *schema.get("oneOf", ())):
        kinds |= _kinds(option)
    if "number" in kinds:
        kinds.add("integer")
    return kinds


def coerce(raw: str, schema: Any) -> Any:
    """A `--arg` value: a JSON literal when it parses as one the parameter accepts, else the raw string
    (so `area_code=803` stays the string a string parameter wants)."""
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    kinds = _kinds(schema)
    if isinstance(value, str) or not kinds or _kind(value) in kinds or "string" not in kinds:
        return value
    return raw


def typed_arguments(request: CallRequest, input_schema: dict[str, Any]) -> dict[str, Any]:
    """The arguments typed against the tool's input schema. Unknown names raise UsageError: the server
    would ignore them, and a misspelt `dry_run` must not turn a preview into a purchase."""
    properties: dict[str, Any] = input_schema.get("properties") or {}
    unknown = sorted(set(request.arguments) - set(properties))
    if unknown:
        raise UsageError(
            f"{request.tool} has no argument {', '.join(map(repr, unknown))}; "
            f"its arguments: {_signature(input_schema)}"
        )
    return {
        key: coerce(value, properties[key]) if key in request.raw_keys else value
        for key, value in request.arguments.items()
    }


def _signature(input_schema: dict[str, Any]) -> str:
    required = set(input_schema.get("required") or ())
    names = [
        f"{n} (required)" if n in required else n for n in (input_schema.get("properties") or {})
    ]
    return ", ".join(names) or "none"


# -- rendering ------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ",".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return (
            str(value["id"])
            if "id" in value
            else ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
        )
    return str(value)


def table(rows: list[dict[str, Any]]) -> list[str]:
    """Rows of objects as aligned columns, numbers right-aligned."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    numeric = [
        all(
            (isinstance(row.get(c), int) and not isinstance(row.get(c), bool)) or row.get(c) is None
            for row in rows
        )
        for c in columns
    ]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if n else v.ljust(w)
            for v, w, n in zip(values, widths, numeric, strict=False)
        ).rstrip()

    return [line(columns), line(["-" * w for w in widths]), *(line(r) for r in cells)]


def render(data: dict[str, Any]) -> list[str]:
    """A structured result for people: the message, tables for lists of objects, `key: value` lines."""
    lines: list[str] = []
    if isinstance(data.get("message"), str):
        lines.append(data["message"])
    for key, value in data.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            lines += [f"{key}:", *("  " + row for row in table(value))]
        elif isinstance(value, list) and not value:
            lines.append(f"{key}: (none)")
    for key, value in data.items():
        if key != "message" and not isinstance(value, (list, dict)):
            lines.append(f"{key}: {_cell(value)}")
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"{key}:")
            lines += [f"  {k}: {_cell(v)}" for k, v in value.items()]
    for key, value in data.items():
        if isinstance(value, list) and value and not all(isinstance(v, dict) for v in value):
            lines += [f"{key}:", *(f"  - {_cell(v)}" for v in value)]
    return lines


def confirm_hint(tool: str, arguments: dict[str, Any], token: str) -> list[str]:
    """The command that confirms: the same arguments plus the token."""
    shown = []
    for key, value in arguments.items():
        if key in ("confirmation_token", "dry_run"):
            continue
        text = value if isinstance(value, str) else json.dumps(value)
        shown.append(f"--arg {shlex.quote(f'{key}={text}')}")
    shown.append(f"--arg confirmation_token={token}")
    return ["", "If the person agrees, confirm with:", f"  kros-mcp call {tool} {' '.join(shown)}"]


def _error_text(tool: str, text: str) -> str:
    prefix = f"{_SDK_PREFIX}{tool}: "
    text = text[len(prefix) :] if text.startswith(prefix) else text
    # pydantic's trailer points at its own docs: noise here.
    return "\n".join(
        line for line in text.splitlines() if "errors.pydantic.dev" not in line
    ).strip()


# -- the session ------------------------------------------------------------------------------


async def ask_in_terminal(context: Any, params: Any) -> Any:
    """Elicitation on the terminal: the question on stderr, the answers from stdin."""
    from mcp.types import ElicitResult

    schema = getattr(params, "requested_schema", None)
    if not isinstance(schema, dict):
        return ElicitResult(action="decline")  # e.g. a URL to open: not something a terminal can do
    print(f"\n{params.message}", file=sys.stderr)
    content: dict[str, Any] = {}
    try:
        for name, prop in (schema.get("properties") or {}).items():
            question = prop.get("description") or name
            if _kinds(prop) == {"boolean"}:
                content[name] = _prompt(f"{question} [y/N] ").lower() in ("y", "yes")
            else:
                content[name] = coerce(_prompt(f"{question}: "), prop)
    except (EOFError, KeyboardInterrupt):
        print(file=sys.stderr)
        return ElicitResult(action="cancel")
    return ElicitResult(action="accept", content=content)


def _prompt(question: str) -> str:
    # Not input(): it writes the question to stdout, which may be a pipe for --json.
    sys.stderr.write(question)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.strip()


def _print_tools(tools: list[Any], as_json: bool) -> None:
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "name": t.name,
                        "title": t.title,
                        "description": t.description,
                        "input_schema": t.input_schema,
                    }
                    for t in tools
                ],
                indent=2,
            )
        )
        return
    width = max((len(t.name) for t in tools), default=0)
    for t in tools:
        print(f"{t.name:<{width}}  {t.description or t.title or ''}")
        print(f"{'':<{width}}  arguments: {_signature(t.input_schema)}")


async def _session(settings: Settings, request: CallRequest) -> int:
    from mcp import Client

    from ..server import TOOL_NAMES
    from .wiring import announcement, build_server

    try:
        server = build_server(settings)
    except ValueError as exc:  # ConfigError
        print(f"kros-mcp call: {exc}", file=sys.stderr)
        return 1
    print(announcement(settings), file=sys.stderr, flush=True)
    callback = ask_in_terminal if request.interactive else None
    async with Client(server, elicitation_callback=callback) as client:
        tools = list((await client.list_tools()).tools)
        if request.tool is None:
            _print_tools(tools, request.as_json)
            return 0
        tool = next((t for t in tools if t.name == request.tool), None)
        if tool is None and request.tool not in TOOL_NAMES:
            raise UsageError(
                f"unknown tool {request.tool!r}; the tools are: {', '.join(t.name for t in tools)} "
                "(kros-mcp call --list describes them)"
            )
        # A tool the operator's policy disabled is still called: the server says why it refuses.
        arguments = (
            typed_arguments(request, tool.input_schema) if tool is not None else request.arguments
        )
        result = await client.call_tool(request.tool, arguments)
    text = "\n".join(getattr(block, "text", "") for block in result.content).strip()
    if result.is_error:
        print(
            f"kros-mcp call: {request.tool} failed: {_error_text(request.tool, text)}",
            file=sys.stderr,
        )
        if (
            request.tool in CONFIRMED_TOOLS
            and settings.confirmation == "human"
            and not request.interactive
        ):
            print(
                "kros-mcp call asks the person when run in an interactive terminal.",
                file=sys.stderr,
            )
        return 1
    data = result.structured_content
    if request.as_json:
        print(
            json.dumps(data if data is not None else {"text": text}, indent=2, ensure_ascii=False)
        )
        return 0
    print("\n".join(render(data)) if data is not None else text)
    token = (data or {}).get("confirmation_token")
    if isinstance(token, str):
        print("\n".join(confirm_hint(request.tool, arguments, token)))
    return 0


def _first_error(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def run_call(settings: Settings, request: CallRequest) -> int:
    """Run the call; 0 on success, 1 when the tool (or the server) fails, 2 for a usage error."""
    try:
        return anyio.run(_session, settings, request)
    except KeyboardInterrupt:
        return 130
    except BaseException as group:
        exc = _first_error(group)
        if isinstance(exc, UsageError):
            print(f"kros-mcp call: error: {exc}", file=sys.stderr)
            return 2
        if isinstance(exc, KeyboardInterrupt):
            return 130
        if isinstance(exc, (SystemExit, ConfigError)):
            print(f"kros-mcp call: {exc}", file=sys.stderr)
            return 1
        if not isinstance(exc, Exception):
            raise
        detail = str(exc) or type(exc).__name__
        print(f"kros-mcp call: the server could not run the call: {detail}", file=sys.stderr)
        return 1
