"""A batch of claim events on the real PostgreSQL: the claim locks a batch takes up front,
steps of one claim in one batch in order, and the same result as one event at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from runtime.service import Record, Service
from runtime.settings import Settings
from schemas.events import AckKind, AdjudicationStatus, Event
from services.claims.config import ClaimsSettings
from tests.integration.claims_world import (
    Claims,
    ack,
    adjudicated,
    claims_service,
    coded,
    settings_for,
    submit,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def cfg(request: pytest.FixtureRequest) -> ClaimsSettings:
    return settings_for(request)


@pytest.fixture
async def claims(live_stack: Settings, cfg: ClaimsSettings) -> AsyncIterator[Claims]:
    async with claims_service(live_stack, cfg) as service:
        yield service


async def test_steps_of_one_claim_in_one_batch_apply_in_order(claims: Claims) -> None:
    """A batch's claim locks are taken before its handlers run; a second step of the same
    claim in the batch must see the first step's result, not the row as it was."""
    a, b = coded(1), coded(2)
    await submit(claims, a, b)
    # One batch: A's 999 and 277CA, then B's 277CA named by CLM01 (resolved to B).
    batch_records = [
        claims.record(ack(a, AckKind.ack_999, True)),
        claims.record(ack(a, AckKind.ack_277ca, True)),
        claims.record(ack(b, AckKind.ack_277ca, False, pcn=b.patient_control_number)),
    ]
    await claims.svc.process("claim.acknowledged", batch_records)
    assert [(t["kind"], t["from_state"], t["to_state"]) for t in await claims.timeline(a.claim_id)][
        -2:
    ] == [("note", "SUBMITTED", None), ("transition", "SUBMITTED", "ACCEPTED")]
    assert (await claims.state(a.claim_id))["state"] == "ACCEPTED"
    assert (await claims.state(b.claim_id))["state"] == "REJECTED"
    # and one batch that moves the same claim twice: paid, then reversed
    await claims.svc.process(
        "claim.adjudicated",
        [
            claims.record(adjudicated(a, AdjudicationStatus.paid, paid=9000)),
            claims.record(adjudicated(a, AdjudicationStatus.reversed, paid=-9000)),
        ],
    )
    row = await claims.state(a.claim_id)
    assert (row["state"], row["paid_cents"]) == ("SUBMITTED", 0)


async def test_batches_locking_the_same_claims_in_opposite_orders_never_deadlock(
    claims: Claims,
) -> None:
    """Two topics' batches, applied at once, name the same claims in opposite orders.
    Locking claim by claim as events come deadlocks them (PostgreSQL breaks it after a
    second and one batch is redone); the up-front locks in claim id order never do."""
    pairs = [coded(n) for n in range(1, 41)]
    await submit(claims, *pairs)
    acks = [claims.record(ack(c, AckKind.ack_277ca, True)) for c in pairs]
    adjs = [
        claims.record(adjudicated(c, AdjudicationStatus.paid, paid=9000)) for c in reversed(pairs)
    ]
    retries = claims.svc.metrics.retries
    before = sum(
        retries.labels("claims", t)._value.get()
        for t in ("claim.acknowledged", "claim.adjudicated")
    )
    await asyncio.gather(
        claims.svc.process("claim.acknowledged", acks),
        claims.svc.process("claim.adjudicated", adjs),
    )
    after = sum(
        retries.labels("claims", t)._value.get()
        for t in ("claim.acknowledged", "claim.adjudicated")
    )
    assert after == before, "a batch was retried (deadlock)"
    for c in pairs:
        # whichever batch took a claim first, the claim ends paid in full and closed
        assert (await claims.state(c.claim_id))["state"] == "CLOSED"


async def _saga_snapshot(svc: Service) -> dict[str, list[tuple[Any, ...]]]:
    """Every claim, timeline row and timer, without clock times and generated ids."""
    assert svc.pool is not None
    claims_rows = await svc.pool.fetch(
        "SELECT claim_id, tenant, state, encounter_id, hold_stage, self_pay, payer_id,"
        " patient_control_number, date_of_service, total_charge_cents, frequency_code,"
        " payer_claim_number, paid_cents, adjusted_cents, patient_responsibility_cents,"
        " coded, outgoing_frequency FROM claims ORDER BY claim_id"
    )
    events = await svc.pool.fetch(
        "SELECT claim_id, event_type, kind, from_state, to_state, detail FROM claim_events"
        " ORDER BY claim_id, id"
    )
    timers_rows = await svc.pool.fetch(
        "SELECT claim_id, kind, tenant, attempts, detail FROM claim_timers ORDER BY 1, 2"
    )
    return {
        "claims": [tuple(r) for r in claims_rows],
        "timeline": [tuple(r) for r in events],
        "timers": [tuple(r) for r in timers_rows],
    }


async def test_a_batch_of_steps_leaves_what_the_same_steps_one_by_one_leave(
    live_stack: Settings, cfg: ClaimsSettings
) -> None:
    """A batch defers its steps' writes and sends runs of one statement together; the
    claims, timelines and timers must come out as when every event is its own batch."""
    claim_list = [coded(n, payer="ACME1" if n % 2 else "BETA2") for n in range(1, 9)]
    a, b = claim_list[0], claim_list[1]
    stages: list[list[Event]] = [
        list(claim_list),
        [ack(c, AckKind.ack_999, True) for c in claim_list],
        # a claim's 999 and 277CA in one batch, and one rejected
        [ack(c, AckKind.ack_277ca, c is not b) for c in claim_list]
        + [ack(a, AckKind.ack_999, True)],
        [
            adjudicated(c, AdjudicationStatus.paid, paid=9000, pr=0 if n % 3 else 1500)
            for n, c in enumerate(claim_list[2:], start=2)
        ]
        + [adjudicated(claim_list[2], AdjudicationStatus.reversed, paid=-9000)],
    ]
    snapshots = []
    async with (
        claims_service(live_stack, cfg) as together,
        claims_service(live_stack, cfg) as apart,
    ):
        feeder = together
        for events in stages:
            records = [feeder.record(ev) for ev in events]
            by_topic: dict[str, list[Record]] = {}
            for r in records:
                by_topic.setdefault(r.topic, []).append(r)
            for topic, batch_records in by_topic.items():
                await together.svc.process(topic, batch_records)
            for r in records:
                await apart.svc.process(r.topic, [r])
            await together.send_batches()
            await apart.send_batches()
        for service in (together, apart):
            snapshots.append(await _saga_snapshot(service.svc))
    together_snap, apart_snap = snapshots
    states = {r[0]: r[2] for r in together_snap["claims"]}
    assert states[b.claim_id] == "REJECTED"
    assert states[claim_list[2].claim_id] == "SUBMITTED"  # paid, then reversed in one batch
    assert {states[c.claim_id] for c in claim_list[3:]} >= {"CLOSED", "PAID"}
    assert len(together_snap["timeline"]) > 40
    paid_in_full = claim_list[4].claim_id  # nothing left to collect: PAID, then CLOSED
    moves = [(t[3], t[4]) for t in together_snap["timeline"] if t[0] == paid_in_full]
    assert moves[-2:] == [("ACCEPTED", "PAID"), ("PAID", "CLOSED")]
    for part in ("claims", "timeline", "timers"):
        assert together_snap[part] == apart_snap[part], part
