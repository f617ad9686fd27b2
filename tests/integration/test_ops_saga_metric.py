"""rcm_saga_transitions_total{from,to} on the claims service, on the real PostgreSQL:
it counts exactly the transitions the claim timeline committed, never one rolled back."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client import generate_latest

from runtime.service import Record, Service
from runtime.settings import Settings
from schemas.codec import encode, new_meta
from schemas.events import AckKind, ClaimAcknowledged, ClaimCoded, Event
from services.claims import handlers, saga
from services.claims.config import ClaimsSettings
from tests.integration.claims_world import Claims, claims_service
from tests.unit import factories as f

pytestmark = pytest.mark.integration

TENANT = "metric-tenant"


CFG = ClaimsSettings(batch_window_s=0)


@pytest.fixture
async def claims(live_stack: Settings) -> AsyncIterator[Claims]:
    async with claims_service(live_stack, CFG, http_port=6197, tenant=TENANT) as service:
        yield service


@pytest.fixture
def svc(claims: Claims) -> Service:
    return claims.svc


_offset = 0


def record(event: Event) -> Record:
    global _offset
    _offset += 1
    meta = new_meta(event, source="test", tenant=TENANT, correlation_id=event.key())
    enc = encode(event, meta)
    return Record(event.TOPIC, 0, _offset, enc.key, enc.value, enc.headers)


def coded(n: int) -> ClaimCoded:
    cid = f"MCLM{n:05d}"
    return f.claim(n, claim_id=cid, patient_control_number=cid, payer_id="ACME1")


def counted(svc: Service) -> dict[tuple[str, str], float]:
    out = {}
    for metric in svc.metrics.registry.collect():
        for s in metric.samples:
            if s.name == "rcm_saga_transitions_total":
                out[(s.labels["from"], s.labels["to"])] = s.value
    return out


async def committed(svc: Service) -> dict[tuple[str, str], float]:
    """What the claim timeline says: every committed transition, from and to."""
    assert svc.pool is not None
    rows = await svc.pool.fetch(
        "SELECT coalesce(from_state, 'none') AS a, to_state AS b, count(*) AS n"
        " FROM claim_events WHERE kind = 'transition' GROUP BY 1, 2"
    )
    return {(r["a"], r["b"]): float(r["n"]) for r in rows}


async def test_each_committed_transition_is_counted_once_by_from_and_to(
    svc: Service, claims: Claims
) -> None:
    coded_claims = [coded(n) for n in range(1, 4)]
    recs = [record(c) for c in coded_claims]
    await svc.process(ClaimCoded.TOPIC, [*recs, recs[0]])  # a redelivery moves nothing
    await svc.process(ClaimCoded.TOPIC, [recs[1]])
    assert counted(svc) == {("none", "CODED"): 3}

    assert await claims.send_batches() == 3
    rejected = ClaimAcknowledged(
        claim_id=coded_claims[0].claim_id,
        patient_control_number=coded_claims[0].patient_control_number,
        kind=AckKind.ack_277ca,
        accepted=False,
        errors=[],
        x12="ISA*...",
    )
    await svc.process(ClaimAcknowledged.TOPIC, [record(rejected)])
    await asyncio.sleep(0)

    want = {("none", "CODED"): 3, ("CODED", "SUBMITTED"): 3, ("SUBMITTED", "REJECTED"): 1}
    assert counted(svc) == want
    assert await committed(svc) == want
    text = generate_latest(svc.metrics.registry).decode()
    assert 'rcm_saga_transitions_total{from="CODED",to="SUBMITTED"} 3.0' in text


async def test_a_transition_rolled_back_with_its_message_is_not_counted(svc: Service) -> None:
    bad = coded(2)

    async def fails_after_moving(ctx: Any, ev: ClaimCoded) -> None:
        await handlers.on_coded(ctx, ev, cfg=CFG)
        if ev.claim_id == bad.claim_id:
            raise RuntimeError("a bug after the claim moved")

    svc.on(ClaimCoded, fails_after_moving)
    await svc.process(ClaimCoded.TOPIC, [record(coded(1)), record(bad), record(coded(3))])
    await asyncio.sleep(0)
    assert counted(svc) == {("none", "CODED"): 2}
    assert await committed(svc) == {("none", "CODED"): 2}


async def test_a_transition_counts_when_its_transaction_commits_not_before(
    svc: Service,
) -> None:
    assert svc.pool is not None
    async with svc.pool.acquire() as conn:
        for outcome in ("rollback", "commit"):
            tx = conn.transaction()
            await tx.start()
            ctx = svc.context(conn, tenant=TENANT, correlation_id="MCLM-TX")
            # the encounter's step: a new claim, RECEIVED
            encounter_step = next(s for s in saga.STEPS if s.kind is saga.Kind.ENCOUNTER)
            change = handlers.Change()
            await handlers.apply(ctx, CFG, encounter_step, "MCLM-TX", None, change)
            await asyncio.sleep(0)
            assert counted(svc) == {}  # written, not committed
            await (tx.rollback() if outcome == "rollback" else tx.commit())
            await asyncio.sleep(0)
    assert counted(svc) == {("none", "RECEIVED"): 1}
    assert await committed(svc) == {("none", "RECEIVED"): 1}
