"""Events for work done by people: a claim fixed in a work queue goes back into the flow."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import Field

from schemas.common import Contract
from schemas.events import EncounterCreated, Event


class Reentry(StrEnum):
    """Where a fixed claim re-enters the pipeline."""

    eligibility = "eligibility"  # coverage or demographics changed: verify again
    coding = "coding"  # codes changed: scrub again, then submit (a replacement if already sent)


class ClaimFixed(Event):
    """A person fixed a held, rejected or denied claim; the claim flows again from ``reenter``."""

    TYPE = "rcm.claim.fixed.v1"
    TOPIC = "claim.fixed"
    KEY_FIELD = "claim_id"

    claim_id: str
    encounter_id: str
    reenter: Reentry
    fixed_by: str = Field(min_length=1, max_length=100, description="User or API key id")
    fixed_at: dt.datetime
    note: str = Field(default="", max_length=500)
    encounter: EncounterCreated = Field(description="The encounter as corrected")
    changed: list[str] = Field(
        default_factory=list, description="What changed: diagnoses, lines, coverages, patient"
    )


class ClaimVoidRequested(Event):
    """A person asked to void a claim the payer adjudicated: it goes out with frequency 8."""

    TYPE = "rcm.claim.void_requested.v1"
    TOPIC = "claim.void_requested"
    KEY_FIELD = "claim_id"

    claim_id: str
    requested_by: str = Field(min_length=1, max_length=100, description="User or API key id")
    requested_at: dt.datetime
    reason: str = Field(min_length=1, max_length=500)


class AppealAction(StrEnum):
    draft = "draft"  # open a case: deadline, letter, attachments
    send = "send"  # the letter went to the payer: wait for its answer


class AppealedLine(Contract):
    """A denied or reduced line the appeal disputes (from the line denials work queue)."""

    line_number: int = Field(ge=0, le=999, description="0: the claim level")
    procedure_code: str | None = Field(default=None, max_length=10)
    cas_group: str = Field(min_length=2, max_length=2)
    reason: str = Field(min_length=1, max_length=5, description="the CARC")
    amount_cents: int = Field(ge=0)
    category: str = Field(min_length=1, max_length=30)


class AppealRequested(Event):
    """A person drafted or sent an appeal of a claim the payer denied or reduced."""

    TYPE = "rcm.claim.appeal_requested.v1"
    TOPIC = "claim.appeal_requested"
    KEY_FIELD = "claim_id"

    claim_id: str
    action: AppealAction
    requested_by: str = Field(min_length=1, max_length=100, description="User or API key id")
    requested_at: dt.datetime
    lines: list[AppealedLine] = Field(default_factory=list, max_length=50)
    attachments: list[str] = Field(
        default_factory=list, max_length=20, description="Documents sent with the letter"
    )
    note: str = Field(default="", max_length=500)


class AppealSent(Event):
    """The claims service sent an appeal's letter to the payer (the sandbox's simulated
    payer reads it and may reprocess the claim: a reversal and a new payment)."""

    TYPE = "rcm.claim.appeal_sent.v1"
    TOPIC = "claim.appeal_sent"
    KEY_FIELD = "claim_id"

    claim_id: str
    appeal_id: str
    payer_id: str
    patient_control_number: str
    payer_claim_number: str
    lines: list[AppealedLine] = Field(default_factory=list, max_length=50)
