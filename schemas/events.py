"""The pipeline's core events: one pydantic model per event type and major version.

More event types live in sibling modules named ``events_*.py``; schemas.registry
finds them all.

The CloudEvents type carries the major version (``rcm.claim.coded.v1``). Within a
major version, changes are additive only; consumers ignore unknown fields.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

from pydantic import Field, model_validator

from schemas.common import (
    Adjustment,
    Cents,
    Contract,
    Coverage,
    Documentation,
    Finding,
    HoldReason,
    IcdCode,
    Modifier,
    PayerReference,
    Person,
    ProcCode,
    Provider,
    ServiceLine,
    SignedCents,
)


class Event(Contract):
    """An event body. Subclasses name their CloudEvents type, topic and key field."""

    TYPE: ClassVar[str]
    TOPIC: ClassVar[str]
    KEY_FIELD: ClassVar[str]

    def key(self) -> str:
        return str(getattr(self, self.KEY_FIELD))


class EncounterCreated(Event):
    TYPE = "rcm.encounter.created.v1"
    TOPIC = "encounter.created"
    KEY_FIELD = "encounter_id"

    encounter_id: str = Field(min_length=1, max_length=64)
    patient: Person
    guarantor: Person | None = Field(
        default=None, description="Responsible party if not the patient"
    )
    coverages: list[Coverage] = Field(default_factory=list, max_length=3)
    rendering_provider: Provider
    billing_provider: Provider
    facility: Provider | None = None
    place_of_service: str = Field(pattern=r"^\d{2}$")
    date_of_service: dt.date
    diagnoses: list[IcdCode] = Field(min_length=1, max_length=12)
    lines: list[ServiceLine] = Field(min_length=1, max_length=50)
    documentation: Documentation
    prior_authorization: PayerReference | None = Field(
        default=None,
        description="The payer's prior-authorization number for the visit (837 2300"
        " REF*G1); since contract 1.1",
    )
    referral_number: PayerReference | None = Field(
        default=None,
        description="The referring provider's referral number (837 2300 REF*9F); since"
        " contract 1.1",
    )

    @model_validator(mode="after")
    def _lines_point_at_known_diagnoses(self) -> EncounterCreated:
        known = set(self.diagnoses)
        for n, line in enumerate(self.lines, start=1):
            missing = [c for c in line.diagnosis_codes if c not in known]
            if missing:
                raise ValueError(f"line {n} points at diagnoses not on the encounter: {missing}")
        return self


class EligibilityChecked(Event):
    TYPE = "rcm.eligibility.checked.v1"
    TOPIC = "eligibility.checked"
    KEY_FIELD = "encounter_id"

    claim_id: str
    encounter_id: str
    active: bool | None = Field(description="None when the payer could not say")
    self_pay: bool = False
    payer_id: str | None = None
    payer_name: str | None = None
    plan: str | None = None
    member_id: str | None = None
    copay_cents: Cents | None = None
    deductible_remaining_cents: Cents | None = None
    coinsurance_percent: Decimal | None = Field(default=None, ge=0, le=100)
    out_of_pocket_remaining_cents: Cents | None = None
    reasons: list[str] = Field(default_factory=list)
    encounter: EncounterCreated


class ClaimLine(Contract):
    line_number: int = Field(ge=1, le=50)
    procedure_code: ProcCode
    modifiers: list[Modifier] = Field(default_factory=list, max_length=4)
    units: int = Field(ge=1, le=999)
    charge_cents: Cents
    diagnosis_pointers: list[int] = Field(min_length=1, max_length=4)
    service_date: dt.date
    prior_authorization: PayerReference | None = Field(
        default=None, description="2400 REF*G1 when it differs from the claim's; since 1.1"
    )
    referral_number: PayerReference | None = Field(
        default=None, description="2400 REF*9F when it differs from the claim's; since 1.1"
    )


class ClaimCoded(Event):
    TYPE = "rcm.claim.coded.v1"
    TOPIC = "claim.coded"
    KEY_FIELD = "claim_id"

    claim_id: str
    encounter_id: str
    patient_control_number: str = Field(min_length=1, max_length=20, description="CLM01")
    self_pay: bool = False
    payer_id: str | None = None
    payer_name: str | None = None
    coverage: Coverage | None = None
    patient: Person
    billing_provider: Provider
    rendering_provider: Provider
    place_of_service: str = Field(pattern=r"^\d{2}$")
    date_of_service: dt.date
    diagnoses: list[IcdCode] = Field(min_length=1, max_length=12)
    lines: list[ClaimLine] = Field(min_length=1, max_length=50)
    total_charge_cents: Cents
    findings: list[Finding] = Field(default_factory=list)
    prior_authorization: PayerReference | None = Field(
        default=None, description="2300 REF*G1, the payer's authorization number; since 1.1"
    )
    referral_number: PayerReference | None = Field(
        default=None, description="2300 REF*9F, the referral number; since 1.1"
    )

    @model_validator(mode="after")
    def _total_is_sum_of_lines(self) -> ClaimCoded:
        total = sum(line.charge_cents for line in self.lines)
        if total != self.total_charge_cents:
            raise ValueError(f"total_charge_cents {self.total_charge_cents} != lines {total}")
        for line in self.lines:
            if any(p < 1 or p > len(self.diagnoses) for p in line.diagnosis_pointers):
                raise ValueError(f"line {line.line_number} has a pointer past the diagnoses")
        return self


class Stage(StrEnum):
    eligibility = "eligibility"
    coding = "coding"
    claims = "claims"
    clearinghouse = "clearinghouse"
    remittance = "remittance"


class ClaimHeld(Event):
    TYPE = "rcm.claim.held.v1"
    TOPIC = "claim.held"
    KEY_FIELD = "claim_id"

    claim_id: str
    encounter_id: str
    stage: Stage
    reasons: list[HoldReason] = Field(min_length=1)
    findings: list[Finding] = Field(default_factory=list)


class ClaimSubmitted(Event):
    TYPE = "rcm.claim.submitted.v1"
    TOPIC = "claim.submitted"
    KEY_FIELD = "claim_id"

    claim_id: str
    patient_control_number: str
    payer_id: str
    interchange_control_number: str = Field(pattern=r"^\d{9}$")
    group_control_number: str = Field(pattern=r"^\d{1,9}$")
    transaction_control_number: str = Field(pattern=r"^\d{4,9}$")
    frequency_code: str = Field(pattern=r"^[178]$")
    total_charge_cents: Cents
    x12: str = Field(min_length=100, description="The 837P interchange text")


class AckKind(StrEnum):
    ack_999 = "999"
    ack_277ca = "277CA"


class ClaimAcknowledged(Event):
    TYPE = "rcm.claim.acknowledged.v1"
    TOPIC = "claim.acknowledged"
    KEY_FIELD = "claim_id"

    claim_id: str
    patient_control_number: str
    kind: AckKind
    accepted: bool
    errors: list[HoldReason] = Field(default_factory=list)
    x12: str


class RemitReceived(Event):
    TYPE = "rcm.remit.received.v1"
    TOPIC = "remit.received"
    KEY_FIELD = "trace_number"

    trace_number: str = Field(min_length=1, max_length=50, description="TRN02")
    payer_id: str
    source: str = Field(description="Where the file came from: clearinghouse, sftp path, upload")
    x12: str = Field(min_length=50)
    shared: bool = Field(
        default=False,
        description="From a mailbox several tenants share: the tenant is the account's, and"
        " remittance routes the file to the tenant its claims (CLP01) were sent for",
    )


class AdjudicationStatus(StrEnum):
    paid = "paid"
    partially_paid = "partially_paid"
    denied = "denied"
    reversed = "reversed"


class AdjudicatedLine(Contract):
    line_number: int = Field(ge=1)
    procedure_code: str
    modifiers: list[str] = Field(default_factory=list)
    units: int = Field(default=1, ge=0)
    charge_cents: SignedCents
    allowed_cents: SignedCents | None = None
    paid_cents: SignedCents
    adjustments: list[Adjustment] = Field(default_factory=list)
    remarks: list[str] = Field(default_factory=list, description="RARC codes")


class ClaimAdjudicated(Event):
    TYPE = "rcm.claim.adjudicated.v1"
    TOPIC = "claim.adjudicated"
    KEY_FIELD = "claim_id"

    claim_id: str
    patient_control_number: str
    payer_id: str
    payer_claim_number: str | None = None
    trace_number: str
    payment_date: dt.date | None = None
    status: AdjudicationStatus
    claim_status_code: str = Field(description="CLP02")
    charge_cents: SignedCents
    paid_cents: SignedCents
    patient_responsibility_cents: SignedCents
    adjustments: list[Adjustment] = Field(default_factory=list, description="Claim and line CAS")
    lines: list[AdjudicatedLine] = Field(default_factory=list)
    denial_category: str | None = Field(
        default=None, pattern=r"^(correctable|appealable|write_off)$"
    )
    crossed_over: bool = Field(
        default=False,
        description="The payer forwarded the claim to the next payer itself (835 NM1*TT,"
        " RARC MA18 or N89): no claim is sent to that payer, its 835 is awaited",
    )
    crossover_payer: str | None = Field(
        default=None, max_length=60, description="NM1*TT03: the payer it was crossed over to"
    )

    @property
    def adjusted_cents(self) -> int:
        """Adjustments other than patient responsibility (CO, OA, PI)."""
        return sum(a.amount_cents for a in self.adjustments if a.group != "PR")


class StatementIssued(Event):
    TYPE = "rcm.statement.issued.v1"
    TOPIC = "statement.issued"
    KEY_FIELD = "guarantor_id"

    guarantor_id: str
    statement_id: str
    claim_ids: list[str] = Field(min_length=1)
    balance_cents: SignedCents
    aging_bucket: str = Field(pattern=r"^(0-30|31-60|61-90|91-120|120\+)$")
    statement_date: dt.date
    due_date: dt.date


__all__ = [
    "AckKind",
    "AdjudicatedLine",
    "AdjudicationStatus",
    "Adjustment",
    "Cents",
    "ClaimAcknowledged",
    "ClaimAdjudicated",
    "ClaimCoded",
    "ClaimHeld",
    "ClaimLine",
    "ClaimSubmitted",
    "EligibilityChecked",
    "EncounterCreated",
    "Event",
    "Finding",
    "HoldReason",
    "RemitReceived",
    "ServiceLine",
    "Stage",
    "StatementIssued",
]
