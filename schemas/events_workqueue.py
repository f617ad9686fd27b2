"""Events for work done by people: a claim fixed in a work queue goes back into the flow."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import Field

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
