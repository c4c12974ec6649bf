"""The steps between an agreed purchase and the upstream call (safety.purchase.prepare): the
token's claim, the quote checked against KrosAI's price now, the reservation and the intent."""

from __future__ import annotations

from typing import Any, cast

import pytest

from kros_mcp.krosai import KrosAIClient
from kros_mcp.safety import (
    DAY,
    Confirmation,
    Mode,
    PolicyError,
    ProcessIdentity,
    PurchaseTerms,
    Step,
    TokenClaims,
    TokenState,
)
from kros_mcp.safety.purchase import (
    ConfirmationInUse,
    NoLongerForSale,
    PriceChanged,
    PurchasePlan,
    Ready,
    Replay,
    prepare,
)
from kros_mcp.store import StateStore, StoredOffer

from .helpers import TENANT, FakeKrosAI, scope_for

pytestmark = pytest.mark.anyio

NUMBER = "+2348031234567"
OFFER = StoredOffer("inv_ng_1", NUMBER, "NG", "local", None, 150, 350)
ARGS = {
    "inventory_id": "inv_ng_1",
    "endpoint_id": None,
    "allow_inbound": True,
    "allow_outbound": True,
}
QUOTE = {"number": NUMBER, "setup_cost_cents": 150, "monthly_cost_cents": 350}


def _plan(quote: dict[str, Any] | None, *, token: bool = True) -> PurchasePlan:
    claims = TokenClaims("t1", TENANT, "purchase_number", "digest", quote, 2e9) if token else None
    state = TokenState.VALID if token else TokenState.ABSENT
    confirmation = Confirmation(Mode.AUTO, not token, state, claims, None, Step.PROCEED)
    return PurchasePlan(OFFER, PurchaseTerms.of(OFFER, ARGS), [], confirmation, False)


def _krosai(setup: int = 150, monthly: int = 350, *, for_sale: bool = True) -> KrosAIClient:
    fake = FakeKrosAI()
    if for_sale:
        fake.offer("inv_ng_1", NUMBER, setup_cost_cents=setup, monthly_cost_cents=monthly)
    return cast(KrosAIClient, fake)


async def test_ready_when_the_quote_holds(store: StateStore, process: ProcessIdentity) -> None:
    scope = scope_for(store, process)
    step = await prepare(scope, _krosai(), _plan(QUOTE), {"number": NUMBER})
    assert isinstance(step, Ready) and step.current.first_charge_cents == 500
    assert await store.spent_in_window(TENANT, DAY) == 500
    (entry,) = await store.audit_unfinished(TENANT)
    assert entry.confirmation == "token" and entry.arguments["dedupe"] == "token:t1"
    assert (await scope.claim("token:t1", "digest")).state == "in_progress"


@pytest.mark.parametrize(
    ("quote", "setup", "monthly"),
    [
        pytest.param(QUOTE, 0, 500, id="monthly-up-same-first-charge"),
        pytest.param(QUOTE, 200, 350, id="setup-up"),
        pytest.param({**QUOTE, "number": "+2348031234568"}, 150, 350, id="other-number"),
        pytest.param(None, 150, 350, id="token-quotes-no-price"),
    ],
)
async def test_price_changed_buys_nothing_and_gives_the_claim_back(
    store: StateStore,
    process: ProcessIdentity,
    quote: dict[str, Any] | None,
    setup: int,
    monthly: int,
) -> None:
    scope = scope_for(store, process)
    step = await prepare(scope, _krosai(setup, monthly), _plan(quote), {})
    assert isinstance(step, PriceChanged) and step.current.monthly_cost_cents == monthly
    assert await store.spent_in_window(TENANT, DAY) == 0
    assert await store.audit_page(TENANT, limit=5) == []
    assert (await scope.claim("token:t1", "digest")).state == "new"


async def test_the_person_path_checks_the_terms_asked(
    store: StateStore, process: ProcessIdentity
) -> None:
    step = await prepare(scope_for(store, process), _krosai(0, 500), _plan(None, token=False), {})
    assert isinstance(step, PriceChanged) and step.agreed == QUOTE


async def test_a_used_token_replays_and_a_busy_one_is_refused(
    store: StateStore, process: ProcessIdentity
) -> None:
    scope = scope_for(store, process)
    assert (await scope.claim("token:t1", "digest")).state == "new"
    with pytest.raises(ConfirmationInUse) as busy:
        await prepare(scope, _krosai(), _plan(QUOTE), {})
    assert busy.value.in_progress
    await store.finish_request(TENANT, "token:t1", {"status": "purchased"})
    step = await prepare(scope, _krosai(), _plan(QUOTE), {})
    assert isinstance(step, Replay) and step.result == {"status": "purchased"}


async def test_gone_from_sale(store: StateStore, process: ProcessIdentity) -> None:
    scope = scope_for(store, process)
    with pytest.raises(NoLongerForSale):
        await prepare(scope, _krosai(for_sale=False), _plan(QUOTE), {})
    assert (await scope.claim("token:t1", "digest")).state == "new"


async def test_over_budget_is_refused_on_record(
    store: StateStore, process: ProcessIdentity
) -> None:
    scope = scope_for(store, process, budget=400)
    with pytest.raises(PolicyError):
        await prepare(scope, _krosai(), _plan(QUOTE), {})
    (entry,) = await store.audit_page(TENANT, limit=5)
    assert entry.status == "refused" and entry.error_code == "BUDGET_EXCEEDED"
    assert (await scope.claim("token:t1", "digest")).state == "new"
