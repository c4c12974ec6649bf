"""The confirmation decision as a matrix, and confirmation tokens refused for every reason.

Every mode x client can or cannot be asked x token state x answer is decided against a
specification written out here case by case; tokens are issued and verified for real."""

from __future__ import annotations

import itertools

import pytest

from kros_mcp.safety import (
    Answer,
    ConfirmationError,
    ConfirmationTokens,
    Mode,
    Step,
    TokenState,
    arguments_digest,
    decide,
    token_state,
)

KEY = b"k" * 32
ARGS = {
    "inventory_id": "inv_ng_1",
    "endpoint_id": None,
    "allow_inbound": True,
    "allow_outbound": True,
}
QUOTE = {"number": "+2348031234567", "setup_cost_cents": 150, "monthly_cost_cents": 350}
GIVEN_TOKENS = [s for s in TokenState if s is not TokenState.ABSENT]
PERSON = {
    Answer.ACCEPT: Step.PROCEED,
    Answer.DECLINE: Step.DECLINED,
    Answer.CANCEL: Step.CANCELLED,
    Answer.REPLAYED: Step.ANSWER_USED,
}


def expected(mode: Mode, can_ask: bool, token: TokenState, answer: Answer) -> Step:
    """The specification, rule by rule."""
    if mode is Mode.NONE:
        return Step.PROCEED  # the operator wants no confirmation
    person_decides = mode is Mode.HUMAN or token is TokenState.ABSENT
    if person_decides and answer is not Answer.NOT_ASKED:
        return PERSON[answer]
    if person_decides and can_ask:
        return Step.ASK
    if person_decides:
        return Step.CANNOT_ASK if mode is Mode.HUMAN else Step.ISSUE_TOKEN
    return {
        TokenState.VALID: Step.PROCEED,
        TokenState.REUSED: Step.REPLAY,
        TokenState.IN_USE: Step.BUSY,
        TokenState.OTHER_PRICE: Step.PRICE_CHANGED,
    }.get(token, Step.REFUSED_TOKEN)


MATRIX = list(itertools.product(Mode, (True, False), TokenState, Answer))


@pytest.mark.parametrize(
    ("mode", "can_ask", "token", "answer"),
    MATRIX,
    ids=[f"{m.value}-{'asks' if c else 'mute'}-{t.value}-{a.value}" for m, c, t, a in MATRIX],
)
def test_decision_matrix(mode: Mode, can_ask: bool, token: TokenState, answer: Answer) -> None:
    assert decide(mode, can_ask=can_ask, token=token, answer=answer) is expected(
        mode, can_ask, token, answer
    )


def test_nothing_proceeds_without_agreement() -> None:
    """Outside mode none, a call acts only on the person's yes or on a valid token, never on a
    decline, a dismissal, a replayed answer, or any token that is not valid."""
    for mode, can_ask, token, answer in MATRIX:
        step = decide(mode, can_ask=can_ask, token=token, answer=answer)
        if step is Step.PROCEED and mode is not Mode.NONE:
            agreed = answer is Answer.ACCEPT or (mode is Mode.AUTO and token is TokenState.VALID)
            assert agreed, (mode, can_ask, token, answer)


def test_human_mode_ignores_tokens_and_never_issues_one() -> None:
    for can_ask, token in itertools.product((True, False), TokenState):
        step = decide(Mode.HUMAN, can_ask=can_ask, token=token, answer=Answer.NOT_ASKED)
        assert step is (Step.ASK if can_ask else Step.CANNOT_ASK)


def test_auto_mode_asks_a_client_that_can_and_issues_tokens_only_to_one_that_cannot() -> None:
    ask = decide(Mode.AUTO, can_ask=True, token=TokenState.ABSENT, answer=Answer.NOT_ASKED)
    mute = decide(Mode.AUTO, can_ask=False, token=TokenState.ABSENT, answer=Answer.NOT_ASKED)
    assert (ask, mute) == (Step.ASK, Step.ISSUE_TOKEN)


# -- tokens --------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tokens(clock: Clock) -> ConfirmationTokens:
    return ConfirmationTokens([KEY], ttl_seconds=60, clock=clock)


def _state(tokens: ConfirmationTokens, token: str, **binding: object) -> TokenState:
    try:
        tokens.verify(
            token,
            tenant=str(binding.get("tenant", "t_a")),
            tool=str(binding.get("tool", "purchase_number")),
            arguments=binding.get("arguments", ARGS),  # type: ignore[arg-type]
        )
    except ConfirmationError as exc:
        return token_state(exc)
    return token_state(None)


def test_token_states(tokens: ConfirmationTokens, clock: Clock) -> None:
    token, expires = tokens.issue(tenant="t_a", tool="purchase_number", arguments=ARGS, quote=QUOTE)
    assert expires == clock.now + 60
    assert _state(tokens, token) is TokenState.VALID
    assert _state(tokens, token, tenant="t_b") is TokenState.OTHER_TENANT
    assert _state(tokens, token, tool="release_number") is TokenState.OTHER_TOOL
    for changed in ({"endpoint_id": "ep_x"}, {"allow_inbound": False}, {"inventory_id": "inv_2"}):
        assert _state(tokens, token, arguments={**ARGS, **changed}) is TokenState.OTHER_ARGUMENTS
    prefix, payload, signature = token.split(".")
    assert _state(tokens, f"{prefix}.{payload}x.{signature}") is TokenState.TAMPERED
    assert _state(tokens, "kc1.abc") is TokenState.MALFORMED
    other_server = ConfirmationTokens([b"o" * 32], clock=clock)
    assert _state(other_server, token) is TokenState.TAMPERED
    clock.now += 61
    assert _state(tokens, token) is TokenState.EXPIRED


def test_token_carries_the_whole_quote(tokens: ConfirmationTokens) -> None:
    token, _ = tokens.issue(tenant="t_a", tool="purchase_number", arguments=ARGS, quote=QUOTE)
    claims = tokens.verify(token, tenant="t_a", tool="purchase_number", arguments=ARGS)
    assert claims.quote == QUOTE and claims.args_digest == arguments_digest(ARGS)


def test_rotated_keys_verify_and_the_first_signs(clock: Clock) -> None:
    old = ConfirmationTokens([b"o" * 32], clock=clock)
    token, _ = old.issue(tenant="t", tool="release_number", arguments={"n": 1}, quote=None)
    rotated = ConfirmationTokens([KEY, b"o" * 32], clock=clock)
    assert rotated.verify(token, tenant="t", tool="release_number", arguments={"n": 1})
    fresh, _ = rotated.issue(tenant="t", tool="release_number", arguments={"n": 1}, quote=None)
    with pytest.raises(ConfirmationError):
        old.verify(fresh, tenant="t", tool="release_number", arguments={"n": 1})


def test_unbound_verification_then_binding(tokens: ConfirmationTokens) -> None:
    """A release token is read before its number is looked up, then bound to the number."""
    arguments = {"number_id": "pn_1", "number": "+2348031234567"}
    token, _ = tokens.issue(tenant="t_a", tool="release_number", arguments=arguments, quote=None)
    claims = tokens.verify(token, tenant="t_a", tool="release_number", arguments=None)
    ConfirmationTokens.bound_to(claims, arguments)
    for other in ({**arguments, "number": "+2348031234568"}, {**arguments, "number_id": "pn_2"}):
        with pytest.raises(ConfirmationError) as refused:
            ConfirmationTokens.bound_to(claims, other)
        assert refused.value.state is TokenState.OTHER_ARGUMENTS
