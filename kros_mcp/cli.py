"""The `kros-mcp` command. Imports stay inside subcommands so start-up loads only what a run needs."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence


def _build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="kros-mcp", description="MCP server for KrosAI phone numbers.")
    parser.add_argument("--version", action="version", version=f"kros-mcp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="serve MCP (the default command)",
        description="Serve the MCP server. With no KROSAI_API_KEY it uses the local sandbox.",
    )
    serve.add_argument("--transport", choices=["stdio"], default="stdio", help="transport (default: stdio)")

    sub.add_parser(
        "demo",
        help="a scripted tour through a real MCP client session, on a throwaway sandbox",
        description="Search, preview, confirm, buy, route and release a number on a throwaway sandbox.",
    )

    sandbox = sub.add_parser(
        "sandbox",
        help="run the local KrosAI-compatible sandbox API over HTTP",
        description="Serve the sandbox (KrosAI routes under /v1, controls under /_sandbox) on HTTP.",
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    sandbox.add_argument("--port", type=int, default=8787, help="port (default: 8787)")
    sandbox.add_argument("--db", default=None, help="SQLite file (default: sandbox.sqlite3 in the data directory)")
    sandbox.add_argument("--inventory-per-block", type=int, default=25,
                         help="numbers per country/type/area code when seeding a new database (default: 25)")
    sandbox.add_argument("--seed", type=int, default=0, help="seed for the generated inventory (default: 0)")
    return parser


def _run_sandbox(args: argparse.Namespace) -> int:
    import uvicorn

    from .config import Settings
    from .sandbox import SANDBOX_API_KEY, create_app
    from .sandbox.serve import quiet_dropped_connections

    db = args.db or str(Settings().sandbox_db_path)
    app = create_app(db, inventory_per_block=args.inventory_per_block, seed=args.seed)
    print(
        f"KrosAI sandbox (no real numbers, no real money) on http://{args.host}:{args.port}/v1\n"
        f"  database: {db}\n  API key:  {SANDBOX_API_KEY}  (x-api-key header)\n"
        f"  controls: http://{args.host}:{args.port}/_sandbox/",
        file=sys.stderr,
    )
    quiet_dropped_connections()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _run_serve(args: argparse.Namespace) -> int:
    import anyio

    from .config import Settings
    from .server import build_server
    from .server.transport import serve_stdio

    try:
        settings = Settings()
    except ValueError as exc:
        print(f"kros-mcp: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    anyio.run(serve_stdio, build_server(settings))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    # Logs go to stderr: on stdio, stdout is the protocol.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("kros_mcp").setLevel(logging.INFO)
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command == "sandbox":
        return _run_sandbox(args)
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
