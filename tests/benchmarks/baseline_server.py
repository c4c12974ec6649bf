"""The benchmarks' baseline: the smallest useful MCPServer on the same SDK, one no-op tool.

    python -m tests.benchmarks.baseline_server                      # stdio
    python -m tests.benchmarks.baseline_server --port 8000 [--json-response]
                                                                    # stateless streamable HTTP, uvicorn

Served the way kros-mcp serves (stdio, or stateless streamable HTTP at /mcp under uvicorn with
loopback DNS-rebinding protection), so a ratio against it shows what kros-mcp itself adds.
"""

from __future__ import annotations

import sys

from mcp.server.mcpserver import MCPServer

mcp = MCPServer("baseline", log_level="WARNING")


@mcp.tool()
def noop() -> str:
    """Do nothing."""
    return "ok"


def main(argv: list[str]) -> None:
    if "--port" not in argv:
        mcp.run()
        return
    import uvicorn

    port = int(argv[argv.index("--port") + 1])
    app = mcp.streamable_http_app(stateless_http=True, json_response="--json-response" in argv)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main(sys.argv[1:])
