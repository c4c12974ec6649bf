"""Number records as resources: kros://phone-numbers and kros://phone-numbers/{id}."""

from __future__ import annotations

import json
from collections.abc import Callable

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from ..krosai import KrosAIError, NotFoundError
from .models import NumberDetail, NumberSummary
from .notify import LIST_URI
from .deps import Deps
from .tools import deps_of

__all__ = ["register_resources"]

_LIST_CAP = 1000


def register_resources(mcp: MCPServer, current_deps: Callable[[], Deps]) -> None:
    """Add the resources. Static resources get no Context, so they reach deps via `current_deps`."""

    @mcp.resource(LIST_URI, name="phone_numbers", title="Owned phone numbers", mime_type="application/json",
                  description=f"Every number the organisation owns (first {_LIST_CAP}), compact JSON")
    async def phone_numbers() -> str:
        deps = current_deps()
        numbers = []
        try:
            async for number in deps.client.iter_numbers():
                numbers.append(NumberSummary.of(number).model_dump())
                if len(numbers) >= _LIST_CAP:
                    break
        except KrosAIError as exc:
            raise ResourceError(f"KrosAI could not list numbers ({exc.code}); try again later") from exc
        return json.dumps({"numbers": numbers, "count": len(numbers), "truncated": len(numbers) >= _LIST_CAP})

    @mcp.resource(f"{LIST_URI}/{{id}}", name="phone_number", title="One phone number", mime_type="application/json",
                  description="One owned number's full record (routing, flags, SIP URI), JSON")
    async def phone_number(id: str, ctx: Context) -> str:
        deps = deps_of(ctx)
        try:
            number = await deps.client.get_number(id)
        except NotFoundError as exc:
            raise ResourceNotFoundError(f"No phone number {id} in this organisation") from exc
        except KrosAIError as exc:
            raise ResourceError(f"KrosAI could not read {id} ({exc.code}); try again later") from exc
        return NumberDetail.of(number).model_dump_json()
