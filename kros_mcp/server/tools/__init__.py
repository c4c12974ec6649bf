"""The tools, each listed once in `ALL_TOOLS` with its title and annotations.

Whether a tool writes is read from its annotations (`readOnlyHint`), never restated: read-only
mode, the policy and the CLI all ask `WRITE_TOOLS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mcp.types import ToolAnnotations

from ._build import build_tool
from .endpoints import list_endpoints

if TYPE_CHECKING:
    from mcp.server.mcpserver.tools import Tool

    from ..results import TextStyle
from .purchase import purchase_number
from .reads import get_number, list_numbers, search_available
from .release import release_number
from .routing import update_routing

__all__ = ["ALL_TOOLS", "READ_TOOLS", "TOOL_NAMES", "WRITE_TOOLS", "ToolSpec"]

# A read says only readOnlyHint, always explicitly (a client that guesses false asks a person to
# approve every read). The spec gives destructive and idempotent meaning only when readOnlyHint is
# false, and openWorldHint defaults to true: spelling them out cost 19 tokens a read tool.
_READ = ToolAnnotations(read_only_hint=True)


def _write(*, destructive: bool, idempotent: bool) -> ToolAnnotations:
    """Every hint of a write, spelled out: a client that reads them must not have to guess."""
    return ToolAnnotations(
        read_only_hint=False,
        destructive_hint=destructive,
        idempotent_hint=idempotent,
        open_world_hint=True,
    )


@dataclass(frozen=True)
class ToolSpec:
    """One tool: its function (name, description and parameters come from it), title and hints."""

    fn: Callable[..., Any]
    title: str
    annotations: ToolAnnotations

    @property
    def name(self) -> str:
        return self.fn.__name__

    @property
    def writes(self) -> bool:
        return not self.annotations.read_only_hint

    def build(self, text_style: TextStyle = "compact") -> Tool:
        """The SDK's Tool for this function, with compact schemas and results shaped once."""
        return build_tool(
            self.fn, title=self.title, annotations=self.annotations, text_style=text_style
        )


ALL_TOOLS: tuple[ToolSpec, ...] = (
    # reads
    ToolSpec(list_numbers, "List owned numbers", _READ),
    ToolSpec(get_number, "One number", _READ),
    ToolSpec(search_available, "Search numbers", _READ),
    ToolSpec(list_endpoints, "Endpoints", _READ),
    # writes
    ToolSpec(purchase_number, "Buy a number", _write(destructive=False, idempotent=False)),
    ToolSpec(update_routing, "Route a number's calls", _write(destructive=True, idempotent=True)),
    ToolSpec(release_number, "Release a number", _write(destructive=True, idempotent=False)),
)

TOOL_NAMES: tuple[str, ...] = tuple(spec.name for spec in ALL_TOOLS)
READ_TOOLS: tuple[str, ...] = tuple(spec.name for spec in ALL_TOOLS if not spec.writes)
WRITE_TOOLS: tuple[str, ...] = tuple(spec.name for spec in ALL_TOOLS if spec.writes)
