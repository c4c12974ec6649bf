"""Deterministic inventory of numbers for sale: valid for their country, priced in cents."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

__all__ = [
    "BLOCKS",
    "COUNTRIES",
    "Block",
    "InventoryItem",
    "expected_size",
    "generate_block",
    "generate_inventory",
]


@dataclass(frozen=True)
class Block:
    """A range of numbers of one type under one area code."""

    country: str
    type: str
    area_code: str
    length: int  # digits in the national significant number
    setup_cost_cents: int
    monthly_cost_cents: int


@dataclass(frozen=True)
class InventoryItem:
    id: str
    e164: str
    country: str
    type: str
    area_code: str
    setup_cost_cents: int
    monthly_cost_cents: int
    sms: bool


def _blocks(
    country: str, prices: dict[str, tuple[int, int]], *specs: tuple[str, str, int]
) -> list[Block]:
    return [Block(country, typ, area, length, *prices[typ]) for typ, area, length in specs]


# Area codes and lengths checked against phonenumbers' metadata (tests validate every number).
BLOCKS: tuple[Block, ...] = tuple(
    _blocks(
        "NG",
        {"local": (100, 200), "mobile": (150, 300), "toll_free": (1000, 1500)},
        ("local", "201", 10),
        ("local", "209", 10),
        ("mobile", "803", 10),
        ("mobile", "806", 10),
        ("mobile", "813", 10),
        ("mobile", "703", 10),
        ("toll_free", "800", 11),
    )
    + _blocks(
        "KE",
        {"local": (100, 250), "mobile": (150, 350), "toll_free": (1000, 1500)},
        ("local", "20", 9),
        ("local", "41", 9),
        ("mobile", "712", 9),
        ("mobile", "722", 9),
        ("mobile", "110", 9),
        ("toll_free", "800", 9),
    )
    + _blocks(
        "GH",
        {"local": (100, 250), "mobile": (150, 350), "toll_free": (1200, 1500)},
        ("local", "302", 9),
        ("mobile", "24", 9),
        ("mobile", "20", 9),
        ("mobile", "55", 9),
        ("toll_free", "800", 8),
    )
    + _blocks(
        "RW",
        {"local": (100, 250), "mobile": (150, 300), "toll_free": (1000, 1500)},
        ("local", "252", 9),
        ("mobile", "78", 9),
        ("mobile", "73", 9),
        ("mobile", "72", 9),
        ("toll_free", "800", 9),
    )
    + _blocks(
        "EG",
        {"local": (150, 300), "mobile": (200, 400), "toll_free": (1500, 2000)},
        ("local", "2", 9),
        ("mobile", "10", 10),
        ("mobile", "11", 10),
        ("mobile", "12", 10),
        ("toll_free", "800", 10),
    )
    + _blocks(
        "AE",
        {"local": (300, 800), "mobile": (400, 1000), "toll_free": (2000, 3000)},
        ("local", "4", 8),
        ("local", "2", 8),
        ("mobile", "50", 9),
        ("mobile", "55", 9),
        ("mobile", "52", 9),
        ("toll_free", "800", 9),
    )
)

COUNTRIES: tuple[str, ...] = ("NG", "KE", "GH", "RW", "EG", "AE")

_EXPECTED_TYPES = {
    "local": {PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE},
    "mobile": {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE},
    "toll_free": {PhoneNumberType.TOLL_FREE},
}


def is_valid_for(e164: str, country: str, number_type: str) -> bool:
    """True if phonenumbers accepts `e164` as a number of this type in `country`."""
    try:
        parsed = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number_for_region(parsed, country) and (
        phonenumbers.number_type(parsed) in _EXPECTED_TYPES[number_type]
    )


def _price(block: Block, nsn: str) -> tuple[int, int]:
    # Memorable numbers (last four digits alike) cost more, so price checks have variety.
    if len(set(nsn[-4:])) == 1:
        return block.setup_cost_cents * 2, block.monthly_cost_cents * 3
    return block.setup_cost_cents, block.monthly_cost_cents


def generate_block(block: Block, count: int, *, seed: int = 0) -> Iterator[InventoryItem]:
    """Up to `count` distinct valid numbers of `block`, the same ones for the same seed."""
    rng = random.Random(f"{seed}/{block.country}/{block.type}/{block.area_code}")
    calling_code = phonenumbers.country_code_for_region(block.country)
    free_digits = block.length - len(block.area_code)
    seen: set[str] = set()
    tries = 0
    limit = count * 4 + 100
    while len(seen) < count and tries < limit:
        tries += 1
        nsn = block.area_code + str(rng.randrange(10**free_digits)).zfill(free_digits)
        if nsn in seen:
            continue
        e164 = f"+{calling_code}{nsn}"
        if not is_valid_for(e164, block.country, block.type):
            continue
        seen.add(nsn)
        setup, monthly = _price(block, nsn)
        yield InventoryItem(
            id=f"inv_{block.country.lower()}_{nsn}",
            e164=e164,
            country=block.country,
            type=block.type,
            area_code=block.area_code,
            setup_cost_cents=setup,
            monthly_cost_cents=monthly,
            sms=block.type == "mobile",
        )


def generate_inventory(per_block: int, *, seed: int = 0) -> Iterator[InventoryItem]:
    """The whole inventory: `per_block` numbers in every block."""
    for block in BLOCKS:
        yield from generate_block(block, per_block, seed=seed)


def expected_size(per_block: int) -> int:
    """How many numbers `generate_inventory(per_block)` yields at most (a block may run short)."""
    return max(0, per_block) * len(BLOCKS)
