"""Remittance service: remit.received -> postings and ledger -> claim.adjudicated."""

from __future__ import annotations

from pathlib import Path

from runtime.service import Service
from schemas.events import RemitReceived
from services.remittance import handlers

PORT = 6104


def build() -> Service:
    svc = Service(
        "remittance",
        schema="remittance",
        migrations=Path(__file__).parent / "migrations",
        http_port=PORT,
    )
    svc.on(RemitReceived, handlers.on_remit)
    return svc
