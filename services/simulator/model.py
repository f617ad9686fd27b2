"""What a payer adjudicates and what it answers, as values: the claim read from an 837P
(``ClaimIn`` with its lines, names and coverage dates), the member's accumulators, and
the adjudication (claim and line results with their CAS adjustments). The rules that
turn one into the other are :mod:`services.simulator.adjudicate`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

#: CLP02 of a claim denied in full.
DENIED = "4"


@dataclass(frozen=True, slots=True)
class Name:
    last: str
    first: str | None = None


@dataclass(frozen=True, slots=True)
class ClaimLineIn:
    line_number: int
    procedure_code: str
    charge_cents: int
    units: int = 1
    modifiers: tuple[str, ...] = ()
    diagnosis_codes: tuple[str, ...] = ()
    service_date: dt.date | None = None
    #: REF*6R line item control number, echoed on the 835.
    control_number: str | None = None
    #: 2430 on a later payer's claim: what prior payers paid on the line (SVD02) and the
    #: patient share the last of them left (its CAS PR); None when no 2430 came.
    prior_paid_cents: int = 0
    prior_patient_cents: int | None = None


@dataclass(frozen=True, slots=True)
class ClaimIn:
    """One CLM of an 837P, as the payer sees it."""

    patient_control_number: str
    payer_id: str
    member_id: str
    date_of_service: dt.date
    lines: tuple[ClaimLineIn, ...]
    total_charge_cents: int
    diagnoses: tuple[str, ...] = ()
    frequency_code: str = "1"
    #: REF*F8 on a replacement or void: the payer claim number it replaces.
    original_payer_claim_number: str | None = None
    #: REF*G1 prior authorization number.
    prior_authorization: str | None = None
    place_of_service: str = "11"
    #: 1 primary, 2 secondary, 3 tertiary (SBR01 P/S/T).
    priority: int = 1
    #: AMT*D in 2320: what the prior payer paid, on a secondary claim.
    prior_payer_paid_cents: int = 0
    #: AMT*EAF in 2320: what the patient still owed after the prior payer.
    prior_patient_cents: int | None = None
    #: The claim's other payers from 2320/2330 (SBR01 priority, payer id, member id).
    other_payers: tuple[tuple[int, str, str], ...] = ()
    filing_indicator: str | None = None
    patient: Name = field(default_factory=lambda: Name("UNKNOWN"))
    subscriber: Name | None = None
    billing_npi: str = ""
    billing_name: str = ""
    billing_tax_id: str | None = None
    rendering_npi: str | None = None
    coverage_effective: dt.date | None = None
    coverage_termination: dt.date | None = None
    interchange_control_number: str = ""
    group_control_number: str = ""
    transaction_control_number: str = ""
    submitter_id: str = ""
    receiver_id: str = ""


@dataclass(frozen=True, slots=True)
class Accumulators:
    """What the member has paid toward one plan year's deductible and out-of-pocket max.

    Plan years are calendar years. Pass the accumulators of the date of service's year;
    ones for another year are read as a fresh year (nothing met yet).
    """

    year: int
    deductible_met_cents: int = 0
    oop_met_cents: int = 0

    def for_year(self, year: int) -> Accumulators:
        return self if year == self.year else Accumulators(year=year)


# --- output ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cas:
    group: str
    reason: str
    amount_cents: int


@dataclass(frozen=True, slots=True)
class LineResult:
    line_number: int
    procedure_code: str
    modifiers: tuple[str, ...]
    units: int
    charge_cents: int
    allowed_cents: int
    paid_cents: int
    adjustments: tuple[Cas, ...]
    remarks: tuple[str, ...]
    service_date: dt.date
    control_number: str | None = None
    denied: bool = False

    @property
    def patient_responsibility_cents(self) -> int:
        return sum(a.amount_cents for a in self.adjustments if a.group == "PR")


@dataclass(frozen=True, slots=True)
class Adjudication:
    claim: ClaimIn
    payer_id: str
    status: str
    payer_claim_number: str
    charge_cents: int
    paid_cents: int
    patient_responsibility_cents: int
    lines: tuple[LineResult, ...]
    claim_adjustments: tuple[Cas, ...] = ()
    claim_remarks: tuple[str, ...] = ()
    received: dt.date | None = None
    #: The accumulators after this claim: the caller stores these.
    accumulators: Accumulators | None = None
    #: The CARC that denied the whole claim, if one did.
    denial_reason: str | None = None
    #: (name, payer id) of the payer the claim was crossed over to (835 NM1*TT).
    crossover_to: tuple[str, str] | None = None

    @property
    def denied(self) -> bool:
        return self.status == DENIED

    def all_adjustments(self) -> list[Cas]:
        return [*self.claim_adjustments, *(a for ln in self.lines for a in ln.adjustments)]
