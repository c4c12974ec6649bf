"""Argument validation failures, told to the model as what to fix rather than as pydantic's report."""

from __future__ import annotations

from pydantic import ValidationError

from ..krosai import looks_secret

__all__ = ["invalid_arguments"]

_SHOWN = 40  # characters of a rejected value echoed back


def invalid_arguments(tool: str, error: ValidationError) -> str:
    problems = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "arguments"
        if item["type"] == "missing":
            problems.append(f"{where}: required")
            continue
        message = item["msg"].replace("Input should be", "should be")
        if item["type"] == "value_error":  # our own validators' words, without pydantic's prefix
            message = message.removeprefix("Value error, ")
        # A token or key is not echoed back, even a malformed one: the text may reach logs or a screen.
        sent = "a value not shown" if looks_secret(where) else _shown(item.get("input"))
        problems.append(f"{where}: {message} (got {sent})")
    return (
        f"INVALID_ARGUMENTS: {tool} was not run, nothing was done. "
        + "; ".join(problems)
        + ". Correct these arguments (tools/list has each one's type and limits) and call again."
    )


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."
