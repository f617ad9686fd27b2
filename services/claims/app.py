"""Claims service: the saga from encounter to zero balance, and 837P submission.

Every step a claim can take is one row of services/claims/saga.py's table; the handlers,
the batcher and the timers below apply them.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from runtime.core_client import CoreClient, CoreSettings
from runtime.service import Service
from runtime.settings import ProductionRefused, Settings
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
from schemas.events_transport import X12FileReceived, X12FileSendFailed, X12FileSent
from schemas.events_workqueue import AppealRequested, ClaimFixed, ClaimVoidRequested
from services.claims import acks, appeal_handlers, batch, handlers, sent, timers
from services.claims.config import ClaimsSettings

PORT = 6103
MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: Settings | None = None, config: ClaimsSettings | None = None) -> Service:
    try:
        cfg = config or ClaimsSettings()
    except ProductionRefused as exc:
        raise SystemExit(str(exc)) from None  # the problem, one a line; exit status 1
    svc = Service("claims", schema="claims", migrations=MIGRATIONS, http_port=PORT, s=settings)
    wire(svc, cfg)
    timers_on(svc, cfg)
    return svc


def wire(svc: Service, cfg: ClaimsSettings) -> None:
    """Which event goes to which handler."""
    svc.on(EncounterCreated, partial(handlers.on_encounter, cfg=cfg))
    svc.on(EligibilityChecked, partial(handlers.on_eligibility, cfg=cfg))
    svc.on(ClaimHeld, partial(handlers.on_held, cfg=cfg))
    svc.on(ClaimCoded, partial(handlers.on_coded, cfg=cfg))
    svc.on(ClaimAcknowledged, partial(handlers.on_acknowledged, cfg=cfg))
    svc.on(ClaimAdjudicated, partial(handlers.on_adjudicated, cfg=cfg))
    svc.on(StatementIssued, partial(handlers.on_statement, cfg=cfg))
    svc.on(ClaimFixed, partial(handlers.on_fixed, cfg=cfg))
    svc.on(ClaimBalanceZero, partial(handlers.on_balance_zero, cfg=cfg))
    svc.on(ClaimVoidRequested, partial(handlers.on_void_requested, cfg=cfg))
    svc.on(AppealRequested, appeal_handlers.on_appeal_requested)
    svc.on(X12FileSent, partial(sent.on_file_sent, cfg=cfg))
    svc.on(X12FileSendFailed, partial(sent.on_file_send_failed, cfg=cfg))
    # the clearinghouse's 999s and 277CAs, as files: claim.acknowledged per claim
    ack_metrics = acks.AckMetrics(svc.metrics.registry)
    svc.on(X12FileReceived, partial(acks.on_file_received, cfg=cfg, metrics=ack_metrics))
    svc.before_batch(handlers.prelock)


def timers_on(svc: Service, cfg: ClaimsSettings) -> batch.Batcher:
    """The batcher and the timers (kept in PostgreSQL); returns the batcher."""
    batcher = batch.Batcher(cfg)
    # the events that leave a claim waiting in CODED wake the batcher once applied (an
    # adjudication may send the claim on to the next payer)
    ready = [ClaimCoded.TOPIC, ClaimFixed.TOPIC, ClaimVoidRequested.TOPIC, ClaimAdjudicated.TOPIC]
    svc.every(cfg.batch_tick_s, batcher.send_batches, woken_by=ready)
    svc.every(cfg.timer_tick_s, partial(timers.ack_timeouts, cfg=cfg))
    # one pooled CAQH CORE client for the process's 276s (keep-alive: no TLS handshake a call);
    # 276s go at a payer's pace: at most status_inquiries_per_tick a tick, however many are due
    core = CoreClient(CoreSettings(), svc.settings, "claims", svc.metrics.registry)
    svc.every(cfg.timer_tick_s, partial(timers.status_inquiries, cfg=cfg, core=core), paced=True)
    svc.every(cfg.timer_tick_s * 10, partial(timers.filing_deadlines, cfg=cfg))
    svc.every(cfg.timer_tick_s * 10, partial(appeal_handlers.appeal_timers, cfg=cfg))
    return batcher
