"""Settings, read once from the environment and passed down; nothing else reads os.environ."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .krosai.client import DEFAULT_BASE_URL

__all__ = [
    "ConfigError",
    "Settings",
    "default_data_dir",
    "key_placeholder_problem",
    "unknown_variables",
]


class ConfigError(ValueError):
    """The configuration cannot work (a short signing key, an unknown tool name, ...). The message
    says what to change; the CLI shows it and exits."""


# Templates that clients or docs use in place of a key, left unexpanded: `${env:KROSAI_API_KEY}`
# (Cursor), `${input:id}` (VS Code), `${user_config.api_key}` (MCP bundles), `$KROSAI_API_KEY` (a
# shell), `<your key>`, `{{key}}`, and example or masked values: `kros_live_...`, `kros_live_****`,
# `YOUR_API_KEY`.
_VARIABLE = re.compile(r"\$\{\s*(?:(env|input|user_config)\s*[:.]\s*)?[^}]*\}")
_SHELL_VARIABLE = re.compile(r"^\$[A-Za-z_][A-Za-z0-9_]*$")
_EXAMPLE = re.compile(
    r"<[^<>]*>|\{\{[^{}]*\}\}|\.\.\.|…|\*{3,}|^x{3,}$|\b(?:your|my)[ _-]*(?:krosai[ _-]*)?(?:api[ _-]*)?key\b"
    r"|replace[ _-]*me|change[ _-]*me|api[ _-]*key[ _-]*here",
    re.IGNORECASE,
)
_VARIABLE_KINDS = {
    "input": "a ${input:...} prompt, which only VS Code fills in",
    "env": "an ${env:...} reference, which this client does not expand",
    "user_config": "an MCP bundle setting that was not filled in",
    None: "a ${...} variable that was not expanded",
}
_WHERE_TO_PUT_IT = (
    "put the key itself in the client's env, or leave KROSAI_API_KEY empty for the sandbox"
)


def key_placeholder_problem(value: str) -> str | None:
    """Why `value` is a placeholder rather than a KrosAI key, or None when it may be a key.

    Only the recognised placeholder is quoted back, never the rest of the value: it may be a key."""
    if match := _VARIABLE.search(value):
        what = _VARIABLE_KINDS[match.group(1)]
    elif match := _SHELL_VARIABLE.search(value.strip()):
        what = "a shell variable that was not expanded (clients start servers without a shell)"
    elif match := _EXAMPLE.search(value):
        what = "the mark of an example or masked value, not a key"
    else:
        return None
    fragment = match.group(0)
    fragment = fragment if len(fragment) <= 60 else fragment[:59] + "…"
    return f"contains {fragment!r}, {what}: {_WHERE_TO_PUT_IT}"


def default_data_dir() -> Path:
    """The user's data directory for kros-mcp (e.g. ~/.local/share/kros-mcp on Linux)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("kros-mcp", appauthor=False))


class Settings(BaseSettings):
    """kros-mcp configuration. Environment variable names are given as aliases."""

    # An empty variable (`KROS_MCP_TOOLS=` in an env file) means "not set", not "nothing".
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, env_ignore_empty=True)

    krosai_api_key: SecretStr | None = Field(
        default=None,
        alias="KROSAI_API_KEY",
        description="KrosAI API key (kros_live_... or kros_test_...). Unset: the embedded sandbox is used.",
    )

    @field_validator("krosai_api_key", mode="before")
    @classmethod
    def _strip_key(cls, value: object) -> object:
        # A key pasted with a newline or spaces around it would be refused as an HTTP header value.
        if isinstance(value, str):
            return value.strip() or None
        return value

    @field_validator("krosai_api_key", mode="after")
    @classmethod
    def _refuse_placeholder_key(cls, value: SecretStr | None) -> SecretStr | None:
        # A template copied from another client's config would otherwise go to KrosAI as the key.
        problem = None if value is None else key_placeholder_problem(value.get_secret_value())
        if problem is not None:
            raise ValueError(problem)
        return value

    krosai_base_url: str = Field(
        default=DEFAULT_BASE_URL, alias="KROSAI_BASE_URL", description="KrosAI API base URL."
    )
    krosai_timeout: float = Field(
        default=20.0,
        gt=0,
        le=300,
        alias="KROSAI_TIMEOUT",
        description="Seconds to wait for one KrosAI answer.",
    )
    krosai_deadline: float = Field(
        default=60.0,
        gt=0,
        le=900,
        alias="KROSAI_DEADLINE",
        description="Seconds one KrosAI call may take in all, retries included.",
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        alias="KROS_MCP_DATA_DIR",
        description="Where the sandbox database (sandbox.sqlite3), the SQLite state store (state.sqlite3) and the "
        "signing key file (secret.key) live. Unset: the user data directory, e.g. ~/.local/share/kros-mcp on Linux.",
    )

    confirmation: Literal["auto", "human", "none"] = Field(
        default="auto",
        alias="KROS_MCP_CONFIRMATION",
        description="How purchases and releases are confirmed: auto (ask the person when the client "
        "can, else a confirmation token), human (only by asking the person), none (automated pipelines).",
    )
    confirmation_ttl: float = Field(
        default=600.0,
        ge=30,
        le=86_400,
        alias="KROS_MCP_CONFIRMATION_TTL",
        description="Seconds a confirmation token stays valid.",
    )
    offer_ttl: float = Field(
        default=1800.0,
        ge=60,
        le=86_400,
        alias="KROS_MCP_OFFER_TTL",
        description="Seconds an offer shown by search_available can be bought at its quoted price.",
    )
    secret: SecretStr | None = Field(
        default=None,
        alias="KROS_MCP_SECRET",
        description="Key (32+ bytes) that signs confirmation tokens. Unset: a key file in the data directory.",
    )

    sandbox_api_key: str = Field(
        default="kros_test_sandbox",
        min_length=1,
        alias="KROS_MCP_SANDBOX_KEY",
        description="Sandbox only (no KROSAI_API_KEY): the sandbox organisation to act as. The default is the "
        "built-in one, kros_test_sandbox (KYC approved, 100 USD); keys from POST /_sandbox/orgs select others "
        "(tests, demos).",
    )

    state_url: str | None = Field(
        default=None,
        alias="KROS_MCP_STATE_URL",
        description="State store: postgresql://... for PostgreSQL (several replicas; install kros-mcp[postgres]), "
        "else the path of a SQLite file. Unset: state.sqlite3 in the data directory.",
    )
    read_only: bool = Field(
        default=False,
        alias="KROS_MCP_READ_ONLY",
        description="Hide and refuse the write tools (purchase_number, update_routing, release_number).",
    )
    tools: str | None = Field(
        default=None,
        alias="KROS_MCP_TOOLS",
        description="Comma-separated allowlist of tools. Unset: all tools.",
    )
    exclude_tools: str | None = Field(
        default=None,
        alias="KROS_MCP_EXCLUDE_TOOLS",
        description="Comma-separated tools to disable; wins over KROS_MCP_TOOLS.",
    )
    allowed_countries: str | None = Field(
        default=None,
        alias="KROS_MCP_ALLOWED_COUNTRIES",
        description="Comma-separated ISO codes where numbers may be bought. Unset: any.",
    )
    max_monthly_cost_cents: int | None = Field(
        default=None,
        ge=0,
        alias="KROS_MCP_MAX_MONTHLY_COST_CENTS",
        description="Highest monthly cost, in cents, of a number that may be bought. Unset: no limit.",
    )
    daily_budget_cents: int | None = Field(
        default=None,
        ge=0,
        alias="KROS_MCP_DAILY_BUDGET_CENTS",
        description="Most that purchases (setup plus first month) may spend in any 24 hours, per "
        "organisation, in cents. Unset: no budget.",
    )
    protected_numbers: str | None = Field(
        default=None,
        alias="KROS_MCP_PROTECTED_NUMBERS",
        description="Comma-separated number ids or E.164 numbers that can be neither released nor re-routed.",
    )

    multi_tenant: bool = Field(
        default=False,
        alias="KROS_MCP_MULTI_TENANT",
        description="HTTP only: each client presents its own KrosAI key (Authorization: Bearer kros_... or "
        "x-api-key), used upstream for that request only (--multi-tenant).",
    )
    auth_tokens_value: SecretStr | None = Field(
        default=None,
        alias="KROS_MCP_AUTH_TOKENS",
        description="HTTP, single tenant: comma-separated bearer tokens clients must present.",
    )
    auth_tokens_file: Path | None = Field(
        default=None,
        alias="KROS_MCP_AUTH_TOKENS_FILE",
        description="HTTP, single tenant: a file of bearer tokens, one per line (adds to KROS_MCP_AUTH_TOKENS).",
    )
    allowed_hosts: str | None = Field(
        default=None,
        alias="KROS_MCP_ALLOWED_HOSTS",
        description="HTTP: comma-separated Host values accepted besides loopback (e.g. mcp.example.com, "
        "mcp.example.com:*); other Hosts get 421.",
    )
    allowed_origins: str | None = Field(
        default=None,
        alias="KROS_MCP_ALLOWED_ORIGINS",
        description="HTTP: comma-separated Origins accepted besides loopback (e.g. https://app.example.com); "
        "other Origins get 403.",
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        le=67_108_864,
        alias="KROS_MCP_MAX_BODY_BYTES",
        description="HTTP: largest request body accepted; larger ones get 413.",
    )
    tool_rate_limit: float | None = Field(
        default=None,
        gt=0,
        le=10_000,
        alias="KROS_MCP_TOOL_RATE_LIMIT",
        description="Tool calls per second allowed per organisation (a burst of as many is allowed at once). "
        "Unset: no limit on stdio, 20 over HTTP.",
    )
    secret_file: Path | None = Field(
        default=None,
        alias="KROS_MCP_SECRET_FILE",
        description="File of signing keys, one per line: the first signs, all verify (rotation). "
        "Adds to KROS_MCP_SECRET, which may also list several keys separated by commas.",
    )
    apps: bool = Field(
        default=True,
        alias="KROS_MCP_APPS",
        description="Offer the MCP App (an interactive view to find, buy, route and release numbers) to "
        "clients that support MCP Apps. false: no view; every client sees only the plain tools.",
    )
    sweep_interval: float = Field(
        default=60.0,
        ge=0.1,
        le=3600,
        alias="KROS_MCP_SWEEP_INTERVAL",
        description="Seconds between recovery sweeps, which settle writes whose outcome is unknown "
        "(KrosAI's answer was lost, or a server died mid-call) while the server runs.",
    )
    audit_retention_days: float = Field(
        default=400,
        ge=1,
        le=36_500,
        alias="KROS_MCP_AUDIT_RETENTION_DAYS",
        description="Days audit entries and spend records are kept; older settled ones are deleted.",
    )
    request_retention_days: float = Field(
        default=7,
        ge=2,
        le=3650,
        alias="KROS_MCP_REQUEST_RETENTION_DAYS",
        description="Days the result of a confirmed write is kept for replaying to a repeated "
        "confirmation (at least 2: longer than any confirmation stays valid).",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        alias="KROS_MCP_LOG_FORMAT",
        description="Log lines on stderr as plain text or JSON objects.",
    )

    def auth_tokens(self) -> list[str]:
        """Bearer tokens accepted over HTTP (single tenant)."""
        tokens = []
        if self.auth_tokens_value is not None:
            tokens += self.auth_tokens_value.get_secret_value().split(",")
        if self.auth_tokens_file is not None:
            tokens += self.auth_tokens_file.read_text().splitlines()
        return [t.strip() for t in tokens if t.strip()]

    def list_setting(self, name: str) -> list[str] | None:
        """A comma-separated setting as a list (None when unset)."""
        value = getattr(self, name)
        return (
            None if value is None else [item.strip() for item in value.split(",") if item.strip()]
        )

    @property
    def state_db_path(self) -> Path:
        return self.data_dir / "state.sqlite3"

    @property
    def secret_key_path(self) -> Path:
        return self.data_dir / "secret.key"

    @property
    def sandbox_db_path(self) -> Path:
        return self.data_dir / "sandbox.sqlite3"

    @property
    def uses_sandbox(self) -> bool:
        return self.krosai_api_key is None or not self.krosai_api_key.get_secret_value().strip()


def unknown_variables() -> list[str]:
    """Variables named like settings that are none (a misspelt KROS_MCP_READONLY would otherwise be
    ignored without a word), each with the setting it most resembles."""
    import os

    known = {f.alias for f in Settings.model_fields.values() if f.alias}
    found = []
    for name in sorted(os.environ):
        if (
            not name.startswith(("KROS_MCP_", "KROSAI_"))
            or name in known
            or name.startswith("KROS_MCP_TEST_")
        ):
            continue
        import difflib

        close = difflib.get_close_matches(name, known, n=1)
        found.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return found
