"""Value types shared by the event contracts.

Money is always integer cents; percentages are Decimal. Dates are ISO dates.
Unknown fields are ignored so that additive changes within a major version
never break an older consumer.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Cents = Annotated[int, Field(ge=0, le=10**11, description="Amount in integer US cents")]
SignedCents = Annotated[int, Field(ge=-(10**11), le=10**11, description="Signed amount in cents")]
Npi = Annotated[str, StringConstraints(pattern=r"^\d{10}$")]
IcdCode = Annotated[
    str, StringConstraints(min_length=3, max_length=8, strip_whitespace=True, to_upper=True)
]
ProcCode = Annotated[
    str, StringConstraints(min_length=5, max_length=5, strip_whitespace=True, to_upper=True)
]
Modifier = Annotated[
    str, StringConstraints(pattern=r"^[A-Z0-9]{2}$", strip_whitespace=True, to_upper=True)
]
PayerReference = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9 ./-]{0,49}$", strip_whitespace=True),
    Field(
        description="A number the payer gave (prior authorization, 837 REF*G1; referral,"
        " REF*9F): 1-50 letters, digits, spaces, '.', '/' or '-'"
    ),
]


class Contract(BaseModel):
    """Base for every contract model: tolerant reader, strict on types."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Sex(StrEnum):
    female = "F"
    male = "M"
    unknown = "U"


class Relationship(StrEnum):
    """Patient's relationship to the subscriber (X12 element 1069 values)."""

    self_ = "18"
    spouse = "01"
    child = "19"
    other = "G8"


class Address(Contract):
    line1: str = Field(min_length=1, max_length=55)
    line2: str | None = Field(default=None, max_length=55)
    city: str = Field(min_length=2, max_length=30)
    state: str = Field(pattern=r"^[A-Z]{2}$")
    postal_code: str = Field(pattern=r"^\d{5}(\d{4})?$")


class Person(Contract):
    id: str = Field(min_length=1, max_length=64, description="Tenant-scoped person id (MRN)")
    first_name: str = Field(min_length=1, max_length=35)
    last_name: str = Field(min_length=1, max_length=60)
    birth_date: dt.date
    sex: Sex
    address: Address
    email: str | None = Field(
        default=None,
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="Where statements go when the person chose paperless ones",
    )
    paperless: bool = Field(
        default=False,
        description="The person agreed to get statements by email (a link, never the bill "
        "itself) instead of on paper",
    )


class Coverage(Contract):
    payer_id: str = Field(min_length=2, max_length=80)
    payer_name: str = Field(min_length=1, max_length=60)
    member_id: str = Field(min_length=2, max_length=80)
    group_number: str | None = Field(default=None, max_length=50)
    plan: str = Field(min_length=1, max_length=60)
    priority: int = Field(default=1, ge=1, le=3, description="1 primary, 2 secondary, 3 tertiary")
    effective_date: dt.date
    termination_date: dt.date | None = None
    relationship: Relationship = Relationship.self_
    subscriber: Person | None = Field(
        default=None, description="The subscriber, when not the patient"
    )
    filing_indicator: str | None = Field(
        default=None,
        pattern=r"^[0-9A-Z]{2}$",
        description="The claim filing indicator (837 SBR09, X12 1032: MB Medicare Part B, MC"
        " Medicaid, CI commercial, ...) from the tenant's payer directory; claims sets it on"
        " the coverages of the claims it sends",
    )


class Provider(Contract):
    npi: Npi
    name: str = Field(min_length=1, max_length=60)
    first_name: str | None = Field(default=None, max_length=35)
    tax_id: str | None = Field(default=None, pattern=r"^\d{9}$")
    taxonomy: str | None = Field(default=None, pattern=r"^[0-9A-Z]{9}X$")
    address: Address | None = None


class VisitType(StrEnum):
    preventive = "preventive"
    problem = "problem"
    chronic = "chronic"
    procedure = "procedure"
    nurse = "nurse"


class Documentation(Contract):
    visit_type: VisitType
    new_patient: bool = False
    mdm_level: str | None = Field(default=None, pattern=r"^(straightforward|low|moderate|high)$")
    total_minutes: int | None = Field(default=None, ge=0, le=1440)


class ServiceLine(Contract):
    procedure_code: ProcCode
    modifiers: list[Modifier] = Field(default_factory=list, max_length=4)
    units: int = Field(default=1, ge=1, le=999)
    charge_cents: Cents
    diagnosis_codes: list[IcdCode] = Field(
        default_factory=list, max_length=4, description="Diagnoses this line is for, in order"
    )
    prior_authorization: PayerReference | None = Field(
        default=None,
        description="The payer's authorization number for this service when it differs from"
        " the encounter's (837 2400 REF*G1); since contract 1.1",
    )
    referral_number: PayerReference | None = Field(
        default=None,
        description="The referral number for this service when it differs from the"
        " encounter's (837 2400 REF*9F); since contract 1.1",
    )


class Finding(Contract):
    edit: str = Field(description="Stable edit id, e.g. DX-INVALID")
    severity: str = Field(pattern=r"^(hold|warn)$")
    line: int | None = Field(default=None, ge=1, description="1-based service line, if any")
    message: str


class HoldReason(Contract):
    code: str
    message: str
    fix: str = Field(description="What a person must change for the claim to flow again")


class Adjustment(Contract):
    group: str = Field(
        pattern=r"^(CO|OA|PI|PR|CR|OI)$",
        description="CAS group: CO, OA, PI, PR (5010); CR and OI read from 4010 files",
    )
    reason: str = Field(min_length=1, max_length=5, description="CARC")
    amount_cents: SignedCents
