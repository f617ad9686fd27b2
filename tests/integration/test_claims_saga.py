"""The claims handlers and the batcher on the real PostgreSQL, in a schema of their own:
claims batched per payer, every event applied once, corrections sent as replacements,
voids and reversals, and an original CLM01 never sent twice."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import asyncpg
import orjson
import pytest

from runtime.settings import Settings
from schemas.events import AckKind, AdjudicationStatus, StatementIssued
from schemas.events_payments import ClaimBalanceZero
from schemas.events_workqueue import ClaimVoidRequested
from services.claims import handlers
from services.claims.config import ClaimsSettings
from tests.integration.claims_world import (
    TENANT,
    Claims,
    ack,
    adjudicated,
    claims_service,
    clm,
    coded,
    fixed,
    knobs,
    row_reason,
    settings_for,
    submit,
)
from tests.throwaway import running_timers
from tests.unit import factories as f

pytestmark = pytest.mark.integration


@pytest.fixture
def cfg(request: pytest.FixtureRequest) -> ClaimsSettings:
    return settings_for(request)


@pytest.fixture
async def claims(live_stack: Settings, cfg: ClaimsSettings) -> AsyncIterator[Claims]:
    async with claims_service(live_stack, cfg) as service:
        yield service


# --- batching ---------------------------------------------------------------------


async def test_coded_claims_share_one_interchange_per_payer(claims: Claims) -> None:
    acme = [coded(n) for n in range(1, 4)]
    other = coded(9, payer="MCR01")
    await claims.send(*acme, other)
    assert {(await claims.state(c.claim_id))["state"] for c in [*acme, other]} == {"CODED"}

    assert await claims.send_batches() == 4

    inter = await claims.pool.fetch(
        "SELECT interchange_control_number AS icn, payer_id, claim_ids, x12 FROM interchanges"
        " ORDER BY payer_id"
    )
    assert [(r["payer_id"], sorted(r["claim_ids"])) for r in inter] == [
        ("ACME1", [c.claim_id for c in acme]),
        ("MCR01", [other.claim_id]),
    ]
    sent = await claims.submitted()
    assert sorted(s.claim_id for s in sent) == sorted(c.claim_id for c in [*acme, other])
    by_claim = {s.claim_id: s for s in sent}
    acme_icn = f"{inter[0]['icn']:09d}"
    for c in acme:
        s = by_claim[c.claim_id]
        # each claim's own event carries the whole interchange and its control numbers
        assert s.interchange_control_number == acme_icn
        assert s.x12 == inter[0]["x12"]
        assert f"*{acme_icn}*0*T*:~" in s.x12
        assert clm(s.x12, c.patient_control_number)[5] == "11:B:1"
        assert (await claims.state(c.claim_id))["state"] == "SUBMITTED"
    assert by_claim[other.claim_id].interchange_control_number != acme_icn
    steps = [(t["kind"], t["to_state"]) for t in await claims.timeline(acme[0].claim_id)]
    assert steps == [("transition", "CODED"), ("transition", "SUBMITTED")]


@knobs(batch_max_claims=2)
async def test_the_cap_splits_a_payer_into_several_interchanges(claims: Claims) -> None:
    await submit(claims, *(coded(n) for n in range(1, 6)))
    sizes = sorted(len(r[0]) for r in await claims.pool.fetch("SELECT claim_ids FROM interchanges"))
    assert sizes == [1, 2, 2]


@knobs(batch_window_s=0.3)
async def test_a_lone_claim_waits_for_the_window_then_goes(claims: Claims) -> None:
    await claims.send(coded(1))
    assert await claims.send_batches() == 0
    assert (await claims.state("CLM00001"))["state"] == "CODED"
    await asyncio.sleep(0.35)
    assert await claims.send_batches() == 1
    assert (await claims.state("CLM00001"))["state"] == "SUBMITTED"


@knobs(batch_window_s=30, batch_max_claims=3)
async def test_a_full_interchange_goes_at_once_and_waiting_claims_are_left_untouched(
    claims: Claims,
) -> None:
    """Within the window a payer's full interchange goes, and claims still waiting are
    neither locked nor read: a tick writes no row lock (xmax) on them."""
    await claims.send(*(coded(n) for n in range(1, 4)), coded(9, payer="MCR01"))
    lone = "SELECT xmax::text FROM claims WHERE claim_id = 'CLM00009'"
    before = await claims.pool.fetchval(lone)
    assert await claims.send_batches() == 3
    assert await claims.send_batches() == 0
    assert (await claims.state("CLM00009"))["state"] == "CODED"
    assert await claims.pool.fetchval(lone) == before


async def test_a_self_pay_claim_is_not_sent(claims: Claims) -> None:
    await submit(claims, coded(1, self_pay=True, coverage=None))
    assert (await claims.state("CLM00001"))["state"] == "CODED"
    assert await claims.submitted() == []


async def test_an_unbuildable_claim_is_held_and_its_neighbours_go(claims: Claims) -> None:
    bad = coded(2, billing_provider=f.billing_provider(tax_id=None))
    await submit(claims, coded(1), bad, coded(3))
    row = await claims.state(bad.claim_id)
    assert (row["state"], row["hold_stage"]) == ("HELD", "claims")
    last = (await claims.timeline(bad.claim_id))[-1]
    reason = orjson.loads(last["detail"])["reasons"][0]
    assert reason["code"] == "837-UNBUILDABLE"
    assert "billing_provider.tax_id is missing" in reason["message"]
    sent = await claims.submitted()
    assert sorted(s.claim_id for s in sent) == ["CLM00001", "CLM00003"]
    assert "CLM*CLM00002*" not in sent[0].x12
    assert (
        await claims.pool.fetchval(
            "SELECT count(*) FROM submissions WHERE claim_id = $1", bad.claim_id
        )
        == 0
    )


# --- each event once; impossible events ----------------------------------------------


async def test_a_duplicate_event_moves_the_claim_once(claims: Claims) -> None:
    claim = coded(1)
    rec = claims.record(claim)
    await claims.svc.process(claim.TOPIC, [rec, rec])
    await claims.svc.process(claim.TOPIC, [rec])
    # the same coding again under a new message id: late, not queued a second time
    await claims.send(claim)
    await claims.send_batches()
    await claims.send_batches()
    assert [(t["kind"], t["to_state"]) for t in await claims.timeline(claim.claim_id)] == [
        ("transition", "CODED"),
        ("late", None),
        ("transition", "SUBMITTED"),
    ]
    assert len(await claims.submitted()) == 1


async def test_events_for_unknown_claims_are_anomalies_not_crashes(claims: Claims) -> None:
    ghost = coded(7)
    await claims.send(
        adjudicated(ghost, AdjudicationStatus.paid, paid=5000),
        ClaimBalanceZero(
            claim_id="CNOPE",
            guarantor_id="G1",
            closed_by="patient_payment",
            at=dt.datetime.now(dt.UTC),
        ),
    )
    for cid in (ghost.claim_id, "CNOPE"):
        rows = await claims.timeline(cid)
        assert [r["kind"] for r in rows] == ["anomaly"]
    assert await claims.pool.fetchval("SELECT count(*) FROM claims") == 0
    assert await claims.pool.fetchval("SELECT count(*) FROM dead_letters") == 0


# --- corrections ---------------------------------------------------------------------


async def test_a_fixed_denial_goes_out_as_a_replacement_with_the_payer_claim_number(
    claims: Claims,
) -> None:
    claim = coded(1)
    await submit(claims, claim)
    await claims.send(
        ack(claim, AckKind.ack_277ca, True),
        adjudicated(claim, AdjudicationStatus.denied, paid=0, payer_claim_number="PAYER77"),
    )
    assert (await claims.state(claim.claim_id))["state"] == "DENIED"

    await claims.send(fixed(claim))
    row = await claims.state(claim.claim_id)
    assert (row["state"], row["payer_claim_number"]) == ("ELIGIBLE", "PAYER77")
    await submit(claims, claim)  # coding sends the corrected claim again

    row = await claims.state(claim.claim_id)
    assert (row["state"], row["frequency_code"]) == ("SUBMITTED", "7")
    replacement = (await claims.submitted())[-1]
    assert replacement.frequency_code == "7"
    segs = [s.split("*") for s in replacement.x12.split("~")]
    i = next(k for k, s in enumerate(segs) if s[0] == "CLM")
    assert segs[i][1] == claim.patient_control_number
    assert segs[i][5] == "11:B:7"
    assert segs[i + 1] == ["REF", "F8", "PAYER77"]
    subs = await claims.pool.fetch(
        "SELECT patient_control_number, frequency_code FROM submissions ORDER BY id"
    )
    assert [(s[0], s[1]) for s in subs] == [("CLM00001", "1"), ("CLM00001", "7")]
    types = [t["event_type"] for t in await claims.timeline(claim.claim_id)]
    assert "rcm.claim.fixed.v1" in types


async def test_a_front_end_rejection_goes_out_again_as_a_new_original_under_a_new_clm01(
    claims: Claims,
) -> None:
    claim = coded(1)
    await submit(claims, claim)
    await claims.send(ack(claim, AckKind.ack_277ca, False))
    assert (await claims.state(claim.claim_id))["state"] == "REJECTED"
    await claims.send(fixed(claim))
    await submit(claims, claim)

    subs = await claims.pool.fetch(
        "SELECT patient_control_number, frequency_code FROM submissions ORDER BY id"
    )
    assert [s[1] for s in subs] == ["1", "1"]
    new_pcn = subs[1][0]
    assert new_pcn != claim.patient_control_number
    again = (await claims.submitted())[-1]
    assert again.patient_control_number == new_pcn
    assert clm(again.x12, new_pcn)[5] == "11:B:1"
    assert "REF*F8" not in again.x12
    # the clearinghouse answers under the new CLM01: it reaches the same claim
    await claims.send(ack(claim, AckKind.ack_277ca, True, pcn=new_pcn))
    assert (await claims.state(claim.claim_id))["state"] == "ACCEPTED"
    assert await claims.pool.fetchval("SELECT count(*) FROM claims") == 1


async def test_an_original_is_never_sent_twice(claims: Claims) -> None:
    claim = coded(1)
    await submit(claims, claim)
    # however a claim came to be queued as an original again, its CLM01 is not resent
    await claims.pool.execute(
        "UPDATE claims SET state = 'CODED', outgoing_frequency = '1' WHERE claim_id = $1",
        claim.claim_id,
    )
    await claims.send_batches()
    row = await claims.state(claim.claim_id)
    assert (row["state"], row["hold_stage"]) == ("HELD", "claims")
    assert "DUPLICATE-ORIGINAL" in row_reason(await claims.timeline(claim.claim_id))
    assert len(await claims.submitted()) == 1
    assert await claims.pool.fetchval("SELECT count(*) FROM submissions") == 1
    with pytest.raises(asyncpg.UniqueViolationError):
        await claims.pool.execute(
            "INSERT INTO submissions(claim_id, patient_control_number, frequency_code,"
            " interchange_control_number) SELECT claim_id, patient_control_number, '1',"
            " interchange_control_number FROM submissions"
        )


async def test_a_void_goes_out_with_frequency_8_and_the_payer_claim_number(claims: Claims) -> None:
    claim = coded(1)
    await submit(claims, claim)
    await claims.send(
        adjudicated(claim, AdjudicationStatus.paid, paid=10000, payer_claim_number="PAY9")
    )
    assert (await claims.state(claim.claim_id))["state"] == "CLOSED"
    async with claims.pool.acquire() as conn, conn.transaction():
        ctx = claims.svc.context(conn, tenant=TENANT, correlation_id=claim.claim_id)
        assert await handlers.request_void(ctx, claims.cfg, claim.claim_id, "billed in error")
    await claims.send_batches()
    void = (await claims.submitted())[-1]
    assert void.frequency_code == "8"
    segs = [s.split("*") for s in void.x12.split("~")]
    i = next(k for k, s in enumerate(segs) if s[0] == "CLM")
    assert segs[i][5] == "11:B:8"
    assert segs[i + 1] == ["REF", "F8", "PAY9"]


async def test_a_void_requested_in_the_work_queue_goes_out_with_frequency_8(
    claims: Claims,
) -> None:
    claim = coded(2)
    await submit(claims, claim)
    await claims.send(
        adjudicated(claim, AdjudicationStatus.paid, paid=10000, payer_claim_number="PAY7")
    )
    ask = ClaimVoidRequested(
        claim_id=claim.claim_id,
        requested_by="key-1",
        requested_at=dt.datetime.now(dt.UTC),
        reason="billed in error",
    )
    await claims.send(ask)
    await claims.send(ask)  # redelivered: one void
    await claims.send_batches()
    voids = [s for s in await claims.submitted() if s.frequency_code == "8"]
    assert len(voids) == 1
    segs = [s.split("*") for s in voids[0].x12.split("~")]
    i = next(k for k, s in enumerate(segs) if s[0] == "CLM")
    assert segs[i + 1] == ["REF", "F8", "PAY7"]


# --- money: reversal, balance zero ----------------------------------------------------


async def test_a_reversal_reopens_the_claim_and_takes_the_money_back(claims: Claims) -> None:
    claim = coded(1)
    await submit(claims, claim)
    await claims.send(adjudicated(claim, AdjudicationStatus.paid, paid=9000))
    assert (await claims.state(claim.claim_id))["state"] == "CLOSED"
    await claims.send(adjudicated(claim, AdjudicationStatus.reversed, paid=-9000))
    row = await claims.state(claim.claim_id)
    assert (row["state"], row["paid_cents"]) == ("SUBMITTED", 0)
    assert (
        await claims.pool.fetchval(
            "SELECT count(*) FROM claim_timers WHERE claim_id = $1 AND kind = 'remit'",
            claim.claim_id,
        )
        == 1
    )
    # the corrected payment follows
    await claims.send(adjudicated(claim, AdjudicationStatus.paid, paid=9450))
    row = await claims.state(claim.claim_id)
    assert (row["state"], row["paid_cents"]) == ("CLOSED", 9450)


async def test_a_billed_claim_closes_when_the_patient_balance_reaches_zero(claims: Claims) -> None:
    claim = coded(1)
    await submit(claims, claim)
    await claims.send(
        adjudicated(claim, AdjudicationStatus.paid, paid=8000, pr=2000),
        StatementIssued(
            guarantor_id="G1",
            statement_id="S1",
            claim_ids=[claim.claim_id],
            balance_cents=2000,
            aging_bucket="0-30",
            statement_date=dt.date(2025, 4, 1),
            due_date=dt.date(2025, 5, 1),
        ),
    )
    assert (await claims.state(claim.claim_id))["state"] == "PATIENT_BILLED"
    zero = ClaimBalanceZero(
        claim_id=claim.claim_id,
        guarantor_id="G1",
        closed_by="patient_payment",
        at=dt.datetime.now(dt.UTC),
    )
    await claims.send(zero)
    await claims.send(zero)  # a second copy under another message id: recorded as late
    row = await claims.state(claim.claim_id)
    assert (row["state"], row["patient_responsibility_cents"]) == ("CLOSED", 2000)
    assert [t["kind"] for t in await claims.timeline(claim.claim_id)][-2:] == ["transition", "late"]


@knobs(batch_window_s=2.0, batch_max_claims=3)
async def test_the_batcher_wakes_for_a_full_interchange_and_when_a_group_ripens(
    claims: Claims,
) -> None:
    """With the batcher's own period an hour, a full interchange goes as soon as the batch
    that coded its last claim commits, and a lone claim goes when its window is up."""
    claims.svc.every(3600, claims.batcher.send_batches, woken_by=["claim.coded"])

    async def submitted_within(seconds: float, n: int) -> float:
        start = asyncio.get_running_loop().time()
        while len(await claims.submitted()) < n:
            assert asyncio.get_running_loop().time() - start < seconds, "not sent"
            await asyncio.sleep(0.02)
        return asyncio.get_running_loop().time() - start

    async with running_timers(claims.svc):
        await asyncio.sleep(0.2)  # the timers' first runs: nothing waits yet
        full = [coded(n, payer="ACME1") for n in (1, 2, 3)]
        await claims.svc.process("claim.coded", [claims.record(c) for c in full])
        await submitted_within(1.5, 3)  # well inside the 2 s window: it was full
        lone = coded(4, payer="BETA2")
        await claims.svc.process("claim.coded", [claims.record(lone)])
        took = await submitted_within(10.0, 4)  # the window, not the hour
        assert took >= 1.5


@knobs(batch_window_s=0.4)
async def test_a_ripe_claim_locked_by_a_batch_in_progress_goes_once_the_lock_is_gone(
    claims: Claims,
) -> None:
    """The batcher skips a claim whose row a batch being applied holds; with its own period
    an hour, it still looks again shortly and sends the claim once the lock is gone."""
    claims.svc.every(3600, claims.batcher.send_batches, woken_by=["claim.coded"])
    lone = coded(1)
    async with running_timers(claims.svc):
        async with claims.pool.acquire() as other, other.transaction():
            await claims.svc.process("claim.coded", [claims.record(lone)])
            await other.execute(
                "SELECT 1 FROM claims WHERE claim_id = $1 FOR UPDATE", lone.claim_id
            )
            await asyncio.sleep(1.0)  # ripe at 0.4 s, but locked
            assert await claims.submitted() == []
        for _ in range(100):  # the lock is gone
            if await claims.submitted():
                break
            await asyncio.sleep(0.05)
        assert [s.claim_id for s in await claims.submitted()] == [lone.claim_id]
