"""Fixtures for the middleware tests (the calls and handlers themselves are in calls.py)."""

from __future__ import annotations

import pytest

from .calls import Handler


@pytest.fixture
def handler() -> Handler:
    return Handler()
