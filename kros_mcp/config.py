"""Settings, read once from the environment and passed down; nothing else reads os.environ."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from .krosai.client import DEFAULT_BASE_URL

__all__ = ["Settings", "default_data_dir"]


def default_data_dir() -> Path:
    """The user's data directory for kros-mcp (e.g. ~/.local/share/kros-mcp on Linux)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("kros-mcp", appauthor=False))


class Settings(BaseSettings):
    """kros-mcp configuration. Environment variable names are given as aliases."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    krosai_api_key: SecretStr | None = Field(
        default=None,
        alias="KROSAI_API_KEY",
        description="KrosAI API key (kros_live_... or kros_test_...). Unset: the embedded sandbox is used.",
    )
    krosai_base_url: str = Field(
        default=DEFAULT_BASE_URL, alias="KROSAI_BASE_URL", description="KrosAI API base URL."
    )
    krosai_timeout: float = Field(
        default=20.0, gt=0, le=300, alias="KROSAI_TIMEOUT",
        description="Seconds to wait for one KrosAI answer.",
    )
    krosai_deadline: float = Field(
        default=60.0, gt=0, le=900, alias="KROSAI_DEADLINE",
        description="Seconds one KrosAI call may take in all, retries included.",
    )
    data_dir: Path = Field(
        default_factory=default_data_dir, alias="KROS_MCP_DATA_DIR",
        description="Where the sandbox database and local state live.",
    )

    @property
    def sandbox_db_path(self) -> Path:
        return self.data_dir / "sandbox.sqlite3"

    @property
    def uses_sandbox(self) -> bool:
        return self.krosai_api_key is None or not self.krosai_api_key.get_secret_value().strip()
