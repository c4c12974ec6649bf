"""The `kros-mcp` command. Imports stay inside subcommands so start-up loads only what a run needs."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import socket
    from pathlib import Path

    from ..config import Settings
    from ..server import KrosMCPServer

    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]

# (flag, metavar, help): each maps to the Settings field of the same name.
POLICY_FLAGS = (
    ("--tools", "NAMES", "comma-separated tool allowlist (KROS_MCP_TOOLS)"),
    ("--exclude-tools", "NAMES", "comma-separated tools to disable (KROS_MCP_EXCLUDE_TOOLS)"),
    (
        "--allowed-countries",
        "CODES",
        "countries where numbers may be bought (KROS_MCP_ALLOWED_COUNTRIES)",
    ),
    (
        "--max-monthly-cost-cents",
        "CENTS",
        "highest monthly cost per number (KROS_MCP_MAX_MONTHLY_COST_CENTS)",
    ),
    (
        "--daily-budget-cents",
        "CENTS",
        "most spent on purchases in any 24 hours (KROS_MCP_DAILY_BUDGET_CENTS)",
    ),
    (
        "--protected-numbers",
        "NUMBERS",
        "ids or E.164 numbers never released or re-routed (KROS_MCP_PROTECTED_NUMBERS)",
    ),
)


def _settings(args: argparse.Namespace | None = None) -> Settings:
    """Settings from the environment, overridden by any flag given. Exits with a message when invalid."""
    from pydantic import ValidationError

    from ..config import Settings

    overrides = {}
    if args is not None:
        for name in (
            "read_only",
            "confirmation",
            "state_url",
            "multi_tenant",
            "log_format",
            *(f[0][2:].replace("-", "_") for f in POLICY_FLAGS),
        ):
            value = getattr(args, name, None)
            if value is not None:
                overrides[name] = value
    try:
        return Settings(**overrides)
    except ValidationError as exc:

        def label(name: str) -> str:
            field = Settings.model_fields.get(name)
            alias = field.alias if field is not None and field.alias else name
            return f"--{name.replace('_', '-')}" if name in overrides else alias

        problems = "; ".join(
            f"{label(str(e['loc'][0]))}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise SystemExit(f"kros-mcp: invalid configuration: {problems}") from None


def _build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="kros-mcp", description="MCP server for KrosAI phone numbers."
    )
    parser.add_argument("--version", action="version", version=f"kros-mcp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    _add_serve(sub)
    _add_sandbox(sub)
    _add_demo(sub)
    _add_call(sub)
    _add_doctor(sub)
    _add_audit(sub)
    return parser


def _add_serve(sub: Subcommands) -> None:
    """Add the serve command: transport, HTTP, policy and state options."""
    serve = sub.add_parser(
        "serve",
        help="serve MCP (the default command)",
        description="Serve the MCP server. With no KROSAI_API_KEY it uses the local sandbox.",
    )
    serve.add_argument(
        "--transport",
        choices=["stdio", "sse", "streamable-http"],
        default="stdio",
        help="transport (default: stdio)",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="HTTP: address to bind (default: 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, default=8000, help="HTTP: port (default: 8000)")
    serve.add_argument(
        "--stateless",
        action="store_true",
        help="streamable HTTP: no sessions, so any replica can serve any request",
    )
    serve.add_argument(
        "--json-response",
        action="store_true",
        help="streamable HTTP: answer with JSON bodies instead of SSE streams",
    )
    serve.add_argument(
        "--multi-tenant",
        action="store_true",
        default=None,
        help="HTTP: each client presents its own KrosAI key (KROS_MCP_MULTI_TENANT)",
    )
    serve.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=None,
        help="log lines as text or JSON (KROS_MCP_LOG_FORMAT)",
    )
    policy = serve.add_argument_group("operator policy (flags win over environment variables)")
    policy.add_argument(
        "--read-only", action="store_true", default=None, help="hide and refuse the write tools"
    )
    for flag, meta, text in POLICY_FLAGS:
        policy.add_argument(flag, metavar=meta, default=None, help=text)
    serve.add_argument(
        "--confirmation",
        choices=["auto", "human", "none"],
        default=None,
        help="how purchases and releases are confirmed (KROS_MCP_CONFIRMATION)",
    )
    serve.add_argument("--state-url", default=None, help="state store URL (KROS_MCP_STATE_URL)")


def _add_sandbox(sub: Subcommands) -> None:
    """Add the sandbox command."""
    sandbox = sub.add_parser(
        "sandbox",
        help="run the local KrosAI-compatible sandbox API over HTTP",
        description="Serve the sandbox (KrosAI routes under /v1, controls under /_sandbox) on HTTP.",
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    sandbox.add_argument("--port", type=int, default=8787, help="port (default: 8787)")
    sandbox.add_argument(
        "--db", default=None, help="SQLite file (default: sandbox.sqlite3 in the data directory)"
    )
    sandbox.add_argument(
        "--inventory-per-block",
        type=int,
        default=25,
        help="numbers per country/type/area code when seeding a new database (default: 25)",
    )
    sandbox.add_argument(
        "--seed", type=int, default=0, help="seed for the generated inventory (default: 0)"
    )


def _add_demo(sub: Subcommands) -> None:
    """Add the demo command."""
    sub.add_parser(
        "demo",
        help="a scripted tour through a real MCP client session, on a throwaway sandbox",
        description="Search, preview, confirm, buy, route and release a number on a throwaway sandbox.",
    )


def _add_call(sub: Subcommands) -> None:
    """Add the call command."""
    call = sub.add_parser(
        "call",
        help="run one tool through a real MCP client session and print its result",
        description="Run one tool on the server `serve` would run (same settings, policy, state and backend; "
        "the sandbox when KROSAI_API_KEY is unset) and print its result.",
        epilog='Each --arg value is read as JSON (true, null, 5, "text") when the tool\'s parameter takes that '
        "type, else as plain text (area_code=803 stays the text 803). Unknown argument names are refused. "
        "Example: kros-mcp call search_available --arg country=KE --arg limit=2",
    )
    call.add_argument(
        "tool", nargs="?", help="the tool to run (omit, or --list, to list the tools)"
    )
    call.add_argument(
        "--arg",
        dest="args",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an argument of the tool (repeatable)",
    )
    call.add_argument(
        "--args-json", metavar="JSON", default=None, help="arguments as one JSON object"
    )
    call.add_argument("--json", action="store_true", help="print the structured result as JSON")
    call.add_argument("--list", action="store_true", help="list the tools with their descriptions")
    call.add_argument(
        "--no-input",
        action="store_true",
        help="never ask on the terminal (purchases and releases then need a confirmation token)",
    )
    call.set_defaults(usage=call)


def _add_doctor(sub: Subcommands) -> None:
    """Add the doctor command."""
    doctor = sub.add_parser(
        "doctor",
        help="check the installation, configuration, backend and state store",
        description="Check Python, the configuration, the data directory, the backend and API key, the state "
        "store, the signing key and the policy; one line each with OK, WARN or FAIL and what to fix. "
        "Exits 1 if any check fails. The API key is never shown, at most its kros_live_**** form.",
    )
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")
    doctor.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="seconds allowed for each network check (default: 10)",
    )
    doctor.set_defaults(usage=doctor)


def _add_audit(sub: Subcommands) -> None:
    """Add the audit command."""
    audit = sub.add_parser(
        "audit",
        help="show the audit trail of write attempts",
        description="Show this organisation's write attempts, most recent first, from the state store.",
    )
    audit.add_argument("--limit", type=int, default=20, help="entries to show (default: 20)")
    audit.add_argument("--before", type=int, default=None, help="show entries older than this seq")
    audit.add_argument("--json", action="store_true", help="print JSON lines instead of a table")


def _run_sandbox(args: argparse.Namespace) -> int:
    from ..sandbox import SANDBOX_API_KEY, create_app
    from ..sandbox.serve import quiet_dropped_connections
    from .listen import bind, serve_on
    from .preflight import require_data_dir

    if args.db is None:
        settings = _settings()
        require_data_dir(settings, "sandbox")
        db = str(settings.sandbox_db_path)
    else:
        db = args.db
    sock = bind(args.host, args.port, "sandbox")  # a port clash is told before the seeding
    if db != ":memory:":
        from ..sandbox import SandboxDB
        from .progress import ProgressBar

        # Seed a new database here, where progress can be shown; create_app then finds it seeded.
        with ProgressBar("Seeding the sandbox", unit="numbers") as bar:
            SandboxDB(
                db, inventory_per_block=args.inventory_per_block, seed=args.seed, progress=bar
            ).close()
    app = create_app(db, inventory_per_block=args.inventory_per_block, seed=args.seed)
    print(
        f"KrosAI sandbox (no real numbers, no real money) on http://{args.host}:{args.port}/v1\n"
        f"  database: {db}\n  API key:  {SANDBOX_API_KEY}  (x-api-key header)\n"
        f"  controls: http://{args.host}:{args.port}/_sandbox/",
        file=sys.stderr,
    )
    quiet_dropped_connections()
    serve_on(sock, app, log_level="warning")
    return 0


LOOPBACK = ("127.0.0.1", "localhost", "::1")
MIN_TOKEN_LENGTH = 16


def _run_serve(args: argparse.Namespace) -> int:
    import anyio

    from ..store import StoreError
    from .listen import bind
    from .preflight import require_data_dir
    from .wiring import announcement, build_server

    settings = _serve_settings(args)
    require_data_dir(settings, "serve")
    # Bound before anything is opened or announced, so a port clash is the only thing said.
    sock = bind(args.host, args.port, "serve") if args.transport != "stdio" else None
    if sock is not None:
        _warn_hosted(settings, settings.state_target)
    try:
        server = build_server(settings)
    except ValueError as exc:  # ConfigError: the message says what to change
        raise SystemExit(f"kros-mcp: {exc}") from None
    print(announcement(settings), file=sys.stderr, flush=True)
    try:
        if args.transport == "stdio":
            from ..server.transports.stdio import serve_stdio

            anyio.run(serve_stdio, server)
        else:
            assert sock is not None
            _serve_http(server, settings, args, sock)
    except StoreError as exc:
        raise SystemExit(f"kros-mcp: {exc}") from None
    except BaseExceptionGroup as group:  # stdio runs inside the SDK's task group
        _stdio_stopped(group)
    return 0


def _serve_settings(args: argparse.Namespace) -> Settings:
    """Settings for `serve`, with logging set up; exits on a combination that cannot be served."""
    from ..store import StoreError
    from .logs import configure_logging

    settings = _settings(args)
    http = args.transport != "stdio"
    configure_logging(settings.log_format, calls=http)
    _warn_unknown_variables()
    try:
        settings.state_target  # noqa: B018 - refuses a malformed state URL before anything else
    except StoreError as exc:  # StateURLError: the message never quotes the value
        raise SystemExit(f"kros-mcp: {exc}") from None
    if http:
        from ..server.transports.http import hosted_settings

        _check_http_auth(settings, args.host)
        settings = hosted_settings(settings)
    elif settings.multi_tenant or settings.oauth_enabled:
        raise SystemExit(
            "kros-mcp: --multi-tenant and OAuth need an HTTP transport "
            "(--transport streamable-http or sse)"
        )
    return settings


def _warn_hosted(settings: Settings, store_target: str | Path) -> None:
    """The start-up banner's warnings for HTTP, said once the port is ours: what an operator
    must not miss."""
    from ..store import describe_state_target

    if settings.confirmation == "auto":
        logging.getLogger("kros_mcp").warning(
            "KROS_MCP_CONFIRMATION=auto over HTTP: a client that cannot ask its person gets "
            "confirmation tokens its model can pass back on its own; human is the default over HTTP"
        )
    print(f"kros-mcp state store: {describe_state_target(store_target)}", file=sys.stderr)


def _serve_http(
    server: KrosMCPServer, settings: Settings, args: argparse.Namespace, sock: socket.socket
) -> None:
    """Serve `server` over HTTP on `sock`, already bound to --host and --port."""
    import anyio

    from ..server.transports.http import build_http_app
    from .listen import serve_on

    # The app opens the one shared store before listening: say why now, rather than with
    # uvicorn's traceback.
    anyio.run(_check_store, settings)
    app = build_http_app(
        server,
        settings,
        transport=args.transport,
        stateless=args.stateless,
        json_response=args.json_response,
    )
    path = "/sse" if args.transport == "sse" else "/mcp"
    print(
        f"kros-mcp serving {args.transport} on http://{args.host}:{args.port}{path}",
        file=sys.stderr,
    )
    serve_on(sock, app, log_level="warning", access_log=False, timeout_graceful_shutdown=10)


def _stdio_stopped(group: BaseExceptionGroup[BaseException]) -> None:
    """Exit with one line for a state store or configuration failure, say so when the client went
    away, and re-raise anything else."""
    from ..config import ConfigError
    from ..store import StoreError

    failed, _ = group.split((StoreError, ConfigError))
    if failed is not None:
        raise SystemExit(f"kros-mcp: {_first_leaf(failed)}") from None
    gone, rest = group.split((BrokenPipeError, ConnectionResetError))
    if gone is None or rest is not None:
        raise group
    # The client closed its end of stdout: nobody is left to answer.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
    print("kros-mcp: the client closed the connection; stopped", file=sys.stderr)


def _warn_unknown_variables() -> None:
    from ..config import unknown_variables

    for name in unknown_variables():
        logging.getLogger("kros_mcp").warning("%s is not a kros-mcp setting and is ignored", name)


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


async def _check_store(settings: Settings) -> None:
    from ..store import open_store

    store = await open_store(settings.state_target)
    await store.close()


def _check_http_auth(settings: Settings, host: str) -> None:
    """Refuse to serve a network address without authentication."""
    try:
        tokens = settings.auth_tokens()
    except OSError as exc:
        raise SystemExit(
            f"kros-mcp: cannot read KROS_MCP_AUTH_TOKENS_FILE: {exc.strerror}"
        ) from None
    short = [t for t in tokens if len(t) < MIN_TOKEN_LENGTH]
    if short:
        raise SystemExit(
            f"kros-mcp: {len(short)} bearer token(s) in KROS_MCP_AUTH_TOKENS are shorter than "
            f"{MIN_TOKEN_LENGTH} characters: use long random tokens (e.g. openssl rand -hex 32)"
        )
    if settings.multi_tenant and tokens:
        raise SystemExit(
            "kros-mcp: choose one: --multi-tenant (clients send their KrosAI keys) or "
            "KROS_MCP_AUTH_TOKENS (clients send a server token)"
        )
    if settings.oauth_enabled:
        _check_oauth(settings, bool(tokens))
    if (
        host not in LOOPBACK
        and not tokens
        and not settings.multi_tenant
        and not settings.oauth_enabled
    ):
        raise SystemExit(
            f"kros-mcp: refusing to serve {host} without authentication: set KROS_MCP_AUTH_TOKENS "
            "(or KROS_MCP_AUTH_TOKENS_FILE), use --multi-tenant, or configure OAuth "
            "(KROS_MCP_OAUTH_ISSUER)"
        )


def _check_oauth(settings: Settings, tokens: bool) -> None:
    """OAuth mode needs an audience and a way to validate tokens, and excludes the other modes."""
    from urllib.parse import urlsplit

    if tokens or settings.multi_tenant:
        raise SystemExit(
            "kros-mcp: choose one: OAuth (KROS_MCP_OAUTH_ISSUER), --multi-tenant or "
            "KROS_MCP_AUTH_TOKENS"
        )
    for name in ("oauth_issuer", "oauth_audience"):
        value = getattr(settings, name) or ""
        if urlsplit(value).scheme not in ("https", "http") or not urlsplit(value).netloc:
            raise SystemExit(
                f"kros-mcp: OAuth mode needs KROS_MCP_{name.upper()} as an http(s) URL"
            )
    if not (settings.oauth_jwks_url or settings.oauth_introspection_url):
        raise SystemExit(
            "kros-mcp: OAuth mode needs KROS_MCP_OAUTH_JWKS_URL (JWT access tokens) or "
            "KROS_MCP_OAUTH_INTROSPECTION_URL (opaque tokens)"
        )


def _run_call(args: argparse.Namespace) -> int:
    from .call import CallRequest, UsageError, parse_arguments, run_call
    from .preflight import require_data_dir

    parser: argparse.ArgumentParser = args.usage
    tool = None if args.list else args.tool
    if args.list and args.tool:
        parser.error("give a tool or --list, not both")
    try:
        arguments, raw_keys = parse_arguments(args.args, args.args_json)
    except UsageError as exc:
        parser.error(str(exc))
    if tool is None and arguments:
        parser.error("arguments need a tool")
    settings = _settings()
    _warn_unknown_variables()
    require_data_dir(settings, "call")
    interactive = not args.no_input and sys.stdin.isatty() and sys.stderr.isatty()
    request = CallRequest(
        tool=tool,
        arguments=arguments,
        raw_keys=raw_keys,
        as_json=args.json,
        interactive=interactive,
    )
    return run_call(settings, request)


def _run_doctor(args: argparse.Namespace) -> int:
    from .doctor import run_doctor

    if not args.timeout > 0:
        args.usage.error("--timeout must be a positive number of seconds")
    return run_doctor(as_json=args.json, timeout=args.timeout)


def _run_audit(args: argparse.Namespace) -> int:
    import anyio

    from .audit import print_audit

    settings = _settings()
    _warn_unknown_variables()
    return anyio.run(print_audit, settings, args.limit, args.before, args.json)


def main(argv: Sequence[str] | None = None) -> int:
    # Logs go to stderr: on stdio, stdout is the protocol.
    from .logs import configure_logging

    configure_logging()
    parser = _build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv = [
            "serve",
            *argv,
        ]  # serve is the default command: `kros-mcp --read-only` serves read-only
    args = parser.parse_args(argv)
    if args.command == "sandbox":
        return _run_sandbox(args)
    if args.command == "audit":
        return _run_audit(args)
    if args.command == "call":
        return _run_call(args)
    if args.command == "doctor":
        return _run_doctor(args)
    if args.command == "demo":
        from .demo import run_demo

        return run_demo()
    if args.command in (None, "serve"):
        if args.command is None:
            args = parser.parse_args(["serve", *(argv or [])])
        try:
            return _run_serve(args)
        except KeyboardInterrupt:
            return 130
    parser.print_help(sys.stderr)
    return 2
