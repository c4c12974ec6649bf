"""Argument types the tools share: each carries its own validation and a short description."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

__all__ = ["KEEP", "Country", "DryRun", "NumberId", "NumberType", "Token"]

KEEP = "keep"
# Checked here rather than as a schema `pattern`: the pattern cost every tool that takes a number
# 16 tokens of tools/list, and its error said less than this one.
_NUMBER_ID = re.compile(r"[\w+][\w+\-. ()]*")


def _number_id(value: str) -> str:
    if not _NUMBER_ID.fullmatch(value):
        raise ValueError("must be a pn_... id or an E.164 number such as +2348031234567")
    return value


NumberId = Annotated[
    str,
    Field(max_length=64, description="pn_... id, or the E.164 number"),
    AfterValidator(_number_id),
]
Country = Annotated[str, Field(pattern=r"^[A-Za-z]{2}$", description="NG, KE, GH, RW, EG or AE")]
NumberType = Literal["local", "mobile", "toll_free"]
DryRun = bool
Token = Annotated[str | None, Field(max_length=2048)]
