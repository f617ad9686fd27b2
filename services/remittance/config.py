"""Remittance settings, from RCM_REMITTANCE_* environment variables (or a .env file)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RemittanceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RCM_REMITTANCE_", env_file=".env", extra="ignore")

    underpayment_threshold_cents: int = Field(
        default=100,
        ge=0,
        description="A line allowed below its contract by more than this is an underpayment"
        " work item, for a tenant that set no threshold of its own (rcm contracts threshold)",
    )
    rematch_seconds: float = Field(
        default=2.0, gt=0, description="How often CLPs waiting for their claim are tried again"
    )
