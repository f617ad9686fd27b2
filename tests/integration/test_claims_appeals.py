"""Issue 29 part 3 on the real PostgreSQL: an appeal of a line denied CO-197 on a partly
paid Medicare claim is drafted (deadline 120 days from the initial determination, a PDF
letter naming the claim's facts, attachments listed), sent (the payer's answer due in 60
days), and overturned by the payer's reprocessing 835 (a reversal and a new payment): the
money is posted once, whatever is delivered again."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import AsyncIterator
from dataclasses import replace

import orjson
import pytest
from pypdf import PdfReader

from runtime.settings import Settings
from schemas.common import Adjustment
from schemas.events import AckKind, AdjudicatedLine, AdjudicationStatus
from schemas.events_workqueue import AppealAction, AppealedLine, AppealRequested
from services.claims.appeal_handlers import appeal_timers
from services.claims.config import ClaimsSettings
from services.claims.directory import import_payers
from services.claims.payers import parse
from tests.integration.claims_world import (
    TENANT,
    Claims,
    ack,
    adjudicated,
    claims_service,
    coded,
    settings_for,
    submit,
)

pytestmark = pytest.mark.integration

DIRECTORY = """payer_id,name,filing_indicator,timely_filing_days,days_to_pay,appeal_days,appeal_answer_days
MCR01,MEDICARE PART B SIM,MB,365,14,120,60
ACME1,ACME HEALTH,CI,180,21,,
"""
DENIED_LINE = AppealedLine(
    line_number=2,
    procedure_code="20610",
    cas_group="CO",
    reason="197",
    amount_cents=16000,
    category="appealable",
)


@pytest.fixture
def cfg(request: pytest.FixtureRequest) -> ClaimsSettings:
    return settings_for(request)


@pytest.fixture
async def claims(live_stack: Settings, cfg: ClaimsSettings) -> AsyncIterator[Claims]:
    async with claims_service(live_stack, cfg) as service:
        async with service.pool.acquire() as conn:
            await import_payers(conn, TENANT, parse(DIRECTORY))
        yield service


def appeal(claim_id: str, action: AppealAction, **kw: object) -> AppealRequested:
    return AppealRequested(
        claim_id=claim_id,
        action=action,
        requested_by="biller-3",
        requested_at=dt.datetime.now(dt.UTC),
        lines=[DENIED_LINE] if action is AppealAction.draft else [],
        attachments=["office note of the visit", "prior authorization request (faxed)"]
        if action is AppealAction.draft
        else [],
        **kw,  # type: ignore[arg-type]
    )


async def _partly_paid(claims: Claims, n: int, payer: str = "MCR01") -> str:
    claim = coded(n, payer=payer)
    await submit(claims, claim)
    await claims.send(
        ack(claim, AckKind.ack_277ca, True),
        adjudicated(claim, AdjudicationStatus.partially_paid, paid=9200,
                    payer_claim_number=f"ICN-{n}"),
    )  # fmt: skip
    return claim.claim_id


async def test_an_appeal_is_drafted_sent_and_overturned_by_the_reprocessing_835(
    claims: Claims,
) -> None:
    claim_id = await _partly_paid(claims, 40)
    claim = coded(40, payer="MCR01")
    charge = claim.total_charge_cents
    assert (await claims.state(claim_id))["state"] == "CLOSED"

    await claims.send(appeal(claim_id, AppealAction.draft, note="urgent: joint effusion"))
    case = await claims.pool.fetchrow("SELECT * FROM appeal_v1 WHERE claim_id = $1", claim_id)
    assert (case["appeal_id"], case["state"], case["category"]) == (
        f"{claim_id}-A1",
        "drafted",
        "appealable",
    )
    assert case["deadline"] - case["determination_date"] == dt.timedelta(days=120)
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(case["letter"])).pages)
    for fact in (
        "Request for redetermination",
        "Payer claim number (ICN): ICN-40",
        f"Our claim number (CLM01): {claim.patient_control_number}",
        f"Date of service: {claim.date_of_service.isoformat()}",
        f"Billed ${charge // 100:,}.{charge % 100:02d}; paid $92.00",
        "line 2 CPT/HCPCS 20610: adjusted CO-197, $160.00",
        "office note of the visit; prior authorization request (faxed)",
        f"period ending {case['deadline'].isoformat()}",
    ):
        assert fact in text, fact

    await claims.send(appeal(claim_id, AppealAction.send))
    case = await claims.pool.fetchrow("SELECT * FROM appeal_v1 WHERE claim_id = $1", claim_id)
    assert case["state"] == "sent"
    assert case["answer_due"] - case["sent_at"].date() == dt.timedelta(days=60)
    [letter] = await claims.outbox("claim.appeal_sent")  # to the payer
    assert (letter.appeal_id, letter.payer_id, letter.payer_claim_number) == (
        f"{claim_id}-A1",
        "MCR01",
        "ICN-40",
    )
    assert (letter.patient_control_number, letter.lines) == (
        claim.patient_control_number,
        [DENIED_LINE],
    )

    # the payer reprocesses: takes its first answer back and pays the line
    reversal = adjudicated(
        claim, AdjudicationStatus.reversed, paid=-9200, payer_claim_number="ICN-40"
    )
    overturned = adjudicated(
        claim, AdjudicationStatus.paid, paid=25200, payer_claim_number="ICN-40"
    )
    await claims.send(reversal)
    again = claims.record(overturned)
    await claims.svc.process(again.topic, [again])
    await claims.svc.process(again.topic, [replace(again, offset=again.offset + 1)])  # redelivered

    row = await claims.state(claim_id)
    assert (row["state"], row["paid_cents"]) == ("CLOSED", 25200)  # posted once
    case = await claims.pool.fetchrow("SELECT * FROM appeal_v1 WHERE claim_id = $1", claim_id)
    assert (
        case["state"],
        case["outcome"],
        case["paid_before_cents"],
        case["paid_after_cents"],
    ) == (
        "decided",
        "overturned",
        9200,
        25200,
    )
    notes = [
        (t["event_type"], t["kind"])
        for t in await claims.timeline(claim_id)
        if t["event_type"].startswith("rcm.claims.appeal")
    ]
    assert notes == [
        ("rcm.claims.appeal-drafted", "note"),
        ("rcm.claims.appeal-sent", "note"),
        ("rcm.claims.appeal-decided", "note"),
    ]


async def test_an_appeal_the_payer_answers_without_paying_more_is_upheld(claims: Claims) -> None:
    claim_id = await _partly_paid(claims, 41)
    claim = coded(41, payer="MCR01")
    await claims.send(appeal(claim_id, AppealAction.draft), appeal(claim_id, AppealAction.send))
    again = adjudicated(
        claim, AdjudicationStatus.partially_paid, paid=9200, payer_claim_number="ICN-41"
    )
    still_denied = AdjudicatedLine(
        line_number=2,
        procedure_code="20610",
        units=1,
        charge_cents=16000,
        paid_cents=0,
        adjustments=[Adjustment(group="CO", reason="197", amount_cents=16000)],
    )
    await claims.send(
        adjudicated(claim, AdjudicationStatus.reversed, paid=-9200, payer_claim_number="ICN-41"),
        again.model_copy(update={"lines": [still_denied]}),
    )
    case = await claims.pool.fetchrow("SELECT * FROM appeal_v1 WHERE claim_id = $1", claim_id)
    assert (case["state"], case["outcome"]) == ("decided", "upheld")


async def test_an_appeal_is_refused_with_the_reason_when_it_cannot_be_filed(
    claims: Claims,
) -> None:
    no_period = await _partly_paid(claims, 42, payer="ACME1")
    await claims.send(appeal(no_period, AppealAction.draft))
    pending = coded(43, payer="MCR01")
    await submit(claims, pending)  # SUBMITTED: the payer has not answered
    await claims.send(appeal(pending.claim_id, AppealAction.draft))
    unsent = await _partly_paid(claims, 44)
    await claims.send(appeal(unsent, AppealAction.send))  # nothing drafted
    for claim_id, why in (
        (no_period, "payer ACME1's directory entry gives no appeal period"),
        (
            pending.claim_id,
            "only a claim the payer adjudicated, with its claim number, is appealed",
        ),
        (unsent, "no drafted appeal to send"),
    ):
        last = (await claims.timeline(claim_id))[-1]
        assert last["kind"] == "anomaly"
        assert why in last["detail"], claim_id
    assert await claims.pool.fetchval("SELECT count(*) FROM appeals") == 0


async def test_the_timers_flag_a_deadline_near_and_an_overdue_answer_once(
    claims: Claims, cfg: ClaimsSettings
) -> None:
    claim_id = await _partly_paid(claims, 45)
    await claims.send(appeal(claim_id, AppealAction.draft))
    await claims.pool.execute("UPDATE appeals SET deadline = current_date + 3")
    assert await appeal_timers(claims.svc, cfg=cfg) == 1
    assert await appeal_timers(claims.svc, cfg=cfg) == 0  # once
    await claims.send(appeal(claim_id, AppealAction.send))
    await claims.pool.execute("UPDATE appeals SET answer_due = current_date - 2")
    assert await appeal_timers(claims.svc, cfg=cfg) == 1
    assert await appeal_timers(claims.svc, cfg=cfg) == 0
    notes = [
        (t["event_type"], orjson.loads(t["detail"])["note"])
        for t in await claims.timeline(claim_id)
        if t["event_type"] in ("rcm.claims.appeal-deadline", "rcm.claims.appeal-overdue")
    ]
    assert notes == [
        ("rcm.claims.appeal-deadline", "appeal not sent; the payer's deadline is in 3 days"),
        ("rcm.claims.appeal-overdue", "the payer's answer to the appeal is 2 days overdue"),
    ]
