"""The tool-call limit's moving window (limits' strategy on WindowStorage): the same answers as
limits' own MemoryStorage, call for call, without starting a thread."""

from __future__ import annotations

import threading
import time

import pytest
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from kros_mcp.server.middleware import window_storage
from kros_mcp.server.middleware.window_storage import WindowStorage


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(time, "time", fake)  # both storages read time.time()
    return fake


@pytest.mark.parametrize(("amount", "seconds"), [(3, 1), (5, 2), (1, 10)])
def test_answers_as_limits_memory_storage_does(clock: Clock, amount: int, seconds: int) -> None:
    item = RateLimitItemPerSecond(amount, seconds)
    ours = MovingWindowRateLimiter(WindowStorage())
    reference = MovingWindowRateLimiter(MemoryStorage())
    steps = [0.0, 0.1, 0.1, 0.2, 0.3, 0.5, 0.9, 1.05, 1.1, 2.0, 2.01, 0.3, 0.3, 3.5, 0.0, 0.0]
    for step in steps * 3:
        clock.now += step
        for tenant in ("t_a", "t_b", "t_a"):
            assert ours.hit(item, tenant) == reference.hit(item, tenant), (clock.now, tenant)
            assert ours.get_window_stats(item, tenant) == reference.get_window_stats(item, tenant)


def test_no_thread_is_started(clock: Clock) -> None:
    before = threading.active_count()
    limiter = MovingWindowRateLimiter(WindowStorage())
    item = RateLimitItemPerSecond(10, 1)
    for i in range(500):
        clock.now += 0.003
        limiter.hit(item, f"t_{i % 7}")
    assert threading.active_count() == before


def test_idle_organisations_are_forgotten(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(window_storage, "_SWEEP_AT", 10)
    storage = WindowStorage()
    limiter = MovingWindowRateLimiter(storage)
    item = RateLimitItemPerSecond(2, 1)
    for i in range(10):
        limiter.hit(item, f"t_{i}")
    assert len(storage._calls) == 10
    clock.now += 5
    limiter.hit(item, "t_new")
    assert len(storage._calls) == 1  # only t_new's counter is left


def test_the_transport_throttle_counts_without_threads(clock: Clock) -> None:
    from kros_mcp.server.transports.throttle import Throttle, parse_rate

    throttle, rate = Throttle(), parse_rate("3/second")
    before = threading.active_count()
    assert [throttle.hit(rate, "tools", "10.0.0.1") for _ in range(3)] == [None] * 3
    wait = throttle.hit(rate, "tools", "10.0.0.1")
    assert wait is not None and wait >= 1.0
    assert throttle.hit(rate, "tools", "10.0.0.2") is None  # another address, its own window
    assert throttle.blocked(rate, "tools", "10.0.0.1") is not None
    clock.now += 1.01
    assert throttle.blocked(rate, "tools", "10.0.0.1") is None
    assert threading.active_count() == before
