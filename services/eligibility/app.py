"""Eligibility service: encounter.created -> eligibility.checked | claim.held."""

from __future__ import annotations

from pathlib import Path

from runtime.service import Service
from schemas.events import EncounterCreated
from services.eligibility import handlers

PORT = 6101


def build() -> Service:
    svc = Service(
        "eligibility",
        schema="eligibility",
        migrations=Path(__file__).parent / "migrations",
        http_port=PORT,
    )
    svc.on(EncounterCreated, handlers.on_encounter)
    return svc
