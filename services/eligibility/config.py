"""Eligibility settings, from RCM_ELIGIBILITY_* environment variables (or .env)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class EligibilitySettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RCM_ELIGIBILITY_", env_file=".env", extra="ignore"
    )

    realtime: bool = Field(
        default=True, description="Verify with the payer (270/271); off: decide from the registry"
    )
    reuse_s: float = Field(
        default=3600.0, ge=0, description="Reuse a 271 for the same member, payer and date"
    )
    timeout_s: float = Field(
        default=5.0, gt=0, le=20, description="One 270->271 round trip (CORE allows 20 s)"
    )
    max_attempts: int = Field(default=10, ge=1, description="Then hold the claim")
    backoff_s: float = Field(default=0.25, ge=0, description="First retry delay; doubles")
    backoff_max_s: float = Field(default=30.0, ge=0)
    poll_s: float = Field(
        default=0.25,
        gt=0,
        description="How often due retries are looked for; new checks are asked at once",
    )
    claims_schema: str = Field(
        default="claims",
        pattern=r"^[a-z_][a-z0-9_]{0,40}$",
        description="Where the payer directory's view payer_v1 is read (realtime_270)",
    )
    batch: int = Field(default=200, ge=1, description="Checks claimed per timer run")
    concurrency: int = Field(default=32, ge=1, description="Calls in flight per timer run")

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt ``attempts + 1``."""
        return float(min(self.backoff_max_s, self.backoff_s * 2 ** max(0, attempts - 1)))
