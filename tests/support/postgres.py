"""The PostgreSQL test database (KROS_MCP_TEST_POSTGRES_URL) and a fresh schema per test."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest

__all__ = ["POSTGRES_SKIP_REASON", "POSTGRES_URL", "fresh_schema", "with_search_path"]

POSTGRES_URL = os.environ.get("KROS_MCP_TEST_POSTGRES_URL")
POSTGRES_SKIP_REASON = "set KROS_MCP_TEST_POSTGRES_URL to run the PostgreSQL tests"


def with_search_path(url: str, schema: str) -> str:
    """`url` with libpq's `options=-csearch_path=<schema>` added."""
    separator = "&" if urlsplit(url).query else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


@contextmanager
def fresh_schema(
    prefix: str = "kros_test", *, skip_reason: str = POSTGRES_SKIP_REASON
) -> Iterator[str]:
    """A new schema in the test database, dropped afterwards; skips the test without a database."""
    if not POSTGRES_URL:
        pytest.skip(skip_reason)
    import psycopg

    schema = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
