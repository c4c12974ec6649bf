"""list_endpoints: where a number's calls can be routed (the ids purchase_number and update_routing
take), and the same list as the resource kros://endpoints."""

from __future__ import annotations

import json
from collections.abc import Callable

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError

from ...krosai import KrosAIError
from ..context import deps_of
from ..deps import Deps
from ..errors import to_tool_error
from ..models import EndpointInfo, EndpointList

__all__ = ["ENDPOINTS_URI", "list_endpoints", "register_endpoints_resource"]

ENDPOINTS_URI = "kros://endpoints"
_RESOURCE_CAP = 500
_TOOL_CAP = 100  # organisations have a handful; the total says if there are more


async def list_endpoints(ctx: Context) -> EndpointList:
    """Where calls can be routed. Free."""
    deps = deps_of(ctx)
    try:
        page = await deps.client.list_endpoints(limit=_TOOL_CAP)
    except KrosAIError as exc:
        raise to_tool_error(exc) from exc
    return EndpointList(endpoints=[EndpointInfo.of(e) for e in page.items], total=page.total)


def register_endpoints_resource(mcp: MCPServer, current_deps: Callable[[], Deps]) -> None:
    """kros://endpoints: every endpoint (first 500), compact JSON."""

    @mcp.resource(
        ENDPOINTS_URI,
        name="endpoints",
        title="Endpoints",
        mime_type="application/json",
        description=f"Where calls can be routed: every endpoint (first {_RESOURCE_CAP}), JSON",
    )
    async def endpoints() -> str:
        deps = current_deps()
        found = []
        try:
            async for endpoint in deps.client.iter_endpoints():
                found.append(EndpointInfo.of(endpoint).model_dump())
                if len(found) >= _RESOURCE_CAP:
                    break
        except KrosAIError as exc:
            raise ResourceError(
                f"KrosAI could not list endpoints ({exc.code}); try again later"
            ) from exc
        return json.dumps({"endpoints": found, "count": len(found)})
