"""Reporting settings, from RCM_REPORTING_* environment variables (or a .env file)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ReportingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RCM_REPORTING_", env_file=".env", extra="ignore")

    hours_kept: int = Field(
        default=72, ge=1, le=24 * 31, description="Hourly windows kept (older ones expire)"
    )
    days_kept: int = Field(
        default=400, ge=1, le=3650, description="Daily windows kept (older ones expire)"
    )
    app_id: str = Field(
        default="rcm-reporting",
        pattern=r"^[a-z][a-z0-9-]{0,60}$",
        description="Consumer group and the prefix of the tables' changelog topics",
    )
    source_topics: list[str] = Field(
        default=["claim.submitted", "claim.acknowledged", "claim.adjudicated"],
        min_length=1,
        description="Where the claim events are read (a replay or staging copy may differ);"
        " a record that cannot be decoded goes to its topic's .dlq twin",
    )
    changelog_buffer: int = Field(
        default=5000, ge=100, le=1_000_000, description="Table writes queued before the agent waits"
    )
    stall_check_s: float = Field(
        default=30.0,
        ge=1,
        le=3600,
        description="How often the worker looks for a source partition that stopped moving"
        " with records behind it, and reads it again (services/reporting/watchdog.py)",
    )
    commit_interval_s: float = Field(
        default=1.0, gt=0, le=60, description="How often consumed offsets are committed"
    )
