"""What every app-only tool shares: who may call it, how its result is shaped, amounts in words."""

from __future__ import annotations

from typing import Annotated

from mcp.server.apps import client_supports_apps
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from ...safety import RuleVerdict
from ..deps import Deps
from ..wording import money
from .models import Verdict
from .proof import PROOF_KEY

__all__ = [
    "EndpointArg",
    "InventoryArg",
    "ProofArg",
    "app_result",
    "person_verdicts",
    "require_app_client",
]

InventoryArg = Annotated[str, Field(max_length=100, pattern=r"^[\w\-]+$")]
EndpointArg = Annotated[
    str | None, Field(max_length=100, pattern=r"^[A-Za-z0-9_\-]+$", description="ep_... or null")
]
ProofArg = Annotated[str, Field(min_length=1, max_length=2048)]


def require_app_client(ctx: Context, tool: str) -> None:
    """App-only tools exist only for clients that negotiated MCP Apps: to any other client they
    answer exactly as a tool that does not exist."""
    if not client_supports_apps(ctx):
        raise ToolError(f"Unknown tool: {tool}")


def app_result(model: BaseModel, text: str, *, proof: str | None = None) -> CallToolResult:
    """The view's data as structured content, a one-line summary as text, and the proof of a
    click (when one is issued) only in `_meta`, which a host passes to the view and not to the
    model."""
    structured = model.model_dump(mode="json", exclude_none=True)
    result = CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=structured
    )
    if proof is not None:
        result.meta = {PROOF_KEY: proof}
    return result


def _label(deps: Deps, verdict: RuleVerdict, spent_24h_cents: int) -> str:
    policy, cur = deps.policy, deps.settings.currency  # the operator's limits, in its currency
    if verdict.code == "BUDGET_EXCEEDED" and policy.daily_budget_cents is not None:
        left = max(policy.daily_budget_cents - spent_24h_cents, 0)
        return (
            f"Over your daily budget: {money(left, cur)} left of {money(policy.daily_budget_cents, cur)} "
            "in the last 24 hours"
        )
    if verdict.code == "MONTHLY_COST_TOO_HIGH" and policy.max_monthly_cost_cents is not None:
        return f"Over the operator's limit of {money(policy.max_monthly_cost_cents, cur)} a month"
    if verdict.code == "COUNTRY_NOT_ALLOWED":
        return "The operator does not allow buying numbers in this country"
    if verdict.code == "NUMBER_PROTECTED":
        return "Protected by the operator: it cannot be released or re-routed"
    return verdict.detail[:1].upper() + verdict.detail[1:]


def person_verdicts(
    deps: Deps, verdicts: list[RuleVerdict], spent_24h_cents: int = 0
) -> list[Verdict]:
    """The refusals among `verdicts`, in words for the person."""
    return [
        Verdict(
            code=v.code,
            rule=v.rule,
            allowed=v.allowed,
            label=_label(deps, v, spent_24h_cents),
        )
        for v in verdicts
        if not v.allowed
    ]
