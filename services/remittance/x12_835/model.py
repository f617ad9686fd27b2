"""What an 835 says, as project-owned records.

Amounts are kept twice: integer cents for arithmetic and the decimal text exactly
as the payer wrote it (:class:`Amount`). Nothing is re-signed: a reversal
(CLP02 = 22) carries the negative amounts the payer stated, and a PLB amount keeps
its stated sign (positive reduces the payment, negative increases it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

from runtime.x12 import X12Warning

_REVERSAL = "22"


class Amount(NamedTuple):
    """A monetary amount: integer cents and the decimal text as stated in the file."""

    cents: int
    text: str


class Cas(NamedTuple):
    """One CAS reason/amount/quantity triplet (a CAS segment carries up to six)."""

    group: str
    reason: str
    amount: Amount
    quantity: str | None = None


@dataclass(frozen=True, slots=True)
class Payment:
    """One 835 transaction's BPR/TRN and payer/payee identification."""

    amount: Amount
    credit_debit: str
    method: str
    date: dt.date | None
    trace_number: str
    payer_id: str | None
    payer_name: str | None
    payee_name: str | None
    payee_npi: str | None
    payee_tax_id: str | None
    control_number: str
    segment: int

    @property
    def signed_cents(self) -> int:
        """BPR02 as money moving to the payee: negative on a debit (BPR03 = D)."""
        return -self.amount.cents if self.credit_debit == "D" else self.amount.cents


class RemitLine(NamedTuple):
    """One 2110 service line: SVC and its DTM, CAS, REF*6R, AMT*B6, LQ*HE."""

    procedure: str
    qualifier: str
    modifiers: tuple[str, ...]
    charge: Amount
    paid: Amount
    allowed: Amount | None
    units: str
    adjustments: tuple[Cas, ...]
    remarks: tuple[str, ...]
    service_date: dt.date | None
    service_end_date: dt.date | None
    revenue_code: str | None
    original_procedure: str | None
    original_modifiers: tuple[str, ...]
    control_number: str | None
    segment: int


class RemitClaim(NamedTuple):
    """One 2100 claim payment with its claim-level CAS and its service lines."""

    patient_control_number: str
    status_code: str
    charge: Amount
    paid: Amount
    patient_responsibility: Amount | None
    filing_indicator: str | None
    payer_claim_number: str | None
    frequency_code: str | None
    patient_last_name: str | None
    patient_first_name: str | None
    member_id: str | None
    adjustments: tuple[Cas, ...]
    remarks: tuple[str, ...]
    statement_from: dt.date | None
    statement_to: dt.date | None
    lines: tuple[RemitLine, ...]
    trace_number: str
    payer_id: str | None
    payment_date: dt.date | None
    transaction: int
    segment: int
    #: NM1*TT03: the payer this one crossed the claim over to (coordination of benefits)
    crossover_carrier: str | None = None
    #: CLP08: the facility type, on a professional claim its place of service (11 office)
    facility_code: str | None = None

    @property
    def is_reversal(self) -> bool:
        return self.status_code == _REVERSAL

    @property
    def all_adjustments(self) -> tuple[Cas, ...]:
        """Claim-level then line-level CAS, in file order within each."""
        out = list(self.adjustments)
        for line in self.lines:
            out.extend(line.adjustments)
        return tuple(out)

    @property
    def patient_responsibility_cents(self) -> int:
        """CLP05 when stated, else the sum of PR-group adjustments."""
        if self.patient_responsibility is not None:
            return self.patient_responsibility.cents
        return sum(a.amount.cents for a in self.all_adjustments if a.group == "PR")


@dataclass(frozen=True, slots=True)
class Plb:
    """One PLB adjustment pair. Positive reduces the payment, negative adds to it."""

    provider_id: str
    fiscal_date: dt.date | None
    reason: str
    reference: str | None
    amount: Amount
    transaction: int
    segment: int


@dataclass(frozen=True, slots=True)
class Remittance:
    payments: tuple[Payment, ...]
    claims: tuple[RemitClaim, ...]
    provider_adjustments: tuple[Plb, ...]
    #: faults read through (runtime.x12.X12Warning), in file order
    warnings: tuple[X12Warning, ...] = ()
