"""Statements service: claim.adjudicated -> patient ledger -> statement.issued."""

from __future__ import annotations

from pathlib import Path

from runtime.service import Service
from schemas.events import ClaimAdjudicated, EncounterCreated
from services.statements import handlers

PORT = 6105


def build() -> Service:
    svc = Service(
        "statements",
        schema="statements",
        migrations=Path(__file__).parent / "migrations",
        http_port=PORT,
    )
    svc.on(EncounterCreated, handlers.on_encounter)
    svc.on(ClaimAdjudicated, handlers.on_adjudicated)
    return svc
