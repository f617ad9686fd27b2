"""Remittance service: claim.submitted -> match index; remit.received -> postings, ledger,
work queues -> claim.adjudicated."""

from __future__ import annotations

from pathlib import Path

from runtime.service import Service
from schemas.events import ClaimSubmitted, RemitReceived
from services.remittance import handlers

PORT = 6104
MIGRATIONS = Path(__file__).parent / "migrations"


def build() -> Service:
    svc = Service("remittance", schema="remittance", migrations=MIGRATIONS, http_port=PORT)
    wire(svc)
    svc.every(2.0, handlers.rematch)
    return svc


def wire(svc: Service) -> None:
    """Which event goes to which handler, and what start-up loads."""
    svc.on_many(ClaimSubmitted, handlers.on_submitted)
    svc.on(RemitReceived, handlers.on_remit)
    # how far claim.submitted is applied: look-alike matching waits for it (rematch)
    svc.track_positions(ClaimSubmitted.TOPIC)

    @svc.on_startup
    async def contracts() -> None:
        assert svc.pool is not None
        await handlers.load_contracts(svc.pool)
