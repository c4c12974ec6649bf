"""Settings read the environment exactly as pydantic-settings would: a twin of Settings built on
pydantic-settings' BaseSettings gets the same values (or the same refusal) for each environment."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, SecretStr, ValidationError, create_model, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kros_mcp.config import Settings
from kros_mcp.env_settings import EnvSettings


def _no_info(func: Any) -> Any:
    """A validator taking just the value (the class-bound original, called as is)."""

    def validate(value: Any) -> Any:
        return func(value)

    return validate


def _twin(model: type[BaseModel]) -> type[BaseSettings]:
    """`model`'s fields and field validators on pydantic-settings' BaseSettings."""
    fields: dict[str, Any] = {
        name: (field.annotation, field) for name, field in model.model_fields.items()
    }
    validators = {
        name: field_validator(*d.info.fields, mode=d.info.mode)(_no_info(d.func))  # type: ignore[call-overload]
        for name, d in model.__pydantic_decorators__.field_validators.items()
    }
    twin = create_model(  # type: ignore[call-overload]
        f"{model.__name__}Twin",
        __base__=BaseSettings,
        __config__=None,
        __validators__=validators,
        **fields,
    )
    twin.model_config = SettingsConfigDict(
        extra="ignore", populate_by_name=True, env_ignore_empty=True
    )
    twin.model_rebuild(force=True)
    return twin  # type: ignore[no-any-return]


ENVIRONMENTS: list[dict[str, str]] = [
    {},
    {"KROSAI_API_KEY": " kros_live_abc \n", "KROSAI_TIMEOUT": "7.5"},
    {"kros_mcp_read_only": "true", "Kros_Mcp_Tools": "list_numbers,get_number"},
    {"KROS_MCP_READ_ONLY": "1", "KROS_MCP_MAX_MONTHLY_COST_CENTS": "500"},
    {"KROS_MCP_TOOLS": "", "KROS_MCP_CONFIRMATION": "human", "KROS_MCP_DATA_DIR": "/tmp/x"},
    {"KROS_MCP_TOOL_RATE_LIMIT": "2.5", "KROS_MCP_LOG_FORMAT": "json"},
    {"KROS_MCP_RESULT_TEXT": "json", "KROS_MCP_MULTI_TENANT": "yes"},
    {"KROS_MCP_READ_ONLY": "maybe"},
    {"KROSAI_TIMEOUT": "0"},
    {"KROS_MCP_CONFIRMATION": "sometimes"},
]


def _outcome(cls: type[BaseModel], **arguments: Any) -> Any:
    try:
        values = cls(**arguments).model_dump()
        return {
            k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in values.items()
        }
    except ValidationError as exc:
        return sorted((str(e["loc"]), e["type"]) for e in exc.errors())


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_environment_reads_as_pydantic_settings_reads_it(
    environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(__import__("os").environ):
        if name.upper().startswith(("KROS_MCP_", "KROSAI_")):
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    twin = _twin(Settings)
    assert _outcome(Settings) == _outcome(twin)
    # Arguments (by name or by alias) win over the environment, on both.
    for arguments in ({"read_only": False}, {"KROS_MCP_READ_ONLY": False}, {"offer_ttl": 120}):
        assert _outcome(Settings, **arguments) == _outcome(twin, **arguments)


class _Complex(EnvSettings):
    hosts: list[str] | None = None
    limits: dict[str, int] | None = None
    name: str = "x"


def test_lists_and_dicts_are_read_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTS", '["a", "b"]')
    monkeypatch.setenv("LIMITS", '{"x": 1}')
    monkeypatch.setenv("NAME", '["not json for a str"]')
    assert _outcome(_Complex) == _outcome(_twin(_Complex))
    assert _Complex().hosts == ["a", "b"]
    monkeypatch.setenv("HOSTS", "a,b")
    with pytest.raises(ValidationError):
        _Complex()


def test_starting_imports_none_of_what_serving_does_not_need(tmp_path: Any) -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from kros_mcp.cli.logs import configure_logging\n"
        "from kros_mcp.cli.wiring import build_server\n"
        "configure_logging()\n"
        "build_server()\n"
        "print(*(m in sys.modules for m in ('pydantic_settings', 'dotenv', 'rich', 'phonenumbers')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "KROS_MCP_DATA_DIR": str(tmp_path)},
    )
    assert done.stdout.split() == ["False", "False", "False", "False"]
