"""The gateway's request bodies and the answers of its intake, claim and KPI routes.

Answers are declared so the published OpenAPI says what each route returns (and
schemathesis checks every body against it); they forbid fields they do not name.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.common import Coverage, HoldReason, IcdCode, Person, ServiceLine

# --- request bodies -------------------------------------------------------------------


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CodesFix(Strict):
    diagnoses: list[IcdCode] = Field(min_length=1, max_length=12)
    lines: list[ServiceLine] = Field(min_length=1, max_length=50)


class CoverageFix(Strict):
    coverages: list[Coverage] = Field(max_length=3, description="Empty: self-pay")


class DemographicsFix(Strict):
    patient: Person | None = None
    guarantor: Person | None = None


class CoverageRow(Strict):
    patient_id: str = Field(min_length=1, max_length=64)
    coverage: Coverage


class CoverageUpload(Strict):
    """Up to 1,000 coverages; all are checked before any is sent."""

    coverages: list[CoverageRow] = Field(min_length=1, max_length=1000)


class ClaimVoid(Strict):
    """Why the claim is voided (kept on the claim's timeline and in the audit log)."""

    reason: str = Field(min_length=1, max_length=500)


class ClaimFix(Strict):
    """What a person corrected. Codes re-enter at coding; coverage or demographics at
    eligibility (and so does any fix of a claim that never passed eligibility)."""

    codes: CodesFix | None = None
    coverage: CoverageFix | None = None
    demographics: DemographicsFix | None = None
    note: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _something(self) -> ClaimFix:
        d = self.demographics
        if (
            self.codes is None
            and self.coverage is None
            and (d is None or (d.patient is None and d.guarantor is None))
        ):
            raise ValueError("a fix changes codes, coverage or demographics")
        return self

    def changes(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.codes is not None:
            out["diagnoses"] = list(self.codes.diagnoses)
            out["lines"] = [x.model_dump(mode="json") for x in self.codes.lines]
        if self.coverage is not None:
            out["coverages"] = [c.model_dump(mode="json") for c in self.coverage.coverages]
        if self.demographics is not None:
            if self.demographics.patient is not None:
                out["patient"] = self.demographics.patient.model_dump(mode="json")
            if self.demographics.guarantor is not None:
                out["guarantor"] = self.demographics.guarantor.model_dump(mode="json")
        return out


# --- answers ------------------------------------------------------------------------------


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Health(Answer):
    service: Literal["gateway"]
    ok: bool
    kafka: bool


class Accepted(Answer):
    encounter_id: str
    claim_id: str
    status: str = Field(description="accepted, or duplicate when it had come already")


class EncounterResult(Answer):
    """One encounter of a FHIR bundle: accepted, held (with why), duplicate or conflict."""

    encounter_id: str
    claim_id: str
    status: Literal["accepted", "held", "duplicate", "conflict"]
    reasons: list[HoldReason] = Field(default_factory=list)


class FhirHold(Answer):
    encounter: str
    reason: str


class FhirAccepted(Answer):
    encounters: int
    accepted: int
    held: int
    holds: list[FhirHold]
    providers: int = Field(
        description="Organization, Practitioner and Location entries of the bundle, upserted"
        " to the tenant's provider directory (not on a dry run)"
    )
    results: list[EncounterResult]
    dry_run: bool


class ProviderAddress(Answer):
    line1: str
    line2: str | None = None
    city: str
    state: str
    postal_code: str


class DirectoryProvider(Answer):
    kind: Literal["organization", "practitioner", "location"]
    npi: str | None
    name: str = Field(description="Organization or location name; a practitioner's family name")
    first_name: str | None
    taxonomy: str | None = Field(description="NUCC provider taxonomy code")
    tax_id: str | None
    address: ProviderAddress | None
    fhir_type: str
    fhir_id: str
    updated_at: str = Field(description="When an import last changed the entry (ISO 8601)")


class ProviderDirectory(Answer):
    providers: list[DirectoryProvider]


class DirectoryPayer(Answer):
    payer_id: str
    name: str
    filing_indicator: str = Field(description="837 SBR09 (X12 1032): MB, MC, CI, 12, ...")
    clp06_kind: str | None = Field(description="The payer's 835 CLP06, when it differs")
    route_account: str | None = Field(description="The clearinghouse account")
    route_transport: str | None = Field(description="The transport (text until built)")
    realtime_270: bool
    realtime_276: bool
    timely_filing_days: int
    days_to_pay: int
    enroll_claims: Literal["enrolled", "pending", "not_enrolled", "not_required"]
    enroll_era: Literal["enrolled", "pending", "not_enrolled", "not_required"]
    enroll_eft: Literal["enrolled", "pending", "not_enrolled", "not_required"]
    active: bool = Field(description="False once an import no longer lists the payer")
    updated_at: str = Field(description="When an import last changed the entry (ISO 8601)")


class PayerDirectory(Answer):
    payers: list[DirectoryPayer]


class FileReceived(Answer):
    sha256: str
    name: str
    status: Literal["received"]
    receipt: str = Field(description="Where the connector's outcome for it is read")


class FileReceipt(Answer):
    name: str
    account: str = Field(description="The SFTP account it came from; '' for an import/upload")
    outcome: Literal["accepted", "duplicate", "rejected"]
    reason: str
    kind: str | None
    at: str


class FileReceipts(Answer):
    sha256: str
    receipts: list[FileReceipt]


class CoveragesAccepted(Answer):
    accepted: int
    status: Literal["accepted"]


class PaymentAccepted(Answer):
    payment_id: str
    status: Literal["accepted"]


class FixAccepted(Answer):
    claim_id: str
    encounter_id: str
    reenter: str = Field(description="Where the claim re-enters: coding or eligibility")
    changed: list[str]
    status: Literal["accepted"]


class VoidAccepted(Answer):
    claim_id: str
    frequency_code: Literal["8"]
    status: Literal["accepted"]


class ClaimRow(Answer):
    claim_id: str
    encounter_id: str | None
    state: str
    hold_stage: str | None
    self_pay: bool | None
    payer_id: str | None
    patient_control_number: str | None
    date_of_service: str | None
    total_charge_cents: int | None
    paid_cents: int | None
    adjusted_cents: int | None
    patient_responsibility_cents: int | None
    payer_claim_number: str | None
    frequency_code: str | None
    created_at: str | None
    state_since: str | None


class TimelineEntry(Answer):
    at: str
    event_type: str
    kind: str
    from_state: str | None
    to_state: str | None
    detail: Any


class Claim(ClaimRow):
    timeline: list[TimelineEntry]


class ClaimPage(Answer):
    items: list[ClaimRow]
    next: str | None = Field(description="Pass as `after` for the next page; null at the end")


class QueuedClaim(ClaimRow):
    fixable_here: bool
    reason_event: str | None
    reasons: list[Any]
    adjustments: list[Any] | None = Field(default=None, description="denials only")
    denial_category: str | None = Field(default=None, description="denials only")


class UnmatchedPayment(Answer):
    kind: Literal["unmatched_payment"]
    id: int
    payer_id: str | None
    trace_number: str | None
    patient_control_number: str | None
    payer_claim_number: str | None
    status_code: str | None
    amount_cents: int | None
    charge_cents: int | None
    reason: str | None
    service_date: str | None
    received_at: str | None


class UnpostedRemit(Answer):
    """An 835 not posted (unbalanced, unreadable, or quarantined: a payment trace posted
    before from a file that stated it otherwise), or posted with warnings to review
    (``warned_remit``: the faults its reader read through)."""

    kind: Literal["unbalanced_remit", "unreadable_remit", "quarantined_remit", "warned_remit"]
    id: int
    payer_id: str | None
    trace_number: str | None
    source: str | None
    status: str
    problems: Any
    received_at: str | None
    warnings: Any = None


class LineDenial(Answer):
    """A denied or reduced line (or claim-level adjustment, line 0) to work: its codes in
    words, its category and what to do (remittance's ``line_denial_v1``)."""

    kind: Literal["line_denial"]
    id: int
    claim_id: str
    claim_state: str | None
    payer_id: str
    payer_claim_number: str | None = Field(description="what a replacement's REF*F8 carries")
    adjudication_status: str | None
    line_number: int = Field(description="0: the claim level")
    procedure: str | None
    cas_group: str
    reason: str = Field(description="the CARC")
    reason_text: str
    remarks: list[str] = Field(description="the RARCs")
    remark_texts: list[str]
    amount_cents: int
    category: Literal["correctable", "appealable", "write_off", "patient_responsibility"]
    action: str
    created_at: str


class UnderpaidLine(Answer):
    """A line the payer allowed below the tenant's contract in force on its date of
    service by more than the tenant's threshold: expected (the contract's allowed amount,
    min(rate x units, charge)), what the payer allowed and paid, and the contract rate."""

    kind: Literal["underpaid_line"]
    id: int
    claim_id: str
    payer_id: str
    line_number: int
    procedure: str
    modifiers: str
    place_of_service: str | None
    units: str
    service_date: str | None
    expected_cents: int
    allowed_cents: int
    paid_cents: int | None
    shortfall_cents: int
    basis: str | None
    flagged_at: str


class WorkQueue(Answer):
    queue: str
    items: list[QueuedClaim | UnmatchedPayment | UnpostedRemit | UnderpaidLine | LineDenial]


class UnderpaymentMonth(Answer):
    payer_id: str
    month: str | None
    lines: int
    expected_cents: int
    allowed_cents: int
    paid_cents: int
    shortfall_cents: int


class UnderpaymentReport(Answer):
    underpayments: list[UnderpaymentMonth]


class CarcRate(Answer):
    carc: str | None
    claims: int
    rate: str | None


class Kpis(Answer):
    from_: str = Field(alias="from")
    to: str
    as_of: str
    days_in_ar: str | None
    ar_open_cents: int
    charges_last_90_days_cents: int
    clean_claim_rate: str | None
    first_pass_resolution_rate: str | None
    denial_rate: str | None
    denial_rate_by_carc: list[CarcRate]
    net_collection_rate: str | None
    claims_submitted: int
    claims_decided: int
    payments_cents: int
    contractual_adjustments_cents: int
