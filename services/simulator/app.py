"""Clearinghouse and payer simulator: the outside world for local runs and tests."""

from __future__ import annotations

from pathlib import Path

from runtime.service import Service
from schemas.events import ClaimSubmitted
from services.simulator import eligibility as realtime_eligibility
from services.simulator import handlers, status

PORT = 6106
CYCLE_POLL_S = 1.0


def build() -> Service:
    svc = Service(
        "simulator",
        schema="simulator",
        migrations=Path(__file__).parent / "migrations",
        http_port=PORT,
    )
    svc.on_many(ClaimSubmitted, handlers.on_submitted)
    # Run as soon as a batch of claim.submitted has queued work and when the soonest
    # queued work falls due (adjudicate_due asks for that); the period only bounds how
    # late work is found that neither announced (another instance's).
    svc.every(CYCLE_POLL_S, handlers.adjudicate_due, woken_by=[ClaimSubmitted.TOPIC])
    status.install(svc)
    realtime_eligibility.install(svc)  # POST /x12/270 and its roster (encounter.created)
    return svc
