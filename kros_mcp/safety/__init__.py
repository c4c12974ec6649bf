"""Every decision about money and live phone lines, in plain Python over the state store.

Knows no transport and no MCP: the server gathers facts (arguments, the client's abilities, the
person's answer) and acts on what these modules decide.

- policy: the operator's limits, one verdict per rule
- confirm: the confirmation step (`decide`); confirmation: one call's confirmation and its
  single-use question; tokens: confirmation tokens
- quotes: the terms a confirmation binds (quote and arguments), checked again before buying
- purchase, release: each write's plan, and its steps before the upstream call
- ledger: spend reserved before a purchase, settled by its outcome
- audit: the trail of attempts, outcomes and refusals, redacted and cleaned
- writes: one write from intent to settled outcome
- recovery: unsettled writes settled against KrosAI, at start and periodically
- text: cleaning and strict patterns for text a person or a model reads
"""

from .audit import AuditTrail, caller_fingerprint, error_code_of, purge_history, redact
from .confirm import Answer, Mode, Step, TokenState, decide
from .confirmation import Confirmation
from .ledger import DAY, Outcome, SpendLedger
from .policy import Policy, PolicyError, RuleVerdict, protected_entry
from .process import THIS_PROCESS, ProcessIdentity
from .quotes import PurchaseTerms, ReleaseTerms, offer_from, quote_holds, refresh_offer
from .recovery import Sweep, possibly_live, reconcile
from .text import clean_text, clean_tree, quoted
from .tokens import (
    ConfirmationError,
    ConfirmationTokens,
    TokenClaims,
    arguments_digest,
    token_state,
)
from .writes import Scope, WriteAttempt

__all__ = [
    "DAY",
    "THIS_PROCESS",
    "Answer",
    "AuditTrail",
    "Confirmation",
    "ConfirmationError",
    "ConfirmationTokens",
    "Mode",
    "Outcome",
    "Policy",
    "PolicyError",
    "ProcessIdentity",
    "PurchaseTerms",
    "ReleaseTerms",
    "RuleVerdict",
    "Scope",
    "SpendLedger",
    "Step",
    "Sweep",
    "TokenClaims",
    "TokenState",
    "WriteAttempt",
    "arguments_digest",
    "caller_fingerprint",
    "clean_text",
    "clean_tree",
    "decide",
    "error_code_of",
    "offer_from",
    "possibly_live",
    "protected_entry",
    "purge_history",
    "quote_holds",
    "quoted",
    "reconcile",
    "redact",
    "refresh_offer",
    "token_state",
]
