"""completion/complete: values for the prompts' arguments and the resource templates.

Country codes, the organisation's number ids and E.164 numbers, and its endpoint ids; always
those of the caller's own organisation (multi-tenant mode included), at most 100 values, and the
organisation's lists kept for a short while so a person typing does not cost a KrosAI call per key.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, Final

from mcp.server import MCPServer, ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import (
    Completion,
    CompletionArgument,
    CompletionContext,
    PromptReference,
    ResourceTemplateReference,
)

from ..krosai import KrosAIError
from .context import deps_of
from .deps import Deps
from .notify import LIST_URI

__all__ = ["CACHE_SECONDS", "MAX_VALUES", "SERVED_COUNTRIES", "register_completions"]

log = logging.getLogger("kros_mcp.server")

MAX_VALUES: Final = 100  # the most the spec allows in one answer
CACHE_SECONDS: Final = 30.0
_CACHE_ENTRIES: Final = 1024
# The countries KrosAI serves (its documents: NG, KE, AE in examples; GH, RW, EG in coverage).
SERVED_COUNTRIES: Final = {
    "NG": "Nigeria",
    "KE": "Kenya",
    "GH": "Ghana",
    "RW": "Rwanda",
    "EG": "Egypt",
    "AE": "United Arab Emirates",
}
NUMBER_TYPES: Final = ("local", "mobile", "toll_free")

_REQUEST: ContextVar[ServerRequestContext[Any, Any] | None] = ContextVar(
    "kros_completion_request", default=None
)


class _TTLCache:
    """Per-tenant lists, each kept CACHE_SECONDS; the least recently used dropped past a bound."""

    def __init__(self) -> None:
        self._items: OrderedDict[tuple[str, str], tuple[float, list[str]]] = OrderedDict()

    async def get(
        self, key: tuple[str, str], load: Callable[[], Awaitable[list[str]]]
    ) -> list[str]:
        now = time.monotonic()
        hit = self._items.get(key)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            self._items.move_to_end(key)
            return hit[1]
        values = await load()
        self._items[key] = (now, values)
        self._items.move_to_end(key)
        while len(self._items) > _CACHE_ENTRIES:
            self._items.popitem(last=False)
        return values


def _completion(candidates: list[str], typed: str) -> Completion:
    wanted = typed.strip().lower()
    matches = [c for c in candidates if c.lower().startswith(wanted)]
    return Completion(
        values=matches[:MAX_VALUES], total=len(matches), has_more=len(matches) > MAX_VALUES
    )


def _countries(deps: Deps, typed: str) -> Completion:
    allowed = deps.settings.list_setting("allowed_countries")
    codes = [c for c in SERVED_COUNTRIES if allowed is None or c in {a.upper() for a in allowed}]
    wanted = typed.strip().lower()
    # "Nig" finds NG as well as "N" does.
    matches = [
        c
        for c in codes
        if c.lower().startswith(wanted) or SERVED_COUNTRIES[c].lower().startswith(wanted)
    ]
    return Completion(values=matches, total=len(matches), has_more=False)


async def _endpoint_ids(deps: Deps) -> list[str]:
    endpoints = [e async for e in deps.client.iter_endpoints()]
    # Active endpoints first: those are the ones worth routing to.
    endpoints.sort(key=lambda e: e.status not in (None, "active"))
    return [e.id for e in endpoints]


async def _numbers(deps: Deps) -> list[str]:
    """Number ids then E.164 numbers, so `pn_` and `+234` both find something."""
    ids: list[str] = []
    numbers: list[str] = []
    async for number in deps.client.iter_numbers():
        ids.append(number.id)
        numbers.append(number.number)
        if len(ids) >= 1000:
            break
    return ids + numbers


class Completer:
    def __init__(self, mcp: MCPServer) -> None:
        self._mcp = mcp
        self._cache = _TTLCache()

    async def __call__(
        self,
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion | None:
        request = _REQUEST.get()
        if request is None:
            return None
        try:
            deps = deps_of(Context(request_context=request, mcp_server=self._mcp))
        except ToolError:
            return None  # multi-tenant mode without the caller's key: nothing to offer
        kind = _kind_of(ref, argument.name)
        if kind == "country":
            return _countries(deps, argument.value)
        if kind == "type":
            return _completion(list(NUMBER_TYPES), argument.value)
        loaders = {"endpoint": _endpoint_ids, "number": _numbers}
        if kind not in loaders:
            return None
        try:
            values = await self._cache.get((deps.tenant, kind), lambda: loaders[kind](deps))
        except KrosAIError as exc:
            log.info("completion of %s: KrosAI unavailable (%s)", kind, exc.code)
            return None
        return _completion(values, argument.value)


def _kind_of(ref: PromptReference | ResourceTemplateReference, argument: str) -> str | None:
    if isinstance(ref, ResourceTemplateReference):
        return "number" if ref.uri == f"{LIST_URI}/{{id}}" and argument == "id" else None
    return {
        "country": "country",
        "type": "type",
        "endpoint_id": "endpoint",
        "number": "number",
    }.get(argument)


def register_completions(mcp: MCPServer) -> None:
    """Serve completion/complete for the prompts and resource templates."""

    async def remember_request(
        ctx: ServerRequestContext[Any, Any],
        call_next: Callable[[ServerRequestContext[Any, Any]], Awaitable[Any]],
    ) -> Any:
        if ctx.method != "completion/complete":
            return await call_next(ctx)
        # The SDK hands a completion handler no request context: the tenant comes from here.
        token = _REQUEST.set(ctx)
        try:
            return await call_next(ctx)
        finally:
            _REQUEST.reset(token)

    mcp.middleware.append(remember_request)
    mcp.completion()(Completer(mcp))  # type: ignore[no-untyped-call]  # the SDK leaves it untyped
