"""Clearinghouse and payer simulator: the outside world for local runs and tests.

The clearinghouse acknowledges each 837P interchange (999, 277CA); the payers
adjudicate after their delay and send 835s; both answer real-time 270s and 276s.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from runtime.service import Service
from runtime.settings import Settings
from schemas.events import ClaimSubmitted, EncounterCreated
from schemas.events_workqueue import AppealSent
from services.simulator import appeals, eligibility, handlers, status, web
from services.simulator.config import RosterSettings, SimulatorSettings
from services.simulator.timers import PayerCycle

PORT = 6106
MIGRATIONS = Path(__file__).parent / "migrations"
#: How late the payer cycle finds work that no batch of this instance announced.
CYCLE_POLL_S = 1.0


def build(settings: Settings | None = None, config: SimulatorSettings | None = None) -> Service:
    svc = Service(
        "simulator", schema="simulator", migrations=MIGRATIONS, http_port=PORT, s=settings
    )
    wire(svc, config or SimulatorSettings(), RosterSettings())
    return svc


def wire(
    svc: Service,
    cfg: SimulatorSettings,
    roster: RosterSettings,
    *,
    cycle: PayerCycle | None = None,
    cycle_poll_s: float = CYCLE_POLL_S,
) -> None:
    """Every handler, timer and route of the simulator (``cycle``: the payer cycle to
    run, ``PayerCycle(cfg)`` unless a test brings its own)."""
    # The clearinghouse: every claim.submitted carries its whole interchange.
    svc.on_many(ClaimSubmitted, partial(handlers.on_submitted, cfg=cfg))
    # The payers: run as soon as a batch of claim.submitted has queued work and when the
    # soonest queued work falls due (the cycle asks for that); the period only bounds how
    # late work is found that neither announced (another instance's).
    svc.every(cycle_poll_s, cycle or PayerCycle(cfg), woken_by=[ClaimSubmitted.TOPIC])
    # The payers' roster, fed by encounter.created, answers the real-time 270s.
    svc.on(EncounterCreated, eligibility.on_encounter)
    # An appeal's letter: the payer reprocesses the claim it kept (appeals.py).
    svc.on(AppealSent, partial(appeals.on_appeal_sent, cfg=cfg))
    svc.app.page(eligibility.PATH)(web.eligibility_view(svc, roster))
    svc.app.page(status.PATH)(web.claim_status_view(svc))
