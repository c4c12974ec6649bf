"""Around every write: the tool-level idempotency claim, the budget reservation, and the audit trail.

A write records its intent before the upstream call and its outcome after, so a crash between the
two leaves an intent that the next start reconciles (see reconcile.py).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError

from ..safety import PolicyError, RuleVerdict
from ..store import AuditEntry
from .deps import Deps
from .errors import to_tool_error

__all__ = [
    "DAY",
    "OWNER",
    "WriteAttempt",
    "begin_write",
    "claim_once",
    "looks_secret",
    "redact",
    "refusal",
]

DAY = 86_400.0
OWNER = f"{socket.gethostname()}:{os.getpid()}"
_SECRET_WORDS = ("token", "key", "secret", "password")


def looks_secret(name: str) -> bool:
    """Whether an argument of this name may carry a secret (a token, a key, a password)."""
    return any(w in name.lower() for w in _SECRET_WORDS)


def redact(arguments: dict[str, Any]) -> dict[str, Any]:
    """Arguments fit for the audit log: anything secret-looking is replaced."""
    return {
        k: ("[redacted]" if looks_secret(k) and v is not None else v) for k, v in arguments.items()
    }


async def claim_once(
    deps: Deps, key: str | None, digest: str, *, what: str
) -> dict[str, Any] | None:
    """Claim a tool-level idempotency key for arguments with this digest. Returns the stored result
    of a call that already completed under it (to replay), None to go ahead; raises when another
    call holds it."""
    if key is None:
        return None
    claim = await deps.store.claim_request(deps.tenant, key, digest)
    if claim.state == "done":
        return claim.result
    if claim.state == "in_progress":
        raise ToolError(
            f"A call with this confirmation is already running or its outcome is being checked. "
            f"Nothing new was {what}. Call list_numbers in a minute to see the result."
        )
    if claim.state == "conflict":
        raise ToolError(f"This confirmation was used with other arguments. Nothing was {what}.")
    return None


@dataclass
class WriteAttempt:
    """One write in flight: settle it exactly once with succeeded, failed or unknown."""

    deps: Deps
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
        store, tenant = self.deps.store, self.deps.tenant
        if self.reserved_cents is not None:
            # Another replica starting while this call was in flight may have reconciled the intent
            # as not purchased and dropped the reservation: put it back (a reservation still held
            # is left as it is), so that money spent is always counted against the budget.
            await store.reserve_spend(
                tenant, self.entry.id, self.reserved_cents, budget_cents=None, window_seconds=DAY
            )
            await store.settle_spend(tenant, self.entry.id, spent=True, amount_cents=spent_cents)
        await store.audit_outcome(tenant, self.entry.id, "succeeded", outcome)
        if self.claim_key is not None and result is not None:
            await store.finish_request(tenant, self.claim_key, result)

    async def failed(self, error: str) -> None:
        """Nothing happened upstream: the reservation and the claim are released."""
        store, tenant = self.deps.store, self.deps.tenant
        if self.reserved_cents is not None:
            await store.settle_spend(tenant, self.entry.id, spent=False)
        await store.audit_outcome(tenant, self.entry.id, "failed", {"error": error})
        if self.claim_key is not None:
            await store.release_request(tenant, self.claim_key)

    async def unknown(self, error: str) -> None:
        """The outcome could not be established: the reservation is kept (money may be spent) and
        the claim stays, until reconciliation at the next start settles both."""
        await self.deps.store.audit_outcome(
            self.deps.tenant, self.entry.id, "unknown", {"error": error}
        )


async def begin_write(
    deps: Deps,
    *,
    tool: str,
    arguments: dict[str, Any],
    confirmation: str,
    quote: dict[str, Any] | None = None,
    reserve_cents: int | None = None,
    claim_key: str | None = None,
) -> WriteAttempt:
    """Reserve the spend (refusing past the daily budget) and record the intent."""
    # The owner lets start-up reconciliation tell a crashed call from one another process is running.
    arguments = {**arguments, "owner": OWNER}
    entry = AuditEntry(
        id=f"au_{uuid.uuid4().hex}",
        tenant=deps.tenant,
        tool=tool,
        arguments=redact(arguments),
        confirmation=confirmation,
        created_at=time.time(),
        quote=quote,
    )
    if reserve_cents is not None:
        budget = deps.policy.daily_budget_cents
        if not await deps.store.reserve_spend(
            deps.tenant, entry.id, reserve_cents, budget_cents=budget, window_seconds=DAY
        ):
            spent = await deps.store.spent_in_window(deps.tenant, DAY)
            if claim_key is not None:
                await deps.store.release_request(deps.tenant, claim_key)
            raise PolicyError(deps.policy.budget_verdict(reserve_cents, spent))
    await deps.store.audit_intent(entry)
    return WriteAttempt(deps, entry, reserve_cents, claim_key)


def refusal(verdict: RuleVerdict, *, what: str) -> ToolError:
    return to_tool_error(PolicyError(verdict), write=what)
