"""Seeding reports progress through a callback; the bar draws on a TTY and stays quiet elsewhere."""

from __future__ import annotations

import io
from pathlib import Path

from kros_mcp.cli.progress import ProgressBar
from kros_mcp.sandbox import SandboxDB
from kros_mcp.sandbox.inventory import expected_size


def test_seeding_reports_increasing_counts(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    db = SandboxDB(
        tmp_path / "sandbox.sqlite3",
        inventory_per_block=400,
        progress=lambda d, t: calls.append((d, t)),
    )
    try:
        size = db.inventory_size()
    finally:
        db.close()
    assert len(calls) >= 3
    done = [d for d, _ in calls]
    assert done == sorted(set(done)), calls  # strictly increasing
    assert all(d < t for d, t in calls[:-1]) and calls[-1] == (size, size)
    assert calls[0][1] == expected_size(400)


def test_an_existing_inventory_is_not_seeded_again(tmp_path: Path) -> None:
    SandboxDB(tmp_path / "sandbox.sqlite3", inventory_per_block=1).close()
    calls: list[tuple[int, int]] = []
    SandboxDB(
        tmp_path / "sandbox.sqlite3",
        inventory_per_block=400,
        progress=lambda d, t: calls.append((d, t)),
    ).close()
    assert calls == []


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_on_a_terminal_and_two_lines_elsewhere() -> None:
    ticks = iter(range(100))
    plain = io.StringIO()
    with ProgressBar(
        "Seeding", unit="numbers", stream=plain, clock=lambda: float(next(ticks))
    ) as bar:
        for done in range(0, 10_001, 1000):
            bar(done, 10_000)
    assert plain.getvalue().splitlines() == [
        "Seeding: about 10,000 numbers...",
        "Seeding: 10,000 numbers in 11.0 s",
    ]

    ticks = iter(range(100))
    tty = _Terminal()
    with ProgressBar(
        "Seeding", unit="numbers", stream=tty, clock=lambda: float(next(ticks))
    ) as bar:
        for done in range(0, 10_001, 1000):
            bar(done, 10_000)
    drawn = tty.getvalue()
    assert (
        drawn.count("\r") >= 10 and " 50% 5,000/10,000" in drawn and "100% 10,000/10,000" in drawn
    )
    assert drawn.endswith("Seeding: 10,000 numbers in 11.0 s\x1b[K\n")


def test_nothing_is_written_without_progress() -> None:
    out = _Terminal()
    with ProgressBar("Seeding", stream=out):
        pass
    assert out.getvalue() == ""
