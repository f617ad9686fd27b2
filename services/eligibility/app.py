"""Eligibility service: encounter.created -> eligibility.checked | claim.held.

Coverage in force on the registry is verified in real time with the payer (270/271
over HTTP to the clearinghouse, see services/eligibility/client.py) from a timer, so
consumption never waits on a payer.
"""

from __future__ import annotations

from pathlib import Path

from runtime.service import Service
from runtime.settings import settings
from schemas.events import EncounterCreated
from schemas.events_coverage import CoverageReported
from services.eligibility import handlers
from services.eligibility.client import HttpTransport
from services.eligibility.config import EligibilitySettings
from services.eligibility.handlers import Eligibility

PORT = 6101


def build() -> Service:
    s = settings()
    cfg = EligibilitySettings()
    svc = Service(
        "eligibility",
        schema="eligibility",
        migrations=Path(__file__).parent / "migrations",
        http_port=PORT,
    )
    elig = Eligibility(cfg, s, HttpTransport(s, timeout_s=cfg.timeout_s))
    svc.on_many(EncounterCreated, elig.on_encounters)
    svc.on(CoverageReported, handlers.on_coverage_reported)
    if cfg.realtime:
        # the checks a batch queues are asked at once; the period finds retries coming due
        svc.every(
            cfg.poll_s, elig.verify_due, woken_by=[EncounterCreated.TOPIC, CoverageReported.TOPIC]
        )
    return svc
