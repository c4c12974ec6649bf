"""The fair HTTP baselines: what any server whose tool calls KrosAI must spend, without kros-mcp.

    python -m tests.benchmarks.fair_baseline mcp --port 8000 --krosai URL    # bare MCPServer
    python -m tests.benchmarks.fair_baseline floor --port 8000 --krosai URL  # plain Starlette

`mcp`: a bare `MCPServer` (same SDK, same stateless streamable HTTP with JSON responses under
uvicorn as `kros-mcp serve`) whose one tool, `list_numbers`, makes the same KrosAI request as
kros-mcp's (GET /phone-numbers?limit=…&offset=0 with the sandbox key) with a plain
`httpx2.AsyncClient` and returns KrosAI's JSON text as it came: no validation, no policy, no log.

`floor`: the physical floor, no MCP at all: a Starlette route at /mcp that reads the JSON-RPC
body, makes the same request and wraps the answer in a JSON-RPC result by hand.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import httpx2
import uvicorn

from kros_mcp.sandbox import SANDBOX_API_KEY

HEADERS = {"x-api-key": SANDBOX_API_KEY, "accept": "application/json"}


def _client(krosai: str) -> httpx2.AsyncClient:
    limits = httpx2.Limits(max_connections=32, max_keepalive_connections=32)
    return httpx2.AsyncClient(base_url=krosai, headers=HEADERS, limits=limits)


def mcp_app(krosai: str) -> Any:
    from mcp.server.mcpserver import MCPServer

    mcp = MCPServer("fair-baseline", log_level="WARNING")
    http = _client(krosai)

    @mcp.tool()
    async def list_numbers(limit: int = 20, offset: int = 0) -> str:
        """The organisation's numbers, as KrosAI sent them."""
        response = await http.get("phone-numbers", params={"limit": limit, "offset": offset})
        response.raise_for_status()
        return response.text

    return mcp.streamable_http_app(stateless_http=True, json_response=True)


def floor_app(krosai: str) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    http = _client(krosai)

    async def call(request: Request) -> Response:
        message = json.loads(await request.body())
        arguments = message["params"].get("arguments") or {}
        params = {"limit": arguments.get("limit", 20), "offset": arguments.get("offset", 0)}
        response = await http.get("phone-numbers", params=params)
        result = {"content": [{"type": "text", "text": response.text}], "isError": False}
        body = {"jsonrpc": "2.0", "id": message["id"], "result": result}
        return Response(json.dumps(body), media_type="application/json")

    return Starlette(routes=[Route("/mcp", call, methods=["POST"])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=("mcp", "floor"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--krosai", required=True, help="KrosAI base URL, e.g. http://127.0.0.1:8787/v1/"
    )
    args = parser.parse_args()
    base = args.krosai.rstrip("/") + "/"
    app = mcp_app(base) if args.kind == "mcp" else floor_app(base)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
