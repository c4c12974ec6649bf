"""The state store under the tools: offers and used tokens survive a failed write."""

from __future__ import annotations

from pathlib import Path

import pytest

from kros_mcp.store import SQLiteStateStore, StoredOffer

pytestmark = pytest.mark.anyio


def _offer(inventory_id: object) -> StoredOffer:
    return StoredOffer(
        inventory_id=inventory_id,
        number="+2342011258889",
        country="NG",
        type="local",  # type: ignore[arg-type]
        area_code="201",
        setup_cost_cents=100,
        monthly_cost_cents=200,
    )


async def test_a_failed_write_does_not_wedge_the_store(tmp_path: Path) -> None:
    store = SQLiteStateStore(tmp_path / "state.sqlite3")
    try:
        with pytest.raises(Exception):  # noqa: B017 - whatever sqlite raises for an unbindable value
            await store.remember_offers("t_1", [_offer("inv_ok"), _offer(["not", "bindable"])], 60)
        # The failed batch left nothing behind, and the next write works.
        assert await store.get_offer("t_1", "inv_ok") is None
        await store.remember_offers("t_1", [_offer("inv_ok")], 60)
        assert (await store.get_offer("t_1", "inv_ok")).first_charge_cents == 300  # type: ignore[union-attr]
        assert await store.use_token("t_1", "jti", 1e12) is True
        assert await store.use_token("t_1", "jti", 1e12) is False
    finally:
        await store.close()


async def test_offers_are_per_tenant_and_expire(tmp_path: Path) -> None:
    now = [1000.0]
    store = SQLiteStateStore(tmp_path / "state.sqlite3", clock=lambda: now[0])
    try:
        await store.remember_offers("t_a", [_offer("inv_1")], 60)
        assert await store.get_offer("t_b", "inv_1") is None
        assert await store.get_offer("t_a", "inv_1") is not None
        now[0] += 61
        assert await store.get_offer("t_a", "inv_1") is None
        assert await store.use_token("t_a", "jti", now[0] + 10) is True
        assert await store.use_token("t_b", "jti", now[0] + 10) is True  # another tenant's token id
    finally:
        await store.close()
