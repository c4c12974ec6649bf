"""Counters for `limits`' moving-window strategy, kept on the event loop without timer threads.

`limits.storage.MemoryStorage` expires old entries from a `threading.Timer` that lives 10 ms and is
started again by the next call: under steady traffic that is a new thread about every 10 ms, and a
thread taking the GIL to sweep, which profiled at a quarter of a tool call's CPU. This storage
keeps, per organisation, only the `limit` most recent call times (all the moving window needs) in
a bounded deque, and drops idle organisations as it goes: nothing runs between calls. It is
`limits`' own extension point (a `Storage` with `MovingWindowSupport`), used from one event loop.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from limits.storage import MovingWindowSupport, Storage

__all__ = ["WindowStorage"]

# Organisations whose last call left the window are forgotten once this many are remembered.
_SWEEP_AT = 4096


class WindowStorage(Storage, MovingWindowSupport):
    """In-process moving-window counters (the only strategy it serves)."""

    STORAGE_SCHEME = ["kros-mcp-window"]  # noqa: RUF012 (limits declares it a list)

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **_: Any) -> None:
        self._calls: dict[str, deque[float]] = {}  # newest on the right
        self._expiry: dict[str, float] = {}
        super().__init__(uri, wrap_exceptions=wrap_exceptions)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ValueError

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        calls = self._calls.get(key)
        if calls is None or calls.maxlen != limit:
            if len(self._calls) >= _SWEEP_AT:
                self._forget_idle(now)
            calls = self._calls[key] = deque(calls or (), maxlen=limit)
        self._expiry[key] = expiry
        # The call `limit - amount` places back must have left the window for `amount` more.
        back = limit - amount + 1
        if len(calls) >= back and calls[-back] > now - expiry:
            return False
        calls.extend([now] * amount)
        return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = time.time()
        inside = [t for t in self._calls.get(key, ()) if t > now - expiry]
        return (inside[0], len(inside)) if inside else (now, 0)

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, calls in self._calls.items() if calls[-1] <= now - self._expiry[k]]:
            del self._calls[key], self._expiry[key]

    # Fixed-window counters are not kept here: the tool-call limit uses the moving window only.
    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        raise NotImplementedError("WindowStorage serves the moving-window strategy only")

    def get(self, key: str) -> int:
        return len(self._calls.get(key, ()))

    def get_expiry(self, key: str) -> float:
        calls = self._calls.get(key)
        return calls[-1] + self._expiry[key] if calls else time.time()

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        count = len(self._calls)
        self._calls.clear()
        self._expiry.clear()
        return count

    def clear(self, key: str) -> None:
        self._calls.pop(key, None)
        self._expiry.pop(key, None)
