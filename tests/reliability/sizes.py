"""How big the reliability campaign runs: bounded in CI, big with KROS_MCP_RELIABILITY=big."""

from __future__ import annotations

import os

BIG = os.environ.get("KROS_MCP_RELIABILITY", "").lower() == "big"


def size(ci: int, big: int) -> int:
    """How many of something to run: `ci` normally, `big` with KROS_MCP_RELIABILITY=big."""
    return big if BIG else ci
