"""Fast set-up for the benchmarks: owned numbers written straight into a sandbox database, and the
sandbox's imitation of KrosAI's rate limits lifted (they would measure the limiter, not the code)."""

from __future__ import annotations

from typing import Any

from kros_mcp.sandbox import SandboxDB

SANDBOX_ORG_ID = "org_sandbox"  # the built-in organisation (kros_test_sandbox)
UNLIMITED = 1e9


def seed_owned(db: SandboxDB, count: int, org_id: str = SANDBOX_ORG_ID) -> int:
    """Give `org_id` `count` more active numbers (synthetic, not taken from the inventory) in one
    transaction; returns how many the organisation owns now."""
    with db.transaction() as tx:
        start = tx.execute("SELECT COALESCE(MAX(seq), 0) FROM phone_numbers").fetchone()[0]
        rows = []
        for n in range(start + 1, start + count + 1):
            nsn = f"803{n:07d}"
            rows.append(
                (
                    f"pn_bench{n:08d}",
                    org_id,
                    f"inv_bench_{n}",
                    f"+234{nsn}",
                    "NG",
                    "mobile",
                    "ep_support_agent" if n % 2 else None,
                    1,
                    n % 3 != 0,
                    150,
                    300,
                    "bench",
                    "2026-01-01T00:00:00.000Z",
                    "2026-01-01T00:00:00.000Z",
                )
            )
        tx.executemany(
            "INSERT INTO phone_numbers (id, org_id, inventory_id, e164, country, type, status, endpoint_id, "
            "allow_inbound, allow_outbound, setup_cost_cents, monthly_cost_cents, sip_password, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        return int(
            tx.execute("SELECT COUNT(*) FROM phone_numbers WHERE org_id = ?", (org_id,)).fetchone()[
                0
            ]
        )


def lift_rate_limits(sandbox_app: Any) -> None:
    """No 50 requests/s (nor 5 purchases/s) ceiling in the sandbox behind the server."""
    for bucket in ("default", "purchase"):
        sandbox_app.state.sandbox.limiter.set_limit(bucket, UNLIMITED)
