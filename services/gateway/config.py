"""Gateway settings, from RCM_GATEWAY_* environment variables (Kafka and PostgreSQL from RCM_*)."""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.states import ClaimState

PORT = 6100


# Demo time: claims move in seconds, a payer day is 4 s (RCM_CLAIMS_SECONDS_PER_PAYER_DAY).
# RECEIVED/ELIGIBLE/CODED: real-time eligibility, coding and the 0.2 s batch window should
# take seconds; SUBMITTED: the 999/277CA is resent every 60 s three times, so 5 minutes
# without an acknowledgement means the clearinghouse never answered; ACCEPTED: the slowest
# payer's 30 days (120 s) plus three 276 status inquiries; PAID/PARTIALLY_PAID: the
# statement (or closing) follows at once unless a secondary payer is pending; HELD,
# REJECTED and DENIED wait for a person: an hour. PATIENT_BILLED and CLOSED have no limit
# (patients pay in weeks: see A/R aging).
DEMO_STUCK_LIMITS = (
    "RECEIVED:60,ELIGIBLE:60,CODED:120,SUBMITTED:300,ACCEPTED:600,PAID:600,"
    "PARTIALLY_PAID:600,HELD:3600,REJECTED:3600,DENIED:3600"
)
# Real time (RCM_ENV=production, where a payer day is a day): the clearinghouse
# acknowledges within two days, the slowest payer pays within 45 days, a person looks at
# held, rejected and denied claims within two working days.
PRODUCTION_STUCK_LIMITS = (
    "RECEIVED:3600,ELIGIBLE:3600,CODED:7200,SUBMITTED:172800,ACCEPTED:3888000,"
    "PAID:259200,PARTIALLY_PAID:259200,HELD:172800,REJECTED:172800,DENIED:172800"
)


def parse_limits(text: str) -> dict[str, int]:
    """``"SUBMITTED:300,ACCEPTED:600"`` -> ``{"SUBMITTED": 300, "ACCEPTED": 600}``."""
    out: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        state, sep, value = part.partition(":")
        state = state.strip().upper()
        if not sep or state not in ClaimState.__members__ or not value.strip().isdigit():
            raise ValueError(f"expected STATE:SECONDS with a claim state, got {part!r}")
        if int(value) <= 0:
            raise ValueError(f"a limit is positive, got {part!r}")
        out[state] = int(value)
    return out


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_proxies(text: str) -> tuple[Network, ...]:
    """'10.0.0.0/8, 127.0.0.1' -> networks; raises ValueError naming a bad entry."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        if part:
            try:
                out.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ValueError(f"not an IP address or network: {part!r}") from None
    return tuple(out)


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RCM_GATEWAY_", env_file=".env", extra="ignore")

    port: int = PORT
    schema_name: str = Field(default="gateway", pattern=r"^[a-z_][a-z0-9_]{0,40}$")
    claims_schema: str = Field(default="claims", pattern=r"^[a-z_][a-z0-9_]{0,40}$")
    connector_schema: str = Field(default="connector", pattern=r"^[a-z_][a-z0-9_]{0,40}$")
    remittance_schema: str = Field(default="remittance", pattern=r"^[a-z_][a-z0-9_]{0,40}$")
    statements_schema: str = Field(default="statements", pattern=r"^[a-z_][a-z0-9_]{0,40}$")
    eligibility_schema: str = Field(
        default="eligibility",
        pattern=r"^[a-z_][a-z0-9_]{0,40}$",
        description="Where the front desk's checks are read (benefit_check_v1)",
    )
    max_body_bytes: int = Field(default=2_000_000, ge=1024, description="Largest request body")
    kafka_timeout_s: float = Field(default=10.0, gt=0, description="Wait this long for an ack")
    retry_after_s: int = Field(default=5, ge=1, description="Retry-After on 503")
    key_cache_s: float = Field(default=10.0, ge=0, description="How long a key lookup is cached")
    db_pool_max: int = Field(default=16, ge=2, le=100)
    topic_prefix: str = Field(
        default="", pattern=r"^[A-Za-z0-9._-]{0,60}$", description="Tests write to their own topics"
    )

    reporting_url: str = Field(
        default="http://127.0.0.1:6107",
        description="The reporting service (live KPIs); https:// outside one host",
    )
    reporting_timeout_s: float = Field(default=5.0, gt=0, le=60)
    coding_url: str = Field(
        default="http://127.0.0.1:6102",
        description="The coding service (the claim page's re-scrub preview); https:// outside"
        " one host",
    )
    coding_timeout_s: float = Field(default=3.0, gt=0, le=60)

    # --- ops routes and the dashboard (services/gateway/routes/ops.py) ---
    ops_cache_s: float = Field(
        default=3.0, ge=0, description="Ops answers (lag, funnel, ...) are reused this long"
    )
    ops_lag_group_prefix: str = Field(
        default="rcm-", pattern=r"^[A-Za-z0-9._-]{1,80}$", description="Consumer groups shown"
    )
    ops_lag_timeout_s: float = Field(default=15.0, gt=0, description="Longest a lag read takes")
    ops_stuck_limits: str = Field(
        default=DEMO_STUCK_LIMITS,
        description="STATE:SECONDS pairs: a claim in STATE longer than this is stuck."
        " The default is for the demo's compressed time (a payer day is 4 s), and with"
        " RCM_ENV=production for real days (PRODUCTION_STUCK_LIMITS)",
    )
    env: str = Field(default="dev", validation_alias="RCM_ENV")
    ops_throughput_minutes: int = Field(
        default=15, ge=1, le=240, description="Throughput per stage over this many minutes"
    )
    ops_session_s: int = Field(
        default=8 * 3600, ge=60, le=7 * 86400, description="Dashboard session cookie lifetime"
    )
    ops_ticket_s: int = Field(default=60, ge=5, le=600, description="One-time login link lifetime")

    # --- people: the billing office's sign-in and pages under /app/ (users.py, web.py) ---
    idle_s: int = Field(
        default=900,
        ge=30,
        le=86_400,
        description="A signed-in person is signed out after this idle",
    )
    user_session_s: int = Field(
        default=12 * 3600, ge=60, le=7 * 86400, description="A sign-in lasts at most this long"
    )
    lock_after: int = Field(
        default=5, ge=1, le=100, description="Failed sign-ins in a row that lock an account"
    )
    lock_s: int = Field(default=900, ge=10, le=86_400, description="How long a lock-out lasts")
    invite_s: int = Field(
        default=72 * 3600, ge=60, le=30 * 86400, description="How long an invite link works"
    )
    queue_page: int = Field(default=50, ge=5, le=500, description="Work-queue rows a page")

    # --- HTTP hardening (services/gateway/hardening.py) ---
    trusted_proxies: str = Field(
        default="",
        max_length=2000,
        description="IPs or networks (comma-separated) of the proxies in front of the gateway:"
        " only their X-Forwarded-For and X-Forwarded-Proto are believed. Empty: none",
    )
    auth_fail_burst: int = Field(
        default=20, ge=1, le=10_000, description="Failed authentications per client or key"
    )
    auth_fail_per_minute: int = Field(
        default=10, ge=1, le=100_000, description="How fast that allowance refills"
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        parse_proxies(value)
        return value

    @field_validator("ops_stuck_limits")
    @classmethod
    def _limits(cls, value: str) -> str:
        parse_limits(value)
        return value

    @model_validator(mode="after")
    def _real_days_in_production(self) -> GatewaySettings:
        if self.env == "production" and "ops_stuck_limits" not in self.model_fields_set:
            self.ops_stuck_limits = PRODUCTION_STUCK_LIMITS
        return self

    def stuck_limits(self) -> dict[str, int]:
        return parse_limits(self.ops_stuck_limits)
