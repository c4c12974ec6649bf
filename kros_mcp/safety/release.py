"""A release's decisions: its plan (the number, the policy's verdict, the confirmation), and the
token's claim before anything is sent.

With a token the number is looked up only after the token is claimed, so that a copy of a used
token replays the earlier outcome even though the number is gone by then; the token is then bound
to the number it was issued for, by id and by E.164 number.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..krosai import PhoneNumber
from .confirm import Step
from .confirmation import Confirmation, open_question
from .policy import RuleVerdict
from .purchase import ConfirmationInUse, Replay
from .quotes import ReleaseTerms
from .tokens import ConfirmationError, ConfirmationTokens, TokenClaims
from .writes import Scope

__all__ = ["ReleasePlan", "bind", "claim", "plan"]


@dataclass(frozen=True)
class ReleasePlan:
    """Everything a release call decides from. `number` is None on the token path (looked up
    after the token's claim)."""

    confirmation: Confirmation
    dry_run: bool
    number: PhoneNumber | None = None
    verdict: RuleVerdict | None = None

    @property
    def terms(self) -> ReleaseTerms | None:
        return None if self.number is None else ReleaseTerms(self.number.id, self.number.number)


async def plan(
    scope: Scope,
    number: PhoneNumber,
    confirmation: Confirmation,
    *,
    dry_run: bool,
    question_ttl: float,
) -> ReleasePlan:
    """The plan of releasing `number`: the protected-numbers verdict, and the question's
    reference when the person is to be asked."""
    verdict = scope.policy.change_verdict(
        number_id=number.id, number=number.number, action="released"
    )
    if confirmation.step is Step.ASK and not dry_run and verdict.allowed:
        subject = ReleaseTerms(number.id, number.number).subject()
        confirmation = await open_question(
            scope.store, scope.tenant, confirmation, subject, question_ttl
        )
    return ReleasePlan(confirmation, dry_run, number, verdict)


async def claim(scope: Scope, confirmation: Confirmation, claims: TokenClaims) -> Replay | None:
    """Claim a release token: the earlier outcome to replay, or None to go ahead (the claim is
    then held). Raises ConfirmationInUse."""
    taken = await scope.claim(f"token:{claims.token_id}", claims.args_digest)
    step = confirmation.after_claim(taken.state)
    if step is Step.REPLAY and taken.result is not None:
        return Replay(taken.result)
    if step is not Step.PROCEED:
        raise ConfirmationInUse(taken.state == "in_progress")
    return None


def bind(claims: TokenClaims, number: PhoneNumber) -> None:
    """Raise ConfirmationError unless the token was issued for this very number."""
    try:
        ConfirmationTokens.bound_to(claims, ReleaseTerms(number.id, number.number).arguments())
    except ConfirmationError:
        raise ConfirmationError(
            "mismatch",
            "this confirmation_token was issued for another number; call release_number "
            "without a token to get one for this number",
        ) from None
