"""`kros-mcp doctor`: check what a run needs, one line per check, and say what to fix."""

from __future__ import annotations

import json
import os
import secrets
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from typing import Any, Literal

import anyio
from pydantic import ValidationError

from ..config import Settings, unknown_variables

__all__ = ["Check", "collect_checks", "run_doctor"]

Status = Literal["OK", "WARN", "FAIL"]
MIN_PYTHON = (3, 11)
SLOW_MS = 2000.0
DOCTOR_TENANT = "t_kros_mcp_doctor"  # never a real tenant: those are t_ + 24 hex digits
KNOWN_KEY_PREFIXES = ("kros_live_", "kros_test_")


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str | None = None


def _ok(name: str, detail: str) -> Check:
    return Check(name, "OK", detail)


def _warn(name: str, detail: str, fix: str | None = None) -> Check:
    return Check(name, "WARN", detail, fix)


def _fail(name: str, detail: str, fix: str | None = None) -> Check:
    return Check(name, "FAIL", detail, fix)


# -- installation and configuration -----------------------------------------------------------


def check_python() -> Check:
    from importlib.metadata import PackageNotFoundError, version

    from .. import __version__

    try:
        sdk = f", mcp {version('mcp')}"
    except PackageNotFoundError:
        sdk = ""
    running = ".".join(map(str, sys.version_info[:3]))
    detail = f"Python {running} ({sys.executable}); kros-mcp {__version__}{sdk}"
    if sys.version_info < MIN_PYTHON:
        return _fail("python", detail, f"install Python {'.'.join(map(str, MIN_PYTHON))} or newer")
    return _ok("python", detail)


def _env_name(name: str) -> str:
    field = Settings.model_fields.get(name)
    return field.alias if field is not None and field.alias else name


def load_settings() -> tuple[Settings | None, Check]:
    """Settings from the environment, and the check saying whether they are valid."""
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{_env_name(str(e['loc'][0]))}: {e['msg']}" for e in exc.errors())
        return None, _fail(
            "configuration", f"invalid: {problems}", "correct or unset these environment variables"
        )
    unknown = unknown_variables()
    if unknown:
        return settings, _warn(
            "configuration",
            f"valid, but these variables mean nothing to kros-mcp and are "
            f"ignored: {', '.join(unknown)}",
            "correct their names or unset them",
        )
    return settings, _ok("configuration", "valid")


def check_data_dir(settings: Settings) -> Check:
    path = settings.data_dir
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".doctor-") as probe:
            probe.write(b"kros-mcp")
            probe.flush()
            probe.seek(0)
            if probe.read() != b"kros-mcp":
                return _fail(
                    "data directory", f"{path}: a file written there reads back differently"
                )
    except OSError as exc:
        return _fail(
            "data directory",
            f"{path} is not writable ({exc.strerror or exc})",
            "set KROS_MCP_DATA_DIR to a writable directory, or fix its permissions",
        )
    return _ok("data directory", f"{path} (writable)")


def check_backend(settings: Settings) -> Check:
    tenants = "; multi-tenant: each client presents its own key" if settings.multi_tenant else ""
    if settings.uses_sandbox:
        return _ok(
            "backend",
            f"sandbox: a local imitation of KrosAI, no real numbers or money "
            f"({settings.sandbox_db_path}){tenants}; set KROSAI_API_KEY to use KrosAI",
        )
    from urllib.parse import urlsplit

    url = urlsplit(settings.krosai_base_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        return _fail(
            "backend",
            f"KROSAI_BASE_URL {settings.krosai_base_url!r} is not an http(s) URL",
            "set KROSAI_BASE_URL to e.g. https://api.krosai.com/v1, or unset it",
        )
    if url.scheme == "http" and url.hostname not in ("127.0.0.1", "localhost", "::1"):
        return _warn(
            "backend",
            f"KrosAI API at {settings.krosai_base_url}{tenants}: plain http, so the API key "
            "travels unencrypted",
            "use an https:// KROSAI_BASE_URL",
        )
    return _ok("backend", f"KrosAI API at {settings.krosai_base_url}{tenants}")


# -- the backend: one authenticated read ----------------------------------------------------


def _key_shape(settings: Settings) -> Check | None:
    """A problem with the configured key visible without asking KrosAI, or None."""
    if settings.uses_sandbox or settings.multi_tenant:
        return None
    from ..krosai import mask_api_key

    assert settings.krosai_api_key is not None
    value = settings.krosai_api_key.get_secret_value()  # Settings strips spaces and line breaks
    if not value.startswith(KNOWN_KEY_PREFIXES):
        return _warn(
            "api key",
            f"{mask_api_key(value)} does not look like a KrosAI key (kros_live_... or "
            "kros_test_...)",
            "copy the key from the KrosAI dashboard",
        )
    return None


async def check_backend_access(settings: Settings, timeout: float) -> list[Check]:
    """Reachability, latency and the key, from one `list_numbers(limit=1)`."""
    from ..krosai import KrosAIClient, RetryPolicy, mask_api_key

    retry = RetryPolicy(max_attempts=1, deadline=timeout)
    sandbox_app = None
    if settings.uses_sandbox:
        from ..sandbox import SandboxTransport, create_app
        from .wiring import SANDBOX_BASE_URL

        try:
            sandbox_app = create_app(settings.sandbox_db_path)
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return [
                _fail(
                    "reachability",
                    f"the sandbox database {settings.sandbox_db_path} cannot be opened: {exc}",
                    "check the data directory, or delete a damaged sandbox.sqlite3",
                )
            ]
        where = "the sandbox"
        key: Any = (
            "kros_multi_tenant_placeholder" if settings.multi_tenant else settings.sandbox_api_key
        )
        client = KrosAIClient(
            key,
            base_url=SANDBOX_BASE_URL,
            transport=SandboxTransport(sandbox_app),
            retry=retry,
            timeout=timeout,
        )
    else:
        where = settings.krosai_base_url
        key = "kros_multi_tenant_placeholder" if settings.multi_tenant else settings.krosai_api_key
        client = KrosAIClient(
            key,
            base_url=settings.krosai_base_url,
            retry=retry,
            timeout=min(timeout, settings.krosai_timeout),
        )
    shown = mask_api_key(key)
    try:
        return _judge(settings, where, shown, *await _probe(client, timeout), timeout=timeout)
    finally:
        await client.aclose()
        if sandbox_app is not None:
            sandbox_app.state.sandbox.db.close()


async def _probe(client: Any, timeout: float) -> tuple[Any, Exception | None, float]:
    started = time.perf_counter()
    try:
        with anyio.fail_after(timeout):
            page = await client.list_numbers(limit=1)
    except Exception as exc:  # noqa: BLE001 - judged below
        return None, exc, (time.perf_counter() - started) * 1000
    return page, None, (time.perf_counter() - started) * 1000


def _judge(
    settings: Settings,
    where: str,
    shown: str,
    page: Any,
    error: Exception | None,
    ms: float,
    *,
    timeout: float,
) -> list[Check]:
    """The reachability and api key checks, from how the backend answered one list call."""
    from ..krosai import AuthenticationError

    latency = f"{where} answered in {ms:.0f} ms"
    answered = (
        _warn("reachability", f"{latency} (slow)", "check the network")
        if ms > SLOW_MS
        else _ok("reachability", latency)
    )
    unchecked = _key_shape(settings) or _warn(
        "api key", f"{shown}: not checked, as {where} gave no usable answer"
    )
    unreachable = _unreachable(where, error, timeout)
    if unreachable is not None:
        return [unreachable, unchecked]
    # In multi-tenant mode the stand-in key is meant to be refused: any answer shows the API is there.
    if settings.multi_tenant and (error is None or isinstance(error, AuthenticationError)):
        return [
            answered,
            _ok("api key", "none needed: in multi-tenant mode each client presents its own"),
        ]
    refused = _key_refused(settings, shown, error)
    if refused is not None:
        return [answered, refused]
    if error is not None:
        return [_upstream_trouble(where, latency, error), unchecked]
    owned = f"{page.total} numbers owned" if page.total is not None else "numbers listed"
    kind = " (live: real numbers, real money)" if shown.startswith("kros_live_") else ""
    return [answered, _ok("api key", f"{shown}{kind} accepted ({owned})")]


def _unreachable(where: str, error: Exception | None, timeout: float) -> Check | None:
    """A failed reachability check when no answer came, or none kros-mcp can read."""
    from ..krosai import ResponseFormatError, TransportError

    network = "check KROSAI_BASE_URL, the network and any proxy"
    if isinstance(error, TimeoutError):
        return _fail("reachability", f"no answer from {where} within {timeout:g} s", network)
    if isinstance(error, TransportError):
        return _fail("reachability", f"cannot reach {where}: {error.message}", network)
    if isinstance(error, ResponseFormatError):
        return _fail(
            "reachability",
            f"{where} answered in a format kros-mcp cannot read ({error.message})",
            "check that KROSAI_BASE_URL is the API's URL, ending in /v1",
        )
    return None


def _key_refused(settings: Settings, shown: str, error: Exception | None) -> Check | None:
    """A failed api key check when the backend refused the key or what it may do."""
    from ..krosai import AuthenticationError, PermissionDeniedError

    if isinstance(error, AuthenticationError):
        fix = (
            "set KROS_MCP_SANDBOX_KEY to a key from POST /_sandbox/orgs, or unset it"
            if settings.uses_sandbox
            else "set KROSAI_API_KEY to a valid key from the KrosAI dashboard"
        )
        odd = (
            " (and it does not look like a KrosAI key)" if _key_shape(settings) is not None else ""
        )
        return _fail(
            "api key", f"{shown} was refused ({error.code}, HTTP {error.status}){odd}", fix
        )
    if isinstance(error, PermissionDeniedError):
        return _fail(
            "api key",
            f"{shown} is valid but may not list numbers ({error.code})",
            "use a key with the numbers:read and numbers:write scopes",
        )
    return None


def _upstream_trouble(where: str, latency: str, error: Exception) -> Check:
    """The reachability check when the backend answered with an error of its own."""
    from ..krosai import APIError, RateLimitError, ServerError

    if isinstance(error, (RateLimitError, ServerError)):
        return _warn(
            "reachability",
            f"{latency}, but with {error.code} (HTTP {error.status})",
            "try again in a minute",
        )
    if isinstance(error, APIError):
        return _fail(
            "reachability",
            f"{where} answered {error.code} (HTTP {error.status}) to GET phone-numbers",
            "check that KROSAI_BASE_URL is the API's URL, ending in /v1",
        )
    return _fail("reachability", f"asking {where} failed: {type(error).__name__}: {error}")


# -- local state --------------------------------------------------------------------------------


async def check_store(settings: Settings, timeout: float) -> Check:
    """Open the state store `serve` would open and write, then read back, a throwaway token claim."""
    from ..store import StoreError, is_postgres_url, open_store

    try:
        target = settings.state_target
    except StoreError as exc:
        return _fail("state store", str(exc), "fix KROS_MCP_STATE_URL, or unset it for SQLite")
    postgres = is_postgres_url(target)
    try:
        with anyio.fail_after(timeout):
            if postgres:
                from ..store import PostgresStateStore

                store: Any = await PostgresStateStore.open(str(target).strip(), timeout=timeout)
            else:
                store = await open_store(target)
            try:
                token_id = "doctor-" + secrets.token_hex(8)
                expires = time.time() + 60
                first = await store.use_token(DOCTOR_TENANT, token_id, expires)
                again = await store.use_token(DOCTOR_TENANT, token_id, expires)
                unfinished = len(await store.audit_unfinished())
            finally:
                await store.close()
    except TimeoutError:
        return _fail(
            "state store",
            f"no answer within {timeout:g} s",
            "check KROS_MCP_STATE_URL and the database",
        )
    except StoreError as exc:
        fix = (
            "check KROS_MCP_STATE_URL, that the database is up, and `pip install 'kros-mcp[postgres]'`"
            if postgres
            else "check the data directory (KROS_MCP_DATA_DIR) and its free space"
        )
        return _fail("state store", str(exc), fix)
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return _fail("state store", f"{type(exc).__name__}: {exc}")
    where = f"PostgreSQL {getattr(store, 'where', '')}" if postgres else f"SQLite {target}"
    if not (first and not again):
        return _fail(
            "state store",
            f"{where}: a write did not read back as written (used tokens could be reused)",
        )
    if unfinished:
        return _warn(
            "state store",
            f"{where}: writes and reads back; {unfinished} write attempt(s) have no "
            "recorded outcome (a crash mid-call)",
            "start the server: it reconciles them (kros-mcp audit lists them)",
        )
    return _ok("state store", f"{where}: writes and reads back")


def check_signing_key(settings: Settings) -> Check:
    """Confirmation tokens verify only where the signing key is the same: across restarts, `kros-mcp
    call` runs and replicas."""
    from ..config import ConfigError
    from ..server.deps import load_signing_keys
    from ..store import is_postgres_url

    shared = settings.state_url is not None and is_postgres_url(
        settings.state_url.get_secret_value()
    )
    if settings.secret is not None or settings.secret_file is not None:
        try:
            keys = load_signing_keys(settings)
        except ConfigError as exc:
            return _fail("signing key", str(exc), "fix KROS_MCP_SECRET / KROS_MCP_SECRET_FILE")
        return _ok("signing key", f"{len(keys)} key(s) from KROS_MCP_SECRET / KROS_MCP_SECRET_FILE")
    path = settings.secret_key_path
    if not path.exists():
        found = _ok("signing key", f"none yet: {path} is made at first use")
    else:
        try:
            key = path.read_text().strip()
            mode = path.stat().st_mode
        except OSError as exc:
            return _fail(
                "signing key",
                f"cannot read {path} ({exc.strerror})",
                "fix its permissions or delete it",
            )
        if len(key.encode()) < 32:
            return _fail(
                "signing key",
                f"{path} is damaged (shorter than 32 bytes)",
                "delete it: a new one is made",
            )
        if os.name == "posix" and mode & 0o077:
            return _warn("signing key", f"{path} can be read by other users", f"chmod 600 {path}")
        found = _ok(
            "signing key", f"{path} (tokens stay valid across restarts and `kros-mcp call` runs)"
        )
    if shared:
        return _warn(
            "signing key",
            f"{found.detail}; but replicas sharing the state store each keep their own "
            "key file and refuse each other's tokens",
            "set the same KROS_MCP_SECRET on every replica",
        )
    return found


def check_protected_numbers(settings: Settings) -> Check:
    """Each KROS_MCP_PROTECTED_NUMBERS entry must name a number: an id or an E.164 number."""
    from ..safety import protected_entry

    entries = settings.list_setting("protected_numbers") or []
    try:
        matched = sorted({protected_entry(entry) for entry in entries})
    except ValueError as exc:
        return _fail(
            "protected numbers",
            str(exc),
            "write each entry as a number id (pn_...) or an E.164 number (+233201822327)",
        )
    if not matched:
        return _ok("protected numbers", "none")
    return _ok("protected numbers", f"{len(matched)}: {', '.join(matched)}")


def check_policy(settings: Settings) -> Check:
    from ..server import TOOL_NAMES, WRITE_TOOLS
    from ..server.deps import build_policy
    from ..server.wording import money

    try:
        policy = build_policy(settings)
    except ValueError as exc:
        fix = (
            "see the protected numbers check"
            if "KROS_MCP_PROTECTED_NUMBERS" in str(exc)
            else "correct KROS_MCP_TOOLS / KROS_MCP_EXCLUDE_TOOLS"
        )
        return _fail("policy", str(exc), fix)
    enabled = [n for n in TOOL_NAMES if policy.tool_enabled(n, write=n in WRITE_TOOLS).allowed]
    tools = (
        f"all {len(enabled)} tools"
        if len(enabled) == len(TOOL_NAMES)
        else f"tools {', '.join(enabled) or 'none'}"
    )
    parts = [
        f"confirmation {settings.confirmation}",
        "read-only" if policy.read_only else "writes allowed",
        tools,
        f"countries {', '.join(sorted(policy.allowed_countries)) or 'none'}"
        if policy.allowed_countries is not None
        else "any country",
        f"max {money(policy.max_monthly_cost_cents, settings.currency)}/month per number"
        if policy.max_monthly_cost_cents is not None
        else "no monthly cost cap",
        f"daily budget {money(policy.daily_budget_cents, settings.currency)}"
        if policy.daily_budget_cents is not None
        else "no daily budget",
        f"{len(policy.protected_numbers)} protected number(s)",
    ]
    summary = "; ".join(parts)
    if not enabled:
        return _fail(
            "policy",
            f"{summary}: no tool is enabled",
            "widen KROS_MCP_TOOLS / KROS_MCP_EXCLUDE_TOOLS",
        )
    if settings.confirmation == "none" and not settings.uses_sandbox and not policy.read_only:
        return _warn(
            "policy",
            f"{summary}: purchases and releases need no confirmation",
            "set KROS_MCP_CONFIRMATION=auto unless this is an automated pipeline",
        )
    if _auto_over_http(settings) and not policy.read_only:
        return _warn(
            "policy",
            f"{summary}: confirmation auto with HTTP authentication configured: a client that "
            "cannot ask its person gets tokens its model can confirm on its own",
            "unset KROS_MCP_CONFIRMATION (human is the default over HTTP) or set it to human",
        )
    return _ok("policy", summary)


def _auto_over_http(settings: Settings) -> bool:
    """`auto` chosen explicitly where the settings are for hosting (tokens, tenants or OAuth)."""
    hosted = (
        settings.auth_tokens_value is not None
        or settings.auth_tokens_file is not None
        or settings.multi_tenant
        or settings.oauth_enabled
    )
    return (
        hosted and settings.confirmation == "auto" and "confirmation" in settings.model_fields_set
    )


# -- running and reporting -------------------------------------------------------------------


async def collect_checks(timeout: float) -> list[Check]:
    checks = [check_python()]
    settings, config = load_settings()
    checks.append(config)
    if settings is None:
        return checks
    checks.append(check_data_dir(settings))
    checks.append(check_backend(settings))
    checks += await check_backend_access(settings, timeout)
    checks.append(await check_store(settings, timeout))
    checks.append(check_signing_key(settings))
    checks.append(check_protected_numbers(settings))
    checks.append(check_policy(settings))
    return checks


def _secrets() -> list[tuple[str, str]]:
    """(secret, stand-in) pairs scrubbed from every line, whatever a check put there."""
    from ..krosai import mask_api_key

    pairs = []
    for name in ("KROSAI_API_KEY", "KROS_MCP_SECRET", "KROS_MCP_AUTH_TOKENS"):
        for value in os.environ.get(name, "").split(","):
            if len(value.strip()) >= 4:
                pairs.append((value.strip(), mask_api_key(value.strip())))
    return sorted(pairs, key=lambda p: len(p[0]), reverse=True)


def _scrub(check: Check, pairs: list[tuple[str, str]]) -> Check:
    def clean(text: str | None) -> str | None:
        for secret, shown in pairs:
            text = text.replace(secret, shown) if text else text
        return text

    return Check(check.name, check.status, clean(check.detail) or "", clean(check.fix))


def run_doctor(*, as_json: bool = False, timeout: float = 10.0) -> int:
    """Run every check and print them; 0 if none failed, else 1."""
    checks = anyio.run(collect_checks, timeout)
    pairs = _secrets()
    checks = [_scrub(c, pairs) for c in checks]
    failed = sum(c.status == "FAIL" for c in checks)
    warned = sum(c.status == "WARN" for c in checks)
    if as_json:
        print(json.dumps({"ok": not failed, "checks": [asdict(c) for c in checks]}, indent=2))
        return 1 if failed else 0
    width = max(len(c.name) for c in checks)
    for c in checks:
        fix = f" -> fix: {c.fix}" if c.fix else ""
        print(f"{c.status:<4}  {c.name:<{width}}  {c.detail}{fix}")
    print()
    if any(c.name == "configuration" and c.status == "FAIL" for c in checks):
        print("The other checks need a valid configuration.")
    if failed or warned:
        print(f"{failed} failed, {warned} warning(s).")
    else:
        print("All checks passed.")
    return 1 if failed else 0
