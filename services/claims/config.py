"""The claims service's knobs, from RCM_CLAIMS_* environment variables (or a .env file).

Built once in app.build() and passed to what needs it. What differs per payer (the
claim filing indicator, timely-filing days, days to pay) comes from the tenant's payer
directory (services/claims/payers.py), never from the payer id; the two ``*_default``
settings only serve a claim whose payer the directory lacks (it is held before it is
sent, but its filing clock still runs).

A payer day is a real day (86400 s). Outside production the demo, the tests and the
local stack compress it (``seconds_per_payer_day``, 4 s by default); with
``RCM_ENV=production`` setting it is refused.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from runtime.settings import ProductionRefused

REAL_DAY_S = 86400.0
DEV_PAYER_DAY_S = 4.0


class ClaimsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RCM_CLAIMS_", env_file=".env", extra="ignore")

    batch_max_claims: int = Field(default=25, ge=1, le=5000, description="Claims per interchange")
    batch_window_s: float = Field(
        default=0.2, ge=0, description="Longest a coded claim waits for others to share its 837P"
    )
    batch_tick_s: float = Field(
        default=1.0,
        gt=0,
        description="How often the batcher looks unprompted (batches and ripening wake it)",
    )

    ack_timeout_s: float = Field(default=60.0, gt=0, description="No 999/277CA by then: resend")
    ack_max_resends: int = Field(default=3, ge=0)

    env: str = Field(default="dev", validation_alias="RCM_ENV")
    seconds_per_payer_day: float = Field(
        default=DEV_PAYER_DAY_S,
        gt=0,
        description="Dev only: a payer day compressed for the 835 wait (refused in"
        " production, where a payer day is 86400 s)",
    )
    days_to_pay_default: int = Field(
        default=21, ge=1, le=365, description="Days to an 835 of a payer not in the directory"
    )
    max_status_inquiries: int = Field(default=3, ge=0, description="276s sent per adjudication")
    status_inquiries_per_tick: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="276s an instance sends a timer tick at most: a backlog of due inquiries"
        " goes out at this pace, never as a flood",
    )
    inquiry_timeout_s: float = Field(
        default=10.0, gt=0, le=20, description="One 276->277 round trip (CORE allows 20 s)"
    )

    timely_filing_days_default: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Days from service to file, for a payer not in the directory",
    )
    appeal_warn_days: int = Field(
        default=14,
        ge=0,
        le=365,
        description="Days before an appeal's deadline a drafted, unsent appeal is flagged",
    )
    filing_warn_days: str = Field(
        default="30,7", description="Warn this many days before the timely-filing deadline"
    )
    timer_tick_s: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _real_days_in_production(self) -> ClaimsSettings:
        if self.env == "production":
            if "seconds_per_payer_day" in self.model_fields_set:
                raise ProductionRefused(
                    [
                        "RCM_CLAIMS_SECONDS_PER_PAYER_DAY is a dev-only compression of time;"
                        " in production a payer day is a real day"
                    ]
                )
            self.seconds_per_payer_day = REAL_DAY_S
        return self

    @field_validator("filing_warn_days")
    @classmethod
    def _warn_days(cls, value: str) -> str:
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if not all(p.isdigit() for p in parts):
            raise ValueError(f"expected comma-separated day counts, got {value!r}")
        return value

    def remit_wait_s(self, days_to_pay: int | None) -> float:
        """The wait for an 835: the directory's days to pay (else the default), in payer days."""
        return (days_to_pay or self.days_to_pay_default) * self.seconds_per_payer_day

    def filing_days(self, timely_filing_days: int | None) -> int:
        return timely_filing_days or self.timely_filing_days_default

    def warn_days(self) -> list[int]:
        """Warning points, furthest first."""
        return sorted({int(p) for p in self.filing_warn_days.split(",") if p.strip()}, reverse=True)
