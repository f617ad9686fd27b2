"""Remittance on the real database through Service.process: what a biller sees after an 835.

Each test runs the real handlers in a schema of its own: claims are made known with
claim.submitted (837P text), 835s arrive as remit.received, and the tests read postings,
ledger lines, work queues and the claim.adjudicated events waiting in the outbox.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
from collections import Counter
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import orjson
import pytest

from runtime.service import Record, Service
from runtime.settings import Settings
from runtime.x12 import Envelope, segment, transaction, wrap
from schemas.codec import decode, encode, new_meta
from schemas.events import ClaimAdjudicated, ClaimSubmitted, Event, RemitReceived
from services.remittance import app, handlers, timers
from services.remittance.config import RemittanceSettings
from services.remittance.x12_835.reader import parse_835
from tests.throwaway import throwaway_service

pytestmark = pytest.mark.integration

TENANT = "t-remit"
PAYER = "MCR01"
DOS = dt.date(2025, 3, 14)
_icn = itertools.count(100)


# --- X12 builders ----------------------------------------------------------------------


def _env(functional: str, version: str) -> Envelope:
    return Envelope(
        "ZZ",
        "SENDER",
        "ZZ",
        "RECEIVER",
        functional,
        version,
        next(_icn),
        1,
        at=dt.datetime(2025, 4, 1, 8, 0, tzinfo=dt.UTC),
    )


def x837(pcn: str, charge: str, last: str, first: str, dos: dt.date = DOS) -> str:
    """A minimal 837P: the patient is the subscriber (NM1*IL), one line with DTP*472."""
    body = [
        segment("BHT", "0019", "00", "1", "20250401", "0800", "CH"),
        segment("NM1", "41", "2", "CLINIC", "", "", "", "", "46", "SUB1"),
        segment("NM1", "40", "2", "PAYER", "", "", "", "", "46", PAYER),
        segment("HL", "1", "", "20", "1"),
        segment("NM1", "85", "2", "CLINIC", "", "", "", "", "XX", "1234567893"),
        segment("HL", "2", "1", "22", "0"),
        segment("SBR", "P", "18", "", "", "", "", "", "", "MB"),
        segment("NM1", "IL", "1", last, first, "", "", "", "MI", "M123"),
        segment("NM1", "PR", "2", "MEDICARE", "", "", "", "", "PI", PAYER),
        segment("CLM", pcn, charge, "", "", "11:B:1", "Y", "A", "Y", "Y"),
        segment("HI", "ABK:R05"),
        segment("LX", "1"),
        segment("SV1", "HC:99213", charge, "UN", "1", "", "", "1"),
        segment("DTP", "472", "D8", dos.strftime("%Y%m%d")),
    ]
    return wrap(_env("HC", "005010X222A1"), [transaction("837", "0001", body)])


def clp(
    pcn: str,
    status: str,
    charge: str,
    paid: str,
    pr: str,
    payer_number: str,
    *rest: str,
    name: tuple[str, str] = ("RIVERA", "ALEX"),
) -> list[str]:
    return [
        segment("CLP", pcn, status, charge, paid, pr, "MB", payer_number, "11", "1"),
        segment("NM1", "QC", "1", name[0], name[1], "", "", "", "MI", "M123"),
        *rest,
    ]


def line(code: str, charge: str, paid: str, *cas: str, allowed: str | None = None) -> list[str]:
    out = [segment("SVC", f"HC:{code}", charge, paid, "", "1"), segment("DTM", "472", "20250314")]
    out.extend(cas)
    if allowed is not None:
        out.append(segment("AMT", "B6", allowed))
    return out


def x835(amount: str, trace: str, *claims: list[str], plb: list[str] | None = None) -> str:
    body = [
        segment(
            "BPR",
            "I",
            amount,
            "C",
            "ACH",
            "CCP",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "20250401",
        ),
        segment("TRN", "1", trace, "1512345678"),
        segment("N1", "PR", "MEDICARE PART B SIM"),
        segment("REF", "2U", PAYER),
        segment("N1", "PE", "CLINIC", "XX", "1234567893"),
        segment("LX", "1"),
    ]
    for c in claims:
        body.extend(c)
    body.extend(plb or [])
    return wrap(_env("HP", "005010X221A1"), [transaction("835", "0001", body)])


# --- the service -----------------------------------------------------------------------


class Topics:
    """What the tests published, one partition per topic: the offset each record takes,
    and the topics' ends, as the broker would report them to the service (TopicEnds).
    A record may be published now and delivered later: a consumer that lags."""

    def __init__(self) -> None:
        self.next: Counter[str] = Counter()

    def publish(self, event: Event) -> Record:
        x = encode(event, new_meta(event, source="test", tenant=TENANT, correlation_id="corr"))
        offset = self.next[event.TOPIC]
        self.next[event.TOPIC] += 1
        return Record(event.TOPIC, 0, offset, x.key, x.value, x.headers)

    async def ends(self, topic: str) -> list[int]:
        return [self.next[topic]]


TOPICS = Topics()


@pytest.fixture
async def svc(live_stack: Settings) -> AsyncIterator[Service]:
    global TOPICS
    TOPICS = Topics()
    async with throwaway_service(
        "remittance-it", app.MIGRATIONS, partial(app.wire, cfg=RemittanceSettings()), live_stack
    ) as service:
        service.topic_ends = TOPICS.ends
        yield service


async def deliver(service: Service, *events: Event) -> None:
    """The events (of one topic) published and consumed as one batch."""
    await consume(service, *(TOPICS.publish(e) for e in events))


async def consume(service: Service, *records: Record) -> None:
    """Records published earlier, consumed now as one batch."""
    await service.process(records[0].topic, list(records))


async def submit(service: Service, claim_id: str, pcn: str, charge_cents: int, **kw: Any) -> None:
    await deliver(service, submitted(claim_id, pcn, charge_cents, **kw))


def submitted(claim_id: str, pcn: str, charge_cents: int, **kw: Any) -> ClaimSubmitted:
    last, first = kw.get("name", ("RIVERA", "ALEX"))
    charge = f"{charge_cents // 100}.{charge_cents % 100:02d}"
    return ClaimSubmitted(
        claim_id=claim_id,
        patient_control_number=pcn,
        payer_id=PAYER,
        interchange_control_number="000000001",
        group_control_number="1",
        transaction_control_number="0001",
        frequency_code=kw.get("frequency_code", "1"),
        total_charge_cents=charge_cents,
        x12=x837(pcn, charge, last, first),
    )


async def remit(service: Service, text: str, trace: str) -> None:
    await deliver(service, RemitReceived(trace_number=trace, payer_id=PAYER, source="t", x12=text))


async def adjudications(service: Service) -> list[ClaimAdjudicated]:
    assert service.pool is not None
    out = []
    for row in await service.pool.fetch(
        "SELECT value, headers FROM outbox WHERE topic = 'claim.adjudicated' ORDER BY id"
    ):
        headers = [(k, base64.b64decode(v)) for k, v in orjson.loads(row["headers"])]
        ev = decode(row["value"], headers).event
        assert isinstance(ev, ClaimAdjudicated)
        out.append(ev)
    return out


async def rows(service: Service, sql: str, *args: Any) -> list[dict[str, Any]]:
    assert service.pool is not None
    return [dict(r) for r in await service.pool.fetch(sql, *args)]


# --- tests -------------------------------------------------------------------------------

PAID_835_CLAIM = clp(
    "C1",
    "1",
    "150",
    "61.60",
    "30.40",
    "PCN-A",
    *line(
        "99213",
        "150",
        "61.60",
        segment("CAS", "CO", "45", "58"),
        segment("CAS", "PR", "1", "10", "", "2", "15.40", "", "3", "5"),
        allowed="92",
    ),
)


async def test_a_paid_claim_posts_per_line_by_category_and_is_adjudicated(svc: Service) -> None:
    await submit(svc, "CLAIM-1", "C1", 15000)
    await remit(svc, x835("61.60", "TR1", PAID_835_CLAIM), "TR1")

    [posting] = await rows(svc, "SELECT * FROM claim_postings")
    assert (
        posting["claim_id"],
        posting["paid_cents"],
        posting["patient_responsibility_cents"],
    ) == (
        "CLAIM-1",
        6160,
        3040,
    )
    ledger = await rows(
        svc, "SELECT category, amount_cents FROM ledger_lines WHERE line_number = 1 ORDER BY id"
    )
    assert [(r["category"], r["amount_cents"]) for r in ledger] == [
        ("charge", 15000),
        ("payment", -6160),
        ("contractual", -5800),
        ("deductible", -1000),
        ("coinsurance", -1540),
        ("copay", -500),
    ]
    [ev] = await adjudications(svc)
    assert (ev.claim_id, ev.status.value, ev.paid_cents, ev.denial_category) == (
        "CLAIM-1",
        "paid",
        6160,
        None,
    )
    # allowed 92.00 = the contracted Medicare fee for 99213: not underpaid
    assert await rows(svc, "SELECT * FROM underpayments") == []


async def test_the_same_835_delivered_twice_posts_once(svc: Service) -> None:
    await submit(svc, "CLAIM-1", "C1", 15000)
    plb = [segment("PLB", "1234567893", "20251231", "L6", "-1.25")]
    # the second delivery is the same payment in a new envelope (new ISA13, new ce_id)
    first = x835("62.85", "TR1", PAID_835_CLAIM, plb=plb)
    again = x835("62.85", "TR1", PAID_835_CLAIM, plb=plb)
    assert first != again
    await remit(svc, first, "TR1")
    await remit(svc, again, "TR1")

    assert await rows(svc, "SELECT count(*) AS n FROM claim_postings") == [{"n": 1}]
    [balance] = await rows(svc, "SELECT sum(amount_cents) AS s FROM ledger_lines")
    assert balance["s"] == 0  # charge 150.00 less payment and adjustments, once
    assert len(await adjudications(svc)) == 1
    assert await rows(svc, "SELECT reason, amount_cents FROM provider_adjustments") == [
        {"reason": "L6", "amount_cents": -125}
    ]
    statuses = await rows(svc, "SELECT status, posted, duplicates FROM remits ORDER BY id")
    assert statuses == [
        {"status": "posted", "posted": 1, "duplicates": 0},
        {"status": "duplicate", "posted": 0, "duplicates": 1},
    ]


async def test_a_reversal_undoes_the_posting_and_the_correction_posts_fresh(svc: Service) -> None:
    await submit(svc, "CLAIM-2", "C2", 10000)
    original = clp(
        "C2", "1", "100", "80", "20", "PCN-B",
        *line("99213", "100", "80", segment("CAS", "PR", "2", "20")),
    )  # fmt: skip
    await remit(svc, x835("80", "TR-A", original), "TR-A")
    reversal = clp(
        "C2", "22", "-100", "-80", "-20", "PCN-B",
        *line("99213", "-100", "-80", segment("CAS", "PR", "2", "-20")),
    )  # fmt: skip
    correction = clp(
        "C2", "1", "100", "90", "10", "PCN-B2",
        *line("99213", "100", "90", segment("CAS", "PR", "2", "10")),
    )  # fmt: skip
    await remit(svc, x835("10", "TR-B", reversal, correction), "TR-B")

    postings = await rows(
        svc,
        "SELECT id, status_code, paid_cents, patient_responsibility_cents, reverses_posting_id,"
        " reversed_by_posting_id FROM claim_postings ORDER BY id",
    )
    orig, rev, corr = postings
    assert rev["reverses_posting_id"] == orig["id"]
    assert orig["reversed_by_posting_id"] == rev["id"]
    assert corr["reverses_posting_id"] is None
    # what the claim was paid and what the patient owes, after all three
    assert sum(p["paid_cents"] for p in postings) == 9000
    assert sum(p["patient_responsibility_cents"] for p in postings) == 1000
    by_cat = {
        r["category"]: r["s"]
        for r in await rows(
            svc, "SELECT category, sum(amount_cents) AS s FROM ledger_lines GROUP BY 1"
        )
    }
    assert by_cat == {"charge": 10000, "payment": -9000, "coinsurance": -1000}
    # the reversal's entries are the original's, negated
    undo = await rows(
        svc,
        "SELECT a.category, a.amount_cents AS was, b.amount_cents AS undo FROM ledger_lines a"
        " JOIN ledger_lines b ON b.posting_id = $2 AND b.category = a.category"
        " WHERE a.posting_id = $1 ORDER BY a.id",
        orig["id"],
        rev["id"],
    )
    assert [(u["was"], u["undo"]) for u in undo] == [(10000, -10000), (-8000, 8000), (-2000, 2000)]
    assert [e.status.value for e in await adjudications(svc)] == ["paid", "reversed", "paid"]


async def test_an_unmatched_claim_waits_in_the_queue_until_its_claim_is_known(
    svc: Service,
) -> None:
    # remittance lags: the claim was published (and paid) before it reads claim.submitted
    lagging = TOPICS.publish(submitted("CLAIM-9", "C9", 10000))
    stray = clp("C9", "1", "100", "100", "", "PCN-Z", *line("99213", "100", "100"))
    await remit(svc, x835("100", "TR-U", stray), "TR-U")

    [queued] = await rows(svc, "SELECT * FROM unmatched")
    assert (
        queued["trace_number"],
        queued["patient_control_number"],
        queued["payer_claim_number"],
        queued["amount_cents"],
        queued["resolved_at"],
    ) == ("TR-U", "C9", "PCN-Z", 10000, None)
    assert "waiting for its claim" in queued["reason"]
    assert await rows(svc, "SELECT * FROM claim_postings") == []
    assert await adjudications(svc) == []

    await consume(svc, lagging)
    [resolved] = await rows(svc, "SELECT resolved_claim_id, posting_id FROM unmatched")
    assert resolved["resolved_claim_id"] == "CLAIM-9"
    [ev] = await adjudications(svc)
    assert (ev.claim_id, ev.patient_control_number, ev.paid_cents) == ("CLAIM-9", "C9", 10000)


async def test_claims_submitted_in_one_batch_each_take_their_own_waiting_clp(
    svc: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    strays = [
        clp("C7", "1", "100", "100", "", "PCN-7", *line("99213", "100", "100")),
        clp(
            "C8",
            "1",
            "250",
            "200",
            "",
            "PCN-8",
            *line("99214", "250", "200", segment("CAS", "CO", "45", "50")),
        ),
    ]
    lagging = [
        TOPICS.publish(ev)
        for ev in (
            submitted("CLAIM-7", "C7", 10000),
            submitted("CLAIM-8", "C8", 25000),
            submitted("CLAIM-6", "C6", 10000),  # nothing waits for it
        )
    ]
    await remit(svc, x835("300", "TR-W", *strays), "TR-W")
    assert len(await rows(svc, "SELECT * FROM unmatched WHERE resolved_at IS NULL")) == 2
    parsed: list[str] = []

    def counting_parse(text: str) -> Any:
        parsed.append(text)
        return parse_835(text)

    monkeypatch.setattr(handlers, "parse_835", counting_parse)
    await consume(svc, *lagging)
    # Both waiting CLPs are in one 835: it is read again once for the run, not per claim.
    assert len(parsed) == 1
    resolved = await rows(
        svc, "SELECT patient_control_number, resolved_claim_id FROM unmatched ORDER BY id"
    )
    assert [(r["patient_control_number"], r["resolved_claim_id"]) for r in resolved] == [
        ("C7", "CLAIM-7"),
        ("C8", "CLAIM-8"),
    ]
    posted = sorted((ev.claim_id, ev.paid_cents) for ev in await adjudications(svc))
    assert posted == [("CLAIM-7", 10000), ("CLAIM-8", 20000)]


async def test_a_claim_indexed_by_a_concurrent_transaction_is_posted_by_the_rematch_timer(
    svc: Service,
) -> None:
    # The race: the 835 is read while its claim.submitted is being applied elsewhere, so
    # the CLP is queued although the claim becomes known a moment later.
    TOPICS.publish(submitted("CLAIM-8", "C8", 10000))
    stray = clp("C8", "1", "100", "100", "", "PCN-Y", *line("99213", "100", "100"))
    await remit(svc, x835("100", "TR-R", stray), "TR-R")
    assert svc.pool is not None
    await svc.pool.execute(
        "INSERT INTO submitted_claims(tenant, patient_control_number, claim_id, payer_id,"
        " frequency_code, total_charge_cents) VALUES ($1, 'C8', 'CLAIM-8', $2, '1', 10000)",
        TENANT,
        PAYER,
    )
    assert await timers.rematch(svc) == 1
    assert await timers.rematch(svc) == 0
    [ev] = await adjudications(svc)
    assert (ev.claim_id, ev.paid_cents) == ("CLAIM-8", 10000)
    [resolved] = await rows(svc, "SELECT resolved_claim_id FROM unmatched")
    assert resolved["resolved_claim_id"] == "CLAIM-8"


async def test_claims_match_by_payer_claim_number_then_patient_date_and_amount(
    svc: Service,
) -> None:
    await submit(svc, "CLAIM-3", "C3", 10000)
    await submit(svc, "CLAIM-4", "C4", 7500, name=("O'NEIL", "Pat"))
    first = clp("C3", "1", "100", "100", "", "PCN-3", *line("99213", "100", "100"))
    await remit(svc, x835("100", "TR-1", first), "TR-1")
    # the payer keys its reversal by its own claim number and echoes a CLM01 we never sent
    reversal = clp("C3-X", "22", "-100", "-100", "", "PCN-3", *line("99213", "-100", "-100"))
    # CLP01 mangled by the payer; no payer claim number known; name, date and charge match
    by_patient = clp(
        "??", "1", "75", "75", "", "PCN-4", *line("99213", "75", "75"), name=("ONEIL", "PATRICIA")
    )
    # remittance has not yet applied a claim published before TR-2: it might be the one
    # "??" stands for, so patient, date and charge wait for it, however long that takes
    lagging = TOPICS.publish(submitted("CLAIM-10", "C10", 9900))
    await remit(svc, x835("-25", "TR-2", reversal, by_patient), "TR-2")
    [waiting] = await rows(
        svc, "SELECT patient_control_number, reason FROM unmatched WHERE resolved_at IS NULL"
    )
    assert waiting["patient_control_number"] == "??"
    assert "waiting for its claim" in waiting["reason"]
    assert svc.pool is not None
    await svc.pool.execute("UPDATE unmatched SET received_at = now() - interval '1 hour'")
    assert await timers.rematch(svc) == 0
    await consume(svc, lagging)  # "??" names no claim: nothing posts yet
    assert await timers.rematch(svc) == 1

    got = await rows(
        svc, "SELECT claim_id, patient_control_number, matched_by FROM claim_postings ORDER BY id"
    )
    assert got == [
        {"claim_id": "CLAIM-3", "patient_control_number": "C3", "matched_by": "patient_control_number"},
        {"claim_id": "CLAIM-3", "patient_control_number": "C3-X", "matched_by": "payer_claim_number"},
        {"claim_id": "CLAIM-4", "patient_control_number": "??", "matched_by": "patient_date_amount"},
    ]  # fmt: skip
    assert await rows(svc, "SELECT * FROM unmatched WHERE resolved_at IS NULL") == []


async def test_a_payment_is_not_taken_by_a_look_alike_claim_while_its_own_is_on_its_way(
    svc: Service,
) -> None:
    """Two visits of one patient on one day for the same charge. The 835 for the second
    is read before remittance has applied its claim.submitted, published earlier: it
    waits for it however long remittance lags, and never pays the first."""
    await submit(svc, "CLAIM-5", "C5", 10000)
    lagging = TOPICS.publish(submitted("CLAIM-6", "C6", 10000))
    await remit(
        svc,
        x835("100", "TR-5", clp("C5", "1", "100", "100", "", "P5", *line("99213", "100", "100"))),
        "TR-5",
    )
    await remit(
        svc,
        x835("100", "TR-6", clp("C6", "1", "100", "100", "", "P6", *line("99213", "100", "100"))),
        "TR-6",
    )
    assert svc.pool is not None
    await svc.pool.execute("UPDATE unmatched SET received_at = now() - interval '1 hour'")
    assert await timers.rematch(svc) == 0
    await consume(svc, lagging)

    got = await rows(
        svc, "SELECT claim_id, patient_control_number, matched_by FROM claim_postings ORDER BY id"
    )
    assert got == [
        {"claim_id": "CLAIM-5", "patient_control_number": "C5", "matched_by": "patient_control_number"},
        {"claim_id": "CLAIM-6", "patient_control_number": "C6", "matched_by": "patient_control_number"},
    ]  # fmt: skip
    assert sorted((e.claim_id, e.paid_cents) for e in await adjudications(svc)) == [
        ("CLAIM-5", 10000),
        ("CLAIM-6", 10000),
    ]


async def test_a_payment_two_claims_look_like_goes_to_a_person_once_both_are_known(
    svc: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The payer mangled CLP01, and two visits look alike, one of them not yet applied
    by remittance. Patient, date and charge are tried once both are known: two claims
    match, so a person decides, with the reason, and the timer does not try again."""
    await submit(svc, "CLAIM-5", "C5", 10000)
    lagging = TOPICS.publish(submitted("CLAIM-6", "C6", 10000))
    mangled = clp("??", "1", "100", "100", "", "P7", *line("99213", "100", "100"))
    await remit(svc, x835("100", "TR-7", mangled), "TR-7")
    assert await timers.rematch(svc) == 0  # CLAIM-6 may be it: wait
    [item] = await rows(svc, "SELECT reason, looked_alike_at FROM unmatched")
    assert "waiting for its claim" in item["reason"]
    assert item["looked_alike_at"] is None

    await consume(svc, lagging)
    assert await timers.rematch(svc) == 0
    [item] = await rows(svc, "SELECT reason, looked_alike_at, resolved_at FROM unmatched")
    assert item["reason"] == "2 claims match the patient, date and amount"
    assert item["looked_alike_at"] is not None
    assert item["resolved_at"] is None
    assert await rows(svc, "SELECT * FROM claim_postings") == []
    assert await adjudications(svc) == []

    tried: list[int] = []
    real = handlers.match_claims

    async def counting(*args: Any) -> Any:
        tried.append(len(args[3]))
        return await real(*args)

    monkeypatch.setattr(handlers, "match_claims", counting)
    assert await timers.rematch(svc) == 0
    assert tried == []


async def test_a_mangled_clp01_is_matched_by_patient_date_and_amount_at_once_when_caught_up(
    svc: Service,
) -> None:
    await submit(svc, "CLAIM-4", "C4", 7500, name=("O'NEIL", "Pat"))
    by_patient = clp(
        "??", "1", "75", "75", "", "PCN-4", *line("99213", "75", "75"), name=("ONEIL", "PATRICIA")
    )
    await remit(svc, x835("75", "TR-3", by_patient), "TR-3")
    [posting] = await rows(svc, "SELECT claim_id, matched_by FROM claim_postings")
    assert (posting["claim_id"], posting["matched_by"]) == ("CLAIM-4", "patient_date_amount")
    assert await rows(svc, "SELECT * FROM unmatched") == []


async def test_an_unbalanced_file_waits_in_the_work_queue_with_the_exact_discrepancy(
    svc: Service,
) -> None:
    await submit(svc, "CLAIM-1", "C1", 15000)
    text = x835("61.67", "TR-X", PAID_835_CLAIM)  # BPR02 7 cents more than the claims paid
    await remit(svc, text, "TR-X")
    await remit(svc, text, "TR-X")  # delivered again: still one item of work

    [item] = await rows(svc, "SELECT trace_number, status, problems FROM remit_work_queue")
    assert (item["trace_number"], item["status"]) == ("TR-X", "unbalanced")
    [problem] = orjson.loads(item["problems"])
    assert (
        problem["scope"],
        problem["expected_cents"],
        problem["actual_cents"],
        problem["off_by_cents"],
    ) == ("payment", 6160, 6167, 7)
    assert await rows(svc, "SELECT * FROM claim_postings") == []
    assert await adjudications(svc) == []


async def test_an_unreadable_file_waits_in_the_work_queue_naming_segment_and_position(
    svc: Service,
) -> None:
    text = x835("61.60", "TR-Y", PAID_835_CLAIM).replace("CLP*C1*1*150*61.60", "CLP*C1*1*150*6x")
    await remit(svc, text, "TR-Y")
    [item] = await rows(svc, "SELECT status, problems FROM remit_work_queue")
    [problem] = orjson.loads(item["problems"])
    assert item["status"] == "unreadable"
    assert (problem["position"], problem["message"][:5]) == (4, "CLP04")


async def test_underpaid_lines_are_flagged_against_the_contract(svc: Service) -> None:
    await submit(svc, "CLAIM-5", "C5", 25000)
    low = clp(
        "C5", "1", "250", "117", "0", "PCN-5",
        *line("99213", "150", "90", segment("CAS", "CO", "45", "60"), allowed="90"),
        *line("36415", "100", "27", segment("CAS", "CO", "45", "73"), allowed="27"),
    )  # fmt: skip
    await remit(svc, x835("117", "TR-L", low), "TR-L")
    flagged = await rows(
        svc,
        "SELECT claim_id, line_number, procedure, allowed_cents, contracted_cents,"
        " shortfall_cents FROM underpayments",
    )
    # Medicare's 99213 fee is 92.00 and was allowed 90.00; 36415 (3.00) was allowed 27.00
    assert flagged == [
        {
            "claim_id": "CLAIM-5",
            "line_number": 1,
            "procedure": "99213",
            "allowed_cents": 9000,
            "contracted_cents": 9200,
            "shortfall_cents": 200,
        }
    ]


async def test_denials_become_work_sorted_by_what_to_do(svc: Service) -> None:
    await submit(svc, "CLAIM-6", "C6", 25000)
    partly = clp(
        "C6", "1", "250", "92", "0", "PCN-6",
        *line("99213", "150", "92", segment("CAS", "CO", "45", "58"), allowed="92"),
        *line("83036", "100", "0", segment("CAS", "CO", "50", "100"), segment("LQ", "HE", "N115")),
    )  # fmt: skip
    await remit(svc, x835("92", "TR-D", partly), "TR-D")
    work = await rows(
        svc,
        "SELECT claim_id, line_number, procedure, cas_group, reason, amount_cents, category,"
        " remarks FROM denials",
    )
    assert work == [
        {
            "claim_id": "CLAIM-6",
            "line_number": 2,
            "procedure": "83036",
            "cas_group": "CO",
            "reason": "50",
            "amount_cents": 10000,
            "category": "appealable",
            "remarks": ["N115"],
        }
    ]
    [ev] = await adjudications(svc)
    assert (ev.status.value, ev.denial_category) == ("partially_paid", "appealable")
    assert [(a.group, a.reason, a.amount_cents) for a in ev.lines[1].adjustments] == [
        ("CO", "50", 10000)
    ]
