"""The proof of a click: a confirmation token the view receives and the model never sees.

A quote tool issues it in its result's `_meta` (under `PROOF_KEY`), bound like a confirmation token
to the tenant and to exactly what the view shows: for a purchase the inventory id, the number, the
routing, the setup and the monthly price; for a release the number id and the number. The buy or
release tool accepts the click only with that proof and those very terms; the proof is single use
(its id is claimed in the state store before anything happens) and expires with the confirmation
TTL. It is signed for its own tool names, so a model's `confirmation_token` never passes as a click
and a click's proof never passes as a `confirmation_token`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ...krosai import same_number
from ...safety import ConfirmationError, TokenClaims, TokenState
from ...store import StoredOffer
from ..deps import Deps

__all__ = [
    "BUY_PROOF",
    "PROOF_KEY",
    "RELEASE_PROOF",
    "PurchaseTerms",
    "ReleaseTerms",
    "issue_proof",
    "refusal_text",
    "verify_proof",
]

PROOF_KEY = "kros-mcp/proof"
BUY_PROOF = "app_buy"
RELEASE_PROOF = "app_release"


@dataclass(frozen=True)
class PurchaseTerms:
    """What the person sees next to the Buy button."""

    inventory_id: str
    number: str
    endpoint_id: str | None
    allow_inbound: bool
    allow_outbound: bool
    setup_cost_cents: int
    monthly_cost_cents: int

    @classmethod
    def of(
        cls, offer: StoredOffer, endpoint_id: str | None, allow_inbound: bool, allow_outbound: bool
    ) -> PurchaseTerms:
        return cls(
            inventory_id=offer.inventory_id,
            number=offer.number,
            endpoint_id=endpoint_id,
            allow_inbound=allow_inbound,
            allow_outbound=allow_outbound,
            setup_cost_cents=offer.setup_cost_cents,
            monthly_cost_cents=offer.monthly_cost_cents,
        )

    @property
    def first_charge_cents(self) -> int:
        return self.setup_cost_cents + self.monthly_cost_cents

    def quote(self) -> dict[str, Any]:
        """The price part, as a confirmation token carries it."""
        return {
            "number": self.number,
            "setup_cost_cents": self.setup_cost_cents,
            "monthly_cost_cents": self.monthly_cost_cents,
        }

    def binding(self) -> dict[str, Any]:
        return asdict(self)

    def purchase_arguments(self) -> dict[str, Any]:
        """The arguments of the purchase itself (as purchase_number takes them)."""
        return {
            "inventory_id": self.inventory_id,
            "endpoint_id": self.endpoint_id,
            "allow_inbound": self.allow_inbound,
            "allow_outbound": self.allow_outbound,
        }

    def same_offer(self, offer: StoredOffer) -> bool:
        """Is `offer` (as KrosAI prices it now) still exactly what these terms agree to?"""
        return (
            offer.inventory_id == self.inventory_id
            and same_number(offer.number, self.number)
            and offer.setup_cost_cents == self.setup_cost_cents
            and offer.monthly_cost_cents == self.monthly_cost_cents
        )


@dataclass(frozen=True)
class ReleaseTerms:
    """What the person sees next to the Release button."""

    number_id: str
    number: str

    def binding(self) -> dict[str, Any]:
        return asdict(self)


def issue_proof(deps: Deps, terms: PurchaseTerms | ReleaseTerms) -> tuple[str, float]:
    """A proof for exactly these terms, and when it expires (unix time)."""
    if isinstance(terms, PurchaseTerms):
        return deps.tokens.issue(
            tenant=deps.tenant, tool=BUY_PROOF, arguments=terms.binding(), quote=terms.quote()
        )
    return deps.tokens.issue(
        tenant=deps.tenant, tool=RELEASE_PROOF, arguments=terms.binding(), quote=None
    )


def verify_proof(deps: Deps, proof: str, terms: PurchaseTerms | ReleaseTerms) -> TokenClaims:
    """The proof's claims if it was issued to this tenant for exactly these terms and has not
    expired. Single use is the caller's to enforce (by claiming `claims.token_id`).

    Raises ConfirmationError."""
    tool = BUY_PROOF if isinstance(terms, PurchaseTerms) else RELEASE_PROOF
    claims = deps.tokens.verify(proof, tenant=deps.tenant, tool=tool, arguments=terms.binding())
    if isinstance(terms, PurchaseTerms) and claims.quote != terms.quote():
        # The whole quote binds: the number, the setup and the monthly price.
        raise ConfirmationError(
            "mismatch", "the price differs from the one shown", TokenState.OTHER_PRICE
        )
    return claims


_REASONS = {
    "malformed": "it is not a proof this server issued",
    "tampered": "its signature does not match",
    "expired": "the quote it was given for has expired",
    "mismatch": "it was given for other terms than these",
    "reused": "it was used already",
}


def refusal_text(exc: ConfirmationError, *, what: str) -> str:
    """The view's message for a refused click (the token wording speaks to a model)."""
    reason = _REASONS.get(exc.reason, "it is not valid")
    return (
        f"CLICK_NOT_CONFIRMED ({exc.reason}): this action needs the Buy or Release button of the "
        f"kros-mcp app, pressed on the quote it shows; the proof sent was refused because {reason}. "
        f"Nothing was {what}. Open the quote again in the app to get a fresh one."
    )
