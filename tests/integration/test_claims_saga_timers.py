"""The claims timers on the real PostgreSQL: acknowledgement timeouts resent, 276 status
inquiries when no 835 comes, and timely-filing warnings."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from runtime.core_client import CoreClient, CoreSettings
from runtime.settings import Settings
from schemas.events import AckKind, ClaimCoded
from schemas.events_transport import X12InterchangeReady
from schemas.ids import claim_id_for
from services.claims import timers
from services.claims.config import ClaimsSettings
from services.simulator import core_web
from tests.builders import encounter
from tests.integration.claims_world import (
    TENANT,
    Claims,
    ack,
    claims_service,
    coded,
    knobs,
    settings_for,
    submit,
)
from tests.integration.core_world import core_endpoint
from tests.unit import factories as f

pytestmark = pytest.mark.integration


@pytest.fixture
def cfg(request: pytest.FixtureRequest) -> ClaimsSettings:
    return settings_for(request)


@pytest.fixture
async def claims(live_stack: Settings, cfg: ClaimsSettings) -> AsyncIterator[Claims]:
    async with claims_service(live_stack, cfg) as service:
        yield service


async def handed_over(claims: Claims) -> list[X12InterchangeReady]:
    """The interchanges handed to the connector for upload, in order."""
    return list(await claims.outbox(X12InterchangeReady.TOPIC))


async def test_no_acknowledgement_in_time_reuploads_the_interchange_once(claims: Claims) -> None:
    claim = coded(1)
    await submit(claims, claim, coded(2))
    assert len(await claims.submitted()) == 2
    [first] = await handed_over(claims)
    assert await timers.ack_timeouts(claims.svc, cfg=claims.cfg) == 0  # not due yet

    await claims.due_now("ack")
    assert await timers.ack_timeouts(claims.svc, cfg=claims.cfg) == 2
    # both claims' timers ran out: the interchange is uploaded again once, as it was
    [_, again] = await handed_over(claims)
    assert again.resend == 1
    assert again.interchange_control_number == first.interchange_control_number
    assert again.x12 == first.x12
    assert len(await claims.submitted()) == 2  # no claim is submitted again
    note = (await claims.timeline(claim.claim_id))[-1]
    assert note["event_type"] == "rcm.claims.ack-timeout"
    assert orjson.loads(note["detail"])["alert"] == "ack-timeout"
    assert await claims.pool.fetchval("SELECT resends FROM interchanges") == 1
    assert (await claims.state(claim.claim_id))["state"] == "SUBMITTED"

    # the acknowledgement arrives for one claim: the other's timer sends it once more
    await claims.send(ack(claim, AckKind.ack_999, True))
    await claims.due_now("ack")
    assert await timers.ack_timeouts(claims.svc, cfg=claims.cfg) == 1  # only the other claim
    assert [e.resend for e in await handed_over(claims)] == [0, 1, 2]


@knobs(ack_max_resends=1)
async def test_after_the_last_resend_a_person_is_asked(claims: Claims) -> None:
    await submit(claims, coded(1))
    for _ in range(3):
        await claims.due_now("ack")
        await timers.ack_timeouts(claims.svc, cfg=claims.cfg)
    assert [e.resend for e in await handed_over(claims)] == [0, 1]  # the upload, one resend
    assert len(await claims.submitted()) == 1
    kinds = [
        (t["kind"], orjson.loads(t["detail"]).get("alert"))
        for t in await claims.timeline("CLM00001")
    ]
    assert kinds[-1] == ("anomaly", "ack-gave-up")
    assert await claims.pool.fetchval("SELECT count(*) FROM claim_timers WHERE kind = 'ack'") == 0


async def test_no_wait_runs_out_while_its_answer_may_be_in_the_unread_backlog(
    claims: Claims, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a burst or an outage claims works through a backlog: a 999 or an 835 the
    payer sent before the deadline may be in what it has not read yet. Until claims has
    read the answer's topic past the deadline (Service.read_up_to, which the consumer
    test measures on the broker), nothing is resent and no 276 goes out."""
    read = {"x12.file-received": time.time() - 3600, "claim.adjudicated": time.time() - 3600}

    async def read_up_to(topic: str) -> float:
        return read[topic]

    monkeypatch.setattr(claims.svc, "read_up_to", read_up_to)
    late, slow = coded(1), coded(2, payer="MCR01")
    await submit(claims, late)
    await submit(claims, slow)
    await claims.send(ack(slow, AckKind.ack_277ca, True))
    await claims.due_now("ack")
    await claims.due_now("remit")
    unused = CoreClient(CoreSettings(), claims.svc.settings, "claims")  # nothing goes out
    assert await timers.ack_timeouts(claims.svc, cfg=claims.cfg) == 0
    assert await timers.status_inquiries(claims.svc, cfg=claims.cfg, core=unused) == 0
    assert len(await handed_over(claims)) == 2  # each uploaded once, not again

    read["x12.file-received"] = time.time()  # read to the end: no 999 came for it
    assert await timers.ack_timeouts(claims.svc, cfg=claims.cfg) == 1
    [_, _, again] = await handed_over(claims)
    assert again.resend == 1


# --- 276/277 and timely filing ----------------------------------------------------------


def _answer_277(seen: list[tuple[str, str]]) -> core_web.Answerer:
    async def clearinghouse(payload_type: str, body: str) -> str:
        seen.append((payload_type, body))
        trace = next(s.split("*")[2] for s in body.split("~") if s.startswith("TRN*1*"))
        return (
            "ISA*00*          *00*          *ZZ*SIMCLEARHOUSE  *ZZ*RCMPIPELINE    *250101*1200*^*00501*000000001*0*T*:~"
            "GS*HN*SIMCLEARHOUSE*RCMPIPELINE*20250101*1200*1*X*005010X212~ST*277*0001*005010X212~"
            f"TRN*2*{trace}~STC*P1:20:PR*20250101**125~REF*EJ*CLM00001~SE*5*0001~GE*1*1~IEA*1*000000001~"
        )

    return clearinghouse


async def test_no_835_by_the_payers_day_sends_a_276_and_records_the_277(
    live_stack: Settings, cfg: ClaimsSettings
) -> None:
    seen: list[tuple[str, str]] = []
    s = live_stack.model_copy(update={"clearinghouse_token": _secret("sekret")})
    # the clearinghouse's CORE endpoint (TLS) takes the password these settings name
    async with (
        core_endpoint(s, _answer_277(seen)) as ep,
        claims_service(ep.settings, cfg) as claims,
    ):
        core = ep.client("claims")
        claim = coded(1)
        await submit(claims, claim)
        await claims.send(ack(claim, AckKind.ack_277ca, True))
        # the payer's day has not come
        assert await timers.status_inquiries(claims.svc, cfg=cfg, core=core) == 0
        await claims.due_now("remit")
        assert await timers.status_inquiries(claims.svc, cfg=cfg, core=core) == 1
        await _the_277_is_recorded(claims, claim, seen, core)
        await core.close()


async def test_a_276_the_clearinghouse_refuses_is_recorded_and_asked_again_later(
    live_stack: Settings, cfg: ClaimsSettings
) -> None:
    seen: list[tuple[str, str]] = []
    strangers = core_web.CoreServer(
        receiver_id=live_stack.x12_receiver_id,
        password=live_stack.clearinghouse_token.get_secret_value(),
        senders=frozenset({"ANOTHERPRACTICE"}),
    )
    async with (
        core_endpoint(live_stack, _answer_277(seen), server=strangers) as ep,
        claims_service(ep.settings, cfg) as claims,
    ):
        core = ep.client("claims")
        claim = coded(2)
        await submit(claims, claim)
        await claims.send(ack(claim, AckKind.ack_277ca, True))
        await claims.due_now("remit")
        assert await timers.status_inquiries(claims.svc, cfg=cfg, core=core) == 1
        await core.close()
        rows = await claims.timeline(claim.claim_id)
        failed = orjson.loads(rows[-1]["detail"])
        timer = await claims.pool.fetchrow(
            "SELECT attempts, due_at > now() AS later FROM claim_timers"
            " WHERE claim_id = $1 AND kind = 'remit'",
            claim.claim_id,
        )
    assert seen == []  # the payer never saw it
    assert failed["note"] == "claim status inquiry failed"
    assert "UnAuthorized: Sender not authorized" in failed["error"]
    assert failed["core"] == "unauthorized"
    assert timer is not None
    assert timer["later"]  # asked again on the next payer day


async def test_a_payer_without_real_time_276_is_not_asked_and_the_note_says_so(
    live_stack: Settings, cfg: ClaimsSettings
) -> None:
    seen: list[tuple[str, str]] = []
    async with (
        core_endpoint(live_stack, _answer_277(seen)) as ep,
        claims_service(ep.settings, cfg) as claims,
    ):
        core = ep.client("claims")
        claim = coded(3, payer="BETA2")  # the directory: realtime_276 false
        await submit(claims, claim)
        await claims.send(ack(claim, AckKind.ack_277ca, True))
        await claims.due_now("remit")
        assert await timers.status_inquiries(claims.svc, cfg=cfg, core=core) == 0
        await core.close()
        rows = await claims.timeline(claim.claim_id)
    assert seen == []
    note = orjson.loads(rows[-1]["detail"])
    assert note["realtime_276"] is False
    assert "answers no real-time 276" in note["note"]


async def test_the_835_wait_counts_from_the_payers_acceptance(claims: Claims) -> None:
    """A claim whose 277CA came late is not asked about at the day counted from sending:
    the payer's days to pay run from its receipt, so pipeline or clearinghouse delay
    before the acceptance never turns into 276s."""
    claim = coded(1, payer="MCR01")
    await submit(claims, claim)
    await claims.due_now("remit")  # the payer's days, counted from sending, have passed
    await claims.send(ack(claim, AckKind.ack_277ca, True))
    unused = CoreClient(CoreSettings(), claims.svc.settings, "claims")  # nothing is due
    assert await timers.status_inquiries(claims.svc, cfg=claims.cfg, core=unused) == 0
    due = await claims.pool.fetchval(
        "SELECT extract(epoch FROM due_at - now()) FROM claim_timers"
        " WHERE claim_id = $1 AND kind = 'remit'",
        claim.claim_id,
    )
    # MCR01's 14 days in the directory, in this test's payer days
    assert float(due) == pytest.approx(claims.cfg.remit_wait_s(14), abs=5)


async def test_due_276s_go_out_at_the_configured_pace(live_stack: Settings) -> None:
    cfg = ClaimsSettings(batch_window_s=0, status_inquiries_per_tick=2)
    seen: list[tuple[str, str]] = []
    async with (
        core_endpoint(live_stack, _answer_277(seen)) as ep,
        claims_service(ep.settings, cfg) as claims,
    ):
        core = ep.client("claims")
        for n in (1, 2, 3):
            await submit(claims, coded(n))
        await claims.due_now("remit")
        # three are due; a tick sends two and leaves the third for the next
        assert await timers.status_inquiries(claims.svc, cfg=cfg, core=core) == 2
        assert len(seen) == 2
        assert await timers.status_inquiries(claims.svc, cfg=cfg, core=core) == 1
        assert len(seen) == 3
        await core.close()


async def _the_277_is_recorded(
    claims: Claims, claim: ClaimCoded, seen: list[tuple[str, str]], core: CoreClient
) -> None:
    assert len(seen) == 1
    assert seen[0][0] == "X12_276_Request_005010X212"
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
    assert await timers.status_inquiries(claims.svc, cfg=claims.cfg, core=core) == 0


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
    assert (
        await timers.filing_deadlines(claims.svc, cfg=claims.cfg) == 2
    )  # the fresh one is not due
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
