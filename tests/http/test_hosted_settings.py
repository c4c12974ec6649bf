"""Settings for hosting: a strict state URL (each accepted form, each refused one, never logged
raw), confirmation `human` by default over HTTP (with a warning when `auto` is chosen), readiness
that opens no store of its own, and SSE holding a bounded number of PostgreSQL connections."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import anyio
import httpx2
import pytest

from kros_mcp.config import Settings
from kros_mcp.store import StateURLError, describe_state_target, parse_state_target
from tests.support.http_servers import POSTGRES_URL, ServerSpec, bearer, launch, pg_schema, run_cli
from tests.support.postgres import with_search_path
from tests.support.processes import free_port

from .hosted_rig import client_for, hosted

PASSWORD = f"pw-{secrets.token_hex(8)}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            f"postgresql://kros:{PASSWORD}@db:5432/kros",
            f"postgresql://kros:{PASSWORD}@db:5432/kros",
        ),
        (f"postgres://kros:{PASSWORD}@db/kros", f"postgresql://kros:{PASSWORD}@db/kros"),
        (f"postgresql+psycopg://kros:{PASSWORD}@db/kros", f"postgresql://kros:{PASSWORD}@db/kros"),
        ("/var/lib/kros/state.sqlite3", Path("/var/lib/kros/state.sqlite3")),
        ("state.sqlite3", Path("state.sqlite3")),
    ],
)
def test_accepted_state_urls(value: str, expected: object) -> None:
    assert parse_state_target(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        f"mysql://kros:{PASSWORD}@db/kros",
        f"sqlite:///{PASSWORD}.db",
        f"postgresql+asyncpg://kros:{PASSWORD}@db/kros",
        f"host=db user=kros password={PASSWORD} dbname=kros",
        f"dbname=kros password={PASSWORD}",
        "   ",
    ],
)
def test_refused_state_urls_never_quote_the_value(value: str) -> None:
    with pytest.raises(StateURLError) as caught:
        parse_state_target(value)
    assert PASSWORD not in str(caught.value) and "KROS_MCP_STATE_URL" in str(caught.value)


def test_state_url_is_a_secret_setting() -> None:
    settings = Settings(KROS_MCP_STATE_URL=f"postgresql://kros:{PASSWORD}@db/kros")
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings.model_dump())
    assert describe_state_target(settings.state_target) == "PostgreSQL at db:5432/kros"


@pytest.mark.parametrize(
    "value", [f"postgresql+asyncpg://kros:{PASSWORD}@db/kros", f"host=db password={PASSWORD}"]
)
def test_serve_stops_on_a_refused_state_url(tmp_path: Path, value: str) -> None:
    done = run_cli(
        tmp_path,
        ["serve", "--transport", "streamable-http", "--port", str(free_port())],
        env={"KROS_MCP_STATE_URL": value},
    )
    assert done.returncode != 0 and "KROS_MCP_STATE_URL" in done.stderr, done.stderr
    assert PASSWORD not in done.stderr + done.stdout and "Traceback" not in done.stderr
    assert not any(PASSWORD in p.name for p in tmp_path.rglob("*"))  # no file named after it


def test_banner_names_the_store_without_its_password(tmp_path: Path) -> None:
    if not POSTGRES_URL:
        pytest.skip("needs KROS_MCP_TEST_POSTGRES_URL")
    with pg_schema() as schema:
        url = with_search_path(POSTGRES_URL, schema).replace(
            "postgresql://", "postgresql+psycopg://"
        )
        (server,) = launch(
            tmp_path, [ServerSpec("pg", "stateful", env={"KROS_MCP_STATE_URL": url})]
        )
        try:
            log = server.log()
        finally:
            server.stop()
    assert "kros-mcp state store: PostgreSQL at " in log, log


# -- confirmation over HTTP ----------------------------------------------------------------------


def test_confirmation_defaults_to_human_over_http(tmp_path: Path) -> None:
    (default, chosen) = launch(
        tmp_path,
        [
            ServerSpec("default", "stateful", env={"KROS_MCP_CONFIRMATION": ""}),
            ServerSpec("auto", "stateful", env={"KROS_MCP_CONFIRMATION": "auto"}),
        ],
    )
    try:

        async def policy(url: str) -> str:
            async with client_for(url, "legacy") as client:
                body = (await client.read_resource("kros://policy")).contents[0].text  # type: ignore[union-attr]
            return str(json.loads(body)["confirmation"])

        assert anyio.run(policy, default.url) == "human"
        assert anyio.run(policy, chosen.url) == "auto"
    finally:
        default.stop()
        chosen.stop()
    assert "KROS_MCP_CONFIRMATION=auto over HTTP" in chosen.log()
    assert "KROS_MCP_CONFIRMATION=auto over HTTP" not in default.log()


def test_doctor_warns_about_auto_with_http_auth(tmp_path: Path) -> None:
    token = "tok-" + "d" * 32
    warned = run_cli(
        tmp_path,
        ["doctor", "--json"],
        env={"KROS_MCP_AUTH_TOKENS": token, "KROS_MCP_CONFIRMATION": "auto"},
        timeout=60,
    )
    assert "confirmation auto with HTTP authentication" in warned.stdout, warned.stdout
    quiet = run_cli(
        tmp_path,
        ["doctor", "--json"],
        env={"KROS_MCP_AUTH_TOKENS": token, "KROS_MCP_CONFIRMATION": ""},
        timeout=60,
    )
    assert "confirmation auto with HTTP authentication" not in quiet.stdout
    assert token not in warned.stdout + quiet.stdout


# -- readiness and SSE share one store -------------------------------------------------------


@pytest.mark.anyio
async def test_readyz_opens_no_store_per_call(tmp_path: Path) -> None:
    with hosted(tmp_path, "sse") as server:
        deps = server.deps
        async with httpx2.AsyncClient(timeout=10.0) as http:
            for _ in range(3):
                assert (await http.get(server.root + "/readyz")).status_code == 200
        assert server.deps is deps  # one set of dependencies, opened once


@pytest.mark.anyio
async def test_held_sse_streams_hold_a_bounded_number_of_pg_connections(tmp_path: Path) -> None:
    if not POSTGRES_URL:
        pytest.skip("needs KROS_MCP_TEST_POSTGRES_URL")
    import psycopg

    app_name = f"kros_sse_{secrets.token_hex(4)}"
    streams = 20
    with pg_schema() as schema:
        url = with_search_path(POSTGRES_URL, schema) + f"&application_name={app_name}"
        token = "tok-" + "s" * 32
        env = {"KROS_MCP_STATE_URL": url, "KROS_MCP_AUTH_TOKENS": token}
        (server,) = launch(tmp_path, [ServerSpec("sse-pg", "sse", env=env)])
        try:
            async with anyio.create_task_group() as tg:
                opened = 0
                done = anyio.Event()

                async def hold() -> None:
                    nonlocal opened
                    async with client_for(server.url, "legacy", bearer(token)) as client:
                        await client.list_tools()
                        opened += 1
                        await done.wait()

                for _ in range(streams):
                    tg.start_soon(hold)
                with anyio.fail_after(60):
                    while opened < streams:
                        await anyio.sleep(0.1)
                with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                    (count,) = conn.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                        (app_name,),
                    ).fetchone()  # type: ignore[misc]
                done.set()
        finally:
            server.stop()
    print(f"\n{streams} held SSE streams: {count} PostgreSQL connections")
    assert 1 <= count <= 10, count  # the shared pool's size, not one per stream
