"""Concurrent calls with the same key share one run of the work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anyio

__all__ = ["SingleFlight"]

T = TypeVar("T")


@dataclass
class _Flight(Generic[T]):
    done: anyio.Event = field(default_factory=anyio.Event)
    value: T | None = None
    error: Exception | None = None
    finished: bool = False


class SingleFlight(Generic[T]):
    """Runs `work` once for all callers that ask for the same key while it is running.

    Only for reads whose answer may be as old as one request: a caller that joins gets an answer
    to a request sent a moment before it asked. If the running call is cancelled, the callers
    waiting on it run the work themselves.
    """

    def __init__(self) -> None:
        self._running: dict[Hashable, _Flight[T]] = {}

    def __len__(self) -> int:
        return len(self._running)

    async def run(self, key: Hashable, work: Callable[[], Awaitable[T]]) -> T:
        while (flight := self._running.get(key)) is not None:
            await flight.done.wait()
            if flight.finished:
                if flight.error is not None:
                    raise flight.error
                return flight.value  # type: ignore[return-value]
        flight = self._running[key] = _Flight()
        try:
            flight.value = await work()
            flight.finished = True
            return flight.value
        except Exception as exc:
            flight.error, flight.finished = exc, True
            raise
        finally:
            if self._running.get(key) is flight:  # not if forget() let a newer flight start
                del self._running[key]
            flight.done.set()

    def forget(self) -> None:
        """Callers from now on start their own runs: what is in flight may predate a change.
        (Those already waiting still get the answer they joined.)"""
        self._running.clear()
