"""Retry timing: capped exponential backoff with jitter inside one overall deadline."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# Statuses that say "not processed, try later" for reads, PATCH and DELETE.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})

_JITTER = random.Random()


@dataclass(frozen=True)
class RetryPolicy:
    """How hard a call tries: attempts, backoff bounds and one deadline for the whole call."""

    max_attempts: int = 4
    initial_backoff: float = 0.25
    max_backoff: float = 8.0
    # Never wait longer than this for a Retry-After; beyond it the error is raised instead.
    max_retry_after: float = 30.0
    deadline: float = 60.0

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Wait before attempt `attempt + 1`: half fixed, half random, doubling up to the cap."""
        ceiling = min(self.max_backoff, self.initial_backoff * 2.0 ** max(0, attempt - 1))
        return ceiling / 2 + (rng or _JITTER).uniform(0, ceiling / 2)


@dataclass
class Deadline:
    """A point in monotonic time after which a call must give up."""

    seconds: float
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        self._end = self._now() + self.seconds

    def _now(self) -> float:
        return self.clock()

    def remaining(self) -> float:
        return max(0.0, self._end - self._now())

    def allows(self, wait: float) -> bool:
        """True if waiting `wait` seconds still leaves time for another attempt."""
        return wait < self.remaining()
