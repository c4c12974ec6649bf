"""Helpers for the safety tests: the scope of a money decision, and a fake KrosAI client for
recovery."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from kros_mcp.krosai import (
    AvailableNumber,
    AvailableNumberPage,
    KrosAIError,
    NotFoundError,
    PhoneNumber,
)
from kros_mcp.safety import Policy, ProcessIdentity, Scope
from kros_mcp.store import StateStore

TENANT = "t_safety_tests_tenant_0001"


def scope_for(
    store: StateStore,
    process: ProcessIdentity,
    *,
    budget: int | None = None,
    tenant: str = TENANT,
    caller: str = "stdio",
) -> Scope:
    return Scope(store, tenant, Policy(daily_budget_cents=budget), caller, process)


class FakeKrosAI:
    """What recovery asks KrosAI: owned numbers, one number, the inventory. `down` makes every
    call fail as an unreachable KrosAI would."""

    def __init__(self) -> None:
        self.owned: list[PhoneNumber] = []
        self.for_sale: list[AvailableNumber] = []
        self.down = False
        self.calls: list[str] = []

    def own(
        self, number_id: str, number: str, inventory_id: str | None = None, **extra: Any
    ) -> None:
        self.owned.append(
            PhoneNumber.model_validate(
                {"id": number_id, "number": number, "inventory_id": inventory_id, **extra}
            )
        )

    def offer(self, inventory_id: str, number: str, country: str = "NG", **prices: int) -> None:
        self.for_sale.append(
            AvailableNumber.model_validate(
                {
                    "id": inventory_id,
                    "number": number,
                    "country": country,
                    "type": "local",
                    **prices,
                }
            )
        )

    def _check(self, call: str) -> None:
        self.calls.append(call)
        if self.down:
            raise KrosAIError("KrosAI is unreachable")

    async def iter_numbers(self, **_: Any) -> AsyncIterator[PhoneNumber]:
        self._check("list")
        for number in list(self.owned):
            yield number

    async def get_number(self, number_id: str, *, fresh: bool = False) -> PhoneNumber:
        self._check("get")
        for number in self.owned:
            if number.id == number_id:
                return number
        raise NotFoundError("not found", status=404, code="NOT_FOUND")

    async def search_available(self, country: str, **_: Any) -> AvailableNumberPage:
        self._check("search")
        items = [item for item in self.for_sale if (item.country or country) == country]
        return AvailableNumberPage(items=items, total=len(items))
