"""Settings, read once from the environment (``SALESBRIDGE_*``) and passed down; no module-level instance."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Process-wide settings."""

    model_config = SettingsConfigDict(env_prefix="SALESBRIDGE_", env_nested_delimiter="__")

    database_url: str = Field(default="sqlite:///salesbridge.db", description="SQLAlchemy URL of the store.")
    state_dir: Path = Field(default=Path(".sandbox"), description="Where the demo keeps sandbox.json.")
