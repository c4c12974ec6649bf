"""Seeding a sandbox inventory that is interrupted is finished at the next start, with its own sizes."""

from __future__ import annotations

from pathlib import Path

import pytest

from kros_mcp.sandbox import SandboxDB
from kros_mcp.sandbox.inventory import expected_size


class Stop(Exception):
    pass


def test_an_interrupted_seed_is_finished_at_the_next_start(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.sqlite3"

    def interrupt(done: int, total: int) -> None:
        if done >= 5_000:
            raise Stop  # as Ctrl-C would, part way through

    with pytest.raises(Stop):
        SandboxDB(path, inventory_per_block=400, seed=7, progress=interrupt)
    partial = SandboxDB(path, inventory_per_block=0)  # no sizes given: the marker supplies them
    try:
        assert partial.inventory_size() == expected_size(400)
        assert partial.search_inventory("NG", None, None, 1, 0)[1] > 0  # the counts were refreshed
    finally:
        partial.close()
    calls: list[tuple[int, int]] = []
    SandboxDB(
        path, inventory_per_block=400, seed=7, progress=lambda d, t: calls.append((d, t))
    ).close()
    assert calls == []  # finished now: not seeded again
