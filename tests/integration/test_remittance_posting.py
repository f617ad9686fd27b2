"""Remittance on the real database through Service.process: what a biller sees after an 835
(postings, ledger lines by category, reversals, work queues for unbalanced and unreadable
files, underpayments and denials). Matching a CLP to its claim: test_remittance_matching.py.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import orjson
import pytest

from runtime.service import Service
from runtime.settings import Settings
from runtime.x12 import segment
from services.remittance.contract_file import parse_contracts
from services.remittance.contract_store import import_contracts
from tests.integration.remittance_world import (
    PAID_835_CLAIM,
    TENANT,
    adjudications,
    clp,
    line,
    remit,
    remittance_service,
    rows,
    submit,
    x835,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def svc(live_stack: Settings) -> AsyncIterator[Service]:
    async with remittance_service(live_stack) as service:
        yield service


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


async def test_a_payment_trace_sent_again_with_other_claims_is_held_not_posted(
    svc: Service,
) -> None:
    await submit(svc, "CLAIM-1", "C1", 15000)
    await remit(svc, x835("61.60", "TR1", PAID_835_CLAIM), "TR1")
    # the same payment (TRN02) again, the claim now under another payer claim number
    other = [s.replace("*PCN-A*", "*PCN-B*") for s in PAID_835_CLAIM]
    again = x835("61.60", "TR1", other)
    await remit(svc, again, "TR1")
    await remit(svc, again, "TR1")  # delivered again: still one item of work

    assert await rows(svc, "SELECT count(*) AS n FROM claim_postings") == [{"n": 1}]
    assert len(await adjudications(svc)) == 1
    [held] = await rows(svc, "SELECT status, problems FROM remit_v1 WHERE status = 'quarantined'")
    [problem] = orjson.loads(held["problems"])
    assert (problem["scope"], problem["trace_number"]) == ("payment", "TR1")
    assert problem["message"].startswith("payment TR1 was posted from remit ")
    assert problem["message"].endswith(
        "with other claims or amounts: this file is held for a person, not posted"
    )


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


async def test_a_file_with_recoverable_faults_posts_and_its_warnings_wait_for_review(
    svc: Service,
) -> None:
    await submit(svc, "CLAIM-1", "C1", 15000)
    text = x835("61.60", "TR-W", PAID_835_CLAIM)
    text = re.sub(r"SE\*(\d+)\*", "SE*99*", text).replace("~CAS*", "~cas*")
    await remit(svc, text, "TR-W")

    [posting] = await rows(svc, "SELECT claim_id, paid_cents FROM claim_postings")
    assert (posting["claim_id"], posting["paid_cents"]) == ("CLAIM-1", 6160)
    assert [(e.claim_id, e.paid_cents) for e in await adjudications(svc)] == [("CLAIM-1", 6160)]
    [item] = await rows(svc, "SELECT status, warnings FROM remit_v1 WHERE trace_number = 'TR-W'")
    assert item["status"] == "posted"
    assert [
        (w["segment_id"], w["position"], w["count"]) for w in orjson.loads(item["warnings"])
    ] == [
        ("CAS", 0, 2),
        ("SE", 1, 1),
    ]


async def test_underpaid_lines_are_flagged_against_the_contract(svc: Service) -> None:
    assert svc.pool is not None
    async with svc.pool.acquire() as conn:  # as `rcm contracts import` writes it
        await import_contracts(conn, TENANT, parse_contracts(
            "payer_id,procedure_code,effective_from,allowed_cents\n"
            "MCR01,99213,2025-01-01,9200\nMCR01,36415,2025-01-01,300\n"))  # fmt: skip
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
        " shortfall_cents, paid_cents FROM underpayments",
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
            "paid_cents": 9000,
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
