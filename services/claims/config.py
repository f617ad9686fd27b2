"""The claims service's knobs, from RCM_CLAIMS_* environment variables (or a .env file).

Built once in app.build() and passed to what needs it. Payer days are compressed to seconds for the demo (``seconds_per_payer_day``); the
timely-filing deadline stays in real days from the date of service.

Per-payer values are written ``PREFIX:VALUE`` pairs, comma separated; the longest
prefix of the payer id wins and ``*`` is the default (``MCR:365,MCD:365,*:180``).
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def parse_per_payer(text: str) -> dict[str, int]:
    """``"MCR:365,*:180"`` -> ``{"MCR": 365, "*": 180}``; raises ValueError when malformed."""
    out: dict[str, int] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        prefix, sep, value = part.partition(":")
        if not sep or not prefix.strip() or not value.strip().isdigit():
            raise ValueError(f"expected PREFIX:DAYS, got {part!r}")
        out[prefix.strip().upper()] = int(value)
    if "*" not in out:
        raise ValueError(f"needs a '*' default: {text!r}")
    return out


def per_payer(table: dict[str, int], payer_id: str | None) -> int:
    """The value for a payer: the longest matching prefix, else the '*' default."""
    pid = (payer_id or "").upper()
    best = ""
    for prefix in table:
        if prefix != "*" and pid.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    return table[best or "*"]


@lru_cache(maxsize=1024)
def payer_value(text: str, payer_id: str | None) -> int:
    """``per_payer`` of the table written ``text``: asked for every claim's timers, so
    each table and payer is worked out once."""
    return per_payer(parse_per_payer(text), payer_id)


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

    seconds_per_payer_day: float = Field(
        default=4.0, gt=0, description="A payer day, compressed, for the 835 wait"
    )
    days_to_pay: str = Field(
        default="MCR:14,MCD:30,HDHP:10,*:21", description="The payer's usual days to an 835"
    )
    max_status_inquiries: int = Field(default=3, ge=0, description="276s sent per adjudication")
    inquiry_timeout_s: float = Field(default=10.0, gt=0)

    timely_filing_days: str = Field(
        default="MCR:365,MCD:365,*:180", description="Days from service to file, per payer"
    )
    filing_warn_days: str = Field(
        default="30,7", description="Warn this many days before the timely-filing deadline"
    )
    timer_tick_s: float = Field(default=1.0, gt=0)

    @field_validator("days_to_pay", "timely_filing_days")
    @classmethod
    def _per_payer(cls, value: str) -> str:
        parse_per_payer(value)
        return value

    @field_validator("filing_warn_days")
    @classmethod
    def _warn_days(cls, value: str) -> str:
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if not all(p.isdigit() for p in parts):
            raise ValueError(f"expected comma-separated day counts, got {value!r}")
        return value

    def remit_wait_s(self, payer_id: str | None) -> float:
        return payer_value(self.days_to_pay, payer_id) * self.seconds_per_payer_day

    def filing_days(self, payer_id: str | None) -> int:
        return payer_value(self.timely_filing_days, payer_id)

    def warn_days(self) -> list[int]:
        """Warning points, furthest first."""
        return sorted({int(p) for p in self.filing_warn_days.split(",") if p.strip()}, reverse=True)
