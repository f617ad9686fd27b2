"""The claims service on the live stack for the claims integration tests: a service built
with the claims settings a test asks for (:func:`knobs`), fed records as the consumer
would, and the events of a claim's life."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import asyncpg
import orjson
import pytest

from runtime.service import Record, Service
from runtime.settings import Settings
from schemas.codec import decode, encode, new_meta
from schemas.common import Adjustment, HoldReason
from schemas.events import (
    AckKind,
    AdjudicationStatus,
    ClaimAcknowledged,
    ClaimAdjudicated,
    ClaimCoded,
    ClaimSubmitted,
    Event,
)
from schemas.events_transport import X12FileSent, X12InterchangeReady
from schemas.events_workqueue import ClaimFixed, Reentry
from services.claims import app, batch
from services.claims.config import ClaimsSettings
from services.claims.directory import import_payers
from services.claims.payers import parse
from tests.builders import encounter
from tests.throwaway import throwaway_service
from tests.unit import factories as f

TENANT = "t1"
#: The payer directory of TENANT: the payers these tests bill (none is named for its kind).
#: BETA2 answers no real-time 276 (CAQH CORE); the others do.
DIRECTORY = """payer_id,name,filing_indicator,timely_filing_days,days_to_pay,realtime_276
ACME1,ACME HEALTH,CI,180,21,true
BETA2,BETA HEALTH,12,180,21,false
MCR01,MEDICARE PART B SIM,MB,365,14,true
MCD01,STATE MEDICAID SIM,MC,365,30,true
MGP01,MEDIGAP PLAN F SIM,CI,180,21,true
"""


def knobs(**overrides: Any) -> pytest.MarkDecorator:
    """The test's service is built with these claims settings (through the ``cfg``
    fixture, which starts from a batch window of 0)."""
    return pytest.mark.parametrize("cfg", [overrides], indirect=True, ids=["knobs"])


def settings_for(request: pytest.FixtureRequest) -> ClaimsSettings:
    """The ``cfg`` fixture's answer: the test's knobs over a batch window of 0."""
    return ClaimsSettings(**{"batch_window_s": 0, **getattr(request, "param", {})})


class Claims:
    """The claims service in its own schema, fed records as the consumer would."""

    def __init__(self, svc: Service, cfg: ClaimsSettings, tenant: str = TENANT) -> None:
        self.svc = svc
        self.tenant = tenant
        self.cfg = cfg
        self.batcher = batch.Batcher(cfg)
        self.offset = 0
        self.reported: set[str] = set()

    async def send_batches(self, *, uploaded: bool = True) -> int:
        """One tick of the service's batcher; ``uploaded``: then the connector reports
        every interchange handed to it as uploaded (x12.file-sent), as it does once the
        file is in the clearinghouse's mailbox."""
        n = await self.batcher.send_batches(self.svc)
        if uploaded:
            await self.uploaded()
        return n

    async def uploaded(self) -> list[str]:
        """x12.file-sent for each interchange handed to the connector and not reported
        yet; returns their control numbers."""
        done = []
        for ev in await self.outbox(X12InterchangeReady.TOPIC):
            icn = ev.interchange_control_number
            if icn in self.reported:
                continue
            self.reported.add(icn)
            digest = hashlib.sha256(ev.x12.encode()).hexdigest()
            sent = X12FileSent(
                interchange_control_number=icn, account="test", name=f"{icn}.837",
                sha256=digest, attempts=1,
            )  # fmt: skip
            await self.send(sent)
            done.append(icn)
        return done

    @property
    def pool(self) -> asyncpg.Pool:
        assert self.svc.pool is not None
        return self.svc.pool

    def record(self, event: Event) -> Record:
        meta = new_meta(event, source="test", tenant=self.tenant, correlation_id=event.key())
        enc = encode(event, meta)
        self.offset += 1
        return Record(event.TOPIC, 0, self.offset, enc.key, enc.value, enc.headers)

    async def send(self, *events: Event) -> None:
        for ev in events:
            await self.svc.process(ev.TOPIC, [self.record(ev)])

    async def state(self, claim_id: str) -> asyncpg.Record:
        row = await self.pool.fetchrow("SELECT * FROM claims WHERE claim_id = $1", claim_id)
        assert row is not None, claim_id
        return row

    async def timeline(self, claim_id: str) -> list[asyncpg.Record]:
        return list(
            await self.pool.fetch(
                "SELECT event_type, kind, from_state, to_state, detail FROM claim_events"
                " WHERE claim_id = $1 ORDER BY id",
                claim_id,
            )
        )

    async def outbox(self, topic: str) -> list[Any]:
        rows = await self.pool.fetch(
            "SELECT value, headers FROM outbox WHERE topic = $1 ORDER BY id", topic
        )
        out = []
        for r in rows:
            headers = [(k, base64.b64decode(v)) for k, v in orjson.loads(r["headers"])]
            out.append(decode(r["value"], headers).event)
        return out

    async def submitted(self, *, uploaded: bool = True) -> list[ClaimSubmitted]:
        """The claim.submitted sent, once the connector reported every interchange handed
        to it uploaded (``uploaded``; False: as things stand)."""
        if uploaded:
            await self.uploaded()
        return [e for e in await self.outbox("claim.submitted") if isinstance(e, ClaimSubmitted)]

    async def due_now(self, kind: str) -> None:
        await self.pool.execute("UPDATE claim_timers SET due_at = now() WHERE kind = $1", kind)


@asynccontextmanager
async def claims_service(
    s: Settings, cfg: ClaimsSettings, *, http_port: int = 6198, tenant: str = TENANT
) -> AsyncIterator[Claims]:
    """The claims service's handlers, built with ``cfg``, in a throw-away schema, with
    DIRECTORY as ``tenant``'s payer directory."""
    wire = partial(app.wire, cfg=cfg)
    async with throwaway_service("claims", app.MIGRATIONS, wire, s, http_port=http_port) as svc:
        assert svc.pool is not None
        async with svc.pool.acquire() as conn:
            await import_payers(conn, tenant, parse(DIRECTORY))
        yield Claims(svc, cfg, tenant)


def coded(n: int, payer: str = "ACME1", **overrides: Any) -> ClaimCoded:
    cid = f"CLM{n:05d}"
    fields: dict[str, Any] = {
        "claim_id": cid,
        "patient_control_number": cid,
        "payer_id": payer,
        "coverage": f.coverage(payer_id=payer),
        **overrides,
    }
    return f.claim(n, **fields)


def ack(
    claim: ClaimCoded, kind: AckKind, accepted: bool, pcn: str | None = None
) -> ClaimAcknowledged:
    errors = [] if accepted else [HoldReason(code="A7:562", message="bad NPI", fix="fix it")]
    return ClaimAcknowledged(
        claim_id=pcn or claim.claim_id,
        patient_control_number=pcn or claim.patient_control_number,
        kind=kind,
        accepted=accepted,
        errors=errors,
        x12="ISA*...",
    )


def adjudicated(
    claim: ClaimCoded,
    status: AdjudicationStatus,
    *,
    paid: int,
    pr: int = 0,
    payer_claim_number: str = "PAYER0001",
) -> ClaimAdjudicated:
    charge = claim.total_charge_cents
    sign = -1 if status is AdjudicationStatus.reversed else 1
    # charge = paid + every adjustment (PR included), as on an 835
    adjustments = [Adjustment(group="CO", reason="45", amount_cents=sign * charge - paid - pr)]
    if pr:
        adjustments.append(Adjustment(group="PR", reason="2", amount_cents=pr))
    return ClaimAdjudicated(
        claim_id=claim.claim_id,
        patient_control_number=claim.patient_control_number,
        payer_id=claim.payer_id or "",
        payer_claim_number=payer_claim_number,
        trace_number="TRACE1",
        status=status,
        claim_status_code="22" if sign == -1 else "1",
        charge_cents=sign * charge,
        paid_cents=paid,
        patient_responsibility_cents=pr,
        adjustments=adjustments,
        denial_category="correctable" if status is AdjudicationStatus.denied else None,
    )


def fixed(claim: ClaimCoded, reenter: Reentry = Reentry.coding) -> ClaimFixed:
    return ClaimFixed(
        claim_id=claim.claim_id,
        encounter_id=claim.encounter_id,
        reenter=reenter,
        fixed_by="user-7",
        fixed_at=dt.datetime.now(dt.UTC),
        note="corrected the diagnosis pointer",
        encounter=encounter(encounter_id=claim.encounter_id),
        changed=["lines"],
    )


def clm(x12: str, pcn: str) -> list[str]:
    segs = [s.split("*") for s in x12.split("~")]
    return next(s for s in segs if s[0] == "CLM" and s[1] == pcn)


async def submit(claims: Claims, *batch_of: ClaimCoded) -> None:
    await claims.send(*batch_of)
    await claims.send_batches()


def row_reason(rows: list[asyncpg.Record]) -> str:
    return str(orjson.loads(rows[-1]["detail"])["reasons"][0]["code"])
