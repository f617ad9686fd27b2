"""The claims handlers, batcher and timers on the real PostgreSQL, in a schema of their own:
claims batched per payer, every event applied once, acknowledgement timeouts resent,
corrections sent as replacements, and an original CLM01 never sent twice."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import orjson
import pytest
from aiohttp import web

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
    StatementIssued,
)
from schemas.events_payments import ClaimBalanceZero
from schemas.events_workqueue import ClaimFixed, ClaimVoidRequested, Reentry
from services.claims import app, batch, handlers, timers
from services.claims.config import ClaimsSettings
from tests.builders import encounter
from tests.throwaway import running_timers, throwaway_service
from tests.unit import factories as f

pytestmark = pytest.mark.integration

TENANT = "t1"


class Claims:
    """The claims service in its own schema, fed records as the consumer would."""

    def __init__(self, svc: Service) -> None:
        self.svc = svc
        self.offset = 0

    @property
    def pool(self) -> asyncpg.Pool:
        assert self.svc.pool is not None
        return self.svc.pool

    def record(self, event: Event) -> Record:
        meta = new_meta(event, source="test", tenant=TENANT, correlation_id=event.key())
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

    async def submitted(self) -> list[ClaimSubmitted]:
        return [e for e in await self.outbox("claim.submitted") if isinstance(e, ClaimSubmitted)]

    async def due_now(self, kind: str) -> None:
        await self.pool.execute("UPDATE claim_timers SET due_at = now() WHERE kind = $1", kind)


@pytest.fixture
def knobs(monkeypatch: pytest.MonkeyPatch) -> Callable[..., ClaimsSettings]:
    """Sets the claims service's knobs for one test."""

    def use(**overrides: Any) -> ClaimsSettings:
        cfg = ClaimsSettings(**{"batch_window_s": 0, **overrides})
        for module in (batch, handlers, timers):
            monkeypatch.setattr(module, "claims_settings", lambda: cfg)
        return cfg

    use()
    return use


@pytest.fixture
async def claims(live_stack: Settings, knobs: Any) -> AsyncIterator[Claims]:
    async with throwaway_service("claims", app.MIGRATIONS, app.wire, live_stack) as svc:
        yield Claims(svc)


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
    await batch.send_batches(claims.svc)


# --- batching ---------------------------------------------------------------------


async def test_coded_claims_share_one_interchange_per_payer(claims: Claims) -> None:
    acme = [coded(n) for n in range(1, 4)]
    other = coded(9, payer="MCR01")
    await claims.send(*acme, other)
    assert {(await claims.state(c.claim_id))["state"] for c in [*acme, other]} == {"CODED"}

    assert await batch.send_batches(claims.svc) == 4

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


async def test_the_cap_splits_a_payer_into_several_interchanges(
    claims: Claims, knobs: Callable[..., ClaimsSettings]
) -> None:
    knobs(batch_max_claims=2)
    await submit(claims, *(coded(n) for n in range(1, 6)))
    sizes = sorted(len(r[0]) for r in await claims.pool.fetch("SELECT claim_ids FROM interchanges"))
    assert sizes == [1, 2, 2]


async def test_a_lone_claim_waits_for_the_window_then_goes(
    claims: Claims, knobs: Callable[..., ClaimsSettings]
) -> None:
    knobs(batch_window_s=0.3)
    await claims.send(coded(1))
    assert await batch.send_batches(claims.svc) == 0
    assert (await claims.state("CLM00001"))["state"] == "CODED"
    await asyncio.sleep(0.35)
    assert await batch.send_batches(claims.svc) == 1
    assert (await claims.state("CLM00001"))["state"] == "SUBMITTED"


async def test_a_full_interchange_goes_at_once_and_waiting_claims_are_left_untouched(
    claims: Claims, knobs: Callable[..., ClaimsSettings]
) -> None:
    """Within the window a payer's full interchange goes, and claims still waiting are
    neither locked nor read: a tick writes no row lock (xmax) on them."""
    knobs(batch_window_s=30, batch_max_claims=3)
    await claims.send(*(coded(n) for n in range(1, 4)), coded(9, payer="MCR01"))
    lone = "SELECT xmax::text FROM claims WHERE claim_id = 'CLM00009'"
    before = await claims.pool.fetchval(lone)
    assert await batch.send_batches(claims.svc) == 3
    assert await batch.send_batches(claims.svc) == 0
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
    await batch.send_batches(claims.svc)
    await batch.send_batches(claims.svc)
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


# --- acknowledgement timeout ---------------------------------------------------------


async def test_no_acknowledgement_in_time_resends_the_same_interchange(claims: Claims) -> None:
    claim = coded(1)
    await submit(claims, claim, coded(2))
    first = (await claims.submitted())[0]
    assert await timers.ack_timeouts(claims.svc) == 0  # not due yet

    await claims.due_now("ack")
    assert await timers.ack_timeouts(claims.svc) == 2
    sent = [s for s in await claims.submitted() if s.claim_id == claim.claim_id]
    assert len(sent) == 2
    assert sent[1].interchange_control_number == first.interchange_control_number
    assert sent[1].x12 == first.x12
    note = (await claims.timeline(claim.claim_id))[-1]
    assert note["event_type"] == "rcm.claims.ack-timeout"
    assert orjson.loads(note["detail"])["alert"] == "ack-timeout"
    assert await claims.pool.fetchval("SELECT resends FROM interchanges") == 1
    assert (await claims.state(claim.claim_id))["state"] == "SUBMITTED"

    # the acknowledgement arrives: no further resend for this claim
    await claims.send(ack(claim, AckKind.ack_999, True))
    await claims.due_now("ack")
    assert await timers.ack_timeouts(claims.svc) == 1  # only the other claim
    assert len([s for s in await claims.submitted() if s.claim_id == claim.claim_id]) == 2


async def test_after_the_last_resend_a_person_is_asked(
    claims: Claims, knobs: Callable[..., ClaimsSettings]
) -> None:
    knobs(ack_max_resends=1)
    await submit(claims, coded(1))
    for _ in range(3):
        await claims.due_now("ack")
        await timers.ack_timeouts(claims.svc)
    assert len(await claims.submitted()) == 2  # the original send and one resend
    kinds = [
        (t["kind"], orjson.loads(t["detail"]).get("alert"))
        for t in await claims.timeline("CLM00001")
    ]
    assert kinds[-1] == ("anomaly", "ack-gave-up")
    assert await claims.pool.fetchval("SELECT count(*) FROM claim_timers WHERE kind = 'ack'") == 0


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
    await batch.send_batches(claims.svc)
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


def row_reason(rows: list[asyncpg.Record]) -> str:
    return str(orjson.loads(rows[-1]["detail"])["reasons"][0]["code"])


async def test_a_void_goes_out_with_frequency_8_and_the_payer_claim_number(claims: Claims) -> None:
    claim = coded(1)
    await submit(claims, claim)
    await claims.send(
        adjudicated(claim, AdjudicationStatus.paid, paid=10000, payer_claim_number="PAY9")
    )
    assert (await claims.state(claim.claim_id))["state"] == "CLOSED"
    async with claims.pool.acquire() as conn, conn.transaction():
        ctx = claims.svc.context(conn, tenant=TENANT, correlation_id=claim.claim_id)
        assert await handlers.request_void(ctx, claim.claim_id, "billed in error")
    await batch.send_batches(claims.svc)
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
    await batch.send_batches(claims.svc)
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


# --- 276/277 and timely filing ----------------------------------------------------------


async def test_no_835_by_the_payers_day_sends_a_276_and_records_the_277(
    claims: Claims, live_stack: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, str]] = []

    async def clearinghouse(request: web.Request) -> web.Response:
        body = await request.text()
        seen.append((request.headers.get("Authorization", ""), body))
        if request.headers.get("Authorization") != "Bearer sekret":
            return web.Response(status=401)
        trace = next(s.split("*")[2] for s in body.split("~") if s.startswith("TRN*1*"))
        answer = (
            "ISA*00*          *00*          *ZZ*SIMCLEARHOUSE  *ZZ*RCMPIPELINE    *250101*1200*^*00501*000000001*0*T*:~"
            "GS*HN*SIMCLEARHOUSE*RCMPIPELINE*20250101*1200*1*X*005010X212~ST*277*0001*005010X212~"
            f"TRN*2*{trace}~STC*P1:20:PR*20250101**125~REF*EJ*CLM00001~SE*5*0001~GE*1*1~IEA*1*000000001~"
        )
        return web.Response(text=answer)

    server = web.Application()
    server.router.add_post("/x12/276", clearinghouse)
    runner = web.AppRunner(server)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    s = live_stack.model_copy(
        update={
            "clearinghouse_url": f"http://127.0.0.1:{port}",
            "clearinghouse_token": _secret("sekret"),
        }
    )
    monkeypatch.setattr(timers, "settings", lambda: s)
    try:
        claim = coded(1)
        await submit(claims, claim)
        await claims.send(ack(claim, AckKind.ack_277ca, True))
        assert await timers.status_inquiries(claims.svc) == 0  # the payer's day has not come
        await claims.due_now("remit")
        assert await timers.status_inquiries(claims.svc) == 1
    finally:
        await runner.cleanup()
    assert len(seen) == 1
    assert "ST*276*0001*005010X212~" in seen[0][1]
    assert "REF*EJ*CLM00001~" in seen[0][1]
    rows = await claims.timeline(claim.claim_id)
    assert rows[-2]["event_type"] == "rcm.claims.no-remit"
    answer = orjson.loads(rows[-1]["detail"])
    assert rows[-1]["event_type"] == "rcm.claims.status-277"
    assert answer["statuses"][0]["category"] == "P1"
    assert answer["statuses"][0]["family"] == "pending"
    assert answer["statuses"][0]["charge_cents"] == 12500
    # the timer moved on to the next inquiry, it does not fire again at once
    assert await timers.status_inquiries(claims.svc) == 0


def _secret(value: str) -> Any:
    from pydantic import SecretStr

    return SecretStr(value)


async def test_timely_filing_warns_before_the_deadline_and_records_its_passing(
    claims: Claims,
) -> None:
    today = dt.datetime.now(dt.UTC).date()
    near = encounter(
        encounter_id="E-near",
        date_of_service=today - dt.timedelta(days=360),
        coverages=[f.coverage(payer_id="MCR01", payer_name="MEDICARE")],
    )
    gone = encounter(
        encounter_id="E-gone",
        date_of_service=today - dt.timedelta(days=400),
        coverages=[f.coverage(payer_id="MCR01", payer_name="MEDICARE")],
    )
    fresh = encounter(encounter_id="E-fresh", date_of_service=today)
    await claims.send(near, gone, fresh)
    assert await timers.filing_deadlines(claims.svc) == 2  # the fresh one is not due
    from schemas.ids import claim_id_for

    notes = {}
    for enc in (near, gone):
        last = (await claims.timeline(claim_id_for(TENANT, enc.encounter_id)))[-1]
        notes[enc.encounter_id] = (last["kind"], orjson.loads(last["detail"]))
    assert notes["E-near"][0] == "note"
    assert notes["E-near"][1]["alert"] == "filing-warning"
    assert notes["E-near"][1]["days_left"] == 5
    assert notes["E-gone"][0] == "anomaly"
    assert notes["E-gone"][1]["alert"] == "filing-deadline-passed"
    # the near one is looked at again the day after its deadline; the gone one no more
    due = await claims.pool.fetch("SELECT claim_id, due_at::date AS d FROM claim_timers")
    assert {r["d"] for r in due} >= {today + dt.timedelta(days=6)}


# --- batches: the claim locks a batch takes up front --------------------------------


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
    live_stack: Settings, knobs: Any
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
        throwaway_service("claims", app.MIGRATIONS, app.wire, live_stack) as together,
        throwaway_service("claims", app.MIGRATIONS, app.wire, live_stack) as apart,
    ):
        feeder = Claims(together)
        for events in stages:
            records = [feeder.record(ev) for ev in events]
            by_topic: dict[str, list[Record]] = {}
            for r in records:
                by_topic.setdefault(r.topic, []).append(r)
            for topic, batch_records in by_topic.items():
                await together.process(topic, batch_records)
            for r in records:
                await apart.process(r.topic, [r])
            await batch.send_batches(together)
            await batch.send_batches(apart)
        for svc in (together, apart):
            snapshots.append(await _saga_snapshot(svc))
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


async def test_the_batcher_wakes_for_a_full_interchange_and_when_a_group_ripens(
    claims: Claims, knobs: Any
) -> None:
    """With the batcher's own period an hour, a full interchange goes as soon as the batch
    that coded its last claim commits, and a lone claim goes when its window is up."""
    knobs(batch_window_s=2.0, batch_max_claims=3)
    claims.svc.every(3600, batch.send_batches, woken_by=["claim.coded"])

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


async def test_a_ripe_claim_locked_by_a_batch_in_progress_goes_once_the_lock_is_gone(
    claims: Claims, knobs: Any
) -> None:
    """The batcher skips a claim whose row a batch being applied holds; with its own period
    an hour, it still looks again shortly and sends the claim once the lock is gone."""
    knobs(batch_window_s=0.4)
    claims.svc.every(3600, batch.send_batches, woken_by=["claim.coded"])
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
