"""Eligibility service: encounter.created -> eligibility.checked | claim.held.

Coverage in force on the registry is verified in real time with the payer (270/271
over CAQH CORE to the clearinghouse, see services/eligibility/client.py) from a timer, so
consumption never waits on a payer.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from runtime.core_client import CoreClient, CoreSettings
from runtime.service import Service
from runtime.settings import Settings
from runtime.settings import settings as runtime_settings
from schemas.events import EncounterCreated
from schemas.events_coverage import CoverageReported
from schemas.events_frontdesk import BenefitCheckRequested
from services.eligibility import frontdesk, handlers
from services.eligibility.client import CoreTransport
from services.eligibility.config import EligibilitySettings
from services.eligibility.timers import Verifier

PORT = 6101
MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: Settings | None = None, config: EligibilitySettings | None = None) -> Service:
    s = settings or runtime_settings()
    cfg = config or EligibilitySettings()
    svc = Service("eligibility", schema="eligibility", migrations=MIGRATIONS, http_port=PORT, s=s)
    svc.on_many(EncounterCreated, partial(handlers.on_encounters, cfg=cfg))
    svc.on(CoverageReported, handlers.on_coverage_reported)
    svc.on(BenefitCheckRequested, partial(frontdesk.on_benefit_check, cfg=cfg))
    if cfg.realtime:
        # one pooled CORE client for the process: keep-alive, no TLS handshake a call
        core = CoreClient(CoreSettings(), s, "eligibility", svc.metrics.registry)
        verifier = Verifier(cfg, s, CoreTransport(core))
        # the checks a batch queues are asked at once; the period finds retries coming due
        svc.every(
            cfg.poll_s,
            verifier.verify_due,
            woken_by=[EncounterCreated.TOPIC, CoverageReported.TOPIC],
        )
        desk = frontdesk.DeskChecks(cfg, s, verifier.transport)
        # woken by each new question; the period only finds retries coming due
        svc.every(max(cfg.poll_s, 1.0), desk.ask_due, woken_by=[BenefitCheckRequested.TOPIC])
    return svc
