"""Settings, read once from the environment and passed down; nothing else reads os.environ
(env_settings.EnvSettings reads it the way pydantic-settings would)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from .env_settings import EnvSettings
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


class Settings(EnvSettings):
    """kros-mcp configuration. Environment variable names are given as aliases; an empty
    variable (`KROS_MCP_TOOLS=` in an env file) means "not set", not "nothing"."""

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
    # 45 s: common MCP clients (the TypeScript SDK, the Inspector) give up on a request after 60 s,
    # so the server's own explanation must be on its way well before then, with room for the
    # work around the KrosAI calls (state store, audit) and for the answer to travel.
    krosai_deadline: float = Field(
        default=45.0,
        gt=0,
        le=900,
        alias="KROSAI_DEADLINE",
        description="Seconds of KrosAI time one tool call may use in all, retries and "
        "reconciliation included. Keep it under your MCP client's request timeout (often 60).",
    )
    currency: str = Field(
        default="USD",
        pattern=r"^[A-Z]{3}$",
        alias="KROS_MCP_CURRENCY",
        description="ISO 4217 code of the currency KrosAI's cent amounts are in, used when KrosAI "
        'does not state one (its documents say only "cents").',
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
        "can, else a confirmation token), human (only by asking the person), none (automated pipelines). "
        "Unset: auto on stdio, human over HTTP.",
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

    state_url: SecretStr | None = Field(
        default=None,
        alias="KROS_MCP_STATE_URL",
        description="State store: postgresql://, postgres:// or postgresql+psycopg:// for PostgreSQL (several "
        "replicas; install kros-mcp[postgres]), else the path of a SQLite file; any other scheme, or a libpq "
        "host=... string, stops start-up. Unset: state.sqlite3 in the data directory.",
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
    max_sessions: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        alias="KROS_MCP_MAX_SESSIONS",
        description="HTTP: most sessions (streamable HTTP sessions and SSE streams) open at once in this "
        "process; a client opening one more gets 503.",
    )
    max_sessions_per_principal: int = Field(
        default=50,
        ge=1,
        le=100_000,
        alias="KROS_MCP_MAX_SESSIONS_PER_PRINCIPAL",
        description="HTTP: most sessions one principal (a bearer token, a tenant or an OAuth subject) may "
        "hold open at once; one more gets 429.",
    )
    session_idle_timeout: float = Field(
        default=600.0,
        ge=5,
        le=86_400,
        alias="KROS_MCP_SESSION_IDLE_TIMEOUT",
        description="HTTP: seconds a streamable HTTP session may stay without any request before it is closed.",
    )
    initialize_rate_per_principal: str = Field(
        default="30/minute",
        alias="KROS_MCP_INITIALIZE_RATE_PER_PRINCIPAL",
        description="HTTP: new sessions (initialize, or an SSE stream) one principal may open, as N/second, "
        "N/minute or N/hour; more get 429 with Retry-After.",
    )
    initialize_rate_per_address: str = Field(
        default="300/minute",
        alias="KROS_MCP_INITIALIZE_RATE_PER_ADDRESS",
        description="HTTP: new sessions one client address may open (N/second, N/minute or N/hour); "
        "higher than per principal, as many clients may share an address behind NAT.",
    )
    auth_failure_rate_per_address: str = Field(
        default="30/minute",
        alias="KROS_MCP_AUTH_FAILURE_RATE_PER_ADDRESS",
        description="HTTP: refused credentials one client address may present (N/second, N/minute or N/hour) "
        "before its requests get 429 unchecked; bounds the KrosAI calls made to verify unknown tenant keys.",
    )
    tenant_verified_ttl: float = Field(
        default=300.0,
        ge=1,
        le=86_400,
        alias="KROS_MCP_TENANT_VERIFIED_TTL",
        description="Multi-tenant: seconds a tenant key KrosAI accepted stays trusted before it is checked again.",
    )
    tenant_refused_ttl: float = Field(
        default=60.0,
        ge=1,
        le=86_400,
        alias="KROS_MCP_TENANT_REFUSED_TTL",
        description="Multi-tenant: seconds a tenant key KrosAI refused is refused without asking again.",
    )

    oauth_issuer: str | None = Field(
        default=None,
        alias="KROS_MCP_OAUTH_ISSUER",
        description="HTTP: OAuth 2.1 resource-server mode. The authorization server that issues access tokens "
        "(its iss), named in the protected resource metadata.",
    )
    oauth_audience: str | None = Field(
        default=None,
        alias="KROS_MCP_OAUTH_AUDIENCE",
        description="OAuth: this server's resource URL as clients reach it (e.g. https://mcp.example.com/mcp); "
        "tokens must carry it in aud (RFC 8707).",
    )
    oauth_jwks_url: str | None = Field(
        default=None,
        alias="KROS_MCP_OAUTH_JWKS_URL",
        description="OAuth: the issuer's JWKS URL, to validate JWT access tokens.",
    )
    oauth_introspection_url: str | None = Field(
        default=None,
        alias="KROS_MCP_OAUTH_INTROSPECTION_URL",
        description="OAuth: an RFC 7662 introspection endpoint, for opaque access tokens (instead of a JWKS).",
    )
    oauth_client_id: str | None = Field(
        default=None,
        alias="KROS_MCP_OAUTH_CLIENT_ID",
        description="OAuth introspection: the client id this server authenticates with (HTTP Basic).",
    )
    oauth_client_secret: SecretStr | None = Field(
        default=None,
        alias="KROS_MCP_OAUTH_CLIENT_SECRET",
        description="OAuth introspection: the client secret this server authenticates with.",
    )
    oauth_algorithms: str = Field(
        default="RS256,PS256,ES256,EdDSA",
        alias="KROS_MCP_OAUTH_ALGORITHMS",
        description="OAuth: comma-separated JWS algorithms accepted on access tokens (asymmetric only).",
    )
    oauth_read_scope: str = Field(
        default="kros:read",
        min_length=1,
        alias="KROS_MCP_OAUTH_READ_SCOPE",
        description="OAuth: the scope every access token needs (the read tools, resources and prompts).",
    )
    oauth_write_scope: str = Field(
        default="kros:write",
        min_length=1,
        alias="KROS_MCP_OAUTH_WRITE_SCOPE",
        description="OAuth: the scope for purchase_number, update_routing and release_number; without it a "
        "token sees a read-only server.",
    )

    @field_validator(
        "initialize_rate_per_principal",
        "initialize_rate_per_address",
        "auth_failure_rate_per_address",
        "tool_rate_per_address",
    )
    @classmethod
    def _check_rate(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError(
                "write a rate as N/second, N/minute or N/hour (for example 30/minute)"
            ) from None
        return value

    @field_validator("oauth_algorithms")
    @classmethod
    def _check_algorithms(cls, value: str) -> str:
        names = [a.strip() for a in value.split(",") if a.strip()]
        weak = [a for a in names if a.lower() == "none" or a.upper().startswith("HS")]
        if not names or weak:
            raise ValueError(
                "list asymmetric JWS algorithms only (RS256, PS256, ES256, EdDSA ...); none and HS* are refused"
            )
        return ",".join(names)

    tool_rate_per_address: str = Field(
        default="100/second",
        alias="KROS_MCP_TOOL_RATE_PER_ADDRESS",
        description="HTTP: tool calls one client address may make (N/second, N/minute or N/hour), whatever "
        "credentials it presents.",
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
    result_text: Literal["compact", "json"] = Field(
        default="compact",
        alias="KROS_MCP_RESULT_TEXT",
        description="The text block of tool results, the part a model reads: compact (a header, then "
        "one line per number or offer; about half the tokens) or json (the structured result as JSON "
        "text, for clients that parse it). The structured content is the same either way.",
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
    def oauth_enabled(self) -> bool:
        return self.oauth_issuer is not None

    @property
    def state_target(self) -> str | Path:
        """The state store to open: a PostgreSQL URL, or a SQLite file path.

        Raises StateURLError (never quoting the value) for a form kros-mcp does not accept."""
        from .store import parse_state_target

        if self.state_url is None:
            return self.state_db_path
        return parse_state_target(self.state_url.get_secret_value())

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
