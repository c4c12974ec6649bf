"""KROS_MCP_PROTECTED_NUMBERS fails closed: an entry that names no number (a national number, a
`tel:` URI, an upper-cased id, stray text) would protect nothing, so it stops start-up, naming
the entry, and `kros-mcp doctor` reports the same."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import run_cli


@pytest.mark.parametrize(
    "entry", ["0201822327", "tel:+233201822327", "PN_ABC123", "the support line"]
)
def test_an_entry_that_protects_nothing_stops_start_up(data_dir: Path, entry: str) -> None:
    result = run_cli(data_dir, "serve", env={"KROS_MCP_PROTECTED_NUMBERS": f"pn_fine,{entry}"})
    assert result.returncode != 0 and result.stdout == ""
    assert "Traceback" not in result.stderr, result.stderr
    assert "KROS_MCP_PROTECTED_NUMBERS" in result.stderr and repr(entry) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_doctor_reports_the_entry(data_dir: Path) -> None:
    bad = run_cli(
        data_dir,
        "doctor",
        "--json",
        env={"KROS_MCP_PROTECTED_NUMBERS": "+233 20 182 2327,0201822327"},
    )
    checks = {c["name"]: c for c in json.loads(bad.stdout)["checks"]}
    assert bad.returncode == 1
    assert checks["protected numbers"]["status"] == "FAIL"
    assert "'0201822327'" in checks["protected numbers"]["detail"]
    assert "E.164" in checks["protected numbers"]["fix"]

    good = run_cli(
        data_dir, "doctor", "--json", env={"KROS_MCP_PROTECTED_NUMBERS": "+233 20 182 2327,pn_kept"}
    )
    checks = {c["name"]: c for c in json.loads(good.stdout)["checks"]}
    assert checks["protected numbers"] == {
        "name": "protected numbers",
        "status": "OK",
        "detail": "2: +233201822327, pn_kept",
        "fix": None,
    }
