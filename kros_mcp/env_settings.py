"""Settings read from the environment, the way pydantic-settings reads them, without its start-up
cost (it imports its command-line, dotenv and cloud-secret sources, tens of milliseconds, at every
start; kros-mcp uses none of them).

A field is read from the variable its alias names, in any case; an empty variable counts as unset;
keyword arguments (by field name or alias) win over the environment. The value is the string as
given, validated by the field's type (pydantic's lax mode: "true"/"1" for a bool, "20" for a
number), except that lists, sets, tuples, dicts and models are read as JSON, as pydantic-settings
reads them.
"""

from __future__ import annotations

import json
import os
import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic.fields import FieldInfo

__all__ = ["EnvSettings"]

_COMPLEX = (list, set, frozenset, tuple, dict)


class EnvSettings(BaseModel):
    """Base class for settings: fields come from the environment unless given as arguments."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _read_environment(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        environ = {name.lower(): value for name, value in os.environ.items()}
        found: dict[str, Any] = {}
        for name, field in cls.model_fields.items():
            alias = field.alias or name
            if name in data or alias in data:
                continue
            value = environ.get(alias.lower())
            if value:  # unset or empty: the default
                found[alias] = _decode(field, value)
        return {**found, **data}


def _decode(field: FieldInfo, value: str) -> Any:
    """JSON for a field of a complex type (as pydantic-settings does), else the string itself."""
    if not _is_complex(field.annotation):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # validation then says what was expected


def _is_complex(annotation: Any) -> bool:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_is_complex(a) for a in typing.get_args(annotation) if a is not type(None))
    origin = typing.get_origin(annotation) or annotation
    if typing.get_origin(annotation) is typing.Annotated:
        return _is_complex(typing.get_args(annotation)[0])
    return isinstance(origin, type) and (
        issubclass(origin, _COMPLEX) or issubclass(origin, BaseModel)
    )
