"""What a caller may hear while a KrosAI call runs, and how much KrosAI time one operation may use.

Both are scoped with context variables, so a caller (the MCP server, per tool call) sets them once
around its work and every client call inside picks them up; this package knows nothing of MCP.

- An observer hears retries, slow answers and reconciliation as they happen (`ClientEvent`).
- A budget caps the KrosAI time of everything inside it (each call's own deadline still applies):
  a tool making several calls cannot exceed it, while time spent elsewhere (waiting for a person)
  does not count.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal, Protocol

import anyio

__all__ = [
    "SLOW_AFTER",
    "CallBudget",
    "ClientEvent",
    "ClientObserver",
    "budget",
    "capped",
    "current_budget",
    "emit",
    "observing",
    "spending",
    "watch_slow",
]

log = logging.getLogger("kros_mcp.krosai")

# Seconds without an answer before a call is reported slow, and then again every as many.
SLOW_AFTER = 5.0

EventKind = Literal["retry", "slow", "reconcile"]
EventLevel = Literal["info", "notice", "warning"]


@dataclass(frozen=True)
class ClientEvent:
    """Something a person waiting on a call would want to know, in one sentence."""

    kind: EventKind
    level: EventLevel
    message: str


class ClientObserver(Protocol):
    async def __call__(self, event: ClientEvent) -> None: ...


_OBSERVER: ContextVar[ClientObserver | None] = ContextVar("krosai_observer", default=None)


@contextmanager
def observing(observer: ClientObserver | None) -> Iterator[None]:
    """Send the events of every client call made inside this block to `observer`."""
    token = _OBSERVER.set(observer)
    try:
        yield
    finally:
        _OBSERVER.reset(token)


async def emit(kind: EventKind, level: EventLevel, message: str) -> None:
    """Tell the current observer, if any; an observer that fails never fails the call."""
    observer = _OBSERVER.get()
    if observer is None:
        return
    try:
        await observer(ClientEvent(kind, level, message))
    except Exception:  # a lost notification must not fail a KrosAI call
        log.debug("observer failed on %s event", kind, exc_info=True)


@asynccontextmanager
async def watch_slow(what: str, deadline: float) -> AsyncIterator[None]:
    """Report `what` as slow every SLOW_AFTER seconds until the block ends (observed calls only)."""
    if _OBSERVER.get() is None:
        yield
        return
    started = time.monotonic()

    async def watch() -> None:
        while True:
            await anyio.sleep(SLOW_AFTER)
            waited = time.monotonic() - started
            await emit(
                "slow",
                "notice",
                f"KrosAI has not answered {what} after {waited:.0f}s; "
                f"giving up after {deadline:.0f}s.",
            )

    failure: Exception | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(watch)
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - re-raised below, not wrapped in a group
            failure = exc
        finally:
            group.cancel_scope.cancel()
    if failure is not None:
        raise failure


class CallBudget:
    """KrosAI seconds left for one operation; calls inside it spend from it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.spent = 0.0
        self._depth = 0  # a call made inside another (a reconcile's listing) is not counted twice

    def cap(self, seconds: float) -> float:
        """`seconds`, or less if the budget has less left."""
        return max(0.0, min(seconds, self.seconds - self.spent))

    @contextmanager
    def spending(self) -> Iterator[None]:
        started = time.monotonic()
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if not self._depth:
                self.spent += time.monotonic() - started


_BUDGET: ContextVar[CallBudget | None] = ContextVar("krosai_budget", default=None)


def current_budget() -> CallBudget | None:
    return _BUDGET.get()


def capped(seconds: float) -> float:
    """`seconds`, or what the current budget has left if that is less."""
    spend = _BUDGET.get()
    return seconds if spend is None else spend.cap(seconds)


@contextmanager
def spending() -> Iterator[None]:
    """Count the time of this block against the current budget, if any."""
    spend = _BUDGET.get()
    if spend is None:
        yield
        return
    with spend.spending():
        yield


@contextmanager
def budget(seconds: float) -> Iterator[CallBudget]:
    """Cap the KrosAI time of every client call made inside this block to `seconds` in all."""
    spend = CallBudget(seconds)
    token = _BUDGET.set(spend)
    try:
        yield spend
    finally:
        _BUDGET.reset(token)
