"""Remittance service: claim.submitted -> match index; remit.received -> postings, ledger,
work queues -> claim.adjudicated."""

from __future__ import annotations

from pathlib import Path

from runtime.service import Service
from schemas.events import ClaimSubmitted, RemitReceived
from services.remittance import handlers

PORT = 6104


def build() -> Service:
    svc = Service(
        "remittance",
        schema="remittance",
        migrations=Path(__file__).parent / "migrations",
        http_port=PORT,
    )
    svc.on_many(ClaimSubmitted, handlers.on_submitted)
    svc.on(RemitReceived, handlers.on_remit)
    svc.every(2.0, handlers.rematch)

    @svc.on_startup
    async def contracts() -> None:
        assert svc.pool is not None
        await handlers.load_contracts(svc.pool)

    return svc
