"""What one 835 posts, decided before any SQL: the key a repeated CLP or PLB posts under,
the posting a reversal undoes, and the rows of a posted claim; and the service built with
injected settings."""

from __future__ import annotations

import datetime as dt

import pytest

from runtime.x12 import Envelope, segment, transaction, wrap
from schemas.events import ClaimSubmitted, RemitReceived
from services.remittance import app, timers
from services.remittance.config import RemittanceSettings
from services.remittance.contract_cache import CONTRACTS
from services.remittance.domain.contracts import Book, Rate
from services.remittance.domain.posting import (
    Matched,
    Original,
    PostingRows,
    occurrences,
    plb_keys,
    reversed_postings,
)
from services.remittance.x12_835.model import Remittance
from services.remittance.x12_835.reader import parse_835

pytestmark = pytest.mark.unit


def remittance(*bodies: list[str]) -> Remittance:
    env = Envelope("ZZ", "P", "ZZ", "R", "HP", "005010X221A1", 1, 1,
                   at=dt.datetime(2025, 4, 1, tzinfo=dt.UTC))  # fmt: skip
    txns = [transaction("835", f"{k:04d}", body) for k, body in enumerate(bodies, start=1)]
    return parse_835(wrap(env, txns))


def header(amount: str, trace: str) -> list[str]:
    return [
        segment("BPR", "I", amount, "C", "ACH", "", "", "", "", "", "", "", "", "", "", "",
                "20250401"),
        segment("TRN", "1", trace, "1"),
        segment("N1", "PR", "PAYER"),
        segment("N1", "PE", "CLINIC", "XX", "1234567893"),
    ]  # fmt: skip


def test_a_clp_repeated_in_one_file_posts_under_its_own_occurrence() -> None:
    rem = remittance(
        [
            *header("30", "T1"),
            segment("CLP", "C1", "1", "10", "10", "", "MB", "N1"),
            segment("CLP", "C1", "1", "10", "10", "", "MB", "N1"),
            segment("CLP", "C1", "22", "-10", "-10", "", "MB", "N1"),
            segment("CLP", "C2", "1", "10", "10", "", "MB", "N1"),
        ],
    )
    assert occurrences(rem) == [0, 1, 0, 0]
    keys = [Matched(k, c, "CLAIM", "x", occ).key for k, (c, occ) in
            enumerate(zip(rem.claims, occurrences(rem), strict=True))]  # fmt: skip
    assert keys == [
        ("T1", "C1", "N1", "1", 0),
        ("T1", "C1", "N1", "1", 1),
        ("T1", "C1", "N1", "22", 0),
        ("T1", "C2", "N1", "1", 0),
    ]
    assert len(set(keys)) == 4


def test_plb_adjustments_are_numbered_per_trace() -> None:
    plb = segment("PLB", "1234567893", "20251231", "WO:A", "1", "FB:B", "-1")
    rem = remittance(
        [*header("0", "T1"), plb, segment("PLB", "1234567893", "20251231", "72", "0")],
        [*header("0", "T2"), plb],
    )
    assert plb_keys(rem) == (["T1", "T1", "T1", "T2", "T2"], [0, 1, 2, 0, 1])


def test_a_reversal_undoes_the_newest_posting_with_its_payer_claim_number_first() -> None:
    rem = remittance(
        [
            *header("0", "T9"),
            segment("CLP", "C1", "22", "-10", "-10", "", "MB", "N-OLD"),
            segment("CLP", "C1", "22", "-10", "-10", "", "MB", "N-OLD"),
            segment("CLP", "C1", "22", "-10", "-10", "", "MB", "N-OLD"),
            segment("CLP", "C2", "22", "-10", "-10", "", "MB", "N2"),
        ],
    )
    reversals = [Matched(k, c, c.patient_control_number.replace("C", "CLAIM-"), "x", 0)
                 for k, c in enumerate(rem.claims)]  # fmt: skip
    originals = [  # newest first, as the repository returns them
        Original(40, "CLAIM-1", "N-NEW"),
        Original(30, "CLAIM-1", "N-OLD"),
        Original(20, "CLAIM-1", "N-OLD"),
        Original(10, "CLAIM-3", "N2"),
    ]
    # same payer claim number first, newest first; then any posting of the claim; each once
    assert reversed_postings(reversals, originals) == {0: 30, 1: 20, 2: 40}


def test_a_posted_claim_writes_its_ledger_denials_underpayments_and_what_was_learned() -> None:
    rem = remittance(
        [
            *header("40", "T1"),
            segment("CLP", "C1", "1", "200", "40", "10", "MB", "PCLM", "11"),
            segment("SVC", "HC:99213", "100", "40", "", "1"),
            segment("DTM", "472", "20250314"),
            segment("CAS", "CO", "45", "50"),
            segment("CAS", "PR", "2", "10"),
            segment("SVC", "HC:36415", "100", "0", "", "1"),
            segment("CAS", "CO", "50", "100"),
            segment("LQ", "HE", "N115"),
        ],
    )
    [clp] = rem.claims
    book = Book.of([Rate("99213", "", "", dt.date(2025, 1, 1), None, 9000, None, None)], {})
    rows = PostingRows("t1", "MCR01", book, threshold_cents=100)
    rows.add(7, Matched(0, clp, "CLAIM-1", "patient_control_number", 0), reverses=3)
    assert [(r.posting_id, r.claim_id, r.line_number, r.kind, r.cas_group, r.amount_cents,
             r.category) for r in rows.ledger] == [
        (7, "CLAIM-1", 1, "charge", None, 10000, "charge"),
        (7, "CLAIM-1", 1, "payment", None, -4000, "payment"),
        (7, "CLAIM-1", 2, "charge", None, 10000, "charge"),
        (7, "CLAIM-1", 2, "payment", None, 0, "payment"),
        (7, "CLAIM-1", 1, "adjustment", "CO", -5000, "contractual"),
        (7, "CLAIM-1", 1, "adjustment", "PR", -1000, "coinsurance"),
        (7, "CLAIM-1", 2, "adjustment", "CO", -10000, "contractual"),
    ]  # fmt: skip
    assert sum(r.amount_cents for r in rows.ledger) == 0  # charge - paid - adjustments
    [denial] = rows.denied
    assert (denial.tenant, denial.payer_id, denial.line_number, denial.procedure,
            denial.reason, denial.amount_cents, denial.category, denial.remarks) == (
        "t1", "MCR01", 2, "36415", "50", 10000, "appealable", ["N115"])  # fmt: skip
    [short] = rows.underpaid
    assert (short.line_number, short.allowed_cents, short.paid_cents, short.contracted_cents,
            short.shortfall_cents, short.service_date, short.place_of_service, short.basis) == (
        1, 5000, 4000, 9000, 4000, dt.date(2025, 3, 14), "11", "allowed 90.00 from 2025-01-01",
    )  # fmt: skip
    assert rows.undone == [(3, 7)]
    assert rows.learned == [("PCLM", "CLAIM-1")]


def test_a_payer_without_contracted_fees_has_no_underpayments() -> None:
    rem = remittance(
        [
            *header("40", "T1"),
            segment("CLP", "C1", "1", "100", "40", "", "MB", "PCLM"),
            segment("SVC", "HC:99213", "100", "40", "", "1"),
            segment("CAS", "CO", "45", "60"),
        ],
    )
    rows = PostingRows("t1", "MCR01")
    rows.add(1, Matched(0, rem.claims[0], "CLAIM-1", "x", 0), reverses=None)
    assert rows.underpaid == []
    assert rows.undone == []


def test_the_service_is_built_from_injected_settings() -> None:
    cfg = RemittanceSettings(underpayment_threshold_cents=250, rematch_seconds=0.5)
    svc = app.build(config=cfg)
    assert sorted(svc.handlers) == sorted({ClaimSubmitted.TOPIC, RemitReceived.TOPIC})
    assert (0.5, timers.rematch) in svc.scheduler.schedule()
    assert CONTRACTS.default_threshold_cents == 250
