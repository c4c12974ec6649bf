"""Offers shown to the model, and checking a quoted price again: see safety/quotes.py."""

from __future__ import annotations

from ..safety.quotes import offer_from, refresh_offer

__all__ = ["offer_from", "refresh_offer"]
