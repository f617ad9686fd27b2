"""Claims throughput: 837P claims rendered per second, and saga events applied per second
into PostgreSQL through the real handlers (Service.process, one transaction per batch).

    .venv/bin/python scripts/bench_claims.py [--claims 20000] [--per-interchange 25]
    .venv/bin/python scripts/bench_claims.py --render-only

Claims are the demo workload's encounters (rcm.workload) as coded claims. Rendering
writes them in interchanges of ``--per-interchange`` claims (the batcher's cap) and one
claim per interchange. The saga part runs in a throw-away schema (bench_<hex>) on the
local stack's PostgreSQL, dropped at the end: encounter.created, then claim.coded, then
the batcher, then claim.acknowledged (277CA) and claim.adjudicated for every claim, each
topic in batches of 500 records as the Kafka agent hands them over. Prints JSON figures.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg

from rcm.workload import generate_day
from runtime.service import Record, Service
from runtime.settings import settings
from schemas.codec import encode, new_meta
from schemas.common import Adjustment
from schemas.events import (
    AckKind,
    AdjudicationStatus,
    ClaimAcknowledged,
    ClaimAdjudicated,
    ClaimCoded,
    ClaimLine,
    EncounterCreated,
    Event,
)
from schemas.ids import claim_id_for
from services.claims import app, batch
from services.claims.config import ClaimsSettings
from services.claims.x12_837 import ControlNumbers, Outgoing, Party, render_837p

TENANT = "bench"
BATCH = 500


def coded_from(enc: EncounterCreated) -> ClaimCoded | None:
    if not enc.coverages:
        return None
    cid = claim_id_for(TENANT, enc.encounter_id)
    index = {dx: i for i, dx in enumerate(enc.diagnoses, start=1)}
    lines = [
        ClaimLine(
            line_number=n,
            procedure_code=line.procedure_code,
            modifiers=line.modifiers,
            units=line.units,
            charge_cents=line.charge_cents,
            diagnosis_pointers=[index[d] for d in line.diagnosis_codes] or [1],
            service_date=enc.date_of_service,
        )
        for n, line in enumerate(enc.lines, start=1)
    ]
    cov = min(enc.coverages, key=lambda c: c.priority)
    return ClaimCoded(
        claim_id=cid,
        encounter_id=enc.encounter_id,
        patient_control_number=cid,
        payer_id=cov.payer_id,
        payer_name=cov.payer_name,
        coverage=cov,
        patient=enc.patient,
        billing_provider=enc.billing_provider,
        rendering_provider=enc.rendering_provider,
        place_of_service=enc.place_of_service,
        date_of_service=enc.date_of_service,
        diagnoses=enc.diagnoses,
        lines=lines,
        total_charge_cents=sum(x.charge_cents for x in lines),
    )


def workload(n: int) -> tuple[list[EncounterCreated], list[ClaimCoded]]:
    encounters = generate_day(n, seed=5, tenant=TENANT)
    pairs = [(e, coded_from(e)) for e in encounters]
    kept = [(e, c) for e, c in pairs if c is not None]
    return [e for e, _ in kept], [c for _, c in kept]


def bench_render(claims: list[ClaimCoded], per: int) -> dict[str, float]:
    s = settings()
    by_payer: dict[str, list[ClaimCoded]] = {}
    for c in claims:
        assert c.coverage is not None
        by_payer.setdefault(c.coverage.payer_id, []).append(c)
    at = dt.datetime.now(dt.UTC)
    kw = {
        "submitter": Party(s.x12_submitter_name, s.x12_submitter_id),
        "receiver": Party(s.x12_receiver_name, s.x12_receiver_id),
        "contact_phone": s.x12_submitter_phone,
        "at": at,
    }
    out: dict[str, float] = {}
    for label, size in (
        (f"claims_per_s_in_{per}_claim_interchanges", per),
        ("claims_per_s_one_per_interchange", 1),
    ):
        gc.collect()
        icn = 0
        size_bytes = 0
        t0 = time.perf_counter()
        for group in by_payer.values():
            for i in range(0, len(group), size):
                icn += 1
                text = render_837p(
                    [Outgoing(c) for c in group[i : i + size]],
                    control=ControlNumbers(icn, icn, 1),
                    **kw,  # type: ignore[arg-type]
                )
                size_bytes += len(text)
        elapsed = time.perf_counter() - t0
        out[label] = round(len(claims) / elapsed)
        out[label.replace("claims_per_s", "interchanges")] = icn
    return out


def records(events: list[Event], topic: str, start: int) -> list[Record]:
    out = []
    for n, ev in enumerate(events):
        enc = encode(ev, new_meta(ev, source="bench", tenant=TENANT, correlation_id=ev.key()))
        out.append(Record(topic, 0, start + n, enc.key, enc.value, enc.headers))
    return out


async def apply(svc: Service, events: list[Event]) -> float:
    """Feeds events in batches of 500 through Service.process; returns the seconds taken."""
    topic = events[0].TOPIC
    recs = records(events, topic, 0)
    t0 = time.perf_counter()
    for i in range(0, len(recs), BATCH):
        await svc.process(topic, recs[i : i + BATCH])
    return time.perf_counter() - t0


async def bench_saga(
    encounters: list[EncounterCreated], claims: list[ClaimCoded]
) -> dict[str, float]:
    s = settings()
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    svc = Service("claims", schema=schema, migrations=app.MIGRATIONS, http_port=6196, s=s)
    cfg = ClaimsSettings()
    app.wire(svc, cfg)
    batcher = batch.Batcher(cfg)
    await svc.start_resources()
    out: dict[str, float] = {}
    applied = 0
    spent = 0.0
    try:
        first: list[tuple[str, list[Event]]] = [
            ("encounter_created", list(encounters)),
            ("claim_coded", list(claims)),
        ]
        for label, events in first:
            secs = await apply(svc, events)
            out[f"{label}_per_s"] = round(len(events) / secs)
            applied += len(events)
            spent += secs
        t0 = time.perf_counter()
        sent = 0
        while n := await batcher.send_batches(svc):
            sent += n
        secs = time.perf_counter() - t0
        out["batcher_claims_submitted_per_s"] = round(sent / secs) if secs else 0
        acks: list[Event] = [
            ClaimAcknowledged(
                claim_id=c.claim_id,
                patient_control_number=c.patient_control_number,
                kind=AckKind.ack_277ca,
                accepted=True,
                x12="ISA*bench",
            )
            for c in claims
        ]
        paid: list[Event] = [
            ClaimAdjudicated(
                claim_id=c.claim_id,
                patient_control_number=c.patient_control_number,
                payer_id=c.payer_id or "",
                payer_claim_number=f"P{n}",
                trace_number="TRACE",
                status=AdjudicationStatus.paid,
                claim_status_code="1",
                charge_cents=c.total_charge_cents,
                paid_cents=c.total_charge_cents // 2,
                patient_responsibility_cents=0,
                adjustments=[
                    Adjustment(
                        group="CO",
                        reason="45",
                        amount_cents=c.total_charge_cents - c.total_charge_cents // 2,
                    )
                ],
            )
            for n, c in enumerate(claims)
        ]
        for label, later in (("claim_acknowledged", acks), ("claim_adjudicated", paid)):
            events = later
            secs = await apply(svc, events)
            out[f"{label}_per_s"] = round(len(events) / secs)
            applied += len(events)
            spent += secs
        out["saga_events_applied_per_s"] = round(applied / spent)
        assert svc.pool is not None
        closed = await svc.pool.fetchval("SELECT count(*) FROM claims WHERE state = 'CLOSED'")
        out["claims_closed"] = closed
        out["interchanges"] = await svc.pool.fetchval("SELECT count(*) FROM interchanges")
    finally:
        await svc.stop_resources()
        conn = await asyncpg.connect(s.database_url)
        try:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        finally:
            await conn.close()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--claims", type=int, default=20000)
    p.add_argument("--per-interchange", type=int, default=25)
    p.add_argument("--saga-claims", type=int, default=5000)
    p.add_argument("--render-only", action="store_true")
    args = p.parse_args()
    _, claims = workload(args.claims)
    figures: dict[str, float] = {"claims": len(claims)}
    figures.update(bench_render(claims, args.per_interchange))
    if not args.render_only:
        encounters, coded = workload(args.saga_claims)
        figures["saga_claims"] = len(coded)
        figures.update(asyncio.run(bench_saga(encounters, coded)))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
