"""The spend ledger: money reserved before a purchase is sent, settled by what KrosAI did.

A purchase reserves its first charge before the upstream call, atomically against the daily budget
(so concurrent calls, on any replica, cannot together exceed it). Its outcome settles the
reservation: bought, the money is spent (at KrosAI's final amount when it gives one); refused,
the reservation is released; unknown, it stays reserved (the money may be gone) until recovery
learns what happened. Spend counts against the budget for the 24 hours after it was reserved.
"""

from __future__ import annotations

from enum import Enum

from ..store import StateStore
from .policy import Policy, PolicyError

__all__ = ["DAY", "Outcome", "SpendLedger"]

DAY = 86_400.0


class Outcome(Enum):
    """What became of a write, as far as the money goes."""

    SUCCEEDED = "succeeded"  # KrosAI did it: money spent
    FAILED = "failed"  # KrosAI did not: nothing spent
    UNKNOWN = "unknown"  # nobody knows yet: the money stays reserved


class SpendLedger:
    """One tenant's spend, against the operator's daily budget."""

    def __init__(self, store: StateStore, tenant: str, policy: Policy) -> None:
        self._store = store
        self._tenant = tenant
        self._policy = policy

    async def spent(self) -> int:
        """Spent plus reserved in the last 24 hours, in cents."""
        return await self._store.spent_in_window(self._tenant, DAY)

    async def reserve(self, reservation_id: str, amount_cents: int) -> None:
        """Reserve `amount_cents` within the daily budget. Raises PolicyError (BUDGET_EXCEEDED)
        when it does not fit; reserving the same id twice counts it once."""
        budget = self._policy.daily_budget_cents
        if not await self._store.reserve_spend(
            self._tenant, reservation_id, amount_cents, budget_cents=budget, window_seconds=DAY
        ):
            raise PolicyError(self._policy.budget_verdict(amount_cents, await self.spent()))

    async def settle(
        self,
        reservation_id: str,
        outcome: Outcome,
        *,
        reserved_cents: int,
        amount_cents: int | None = None,
    ) -> None:
        """Settle a reservation of `reserved_cents` by the write's outcome (module docstring);
        `amount_cents` is KrosAI's final amount, when it gave one."""
        if outcome is Outcome.SUCCEEDED:
            await self.commit(reservation_id, reserved_cents, amount_cents)
        elif outcome is Outcome.FAILED:
            await self.release(reservation_id)

    async def commit(
        self, reservation_id: str, reserved_cents: int, amount_cents: int | None = None
    ) -> None:
        """Count the money as spent. Should the reservation have been dropped meanwhile (another
        replica settled the write as not done), it is put back first: money spent is always
        counted, never refused for being over budget."""
        await self._store.reserve_spend(
            self._tenant, reservation_id, reserved_cents, budget_cents=None, window_seconds=DAY
        )
        await self._store.settle_spend(
            self._tenant, reservation_id, spent=True, amount_cents=amount_cents
        )

    async def release(self, reservation_id: str) -> None:
        """Drop a reservation: nothing was spent. Spend already committed stays spent."""
        await self._store.settle_spend(self._tenant, reservation_id, spent=False)
