"""The world the eligibility integration tests run in: the payer simulator's responder
behind its CAQH CORE endpoint (TLS on loopback, in-process) over its own schema, its roster fed through its
real encounter.created handler; the eligibility handlers on a schema of their own, and
the verification timer driven by hand."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import orjson

import services.eligibility.app as eligibility_app
import services.simulator.app as simulator_app
from runtime.service import Record, Service
from runtime.settings import Settings
from schemas.codec import decode, encode, new_meta
from schemas.common import Coverage
from schemas.events import EncounterCreated, Event
from schemas.ids import claim_id_for
from services.eligibility import handlers as eligibility_handlers
from services.eligibility.client import CoreTransport
from services.eligibility.config import EligibilitySettings
from services.eligibility.timers import Verifier
from services.simulator import core_web
from services.simulator import eligibility as payer
from tests.builders import encounter
from tests.integration.core_world import core_endpoint
from tests.unit.factories import coverage, person

TENANT = "it-elig"
DOS = dt.date(2025, 3, 14)


def record(enc: EncounterCreated, offset: int) -> Record:
    x = encode(enc, new_meta(enc, source="test", tenant=TENANT, correlation_id=enc.encounter_id))
    return Record("encounter.created", 0, offset, x.key, x.value, x.headers)


@dataclass
class World:
    sim: Service
    elig: Service
    verifier: Verifier
    offset: int = 0

    async def roster(self, *encs: EncounterCreated) -> None:
        """The payer learns of these encounters' coverages."""
        recs = []
        for e in encs:
            self.offset += 1
            recs.append(record(e, self.offset))
        await self.sim.process("encounter.created", recs)

    async def visit(self, *encs: EncounterCreated) -> None:
        recs = []
        for e in encs:
            self.offset += 1
            recs.append(record(e, self.offset))
        await self.elig.process("encounter.created", recs)

    async def settle(self, runs: int = 20) -> None:
        for _ in range(runs):
            if await self.verifier.verify_due(self.elig) == 0:
                return

    async def events(self) -> dict[str, Event]:
        """The last event the outbox holds for each claim."""
        assert self.elig.pool is not None
        out: dict[str, Event] = {}
        for row in await self.elig.pool.fetch("SELECT value, headers FROM outbox ORDER BY id"):
            headers = [(k, base64.b64decode(v)) for k, v in orjson.loads(row["headers"])]
            ev = decode(row["value"], headers).event
            out[getattr(ev, "claim_id", "")] = ev
        return out

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        assert self.elig.pool is not None
        return list(await self.elig.pool.fetch(sql, *args))


def cid(enc: EncounterCreated) -> str:
    return claim_id_for(TENANT, enc.encounter_id)


@asynccontextmanager
async def core_transport(
    live_stack: Settings, answer: core_web.Answerer
) -> AsyncIterator[CoreTransport]:
    """A CORE endpoint over TLS in front of ``answer``, and eligibility's transport to it."""
    async with core_endpoint(live_stack, answer) as ep:
        transport = CoreTransport(ep.client("eligibility"))
        try:
            yield transport
        finally:
            await transport.close()


@asynccontextmanager
async def open_world(live_stack: Settings) -> AsyncIterator[World]:
    """The payer simulator answering 270s behind its CAQH CORE endpoint over loopback
    TLS, and eligibility with a verifier driven by hand, each in a schema of its own
    (dropped after)."""
    tag = uuid.uuid4().hex[:8]
    sim = Service(
        "it-sim",
        schema=f"it_sim_{tag}",
        migrations=Path(simulator_app.__file__).parent / "migrations",
        http_port=6197,
        s=live_stack,
    )
    sim.on(EncounterCreated, payer.on_encounter)
    elig_svc = Service(
        "it-elig",
        schema=f"it_elig_{tag}",
        migrations=Path(eligibility_app.__file__).parent / "migrations",
        http_port=6198,
        s=live_stack,
    )
    await sim.start_resources()
    await elig_svc.start_resources()
    answer = core_web.payer_answerer(lambda: sim.pool, live_stack, grace_s=3600)
    cfg = EligibilitySettings(timeout_s=2.0, max_attempts=3, backoff_s=0, reuse_s=600)
    elig_svc.on_many(EncounterCreated, partial(eligibility_handlers.on_encounters, cfg=cfg))
    try:
        async with core_transport(live_stack, answer) as transport:
            yield World(sim, elig_svc, Verifier(cfg, live_stack, transport))
    finally:
        for svc in (sim, elig_svc):
            assert svc.pool is not None
            await svc.pool.execute(f"DROP SCHEMA {svc.schema} CASCADE")
            await svc.stop_resources()


def ppo(member: str, **kw: Any) -> Coverage:
    return coverage(payer_id="PPO01", payer_name="BLUE MEADOW PPO", member_id=member, **kw)


def enc_for(n: int, coverages: list[Coverage], **kw: Any) -> EncounterCreated:
    return encounter(
        encounter_id=f"E-{n}",
        patient=person(id=f"MRN{n:04d}"),
        coverages=coverages,
        **kw,
    )
