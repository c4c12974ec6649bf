from __future__ import annotations

from typing import Any

import pytest

from kros_mcp.server.middleware import FirstCallReconcile
from kros_mcp.server.middleware import reconcile as module

from .calls import Handler, call_for

pytestmark = pytest.mark.anyio


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The organisations whose unfinished writes were settled, in order."""
    seen: list[str] = []

    async def reconcile_unfinished(deps: Any) -> None:
        seen.append(deps.tenant)

    monkeypatch.setattr(module, "reconcile_unfinished", reconcile_unfinished)
    return seen


async def test_each_organisation_is_settled_before_its_first_call_only(
    settled: list[str], handler: Handler
) -> None:
    gate = FirstCallReconcile()
    for tenant in ("t_a", "t_a", "t_b", "t_a"):
        await gate(call_for(tenant, multi_tenant=True), handler)
    assert settled == ["t_a", "t_b"]
    assert len(handler.calls) == 4


async def test_a_single_tenant_server_settled_at_start_already(
    settled: list[str], handler: Handler
) -> None:
    await FirstCallReconcile()(call_for("t_a", multi_tenant=False), handler)
    assert settled == [] and len(handler.calls) == 1
