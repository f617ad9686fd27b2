"""Clearinghouse and payer simulator: the outside world for local runs and tests.

The clearinghouse reads each 837P interchange the connector uploaded to the SFTP mailbox
and acknowledges it with 999 and 277CA files; the payers adjudicate after their delay
and their 835 files follow into the same mailbox (mailbox.py); both answer real-time 270s and 276s
through the clearinghouse's CAQH CORE endpoint (HTTPS, services/simulator/core_web.py).
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from runtime.service import Service
from runtime.settings import Settings
from schemas.events import EncounterCreated
from schemas.events_workqueue import AppealSent
from services.simulator import appeals, core_web, eligibility
from services.simulator.config import (
    CORE_PORT,
    CoreEndpointSettings,
    RosterSettings,
    SimulatorSettings,
)
from services.simulator.mailbox import Clearinghouse
from services.simulator.timers import PayerCycle

log = logging.getLogger("rcm.simulator")

PORT = 6106
MIGRATIONS = Path(__file__).parent / "migrations"
#: How late the payer cycle finds work that no batch of this instance announced.
CYCLE_POLL_S = 1.0


def build(settings: Settings | None = None, config: SimulatorSettings | None = None) -> Service:
    svc = Service(
        "simulator", schema="simulator", migrations=MIGRATIONS, http_port=PORT, s=settings
    )
    roster = RosterSettings()
    wire(svc, config or SimulatorSettings(), roster)
    serve_core(svc, CoreEndpointSettings(), roster)
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
    pay = cycle or PayerCycle(cfg)
    if cfg.mailbox_dir is None:
        log.warning("no mailbox (RCM_SIMULATOR_MAILBOX_DIR): the clearinghouse reads no 837s")
    else:
        # The clearinghouse works the SFTP mailbox: the uploaded 837 files in, the 999,
        # 277CA and 835 files out (mailbox.py); it wakes the payers when a file's claims
        # fall due.
        svc.every(cfg.mailbox_poll_s, Clearinghouse(cfg, cfg.mailbox_dir, pay))
    # The payers: run when woken and when the soonest queued work falls due (the cycle
    # asks for that); the period only bounds how late another instance's work is found.
    svc.every(cycle_poll_s, pay)
    # The payers' roster, fed by encounter.created, answers the real-time 270s.
    svc.on(EncounterCreated, eligibility.on_encounter)
    # An appeal's letter: the payer reprocesses the claim it kept (appeals.py).
    svc.on(AppealSent, partial(appeals.on_appeal_sent, cfg=cfg))


def serve_core(svc: Service, cfg: CoreEndpointSettings, roster: RosterSettings) -> None:
    """The CAQH CORE endpoint on its own HTTPS port, once the service is up. Without a
    certificate (the sandbox overlays: no local stack CA, none configured) the same
    endpoint answers on the ops port over plain HTTP, and says so; production never
    calls the simulator, and refuses a plain-HTTP clearinghouse anyway."""
    s = svc.settings
    cert = cfg.cert or s.stack_dir / "core" / "server.crt"
    key = cfg.key or s.stack_dir / "core" / "server.key"
    answer = core_web.payer_answerer(
        lambda: svc.pool,
        s,
        grace_s=roster.unknown_grace_s,
        roster_feed=lambda: svc.next_commit(EncounterCreated.TOPIC),
        roster_wait_s=roster.roster_wait_s,
    )
    server = core_web.core_server(s, cfg.senders)
    if not cert.exists():
        core_web.log.warning("CORE endpoint over plain HTTP on the ops port: %s missing", cert)
        svc.app.page(core_web.PATH)(core_web.faust_view(server, answer))
        return

    async def start() -> None:
        port = cfg.port or CORE_PORT + s.http_port_offset
        tls = core_web.server_tls(cert, key, cfg.client_ca)
        await core_web.serve_tls(core_web.core_app(server, answer), tls, s.http_host, port)
        core_web.log.info("CORE endpoint on https://%s:%d%s", s.http_host, port, core_web.PATH)

    svc.on_startup(start)
