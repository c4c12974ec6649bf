"""How the server reaches KrosAI: the real API or the sandbox, chosen once at the edge.

`kros_mcp.cli.wiring` makes the choice from the settings and hands the server an `Upstream`; the
server uses whichever it gets the same way, through KrosAI clients it asks the Upstream for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import SecretStr

from ..krosai import KrosAIClient

__all__ = ["InProcessSandbox", "Upstream"]


class InProcessSandbox(Protocol):
    """The sandbox when it runs in this process: its ASGI app (with its `/_sandbox` controls, for
    tests and diagnostics) and what to close when the server stops."""

    @property
    def app(self) -> Any: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Upstream:
    """Where KrosAI calls go. `connect(key)` makes a client acting for the organisation behind
    `key`; every client it makes shares one connection pool."""

    kind: Literal["sandbox", "krosai"]
    # The organisation a single-tenant server acts for.
    api_key: SecretStr = field(repr=False)
    connect: Callable[[str | SecretStr], KrosAIClient] = field(repr=False)
    sandbox: InProcessSandbox | None = None

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.close()
