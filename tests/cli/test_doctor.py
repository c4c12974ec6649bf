"""`kros-mcp doctor`: one line per check, bounded in time, never showing the key."""

from __future__ import annotations

import json
import socket
import time

from .runner import Run

FAKE_KEY = "kros_live_FAKEKEY123456"


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once it is closed


def _lines(stdout: str) -> dict[str, str]:
    """check name -> its line, from the text report."""
    found = {}
    for line in stdout.splitlines():
        parts = line.split(None, 1)
        if parts and parts[0] in ("OK", "WARN", "FAIL"):
            found[parts[1].split("  ")[0].strip()] = line
    return found


def test_doctor_on_a_fresh_sandbox_passes(kros: Run) -> None:
    done = kros("doctor")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = _lines(done.stdout)
    for name in (
        "python",
        "configuration",
        "data directory",
        "backend",
        "reachability",
        "api key",
        "state store",
        "policy",
    ):
        assert lines[name].startswith("OK"), done.stdout
    assert "sandbox" in lines["backend"] and "confirmation auto" in lines["policy"]
    assert "kros_test_sandbox" not in done.stdout + done.stderr  # only its masked form


def test_doctor_reports_an_unreachable_api_without_the_key(kros: Run) -> None:
    env = {"KROSAI_API_KEY": FAKE_KEY, "KROSAI_BASE_URL": f"http://127.0.0.1:{_closed_port()}/v1"}
    started = time.monotonic()
    done = kros("doctor", "--json", "--timeout", "5", env=env)
    assert time.monotonic() - started < 20
    assert done.returncode == 1
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert checks["reachability"]["status"] == "FAIL" and checks["reachability"]["fix"], checks
    assert checks["api key"]["detail"].startswith("kros_live_****")
    assert "FAKEKEY" not in done.stdout + done.stderr


def test_doctor_fails_an_unreachable_state_store(kros: Run) -> None:
    done = kros(
        "doctor", "--timeout", "5", env={"KROS_MCP_STATE_URL": "postgresql://nobody@127.0.0.1:1/x"}
    )
    assert done.returncode == 1
    assert _lines(done.stdout)["state store"].startswith("FAIL"), done.stdout
    assert "Traceback" not in done.stderr


def test_doctor_names_invalid_settings_by_variable(kros: Run) -> None:
    done = kros("doctor", env={"KROS_MCP_CONFIRMATION": "maybe", "KROS_MCP_READONLY": "1"})
    assert done.returncode == 1
    assert "KROS_MCP_CONFIRMATION" in _lines(done.stdout)["configuration"], done.stdout


def test_serve_warns_about_a_misspelt_setting(kros: Run) -> None:
    done = kros(
        "serve", env={"KROS_MCP_READONLY": "1"}
    )  # stdin closed: it serves nothing and exits
    assert (
        "KROS_MCP_READONLY (did you mean KROS_MCP_READ_ONLY?) is not a kros-mcp setting"
        in done.stderr
    )
    assert done.stdout == ""


def test_doctor_states_policy_amounts_in_the_operators_currency(kros: Run) -> None:
    done = kros(
        "doctor",
        env={
            "KROS_MCP_CURRENCY": "KES",
            "KROS_MCP_DAILY_BUDGET_CENTS": "5000",
            "KROS_MCP_MAX_MONTHLY_COST_CENTS": "300",
        },
    )
    policy = _lines(done.stdout)["policy"]
    assert "daily budget 50.00 KES" in policy and "max 3.00 KES/month" in policy, policy
    assert "USD" not in policy
