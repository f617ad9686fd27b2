"""Statements service: the patient ledger, patient payments and statements.

- encounter.created: the guarantor account and the claim's charges;
- claim.adjudicated: the payer's decision on the ledger; the patient is billed once
  insurance is final;
- claim.coded (self-pay only): the visit billed to the patient at once, with the discount;
- patient.payment.received: the payment posted, oldest balance first;
- a timer: the statement cycle and claims whose wait for a later payer is over.
"""

from __future__ import annotations

from pathlib import Path

from runtime.service import Service
from schemas.events import ClaimAdjudicated, ClaimCoded, EncounterCreated
from schemas.events_payments import PatientPaymentReceived
from services.statements import handlers
from services.statements.config import settings

PORT = 6105
MIGRATIONS = Path(__file__).parent / "migrations"


def build() -> Service:
    svc = Service("statements", schema="statements", migrations=MIGRATIONS, http_port=PORT)
    register(svc)
    return svc


def register(svc: Service) -> None:
    """Wires the handlers and the cycle timer onto a service (tests use their own)."""
    svc.on_many(EncounterCreated, handlers.on_encounters)
    svc.on_many(ClaimAdjudicated, handlers.on_adjudicated)
    svc.on(ClaimCoded, handlers.on_coded)
    svc.on(PatientPaymentReceived, handlers.on_payment)
    svc.every(settings().poll_seconds, handlers.run_cycle)
