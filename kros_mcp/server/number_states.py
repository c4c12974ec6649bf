"""What a number's status allows, said before anything is sent: a pending number is not usable yet,
a suspended one cannot be re-routed, one being ported in can be neither re-routed nor released.

KrosAI documents the statuses but not these rules; they are the sandbox's (see the OpenAPI file),
and KrosAI answers the same refusals with 409 NUMBER_SUSPENDED, NUMBER_PORTING or NUMBER_PENDING.
"""

from __future__ import annotations

from typing import Literal

from mcp.server.mcpserver.exceptions import ToolError

from ..krosai import PhoneNumber

__all__ = ["purchase_note", "state_lines"]

Action = Literal["re-route", "release"]

_REFUSED: dict[tuple[Action, str], str] = {
    ("re-route", "suspended"): (
        "{n} is suspended: KrosAI does not let a suspended number be re-routed. Its calls stay "
        "stopped until KrosAI support lifts the suspension (releasing it is allowed)."
    ),
    ("re-route", "porting"): (
        "{n} is being ported in from another carrier: KrosAI lets it be routed only once the "
        "port completes (about 11-15 days from the request). Check again with get_number."
    ),
    ("release", "porting"): (
        "{n} is being ported in from another carrier: KrosAI does not let it be released until "
        "the port completes or KrosAI support cancels it."
    ),
    ("release", "pending"): (
        "{n} is still being provisioned (pending): KrosAI lets it be released once it is active. "
        "Check again with get_number in a minute."
    ),
}
_NOTES: dict[str, str] = {
    "pending": "{n} is still being provisioned (pending): routing applies once it is active.",
    "suspended": "{n} is suspended: it takes no calls; releasing it stops its monthly charge.",
}


def state_lines(number: PhoneNumber, action: Action, *, strict: bool) -> list[str]:
    """Lines about what `number`'s status means for `action`. With `strict`, a status that KrosAI
    refuses for it raises a ToolError that says why, before anything is sent."""
    refused = _REFUSED.get((action, number.status))
    if refused is not None:
        text = refused.format(n=number.number)
        if strict:
            raise ToolError(f"NUMBER_{number.status.upper()}: {text} Nothing was changed.")
        return [f"REFUSED when done: {text}"]
    note = _NOTES.get(number.status)
    return [note.format(n=number.number)] if note else []


def purchase_note(number: PhoneNumber) -> str:
    """What a just-bought number's status means for the person, or nothing when it is active."""
    if number.status == "pending":
        return (
            " KrosAI is still provisioning it (status pending): it cannot take or make calls yet. "
            "Check with get_number until it is active."
        )
    if number.status not in ("active", ""):
        return f" Its status is {number.status}, not active: check with get_number."
    return ""
