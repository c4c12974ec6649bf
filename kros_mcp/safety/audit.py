"""The audit trail: every write attempt, refused or sent, with who asked and what came of it.

An attempt is recorded before anything is sent upstream (its intent) and settled after (its
outcome, with the error code when it failed); a refusal by the operator's policy is recorded with
the rule's code and setting. Entries carry who asked, as a fingerprint that cannot be turned back
into the credential, and never a secret: secret-looking arguments are redacted, and every string
is cleaned before it is stored (the trail is shown to people and models as kros://audit).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any

from ..krosai import looks_secret
from ..krosai.formats import ERROR_CODE, matches
from ..store import AuditEntry, AuditStatus, StateStore
from .policy import RuleVerdict
from .text import clean_tree

__all__ = [
    "AuditTrail",
    "caller_fingerprint",
    "error_code_of",
    "purge_history",
    "redact",
]

STDIO = "stdio"
_PURCHASE_BLOCKERS = ("KYC_", "INSUFFICIENT_BALANCE")


def caller_fingerprint(principal: str | None) -> str:
    """Who asked, as the audit shows it: "stdio" for a local client, else a fingerprint of the
    principal (bearer token, tenant or OAuth subject) that cannot be turned back into it."""
    if not principal or principal == STDIO:
        return STDIO
    digest = hashlib.sha256(b"kros-mcp caller\x00" + principal.encode("utf-8", "replace"))
    return "c_" + digest.hexdigest()[:20]


def redact(arguments: dict[str, Any]) -> dict[str, Any]:
    """Arguments fit for the audit trail: anything secret-looking is replaced."""
    return {
        k: ("[redacted]" if looks_secret(k) and v is not None else v) for k, v in arguments.items()
    }


def error_code_of(error: BaseException) -> str:
    """The code an outcome records for `error` (KrosAI's, the policy rule's, or ours)."""
    code = getattr(error, "code", None)
    return code if isinstance(code, str) and matches(ERROR_CODE, code) else "UNEXPECTED_ERROR"


@dataclass(frozen=True)
class AuditTrail:
    """One tenant's trail, written on behalf of one caller by one process."""

    store: StateStore
    tenant: str
    caller: str  # caller_fingerprint(...)
    owner: str  # the process making the calls (never shown)

    def draft(
        self,
        tool: str,
        arguments: dict[str, Any],
        confirmation: str,
        quote: dict[str, Any] | None,
    ) -> AuditEntry:
        """An entry for an attempt, not yet recorded (its id is also its spend reservation's)."""
        return AuditEntry(
            id=f"au_{uuid.uuid4().hex}",
            tenant=self.tenant,
            tool=tool,
            arguments=clean_tree(redact(arguments)),
            confirmation=confirmation,
            created_at=time.time(),
            quote=clean_tree(quote) if quote is not None else None,
            caller=self.caller,
            owner=self.owner,
        )

    async def intent(
        self,
        tool: str,
        arguments: dict[str, Any],
        *,
        confirmation: str,
        quote: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Record that `tool` is about to act, before anything is sent upstream."""
        entry = self.draft(tool, arguments, confirmation, quote)
        await self.store.audit_intent(entry)
        return entry

    async def outcome(
        self,
        entry_id: str,
        status: AuditStatus,
        outcome: dict[str, Any],
        *,
        error_code: str | None = None,
    ) -> None:
        """Record what came of an intent."""
        await self.store.audit_outcome(
            self.tenant, entry_id, status, clean_tree(outcome), error_code=error_code
        )

    async def refusal(
        self,
        tool: str,
        arguments: dict[str, Any],
        verdict: RuleVerdict,
        *,
        quote: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Record that the operator's policy refused a write: nothing was sent upstream."""
        entry = self.draft(tool, arguments, "none", quote)
        refused = replace(
            entry,
            status="refused",
            outcome=clean_tree(
                {"result": "refused", "rule": verdict.rule, "detail": verdict.detail}
            ),
            finished_at=entry.created_at,
            error_code=verdict.code,
        )
        await self.store.audit_intent(refused)
        return refused

    async def last_purchase_blocker(self) -> AuditEntry | None:
        """This organisation's last purchase attempt, if it failed for KYC or balance."""
        for entry in await self.store.audit_page(self.tenant, limit=50):
            if entry.tool != "purchase_number" or entry.status in ("refused", "intent"):
                continue
            code = entry.error_code or ""
            blocked = entry.status == "failed" and code.startswith(_PURCHASE_BLOCKERS)
            return entry if blocked else None
        return None


async def purge_history(
    store: StateStore, *, now: float, audit_days: float, request_days: float
) -> int:
    """Delete audit entries (settled ones only) and spend older than `audit_days`, and request
    records older than `request_days`. Returns how many rows went."""
    return await store.purge_history(
        audit_before=now - audit_days * 86_400.0,
        requests_before=now - request_days * 86_400.0,
    )
