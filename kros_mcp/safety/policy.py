"""Operator policy: limits the model cannot change, set by environment variables and CLI flags.

Every check returns verdicts, one per rule, so a dry run can show them all; a refusal names
the rule and the setting an operator changes to lift it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..krosai import e164
from ..krosai.formats import is_number_id

__all__ = ["Policy", "PolicyError", "RuleVerdict", "protected_entry"]


class PolicyError(Exception):
    """A call the operator's policy refuses."""

    def __init__(self, verdict: RuleVerdict) -> None:
        super().__init__(verdict.detail)
        self.verdict = verdict
        self.code = verdict.code

    @property
    def message(self) -> str:
        return (
            f"{self.verdict.detail} (policy rule {self.verdict.rule}; {self.verdict.operator_hint})"
        )


@dataclass(frozen=True)
class RuleVerdict:
    rule: str  # the setting, e.g. KROS_MCP_DAILY_BUDGET_CENTS
    allowed: bool
    detail: str
    code: str = "POLICY_OK"
    operator_hint: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"rule": self.rule, "allowed": self.allowed, "detail": self.detail}


def protected_entry(value: str) -> str:
    """A KROS_MCP_PROTECTED_NUMBERS entry as matched: a number id as given, or an international
    number in E.164. Anything else (a national number, a `tel:` URI, stray text) protects
    nothing, so it is refused: ValueError naming the entry."""
    entry = value.strip()
    if is_number_id(entry):
        return entry
    number = e164(entry)
    if number is not None:
        return number
    shown = entry if len(entry) <= 40 else entry[:37] + "..."
    raise ValueError(
        f"KROS_MCP_PROTECTED_NUMBERS entry {shown!r} is neither a number id (pn_...) nor a valid "
        "international number (E.164, e.g. +233201822327); correct or remove it"
    )


@dataclass(frozen=True)
class Policy:
    """The operator's limits. Empty or None means 'no limit' for each rule."""

    read_only: bool = False
    tools: frozenset[str] | None = None  # allowlist; None allows all
    exclude_tools: frozenset[str] = frozenset()
    allowed_countries: frozenset[str] | None = None
    max_monthly_cost_cents: int | None = None
    daily_budget_cents: int | None = None
    protected_numbers: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def build(
        cls,
        *,
        read_only: bool = False,
        tools: Iterable[str] | None = None,
        exclude_tools: Iterable[str] = (),
        allowed_countries: Iterable[str] | None = None,
        max_monthly_cost_cents: int | None = None,
        daily_budget_cents: int | None = None,
        protected_numbers: Iterable[str] = (),
        known_tools: Iterable[str],
    ) -> Policy:
        """A policy from raw settings. Unknown tool names and protected-number entries that are
        neither a number id nor an E.164 number raise ValueError naming them."""
        known = set(known_tools)
        allow = None if tools is None else frozenset(t.strip() for t in tools if t.strip())
        deny = frozenset(t.strip() for t in exclude_tools if t.strip())
        unknown = sorted((set(allow or ()) | deny) - known)
        if unknown:
            raise ValueError(
                f"unknown tool name(s) in KROS_MCP_TOOLS / KROS_MCP_EXCLUDE_TOOLS: {', '.join(unknown)}; "
                f"the tools are: {', '.join(sorted(known))}"
            )
        countries = None
        if allowed_countries is not None:
            countries = frozenset(c.strip().upper() for c in allowed_countries if c.strip())
        return cls(
            read_only=read_only,
            tools=allow,
            exclude_tools=deny,
            allowed_countries=countries,
            max_monthly_cost_cents=max_monthly_cost_cents,
            daily_budget_cents=daily_budget_cents,
            protected_numbers=frozenset(protected_entry(n) for n in protected_numbers if n.strip()),
        )

    # -- which tools exist -------------------------------------------------------------------

    def tool_enabled(self, name: str, *, write: bool) -> RuleVerdict:
        if write and self.read_only:
            return RuleVerdict(
                "KROS_MCP_READ_ONLY",
                False,
                f"{name} is disabled: the server is read-only",
                "READ_ONLY",
                "an operator can unset KROS_MCP_READ_ONLY (or --read-only)",
            )
        if name in self.exclude_tools:
            return RuleVerdict(
                "KROS_MCP_EXCLUDE_TOOLS",
                False,
                f"{name} is disabled by the operator",
                "TOOL_DISABLED",
                "an operator can remove it from KROS_MCP_EXCLUDE_TOOLS",
            )
        if self.tools is not None and name not in self.tools:
            return RuleVerdict(
                "KROS_MCP_TOOLS",
                False,
                f"{name} is not in the operator's tool allowlist",
                "TOOL_DISABLED",
                "an operator can add it to KROS_MCP_TOOLS",
            )
        return RuleVerdict("KROS_MCP_TOOLS", True, f"{name} is enabled")

    # -- purchases ---------------------------------------------------------------------------

    def purchase_verdicts(
        self,
        *,
        country: str,
        monthly_cost_cents: int,
        first_charge_cents: int,
        spent_24h_cents: int,
    ) -> list[RuleVerdict]:
        """One verdict per purchase rule (countries, monthly cost, daily budget)."""
        verdicts = []
        if self.allowed_countries is None:
            verdicts.append(
                RuleVerdict("KROS_MCP_ALLOWED_COUNTRIES", True, "any country is allowed")
            )
        elif country.upper() in self.allowed_countries:
            verdicts.append(
                RuleVerdict("KROS_MCP_ALLOWED_COUNTRIES", True, f"{country} is allowed")
            )
        else:
            verdicts.append(
                RuleVerdict(
                    "KROS_MCP_ALLOWED_COUNTRIES",
                    False,
                    f"numbers in {country} may not be bought here "
                    f"(allowed: {', '.join(sorted(self.allowed_countries))})",
                    "COUNTRY_NOT_ALLOWED",
                    "an operator can add the country to KROS_MCP_ALLOWED_COUNTRIES",
                )
            )
        if self.max_monthly_cost_cents is None:
            verdicts.append(
                RuleVerdict("KROS_MCP_MAX_MONTHLY_COST_CENTS", True, "no monthly cost limit")
            )
        elif monthly_cost_cents <= self.max_monthly_cost_cents:
            verdicts.append(
                RuleVerdict(
                    "KROS_MCP_MAX_MONTHLY_COST_CENTS",
                    True,
                    f"{monthly_cost_cents}c a month is within the {self.max_monthly_cost_cents}c limit",
                )
            )
        else:
            verdicts.append(
                RuleVerdict(
                    "KROS_MCP_MAX_MONTHLY_COST_CENTS",
                    False,
                    f"{monthly_cost_cents}c a month is over the {self.max_monthly_cost_cents}c limit per number",
                    "MONTHLY_COST_TOO_HIGH",
                    "an operator can raise KROS_MCP_MAX_MONTHLY_COST_CENTS",
                )
            )
        verdicts.append(self.budget_verdict(first_charge_cents, spent_24h_cents))
        return verdicts

    def budget_verdict(self, amount_cents: int, spent_24h_cents: int) -> RuleVerdict:
        if self.daily_budget_cents is None:
            return RuleVerdict("KROS_MCP_DAILY_BUDGET_CENTS", True, "no daily budget")
        left = self.daily_budget_cents - spent_24h_cents
        if amount_cents <= left:
            return RuleVerdict(
                "KROS_MCP_DAILY_BUDGET_CENTS",
                True,
                f"{amount_cents}c fits the {max(left, 0)}c left of the {self.daily_budget_cents}c "
                "daily budget",
            )
        return RuleVerdict(
            "KROS_MCP_DAILY_BUDGET_CENTS",
            False,
            f"{amount_cents}c is more than the {max(left, 0)}c left of the {self.daily_budget_cents}c budget "
            "for the last 24 hours",
            "BUDGET_EXCEEDED",
            "an operator can raise KROS_MCP_DAILY_BUDGET_CENTS, or wait for earlier spend "
            "to leave the 24-hour window",
        )

    # -- releases and routing ----------------------------------------------------------------

    def change_verdict(self, *, number_id: str, number: str, action: str) -> RuleVerdict:
        """May this number be released or re-routed?"""
        if (
            number_id in self.protected_numbers
            or e164(number, valid=False) in self.protected_numbers
        ):
            return RuleVerdict(
                "KROS_MCP_PROTECTED_NUMBERS",
                False,
                f"{number} is protected: it cannot be {action}",
                "NUMBER_PROTECTED",
                "an operator can remove it from KROS_MCP_PROTECTED_NUMBERS",
            )
        return RuleVerdict("KROS_MCP_PROTECTED_NUMBERS", True, f"{number} is not protected")

    def describe(self) -> dict[str, object]:
        """The active policy, for kros://policy."""
        return {
            "read_only": self.read_only,
            "tools": sorted(self.tools) if self.tools is not None else "all",
            "exclude_tools": sorted(self.exclude_tools),
            "allowed_countries": sorted(self.allowed_countries)
            if self.allowed_countries is not None
            else "all",
            "max_monthly_cost_cents": self.max_monthly_cost_cents,
            "daily_budget_cents": self.daily_budget_cents,
            "protected_numbers": sorted(self.protected_numbers),
        }
