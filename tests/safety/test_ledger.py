"""The spend ledger: reserve before the call, settle by the outcome, never lose a cent."""

from __future__ import annotations

import pytest

from kros_mcp.safety import DAY, Outcome, PolicyError, ProcessIdentity
from kros_mcp.store import StateStore

from .helpers import TENANT, scope_for

pytestmark = pytest.mark.anyio


async def test_reserve_within_budget_and_refuse_past_it(
    store: StateStore, process: ProcessIdentity
) -> None:
    ledger = scope_for(store, process, budget=1000).ledger
    await ledger.reserve("au_1", 600)
    await ledger.reserve("au_1", 600)  # the same reservation again counts once
    assert await ledger.spent() == 600
    with pytest.raises(PolicyError) as refused:
        await ledger.reserve("au_2", 500)
    assert refused.value.code == "BUDGET_EXCEEDED"
    assert "400c left" in refused.value.verdict.detail
    await ledger.reserve("au_3", 400)
    assert await ledger.spent() == 1000


@pytest.mark.parametrize(
    ("outcome", "final", "spent"),
    [
        (Outcome.SUCCEEDED, None, 500),  # bought at the reserved amount
        (Outcome.SUCCEEDED, 480, 480),  # bought: KrosAI's final amount counts
        (Outcome.FAILED, None, 0),  # refused upstream: nothing spent
        (Outcome.UNKNOWN, None, 500),  # nobody knows yet: it stays reserved
    ],
)
async def test_settle_by_outcome(
    store: StateStore, process: ProcessIdentity, outcome: Outcome, final: int | None, spent: int
) -> None:
    ledger = scope_for(store, process, budget=1000).ledger
    await ledger.reserve("au_1", 500)
    await ledger.settle("au_1", outcome, reserved_cents=500, amount_cents=final)
    assert await ledger.spent() == spent


async def test_money_spent_is_counted_even_after_a_release(
    store: StateStore, process: ProcessIdentity
) -> None:
    """A reservation dropped (another replica settled the write as not done) and then the
    purchase proved: the money is counted again, even past the budget."""
    ledger = scope_for(store, process, budget=600).ledger
    await ledger.reserve("au_1", 500)
    await ledger.release("au_1")
    await ledger.reserve("au_2", 500)
    await ledger.commit("au_1", 500)
    assert await ledger.spent() == 1000


async def test_committed_spend_is_never_released(
    store: StateStore, process: ProcessIdentity
) -> None:
    ledger = scope_for(store, process).ledger
    await ledger.reserve("au_1", 500)
    await ledger.commit("au_1", 500)
    await ledger.settle("au_1", Outcome.FAILED, reserved_cents=500)
    assert await ledger.spent() == 500


async def test_spend_is_per_tenant(store: StateStore, process: ProcessIdentity) -> None:
    await scope_for(store, process, budget=500).ledger.reserve("au_1", 500)
    other = scope_for(store, process, budget=500, tenant="t_other_tenant_000000000")
    await other.ledger.reserve("au_1", 500)
    assert await store.spent_in_window(TENANT, DAY) == 500
    assert await other.ledger.spent() == 500
