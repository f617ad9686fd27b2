"""Remittance service: claim.submitted -> match index; remit.received -> postings, ledger,
work queues -> claim.adjudicated."""

from __future__ import annotations

from pathlib import Path

from runtime.service import Service
from runtime.settings import Settings
from schemas.events import ClaimSubmitted, RemitReceived
from services.remittance import handlers, timers
from services.remittance.config import RemittanceSettings
from services.remittance.contract_cache import CONTRACTS

PORT = 6104
MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: Settings | None = None, config: RemittanceSettings | None = None) -> Service:
    cfg = config or RemittanceSettings()
    svc = Service(
        "remittance", schema="remittance", migrations=MIGRATIONS, http_port=PORT, s=settings
    )
    wire(svc, cfg)
    svc.every(cfg.rematch_seconds, timers.rematch)
    return svc


def wire(svc: Service, cfg: RemittanceSettings) -> None:
    """Which event goes to which handler, and what start-up loads (tests wire their own
    service in a schema of its own with this)."""
    svc.on_many(ClaimSubmitted, handlers.on_submitted)
    svc.on(RemitReceived, handlers.on_remit)
    # how far claim.submitted is applied: look-alike matching waits for it (rematch)
    svc.track_positions(ClaimSubmitted.TOPIC)
    # contracts are per tenant (rcm contracts import), read through this cache
    CONTRACTS.default_threshold_cents = cfg.underpayment_threshold_cents
