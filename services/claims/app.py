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
from schemas.events_payments import ClaimBalanceZero
from schemas.events_workqueue import ClaimFixed, ClaimVoidRequested
from services.claims import batch, handlers, timers
from services.claims.config import claims_settings

PORT = 6103


MIGRATIONS = Path(__file__).parent / "migrations"


def build() -> Service:
    svc = Service("claims", schema="claims", migrations=MIGRATIONS, http_port=PORT)
    wire(svc)
    timers_on(svc)
    return svc


def wire(svc: Service) -> None:
    """Which event goes to which handler."""
    svc.on(EncounterCreated, handlers.on_encounter)
    svc.on(EligibilityChecked, handlers.on_eligibility)
    svc.on(ClaimHeld, handlers.on_held)
    svc.on(ClaimCoded, handlers.on_coded)
    svc.on(ClaimAcknowledged, handlers.on_acknowledged)
    svc.on(ClaimAdjudicated, handlers.on_adjudicated)
    svc.on(StatementIssued, handlers.on_statement)
    svc.on(ClaimFixed, handlers.on_fixed)
    svc.on(ClaimBalanceZero, handlers.on_balance_zero)
    svc.on(ClaimVoidRequested, handlers.on_void_requested)
    svc.before_batch(handlers.prelock)


def timers_on(svc: Service) -> None:
    """The batcher and the timers (kept in PostgreSQL)."""
    cfg = claims_settings()
    # the events that leave a claim waiting in CODED wake the batcher once applied
    ready = [ClaimCoded.TOPIC, ClaimFixed.TOPIC, ClaimVoidRequested.TOPIC]
    svc.every(cfg.batch_tick_s, batch.send_batches, woken_by=ready)
    svc.every(cfg.timer_tick_s, timers.ack_timeouts)
    svc.every(cfg.timer_tick_s, timers.status_inquiries)
    svc.every(cfg.timer_tick_s * 10, timers.filing_deadlines)
