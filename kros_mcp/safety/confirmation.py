"""How one write call stands on confirmation: assessed once from one read of the facts, then
stepped as the person's answer or the token's claim becomes known.

A question put to the person carries a single-use reference (its nonce), kept in the state store
for as long as a confirmation lasts: the answer that acts closes it, so the same answer sent again
finds it closed and acts on nothing (the person is asked afresh).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from typing import Any

from ..store import StateStore
from .confirm import Answer, Mode, Step, TokenState, decide
from .tokens import ConfirmationError, ConfirmationTokens, TokenClaims

__all__ = ["Confirmation", "assess", "open_question", "step_after"]

_CLAIMS = {"done": TokenState.REUSED, "in_progress": TokenState.IN_USE}


@dataclass(frozen=True)
class Confirmation:
    """How a call stands on confirmation before the person is asked."""

    mode: Mode
    can_ask: bool
    token: TokenState
    claims: TokenClaims | None  # a valid token's (auto mode)
    token_error: ConfirmationError | None  # why a token given was refused
    step: Step  # decided before asking
    nonce: str | None = None  # the question's single-use reference, when one is put

    def after(self, answer: Answer) -> Step:
        """The step once the person's answer (or its absence) is known."""
        return decide(self.mode, can_ask=self.can_ask, token=self.token, answer=answer)

    def after_claim(self, claim: str) -> Step:
        """The step once the token's single-use claim is known ("new", "done", "in_progress",
        "conflict": see StateStore.claim_request)."""
        state = self.token if claim == "new" else _CLAIMS.get(claim, TokenState.OTHER_ARGUMENTS)
        return decide(self.mode, can_ask=self.can_ask, token=state, answer=Answer.NOT_ASKED)

    @property
    def how(self) -> str:
        """How a proceeding call was confirmed, as the audit records it."""
        if self.mode is Mode.NONE:
            return "none"
        return "token" if self.claims is not None else "elicitation"


def assess(
    tokens: ConfirmationTokens,
    *,
    mode: Mode,
    can_ask: bool,
    token: str | None,
    tenant: str,
    tool: str,
    arguments: dict[str, Any] | None,
    dry_run: bool,
) -> Confirmation:
    """The call's confirmation before anyone is asked. A token speaks for the person only in
    auto mode (elsewhere it is ignored); `arguments` None leaves binding it for later."""
    claims: TokenClaims | None = None
    error: ConfirmationError | None = None
    state = TokenState.ABSENT
    if token and mode is Mode.AUTO and not dry_run:
        try:
            claims = tokens.verify(token, tenant=tenant, tool=tool, arguments=arguments)
            state = TokenState.VALID
        except ConfirmationError as exc:
            error, state = exc, exc.state
    step = decide(mode, can_ask=can_ask, token=state, answer=Answer.NOT_ASKED)
    return Confirmation(mode, can_ask, state, claims, error, step)


async def open_question(
    store: StateStore, tenant: str, confirmation: Confirmation, subject: str, ttl: float
) -> Confirmation:
    """`confirmation` with the reference of the question about `subject` (the one already open,
    so that a second round asks the very same question, else a new one)."""
    nonce = await store.open_question(tenant, subject, secrets.token_hex(4).upper(), ttl)
    return replace(confirmation, nonce=nonce)


async def step_after(
    store: StateStore, tenant: str, confirmation: Confirmation, subject: str, answer: Answer
) -> Step:
    """The step once the person's answer is known; the answer's question is closed now, so the
    same answer sent again steps to ANSWER_USED."""
    answered = confirmation.nonce is not None and answer is not Answer.NOT_ASKED
    if answered and not await store.take_question(tenant, subject, confirmation.nonce or ""):
        return confirmation.after(Answer.REPLAYED)
    return confirmation.after(answer)
