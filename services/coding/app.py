"""Coding service: eligibility.checked -> claim.coded | claim.held."""

from __future__ import annotations

from pathlib import Path

from runtime.service import Service
from schemas.events import EligibilityChecked
from services.coding import handlers

PORT = 6102


def build() -> Service:
    svc = Service("coding", schema="coding", migrations=Path(__file__).parent / "migrations",
                  http_port=PORT)
    svc.on(EligibilityChecked, handlers.on_eligible)
    return svc
