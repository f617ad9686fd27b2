"""Coding service: eligibility.checked -> claim.coded | claim.held."""

from __future__ import annotations

import asyncio
from pathlib import Path

from runtime.service import Service
from schemas.events import EligibilityChecked
from services.coding import handlers
from services.coding.codesets import icd_index

PORT = 6102


def build() -> Service:
    svc = Service(
        "coding", schema="coding", migrations=Path(__file__).parent / "migrations", http_port=PORT
    )
    svc.on(EligibilityChecked, handlers.on_eligible)

    @svc.on_startup
    async def load_code_sets() -> None:
        # Loading ICD-10-CM takes seconds: do it before consuming, off the event loop.
        await asyncio.to_thread(icd_index)

    return svc
