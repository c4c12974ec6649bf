"""Faults the tests switch on: latency, 5xx before or after a write, dropped connections, 429s."""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["FAULT_KINDS", "OPERATIONS", "ConnectionDropped", "Fault", "FaultBoard"]

FaultKind = Literal[
    "latency", "latency_after", "error_before", "error_after", "drop_after", "rate_limit"
]
FAULT_KINDS: tuple[str, ...] = (
    "latency",
    "latency_after",
    "error_before",
    "error_after",
    "drop_after",
    "rate_limit",
)
OPERATIONS: tuple[str, ...] = (
    "list",
    "get",
    "search",
    "purchase",
    "update",
    "release",
    "endpoints",
)


class ConnectionDropped(Exception):
    """Raised by the sandbox to cut the connection after a write has committed."""


@dataclass
class Fault:
    """One armed fault. `times` is how many more requests it hits (None: until cleared)."""

    kind: FaultKind
    operation: str = "*"
    status: int = 503
    seconds: float = 0.0
    retry_after: float = 0.1
    times: int | None = 1
    probability: float = 1.0
    id: int = 0
    hits: int = field(default=0)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class FaultBoard:
    """The armed faults; `take` decides, per request, which fault (if any) fires."""

    def __init__(self, seed: int = 0) -> None:
        self._faults: list[Fault] = []
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._next_id = 1

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            fault.id = self._next_id
            self._next_id += 1
            self._faults.append(fault)
            return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, operation: str) -> Fault | None:
        """The first armed fault matching `operation` that fires now; consumes one of its uses."""
        with self._lock:
            for fault in self._faults:
                if fault.operation not in ("*", operation):
                    continue
                if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                    continue
                fault.hits += 1
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
            return None
