"""Claims service: the saga from encounter to zero balance, and 837P submission."""

from __future__ import annotations

from pathlib import Path

from runtime.service import Service
from schemas.events import (
    ClaimAcknowledged,
    ClaimAdjudicated,
    ClaimCoded,
    ClaimHeld,
    EligibilityChecked,
    EncounterCreated,
    StatementIssued,
)
from services.claims import handlers

PORT = 6103


def build() -> Service:
    svc = Service(
        "claims", schema="claims", migrations=Path(__file__).parent / "migrations", http_port=PORT
    )
    svc.on(EncounterCreated, handlers.on_encounter)
    svc.on(EligibilityChecked, handlers.on_eligibility)
    svc.on(ClaimHeld, handlers.on_held)
    svc.on(ClaimCoded, handlers.on_coded)
    svc.on(ClaimAcknowledged, handlers.on_acknowledged)
    svc.on(ClaimAdjudicated, handlers.on_adjudicated)
    svc.on(StatementIssued, handlers.on_statement)
    return svc
