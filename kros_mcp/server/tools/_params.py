"""Argument types the tools share: each carries its own validation and a short description."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

__all__ = ["KEEP", "Country", "DryRun", "NumberId", "NumberType", "Token"]

KEEP = "keep"
NumberId = Annotated[
    str,
    Field(
        max_length=64,
        pattern=r"^[\w+][\w+\-. ()]*$",
        description="pn_... id, or the E.164 number",
    ),
]
Country = Annotated[str, Field(pattern=r"^[A-Za-z]{2}$", description="NG, KE, GH, RW, EG or AE")]
NumberType = Literal["local", "mobile", "toll_free"]
DryRun = bool
Token = Annotated[str | None, Field(max_length=2048)]
