"""Remittance settings, from RCM_REMITTANCE_* environment variables (or .env)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RemittanceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RCM_REMITTANCE_", env_file=".env", extra="ignore")

    match_grace_s: float = Field(
        default=60.0,
        ge=0,
        description=(
            "A CLP whose CLP01 names no claim we know waits this long before it may be"
            " matched by patient, date and charge: its own claim.submitted may still be"
            " on its way, and a look-alike claim must not take its payment"
        ),
    )


@lru_cache(maxsize=1)
def remittance_settings() -> RemittanceSettings:
    return RemittanceSettings()
