"""Coverage reported outside an encounter: a payer roster or a practice's bulk upload."""

from __future__ import annotations

from pydantic import Field

from schemas.common import Coverage
from schemas.events import Event


class CoverageReported(Event):
    """One coverage of one patient; eligibility records it with history."""

    TYPE = "rcm.coverage.reported.v1"
    TOPIC = "coverage.reported"
    KEY_FIELD = "patient_id"

    patient_id: str = Field(min_length=1, max_length=64)
    coverage: Coverage
    source: str = Field(default="gateway", max_length=40)
