"""Statement settings, from RCM_STATEMENTS_* environment variables (or a .env file).

Built once in ``app.build`` and passed to the handlers and the cycle timer."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import Field, PrivateAttr, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.statements.payer_kinds import read_filing_indicators
from services.statements.practice import PracticeConfig


class StatementSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RCM_STATEMENTS_", env_file=".env", extra="ignore")

    # The statement header and how to pay (services/statements/practice.py): per tenant,
    # else for the whole deployment, else from the billing provider on the claim.
    practices: dict[str, PracticeConfig] = Field(
        default_factory=dict,
        description="Per tenant, JSON: {tenant: {name, street, city_line, phone, "
        "billing_contact, hours, pay_url, logo}}; any field left out comes from below",
    )
    practice_name: str | None = None
    practice_street: str | None = None
    practice_city_line: str | None = None
    practice_phone: str | None = None
    billing_contact: str | None = None
    billing_hours: str | None = None
    pay_url: str | None = None

    payers_file: Path | None = Field(
        default=None,
        description="A payer directory CSV (what `rcm payers import` takes): its payer_id and"
        " filing_indicator say which coverages are Medicare (MA, MB) and Medicaid (MC) for the"
        " QMB rule, when the encounter's coverage does not carry its filing indicator",
    )
    _filing: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _read_payers(self) -> StatementSettings:
        if self.payers_file is not None:
            self._filing = read_filing_indicators(self.payers_file)
        return self

    def filing_indicators(self) -> dict[str, str]:
        """payer id -> claim filing indicator, from ``payers_file`` (empty without it)."""
        return self._filing

    # When statements go out.
    cycle_days: int = Field(default=30, ge=1, le=365, description="Days between statements")
    due_days: int = Field(default=30, ge=0, le=120, description="Statement date to due date")
    min_balance_cents: int = Field(
        default=0,
        ge=0,
        description="No statement while the account owes less than this (0: any amount owed)",
    )
    collections_after_days: int = Field(
        default=120, ge=30, description="Flag the account for collections past this age"
    )
    poll_seconds: float = Field(default=5.0, gt=0, description="How often the cycle timer looks")

    # Coordination of benefits.
    hold_for_secondary: bool = Field(
        default=True,
        description="Hold the patient's bill while a later coverage on the encounter has not "
        "adjudicated a claim the claims service sent on to it (coordination of benefits)",
    )
    secondary_wait_days: int = Field(
        default=45, ge=0, le=365, description="How long a held claim waits for the next payer"
    )

    pdf_batch: int = Field(
        default=20, ge=0, le=1000, description="Statement PDFs rendered a run (pdfs.py); 0: off"
    )
    pdf_poll_s: float = Field(
        default=5.0, gt=0, description="How often new statements' PDFs are rendered"
    )
    pdf_idle_s: float = Field(
        default=15.0,
        ge=0,
        description="PDFs are rendered once the instance has applied no batch for this "
        "long (longer than the gaps a burst leaves, so a burst is not slowed by them)",
    )
    pdf_background: bool = Field(
        default=True,
        description="Render in a worker process at the lowest CPU priority (nice 19); "
        "false: in the service's own process",
    )
    pdf_max_wait_s: float = Field(
        default=300.0,
        gt=0,
        description="A statement whose PDF has waited this long gets it even while busy",
    )

    # Adjustments, write-offs, refunds (services/statements/commands.py) and collections.
    approval_limits_cents: dict[str, int] = Field(
        default_factory=lambda: {"work": 50_000, "admin": 10**11},
        description="Per role (the gateway's key scope), JSON: the largest write-off, "
        "transfer or refund it posts alone; above it a request waits for someone else's "
        "approval whose role's limit covers it. A role not named: every request waits",
    )
    small_balance_cents: dict[str, int] = Field(
        default_factory=dict,
        description="Per tenant, JSON: a balance below this, when the account is billed, "
        "is written off (reason SMALL-BALANCE) instead; a tenant not named: the default",
    )
    small_balance_default_cents: int = Field(default=0, ge=0, description="0: never")
    collections_min_cents: dict[str, int] = Field(
        default_factory=dict,
        description="Per tenant, JSON: the least an account flagged for collections must "
        "owe to be placed with the agency; a tenant not named: the default",
    )
    collections_min_default_cents: int = Field(default=2_500, ge=1)
    collections_grace_days: int = Field(
        default=14, ge=0, le=120, description="Days after the final notice before placing"
    )

    def small_balance_for(self, tenant: str) -> int:
        return self.small_balance_cents.get(tenant, self.small_balance_default_cents)

    def collections_min_for(self, tenant: str) -> int:
        return self.collections_min_cents.get(tenant, self.collections_min_default_cents)

    # Self-pay.
    self_pay_discount_percent: Decimal = Field(default=Decimal("20"), ge=0, le=100)

    # Descriptions.
    cpt_descriptions_file: Path | None = Field(
        default=None, description="A licensed CPT file (CSV code,description); codes only without"
    )

    # Delivery (services/statements/delivery.py): an email with a link for a guarantor who
    # chose paperless statements, else a print-and-mail vendor's batch.
    delivery_poll_s: float = Field(default=5.0, gt=0, description="How often delivery looks")
    delivery_batch: int = Field(default=200, ge=1, le=5000, description="Statements a run takes")
    smtp_host: str | None = Field(default=None, description="Outgoing mail; none: all on paper")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = Field(default=True, description="STARTTLS before any credentials")
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    mail_from: str = Field(
        default="statements@localhost", max_length=254, description="The emails' From address"
    )
    portal_url: str = Field(
        default="http://127.0.0.1:6100/statements/view/",
        description="Where a statement email's link points: the gateway's statement page, "
        "the link's token appended",
    )
    link_days: int = Field(default=60, ge=1, le=365, description="How long an email's link works")
    email_attempts: int = Field(
        default=5, ge=1, le=20, description="Tries before a statement goes on paper instead"
    )
    print_dir: Path | None = Field(
        default=None,
        description="Where print batches are written: <tenant>/<batch>/ with each statement's "
        "PDF and manifest.csv, for the print-and-mail vendor to collect. Statements are "
        "delivered only once this is set (paper is every statement's last resort); until "
        "then they wait, queued",
    )

    def deployment_practice(self) -> PracticeConfig:
        """The practice fields set for the whole deployment (a one-practice install)."""
        return PracticeConfig(
            name=self.practice_name,
            street=self.practice_street,
            city_line=self.practice_city_line,
            phone=self.practice_phone,
            billing_contact=self.billing_contact,
            hours=self.billing_hours,
            pay_url=self.pay_url,
        )
