"""A first run without rough edges: what a new user gets wrong is answered with one line that says
what to fix, never a traceback, and a placeholder in place of the API key never reaches KrosAI."""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from kros_mcp.cli.audit import audit_table
from kros_mcp.cli.demo import run_demo
from kros_mcp.config import Settings, key_placeholder_problem
from kros_mcp.store.base import AuditEntry
from tests.support.http_servers import base_env
from tests.support.processes import free_port

from .runner import Run

PLACEHOLDERS = [
    "${env:KROSAI_API_KEY}",  # the Cursor file pasted into Claude Desktop
    "${input:krosai-api-key}",  # the VS Code file used elsewhere
    "${user_config.api_key}",  # an MCP bundle setting left unfilled
    "${KROSAI_API_KEY}",
    "$KROSAI_API_KEY",
    "<your key>",
    "<KROSAI_API_KEY>",
    "{{ krosai_api_key }}",
    "kros_live_...",
    "kros_live_****",  # the masked form doctor prints
    "YOUR_API_KEY",
    "your-krosai-api-key",
]
REAL_LOOKING = ["kros_live_" + "Ab3" * 8, "kros_test_" + "x9Z" * 8, "kros_test_sandbox"]


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{text}"
    assert "Traceback" not in text
    return lines[0]


# -- placeholders in KROSAI_API_KEY ---------------------------------------------------------------


@pytest.mark.parametrize("value", PLACEHOLDERS)
def test_placeholder_keys_are_recognised(value: str) -> None:
    problem = key_placeholder_problem(value)
    assert problem is not None, value
    assert "leave KROSAI_API_KEY empty for the sandbox" in problem


@pytest.mark.parametrize("value", REAL_LOOKING)
def test_keys_are_not_taken_for_placeholders(value: str) -> None:
    assert key_placeholder_problem(value) is None
    assert Settings(KROSAI_API_KEY=SecretStr(value)).krosai_api_key is not None


def test_only_the_placeholder_is_quoted_never_the_rest() -> None:
    secret_part = "kros_live_" + "Qw7" * 8
    problem = key_placeholder_problem(secret_part + "${env:KROSAI_API_KEY}")
    assert problem is not None and "${env:KROSAI_API_KEY}" in problem
    assert secret_part not in problem


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("x-api-key", ""))
        self.send_response(401)
        self.end_headers()

    do_POST = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def fake_krosai() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server standing in for KrosAI that records the keys it is sent."""
    seen: list[str] = []
    handler = type("Recorder", (_Recorder,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "value", ["${env:KROSAI_API_KEY}", "<your key>", "${input:krosai-api-key}"]
)
def test_call_explains_a_placeholder_and_sends_nothing(
    kros: Run, fake_krosai: tuple[str, list[str]], value: str
) -> None:
    base_url, seen = fake_krosai
    done = kros("call", "list_numbers", env={"KROSAI_API_KEY": value, "KROSAI_BASE_URL": base_url})
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert "KROSAI_API_KEY" in line and value in line and "sandbox" in line, line
    assert seen == [], "the placeholder was sent to KrosAI"
    # The same key, real-looking, does go upstream: the recorder would have seen a placeholder.
    real = "kros_live_" + "Zz9" * 8
    kros("call", "list_numbers", env={"KROSAI_API_KEY": real, "KROSAI_BASE_URL": base_url})
    assert seen and set(seen) == {real}


def test_serve_explains_a_placeholder_in_one_line(kros: Run) -> None:
    done = kros("serve", env={"KROSAI_API_KEY": "${env:KROSAI_API_KEY}"})
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert line.startswith("kros-mcp: invalid configuration: KROSAI_API_KEY: contains"), line
    assert "Value error" not in line


# -- an unwritable data directory -----------------------------------------------------------------


@pytest.fixture
def unusable_dir(tmp_path: Path) -> Path:
    """A data directory that cannot be made, even by root: its parent is a file."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    return blocker / "data"


@pytest.mark.parametrize(
    "command",
    [("serve",), ("call", "list_numbers"), ("call", "--list"), ("sandbox", "--port", "0")],
)
def test_unusable_data_dir_is_one_line(
    kros: Run, unusable_dir: Path, command: tuple[str, ...]
) -> None:
    done = kros(*command, env={"KROS_MCP_DATA_DIR": str(unusable_dir)})
    assert done.returncode == 1, done.stderr
    line = one_line(done.stderr)
    assert str(unusable_dir) in line and "KROS_MCP_DATA_DIR" in line, line
    assert line.startswith(f"kros-mcp {command[0]}: the data directory "), line


def test_serve_over_http_with_unusable_data_dir_is_one_line(kros: Run, unusable_dir: Path) -> None:
    done = kros(
        "serve",
        "--transport",
        "streamable-http",
        "--port",
        str(free_port()),
        env={"KROS_MCP_DATA_DIR": str(unusable_dir)},
    )
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert str(unusable_dir) in line and "KROS_MCP_DATA_DIR" in line, line
    assert "serving" not in done.stderr


def test_demo_without_a_writable_temporary_directory(
    unusable_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(unusable_dir))
    assert run_demo() == 1
    line = one_line(capsys.readouterr().err)
    assert str(unusable_dir) in line and "TMPDIR" in line, line


def test_demo_ignores_a_key_and_policy_in_the_environment(kros: Run) -> None:
    """A KROSAI_API_KEY exported in the shell must not make the tour buy real numbers."""
    done = kros(
        "demo",
        env={
            "KROSAI_API_KEY": "kros_live_" + "Ab3" * 8,
            "KROSAI_BASE_URL": "http://127.0.0.1:9/v1",
            "KROS_MCP_READ_ONLY": "true",
            "KROS_MCP_DAILY_BUDGET_CENTS": "0",
        },
        timeout=120,
    )
    # The key's API is unreachable and the policy forbids every purchase: the tour completes only
    # on its own sandbox with default settings.
    assert done.returncode == 0, done.stderr
    assert "status: purchased" in done.stdout and "no real number was bought" in done.stdout


def test_demo_into_a_closed_pipe_stops_quietly(data_dir: Path) -> None:
    command = [sys.executable, "-m", "kros_mcp", "demo"]
    with subprocess.Popen(
        command,
        env=base_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.readline()
        process.stdout.close()  # as `kros-mcp demo | head -1` does
        stderr = process.stderr.read().decode()
        assert process.wait(timeout=120) == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr


# -- misspelt variables ---------------------------------------------------------------------------


def test_call_warns_about_misspelt_variables(kros: Run) -> None:
    done = kros("call", "--list", env={"KROS_MCP_READONLY": "true"})
    assert done.returncode == 0, done.stderr
    assert "KROS_MCP_READONLY (did you mean KROS_MCP_READ_ONLY?)" in done.stderr
    assert "purchase_number" in done.stdout  # ignored, as the warning says


def test_audit_warns_about_misspelt_variables(kros: Run) -> None:
    done = kros("audit", env={"KROSAI_APIKEY": "kros_test_sandbox"})
    assert done.returncode == 0, done.stderr
    assert "KROSAI_APIKEY (did you mean KROSAI_API_KEY?)" in done.stderr


# -- a port clash ---------------------------------------------------------------------------------


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


@pytest.mark.parametrize(
    "command", [("serve", "--transport", "streamable-http"), ("serve", "--transport", "sse")]
)
def test_port_clash_is_one_line_and_nothing_says_serving(
    kros: Run, taken_port: int, command: tuple[str, ...]
) -> None:
    done = kros(*command, "--port", str(taken_port))
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert line == (
        f"kros-mcp serve: cannot listen on 127.0.0.1:{taken_port}: address already in use "
        "(another process listens there); stop it or choose another --port"
    )
    assert "serving" not in done.stderr


def test_sandbox_port_clash_is_one_line(kros: Run, taken_port: int) -> None:
    done = kros("sandbox", "--port", str(taken_port))
    assert done.returncode == 1
    assert one_line(done.stderr).startswith(
        f"kros-mcp sandbox: cannot listen on 127.0.0.1:{taken_port}"
    )


def test_serving_is_said_once_bound_and_the_server_answers(data_dir: Path) -> None:
    import httpx2 as httpx

    port = free_port()
    command = [sys.executable, "-m", "kros_mcp", "serve", "--transport", "streamable-http"]
    with subprocess.Popen(
        [*command, "--port", str(port)],
        env=base_env(data_dir),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stderr is not None
            deadline = time.monotonic() + 60
            line = ""
            while not line.startswith("kros-mcp serving") and time.monotonic() < deadline:
                line = process.stderr.readline()
                assert line or process.poll() is None, "the server exited"
            assert (
                line.strip() == f"kros-mcp serving streamable-http on http://127.0.0.1:{port}/mcp"
            )
            # Said once bound: the port answers at once.
            assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        finally:
            process.terminate()
            process.wait(timeout=30)


# -- the audit table ------------------------------------------------------------------------------


def _entry(seq: int, tool: str, status: str, confirmation: str, **outcome: object) -> AuditEntry:
    return AuditEntry(
        id=f"a{seq}",
        tenant="t",
        tool=tool,
        arguments={"inventory_id": "inv_ng_" + "7" * 40},
        confirmation=confirmation,
        created_at=datetime(2026, 11, 29, 4, 45, 49, tzinfo=UTC).timestamp(),
        status=status,  # type: ignore[arg-type]
        outcome=dict(outcome),
        seq=seq,
    )


ENTRIES = [
    _entry(
        123,
        "purchase_number",
        "succeeded",
        "elicitation",
        result="purchased",
        number_id="pn_" + "c" * 16,
    ),
    _entry(12, "release_number", "reconciled", "token", error="E" * 300 + "\nsecond line"),
    _entry(3, "update_routing", "failed", "none", result="updated"),
]


@pytest.mark.parametrize("columns", [80, 100, 60])
def test_audit_table_fits_the_terminal_with_ellipses(columns: int) -> None:
    lines = audit_table(ENTRIES, columns)
    assert len(lines) == len(ENTRIES) + 1
    # Never wider than the terminal; the narrowest layout still fits 80 columns.
    assert all(len(line) <= max(columns, 80) for line in lines), "\n".join(lines)
    header, *rows = lines
    detail_at = header.index("detail")
    for line in rows:
        assert line[detail_at - 1] == " ", f"the detail column is not aligned:\n{header}\n{line}"
    # Cut text ends with an ellipsis; what fits is whole.
    assert rows[0].endswith("…") or columns >= 100
    assert rows[1].endswith("…") and "second line" not in rows[1]
    assert rows[2].endswith("inv_ng_" + "7" * 40 + " updated") or rows[2].endswith("…")
    assert rows[0].lstrip().startswith("123 2026-11-29 04:45 purchase_number succeeded")


def test_audit_table_at_80_columns_keeps_the_number_first() -> None:
    lines = audit_table(ENTRIES, 80)
    assert all(len(line) <= 80 for line in lines)
    assert "pn_" + "c" * 16 in lines[1]
    assert "elicitation" in lines[1] and "reconciled" in lines[2]


def test_audit_table_piped_is_not_cut() -> None:
    lines = audit_table(ENTRIES, None)
    assert not any("…" in line for line in lines)
    assert lines[2].endswith("E" * 300 + " second line")
