"""The front desk's questions: before a visit, what will this patient likely owe?"""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from schemas.common import Npi, Sex, VisitType
from schemas.events import Event


class BenefitCheckRequested(Event):
    """A person at the front desk asked the payer about a patient's benefits (a 270);
    eligibility asks, keeps the 271's figures and shows them in ``benefit_check_v1``.
    The patient is the subscriber on the card (dependents: not yet)."""

    TYPE = "rcm.eligibility.benefit-check-requested.v1"
    TOPIC = "eligibility.benefit-check"
    KEY_FIELD = "check_id"

    check_id: str = Field(min_length=1, max_length=64, description="Idempotency key")
    patient_id: str = Field(min_length=1, max_length=64, description="Tenant-scoped MRN")
    first_name: str = Field(min_length=1, max_length=35)
    last_name: str = Field(min_length=1, max_length=60)
    birth_date: dt.date
    sex: Sex = Sex.unknown
    payer_id: str = Field(min_length=2, max_length=80)
    payer_name: str = Field(min_length=1, max_length=60)
    member_id: str = Field(min_length=2, max_length=80)
    group_number: str | None = Field(default=None, max_length=50)
    provider_npi: Npi
    provider_name: str = Field(min_length=1, max_length=60)
    date_of_service: dt.date
    visit_type: VisitType = VisitType.problem
    requested_by: str = Field(min_length=1, max_length=100, description="The user's id")
