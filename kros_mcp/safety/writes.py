"""One write, from its first record to its settled outcome: the claim, the budget, the audit.

Before anything is sent upstream, a write reserves its spend (refused past the daily budget) and
records its intent; the caller then settles the attempt exactly once, as succeeded, failed or
unknown. A crash in between leaves an intent (and its reservation) that recovery settles against
KrosAI. A confirmation token is claimed before its write, so a copy of it replays the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..krosai import KrosAIError, ServerError, TransportError
from ..store import AuditEntry, RequestClaim, StateStore
from .audit import AuditTrail, error_code_of
from .ledger import Outcome, SpendLedger
from .policy import Policy, PolicyError
from .process import THIS_PROCESS, ProcessIdentity

__all__ = ["Scope", "WriteAttempt"]


@dataclass(frozen=True)
class Scope:
    """Who a write is for and where its records go: one tenant, one caller, one process."""

    store: StateStore
    tenant: str
    policy: Policy
    caller: str  # audit.caller_fingerprint(...)
    process: ProcessIdentity = field(default_factory=lambda: THIS_PROCESS)

    @property
    def trail(self) -> AuditTrail:
        return AuditTrail(self.store, self.tenant, self.caller, self.process.id)

    @property
    def ledger(self) -> SpendLedger:
        return SpendLedger(self.store, self.tenant, self.policy)

    async def claim(self, key: str, digest: str) -> RequestClaim:
        """Claim a confirmation for the call about to act on it (see StateStore.claim_request)."""
        return await self.store.claim_request(self.tenant, key, digest)

    async def unclaim(self, key: str | None) -> None:
        """Give back a claim whose call did nothing, so the confirmation may act later."""
        if key is not None:
            await self.store.release_request(self.tenant, key)

    async def begin(
        self,
        tool: str,
        arguments: dict[str, Any],
        *,
        confirmation: str,
        quote: dict[str, Any] | None = None,
        reserve_cents: int | None = None,
        claim_key: str | None = None,
    ) -> WriteAttempt:
        """Reserve the spend and record the intent. A budget refusal is audited and raised
        (PolicyError), and the claim given back."""
        trail = self.trail
        entry = trail.draft(tool, arguments, confirmation, quote)
        if reserve_cents is not None:
            try:
                await self.ledger.reserve(entry.id, reserve_cents)
            except PolicyError as refused:
                await self.unclaim(claim_key)
                await trail.refusal(tool, arguments, refused.verdict, quote=quote)
                raise
        await self.store.audit_intent(entry)
        self.process.in_flight.add(entry.id)
        return WriteAttempt(self, entry, reserve_cents, claim_key)


@dataclass
class WriteAttempt:
    """One write in flight: settle it exactly once with succeeded, failed or unknown."""

    scope: Scope
    entry: AuditEntry
    reserved_cents: int | None
    claim_key: str | None

    async def succeeded(
        self,
        outcome: dict[str, Any],
        *,
        result: dict[str, Any] | None = None,
        spent_cents: int | None = None,
    ) -> None:
        """KrosAI did it: the spend is committed, the outcome recorded, the claim's result kept
        for replays."""
        scope = self.scope
        if self.reserved_cents is not None:
            await scope.ledger.settle(
                self.entry.id,
                Outcome.SUCCEEDED,
                reserved_cents=self.reserved_cents,
                amount_cents=spent_cents,
            )
        await scope.trail.outcome(self.entry.id, "succeeded", outcome)
        if self.claim_key is not None and result is not None:
            await scope.store.finish_request(scope.tenant, self.claim_key, result)
        self.abandon()

    async def failed(self, message: str, code: str) -> None:
        """Nothing happened upstream: the reservation and the claim are given back."""
        scope = self.scope
        if self.reserved_cents is not None:
            await scope.ledger.release(self.entry.id)
        await scope.trail.outcome(self.entry.id, "failed", {"error": message}, error_code=code)
        await scope.unclaim(self.claim_key)
        self.abandon()

    async def unknown(self, message: str, code: str) -> None:
        """The outcome could not be established: the reservation and the claim stay until
        recovery settles both against KrosAI."""
        await self.scope.trail.outcome(
            self.entry.id, "unknown", {"error": message}, error_code=code
        )
        self.abandon()

    async def upstream_error(self, error: KrosAIError) -> None:
        """Settle a write KrosAI answered with `error`: a lost connection or a server error may
        have acted (unknown, for recovery to settle); any other error means nothing happened."""
        if isinstance(error, (TransportError, ServerError)):
            await self.unknown(error.message, error_code_of(error))
        else:
            await self.failed(error.message, error_code_of(error))

    def abandon(self) -> None:
        """This process no longer works on the write: recovery may settle what is unsettled."""
        self.scope.process.in_flight.discard(self.entry.id)
