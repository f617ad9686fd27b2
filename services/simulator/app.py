"""Clearinghouse and payer simulator: the outside world for local runs and tests."""

from __future__ import annotations

from pathlib import Path

from runtime.service import Service
from schemas.events import ClaimSubmitted
from services.simulator import eligibility as realtime_eligibility
from services.simulator import handlers, status

PORT = 6106


def build() -> Service:
    svc = Service(
        "simulator",
        schema="simulator",
        migrations=Path(__file__).parent / "migrations",
        http_port=PORT,
    )
    svc.on_many(ClaimSubmitted, handlers.on_submitted)
    svc.every(0.1, handlers.adjudicate_due)
    status.install(svc)
    realtime_eligibility.install(svc)  # POST /x12/270 and its roster (encounter.created)
    return svc
