"""What a write call does about confirmation, decided in one place.

`decide` says what a call does next from four facts: the operator's mode, whether this client can
ask its person, the state of any confirmation token, and the person's answer. It is a pure
function: the tools gather the facts (confirmation.py keeps them for one call) and act on the
`Step`. Confirmation tokens themselves are in tokens.py.
"""

from __future__ import annotations

from enum import Enum, StrEnum

__all__ = ["Answer", "Mode", "Step", "TokenState", "decide"]


class Mode(StrEnum):
    """The operator's KROS_MCP_CONFIRMATION."""

    AUTO = "auto"  # ask the person when the client can, else a confirmation token
    HUMAN = "human"  # only by asking the person; refuse when the client cannot ask
    NONE = "none"  # no confirmation (automated pipelines)


class TokenState(Enum):
    """What the confirmation_token given with a call is worth."""

    ABSENT = "absent"  # none given
    VALID = "valid"  # genuine, unexpired, for these very terms
    MALFORMED = "malformed"  # not one this server issued
    TAMPERED = "tampered"  # its signature does not match
    EXPIRED = "expired"
    OTHER_ARGUMENTS = "other_arguments"  # issued for other arguments
    OTHER_TOOL = "other_tool"
    OTHER_TENANT = "other_tenant"  # issued to another organisation
    OTHER_PRICE = "other_price"  # issued for a quote that no longer holds
    REUSED = "reused"  # it already acted
    IN_USE = "in_use"  # another call is acting on it right now


class Answer(Enum):
    """The person's answer to the question, if one was put."""

    NOT_ASKED = "not_asked"
    ACCEPT = "accept"
    DECLINE = "decline"  # includes accepting with "confirm: false"
    CANCEL = "cancel"  # the question was dismissed
    REPLAYED = "replayed"  # an answer that already acted once, sent again


class Step(Enum):
    """What a write call does next."""

    ASK = "ask"  # put the question to the person
    ISSUE_TOKEN = "issue_token"  # nobody can be asked: return a token for the person to approve
    PROCEED = "proceed"  # agreed (or no agreement needed): act, once
    PRICE_CHANGED = "price_changed"  # the agreed quote no longer holds: show the new one
    REPLAY = "replay"  # this confirmation already acted: show that outcome, do nothing
    BUSY = "busy"  # this confirmation is acting in another call right now
    DECLINED = "declined"
    CANCELLED = "cancelled"
    ANSWER_USED = "answer_used"  # this answer already acted once
    REFUSED_TOKEN = "refused_token"  # the token does not confirm this call
    CANNOT_ASK = "cannot_ask"  # a person must confirm and this client cannot ask one


_BY_ANSWER = {
    Answer.ACCEPT: Step.PROCEED,
    Answer.DECLINE: Step.DECLINED,
    Answer.CANCEL: Step.CANCELLED,
    Answer.REPLAYED: Step.ANSWER_USED,
}
_BY_TOKEN = {
    TokenState.VALID: Step.PROCEED,
    TokenState.REUSED: Step.REPLAY,
    TokenState.IN_USE: Step.BUSY,
    TokenState.OTHER_PRICE: Step.PRICE_CHANGED,
}


def decide(mode: Mode, *, can_ask: bool, token: TokenState, answer: Answer) -> Step:
    """The next step of a write call. Call it before asking (`answer=NOT_ASKED`) and again with
    each fact learned after (the answer, the token's claim): the same facts give the same step."""
    if mode is Mode.NONE:
        return Step.PROCEED
    if mode is Mode.HUMAN or token is TokenState.ABSENT:
        # A person decides; in human mode a token is no way around asking.
        if answer is not Answer.NOT_ASKED:
            return _BY_ANSWER[answer]
        if can_ask:
            return Step.ASK
        return Step.CANNOT_ASK if mode is Mode.HUMAN else Step.ISSUE_TOKEN
    # auto mode with a token: the token stands for the person's agreement; nobody is asked.
    return _BY_TOKEN.get(token, Step.REFUSED_TOKEN)
