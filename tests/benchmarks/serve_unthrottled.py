"""`python -m kros_mcp` exactly, except that the embedded sandbox does not imitate KrosAI's rate
limits (50 requests/s): a throughput benchmark would otherwise measure that limiter.

    python -m tests.benchmarks.serve_unthrottled serve --transport streamable-http --stateless ...
"""

from __future__ import annotations


def main() -> int:
    from kros_mcp.sandbox import ratelimit

    # The sandbox builds its limiter from these defaults; the server's own tool-call limiter is
    # configured separately (KROS_MCP_TOOL_RATE_LIMIT) and stays in place.
    ratelimit.DEFAULT_LIMITS.update(default=1e9, purchase=1e9)
    from kros_mcp.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    raise SystemExit(main())
