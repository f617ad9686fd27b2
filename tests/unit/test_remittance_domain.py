"""Remittance decisions: denials sorted into work, ledger categories, underpayments,
matching order, what the 837 tells us, and contracts that agree with the payers."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from runtime.x12 import Envelope, X12Error, segment, transaction, wrap
from schemas.events import AdjudicationStatus
from services.remittance.domain.adjudication import (
    adjudicated,
    denial_category,
    denials,
    status_of,
)
from services.remittance.domain.contracts import Book, Rate
from services.remittance.domain.ledger import ledger_rows, underpayments
from services.remittance.domain.matching import match, patient_key, read_837
from services.remittance.domain.posting import trace_digests
from services.remittance.x12_835.model import RemitClaim
from services.remittance.x12_835.reader import parse_835
from tests.unit.test_x12_tolerant import CLEAN_835

pytestmark = pytest.mark.unit


def one_claim(*segs: str) -> RemitClaim:
    env = Envelope("ZZ", "P", "ZZ", "R", "HP", "005010X221A1", 1, 1,
                   at=dt.datetime(2025, 4, 1, tzinfo=dt.UTC))  # fmt: skip
    body = [
        segment(
            "BPR", "I", "0", "C", "NON", "", "", "", "", "", "", "", "", "", "", "", "20250401"
        ),
        segment("TRN", "1", "T1", "1"),
        segment("N1", "PR", "PAYER"),
        segment("N1", "PE", "CLINIC", "XX", "1234567893"),
        *segs,
    ]
    rem = parse_835(wrap(env, [transaction("835", "0001", body)]))
    [c] = rem.claims
    return c


def test_a_denied_claim_is_correctable_when_information_is_missing() -> None:
    c = one_claim(
        segment("CLP", "C1", "4", "100", "0", "", "MB", "N1"),
        segment("SVC", "HC:99213", "100", "0"),
        segment("CAS", "CO", "16", "100"),
        segment("LQ", "HE", "M76"),
    )
    assert status_of(c) == AdjudicationStatus.denied
    assert denial_category(c, status_of(c)) == "correctable"
    [d] = denials(c)
    assert (d.line_number, d.group, d.reason, d.amount_cents, d.remarks) == (
        1,
        "CO",
        "16",
        10000,
        ("M76",),
    )


@pytest.mark.parametrize(
    ("group", "carc", "category"),
    [
        ("CO", "50", "appealable"),
        ("CO", "197", "appealable"),
        ("CO", "29", "write_off"),
        ("OA", "18", "correctable"),  # OA is a 5010 group: its denials count too
        ("PI", "204", "write_off"),
        ("CO", "27", "correctable"),
    ],
)
def test_denials_are_sorted_by_carc(group: str, carc: str, category: str) -> None:
    c = one_claim(
        segment("CLP", "C1", "4", "100", "0", "", "MB", "N1"),
        segment("CAS", group, carc, "100"),
    )
    assert denial_category(c, status_of(c)) == category
    assert [(d.line_number, d.category) for d in denials(c)] == [(0, category)]
    assert adjudicated(c, "P1", "CLAIM-1").denial_category == category


def test_a_paid_claim_with_fee_schedule_reduction_has_no_denial() -> None:
    c = one_claim(
        segment("CLP", "C1", "1", "100", "72", "8", "MB", "N1"),
        segment("SVC", "HC:99213", "100", "72"),
        segment("CAS", "CO", "45", "20"),
        segment("CAS", "PR", "2", "8"),
    )
    assert status_of(c) == AdjudicationStatus.paid
    assert denials(c) == []
    assert denial_category(c, status_of(c)) is None


def test_ledger_rows_post_per_line_by_category_and_sum_to_the_claim() -> None:
    c = one_claim(
        segment("CLP", "C1", "2", "200", "100", "45", "12", "N1"),
        segment("CAS", "OA", "23", "10"),
        segment("SVC", "HC:99213", "150", "80"),
        segment("CAS", "CO", "45", "25", "", "253", "0.50"),
        segment("CAS", "PR", "1", "20", "", "2", "14.50", "", "3", "10"),
        segment("SVC", "HC:36415", "50", "30"),
        segment("CAS", "CO", "45", "20"),
    )
    rows = ledger_rows(c)
    by = {(r.line_number, r.category, r.reason): r.amount_cents for r in rows}
    assert by == {
        (1, "charge", None): 15000,
        (1, "payment", None): -8000,
        (2, "charge", None): 5000,
        (2, "payment", None): -3000,
        (0, "payment", None): 1000,  # the OA-23 prior-payer amount came off the lines' pay
        (0, "other_adjustment", "23"): -1000,
        (1, "contractual", "45"): -2500,
        (1, "contractual", "253"): -50,
        (1, "deductible", "1"): -2000,
        (1, "coinsurance", "2"): -1450,
        (1, "copay", "3"): -1000,
        (2, "contractual", "45"): -2000,
    }
    assert sum(r.amount_cents for r in rows if r.kind == "charge") == 20000
    assert -sum(r.amount_cents for r in rows if r.kind == "payment") == 10000
    assert sum(r.amount_cents for r in rows) == 0  # the claim balances


def test_underpayment_is_allowed_below_rate_times_units_capped_at_charge() -> None:
    c = one_claim(
        segment("CLP", "C1", "1", "160", "120", "", "MB", "N1", "11"),
        segment("DTM", "232", "20250314"),
        segment("SVC", "HC:96372", "40", "28", "", "2"),  # 2 units x 14.50 = 29.00
        segment("CAS", "CO", "45", "12"),
        segment("AMT", "B6", "28"),
        segment("SVC", "HC:36415", "2", "2"),  # charge 2.00 below the 3.00 fee: allowed in full
        segment("SVC", "HC:99213", "118", "90"),  # no AMT*B6: allowed = paid + PR
        segment("CAS", "CO", "45", "28"),
    )
    day = dt.date(2025, 1, 1)
    book = Book.of(
        [Rate(code, "", "", day, None, fee, None, None)
         for code, fee in {"96372": 1450, "36415": 300, "99213": 9200}.items()], {}
    )  # fmt: skip
    got = [(u.line_number, u.allowed_cents, u.paid_cents, u.contracted_cents, u.shortfall_cents,
            u.service_date) for u in underpayments(c, book)]  # fmt: skip
    assert got == [
        (1, 2800, 2800, 2900, 100, dt.date(2025, 3, 14)),
        (3, 9000, 9000, 9200, 200, dt.date(2025, 3, 14)),
    ]
    # a shortfall must be above the threshold: 1.00 is not above 1.00, 2.00 is
    assert [u.line_number for u in underpayments(c, book, threshold_cents=100)] == [3]
    assert underpayments(c, Book()) == []  # no contract: nothing is checked


def test_matching_prefers_clp01_then_payer_claim_number_then_patient() -> None:
    c = one_claim(
        segment("CLP", "C1", "1", "100", "100", "", "MB", "PAYER-9"),
        segment("NM1", "QC", "1", "Rivera", "Alex"),
        segment("DTM", "232", "20250314"),
    )
    key = patient_key("RIVERA", "A")
    assert key is not None
    day = dt.date(2025, 3, 14)
    patient = {(key, day, 10000): frozenset({"BY-PATIENT"})}
    assert match(c, {"C1": "BY-PCN"}, {"PAYER-9": "BY-NUMBER"}, patient).claim_id == "BY-PCN"
    assert match(c, {}, {"PAYER-9": "BY-NUMBER"}, patient).matched_by == "payer_claim_number"
    assert match(c, {}, {}, patient)[:2] == ("BY-PATIENT", "patient_date_amount")
    two = {(key, day, 10000): frozenset({"A", "B"})}
    assert match(c, {}, {}, two) == (None, None, "2 claims match the patient, date and amount")
    assert match(c, {}, {}, {(key, day, 9999): frozenset({"X"})}).claim_id is None


def _837(body: list[str]) -> str:
    """An 837P interchange of one transaction set with ``body``."""
    env = Envelope("ZZ", "S", "ZZ", "R", "HC", "005010X222A1", 1, 1,
                   at=dt.datetime(2025, 4, 1, tzinfo=dt.UTC))  # fmt: skip
    return wrap(env, [transaction("837", "0001", body)])


def test_read_837_finds_the_patient_of_the_claim_and_its_service_date() -> None:
    body = [
        segment("HL", "1", "", "20", "1"),
        segment("HL", "2", "1", "22", "1"),
        segment("NM1", "IL", "1", "PARENT", "SAM"),
        segment("HL", "3", "2", "23", "0"),
        segment("NM1", "QC", "1", "CHILD", "ROBIN"),
        segment("CLM", "PCN7", "100", "", "", "11:B:1"),
        segment("LX", "1"),
        segment("DTP", "472", "D8", "20250316"),
        segment("LX", "2"),
        segment("DTP", "472", "D8", "20250315"),
    ]
    text = _837(body)
    sub = read_837(text, "PCN7")
    assert sub.patient_key == patient_key("CHILD", "R")
    assert sub.service_date == dt.date(2025, 3, 15)
    with pytest.raises(X12Error, match="no CLM"):
        read_837(text, "OTHER")


def test_read_837_tells_the_claims_of_one_interchange_apart() -> None:
    """Every claim of an interchange carries the whole interchange; each finds its own
    patient and dates, whichever is read first."""
    body = [
        segment("HL", "1", "", "20", "1"),
        segment("HL", "2", "1", "22", "0"),
        segment("NM1", "IL", "1", "FIRST", "ANN"),
        segment("CLM", "PCN1", "100", "", "", "11:B:1"),
        segment("LX", "1"),
        segment("DTP", "472", "D8", "20250310"),
        segment("CLM", "PCN2", "80", "", "", "11:B:1"),
        segment("LX", "1"),
        segment("DTP", "472", "D8", "20250311"),
        segment("HL", "3", "1", "22", "0"),
        segment("NM1", "IL", "1", "SECOND", "BEN"),
        segment("CLM", "PCN3", "50", "", "", "11:B:1"),
        segment("LX", "1"),
        segment("DTP", "472", "D8", "20250312"),
    ]
    text = _837(body)
    third = read_837(text, "PCN3")
    assert (third.patient_key, third.service_date) == (
        patient_key("SECOND", "B"),
        dt.date(2025, 3, 12),
    )
    first, second = read_837(text, "PCN1"), read_837(text, "PCN2")
    assert (first.patient_key, first.service_date) == (
        patient_key("FIRST", "A"),
        dt.date(2025, 3, 10),
    )
    assert (second.patient_key, second.service_date) == (
        patient_key("FIRST", "A"),
        dt.date(2025, 3, 11),
    )


def test_a_payment_delivered_again_has_its_digest_and_a_changed_one_another() -> None:
    digest = trace_digests(parse_835(CLEAN_835))
    assert list(digest) == ["TRACE0001"]
    envelope = CLEAN_835.replace("*000009001*", "*000009002*").replace("250311*0930", "250312*1015")
    assert trace_digests(parse_835(envelope)) == digest  # a new envelope: the same payment
    clp07 = re.sub(r"(CLP\*PCN-A\*(?:[^*~]*\*){5})[^*~]*", r"\g<1>OTHER-CLAIM-NO", CLEAN_835)
    assert clp07 != CLEAN_835
    assert trace_digests(parse_835(clp07)) != digest  # a claim under another CLP07
    plb = CLEAN_835.replace("L6:PCN-A*-1.25", "L6:PCN-B*-1.25")
    assert trace_digests(parse_835(plb)) != digest
