"""What one sandbox app holds: its database, armed faults and rate limiter."""

from __future__ import annotations

from dataclasses import dataclass

from .db import SandboxDB
from .faults import FaultBoard
from .ratelimit import RateLimiter

__all__ = ["Sandbox"]


@dataclass
class Sandbox:
    """Everything the sandbox app holds: its database, armed faults and rate limiter."""

    db: SandboxDB
    faults: FaultBoard
    limiter: RateLimiter
