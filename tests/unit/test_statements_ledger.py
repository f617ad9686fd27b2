"""Patient ledger rules: postings, payment application, statement figures, the PDF."""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from rcm.practice import CHARGE_MASTER
from runtime.service import Reject
from schemas.common import Adjustment
from schemas.events import AdjudicatedLine, AdjudicationStatus, ClaimAdjudicated
from services.statements import billing, descriptions, domain, posting, render
from services.statements.config import StatementSettings
from services.statements.repository.statements import AccountSnapshot
from tests.unit.factories import coverage

pytestmark = pytest.mark.unit

TODAY = dt.date(2025, 4, 1)
PRACTICE = domain.Practice(
    "Example Family Practice",
    "500 Clinic Way",
    "Springfield, IL 62701",
    "(555) 555-0100",
    "weekdays",
    "https://pay.example.test",
)


def adjudication(
    charge: int,
    paid: int,
    co: int,
    pr: int,
    *,
    payer: str = "PPO01",
    status_code: str = "1",
    status: AdjudicationStatus = AdjudicationStatus.partially_paid,
) -> ClaimAdjudicated:
    adjustments = []
    if co:
        adjustments.append(Adjustment(group="CO", reason="45", amount_cents=co))
    if pr:
        adjustments.append(Adjustment(group="PR", reason="2", amount_cents=pr))
    return ClaimAdjudicated(
        claim_id="C1",
        patient_control_number="C1",
        payer_id=payer,
        trace_number="T1",
        status=status,
        claim_status_code=status_code,
        charge_cents=charge,
        paid_cents=paid,
        patient_responsibility_cents=pr,
        adjustments=adjustments,
    )


@st.composite
def decisions(draw: st.DrawFn) -> tuple[int, int, int, int]:
    """A payer's decision that balances: charge = paid + contractual + patient share."""
    charge = draw(st.integers(1, 5_000_00))
    paid = draw(st.integers(0, charge))
    co = draw(st.integers(0, charge - paid))
    return charge, paid, co, charge - paid - co


POSTING = st.tuples(st.sampled_from(sorted(domain.KINDS)), st.integers(-(10**7), 10**7))


@given(st.lists(POSTING, max_size=60))
def test_balance_is_charges_less_payments_less_adjustments(postings: list[tuple[str, int]]) -> None:
    t = domain.totals(postings)
    assert t.balance_cents == sum(a for _, a in postings)
    assert t.balance_cents == t.charges_cents - t.payments_cents - t.adjustments_cents


def test_an_unknown_kind_is_refused_not_counted() -> None:
    with pytest.raises(ValueError, match="unknown ledger kind"):
        domain.totals([("charge", 100), ("gift", -100)])


@given(decisions())
def test_after_the_primary_payer_the_patient_owes_exactly_the_patient_share(
    d: tuple[int, int, int, int],
) -> None:
    charge, paid, co, pr = d
    t = domain.totals((e.kind, e.amount_cents) for e in domain.entries_for(adjudication(*d)))
    assert t.balance_cents == pr
    assert (t.charges_cents, t.insurance_paid_cents, t.adjustments_cents) == (charge, paid, co)


@given(decisions(), st.data())
def test_a_secondary_payer_leaves_the_patient_its_own_share(
    d: tuple[int, int, int, int], data: st.DataObject
) -> None:
    charge, _, _, pr1 = d
    paid2 = data.draw(st.integers(0, pr1))
    pr2 = data.draw(st.integers(0, pr1 - paid2))
    first = [(e.kind, e.amount_cents) for e in domain.entries_for(adjudication(*d))]
    before = domain.totals(first)
    second = adjudication(charge, paid2, 0, pr2, payer="MCD01", status_code="2")
    cob = [
        (e.kind, e.amount_cents) for e in domain.cob_entries(second, before.insurance_side_cents)
    ]
    after = domain.totals(first + cob)
    assert after.balance_cents == pr2
    assert after.charges_cents == charge  # the charge is not posted twice
    assert after.insurance_paid_cents == before.insurance_paid_cents + paid2


def test_a_reversal_cancels_what_it_reverses() -> None:
    original = domain.entries_for(adjudication(20000, 12000, 5000, 3000))
    reversal = adjudication(
        -20000, -12000, -5000, -3000, status=AdjudicationStatus.reversed, status_code="22"
    )
    t = domain.totals((e.kind, e.amount_cents) for e in original + domain.entries_for(reversal))
    assert t.balance_cents == 0
    assert t.charges_cents == 0


@pytest.mark.parametrize(
    ("total", "percent", "owed"),
    [(15000, Decimal("20"), 12000), (12345, Decimal("15"), 10493), (999, Decimal("0"), 999)],
)
def test_self_pay_discount_rounds_half_up_to_the_cent(
    total: int, percent: Decimal, owed: int
) -> None:
    entries = domain.self_pay_entries(total, percent)
    assert sum(e.amount_cents for e in entries) == owed
    assert all(e.kind in ("charge", "self_pay_discount") for e in entries)


BALANCES = st.lists(
    st.tuples(st.text("ABCDEFGH", min_size=3, max_size=3), st.integers(-500, 50_000)),
    max_size=8,
    unique_by=lambda cb: cb[0],
)


@given(st.integers(0, 200_000), BALANCES, st.data())
def test_a_payment_is_spread_oldest_first_never_past_zero(
    amount: int, balances: list[tuple[str, int]], data: st.DataObject
) -> None:
    preferred = data.draw(st.sampled_from([None] + [c for c, _ in balances]))
    allocations, left = domain.allocate(amount, balances, preferred)
    owed = dict(balances)
    assert sum(c for _, c in allocations) + left == amount
    assert all(0 < c <= owed[claim] for claim, c in allocations)
    assert len({claim for claim, _ in allocations}) == len(allocations)
    # Money is left over only once every open balance is paid in full.
    if left:
        assert sum(c for _, c in allocations) == sum(b for _, b in balances if b > 0)
    # The named claim is paid first, then claims in the order given (oldest first).
    order = [c for c, b in balances if b > 0]
    if preferred in order:
        order = [preferred] + [c for c in order if c != preferred]
    assert [c for c, _ in allocations] == order[: len(allocations)]


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (0, "0-30"),
        (30, "0-30"),
        (31, "31-60"),
        (60, "31-60"),
        (61, "61-90"),
        (90, "61-90"),
        (91, "91-120"),
        (120, "91-120"),
        (121, "120+"),
        (400, "120+"),
    ],
)
def test_aging_buckets(days: int, bucket: str) -> None:
    assert domain.aging_bucket(TODAY - dt.timedelta(days=days), TODAY) == bucket


def test_messages_get_firmer_with_age_and_collections_says_so() -> None:
    words = [
        domain.message_for(b, collections=False, practice="P", phone="555")
        for b in domain.BUCKET_LABELS
    ]
    assert "Thank you" in words[0]
    assert words[1].startswith("REMINDER")
    assert words[2].startswith("SECOND NOTICE")
    assert "collection agency" in words[3]
    assert "collection agency" in domain.message_for(
        "120+", collections=True, practice="P", phone="555"
    )
    assert len(set(words)) == 5


def test_insurance_is_final_unless_a_later_payer_will_still_decide() -> None:
    dos = dt.date(2025, 3, 14)
    primary = coverage(payer_id="MCR01", priority=1)
    secondary = coverage(payer_id="MCD01", priority=2)
    both = [primary, secondary]

    def fin(adj: ClaimAdjudicated, covs: list[Any], hold: bool) -> domain.Finality:
        rank = domain.payer_rank(adj, covs, dos)
        return domain.finality(
            adj, rank, covs, dos, today=TODAY, hold_for_secondary=hold, wait_days=45
        )

    plain = adjudication(10000, 6000, 2000, 2000, payer="MCR01")
    assert fin(plain, [primary], hold=True).final
    assert not fin(plain, both, hold=True).final
    assert fin(plain, both, hold=True).hold_until == TODAY + dt.timedelta(days=45)
    assert fin(plain, both, hold=False).final
    crossover = adjudication(10000, 6000, 2000, 2000, payer="MCR01", status_code="19")
    assert not fin(crossover, both, hold=False).final
    from_secondary = adjudication(10000, 1500, 0, 500, payer="MCD01", status_code="2")
    assert domain.payer_rank(from_secondary, both, dos) == 2
    assert fin(from_secondary, both, hold=True).final
    reversed_ = adjudication(
        -10000, -6000, -2000, -2000, status=AdjudicationStatus.reversed, status_code="22"
    )
    assert not fin(reversed_, [primary], hold=False).final


def test_every_line_has_words_a_patient_reads_and_never_ama_text() -> None:
    assert domain.describe("J3420") == "Vitamin B12 injection"  # HCPCS: public
    assert domain.describe("g0008") == "Giving a flu vaccine"
    # CPT: the project's own plain words for the codes a family practice bills
    assert domain.describe("99214") == "Office visit, established patient, moderate complexity"
    assert domain.describe("87880") == "Rapid strep test"
    # a code no table has: its category, never a bare number
    assert domain.describe("84439") == "Laboratory test"
    assert domain.describe("99238") == "Visit or care management"
    assert domain.describe("90384") == "Medicine from blood products"
    assert domain.describe("0001F") == "Quality reporting (no charge)"
    assert domain.describe("E0114") == "Medical equipment"
    assert domain.describe("29125") == "Procedure"


def test_every_code_a_family_practice_bills_in_the_demo_has_its_own_words() -> None:
    missing = [c for c in sorted(CHARGE_MASTER) if domain.describe(c) == descriptions.category(c)]
    assert missing == []


def test_the_practices_own_file_wins_over_ours(tmp_path: Any) -> None:
    f = tmp_path / "cpt.csv"
    f.write_text("code,description\n99213,Our own words for this visit\n")
    assert domain.describe("99213", f) == "Our own words for this visit"
    assert domain.describe("99214", f) == "Office visit, established patient, moderate complexity"


def _claim(
    claim_id: str, postings: list[tuple[str, int]], billed: dt.date | None = None
) -> domain.ClaimOnStatement:
    return domain.ClaimOnStatement(
        claim_id=claim_id,
        patient_name="Sam Doe",
        date_of_service=dt.date(2025, 3, 14),
        lines=[
            {"code": "99214", "modifiers": ["25"], "units": 1, "charge_cents": 18000},
            {"code": "J3420", "modifiers": [], "units": 1, "charge_cents": 4500},
        ],
        postings=postings,
        first_billed_on=billed,
    )


def statement_doc(
    claims: list[domain.ClaimOnStatement], unapplied: list[tuple[str, int]]
) -> dict[str, Any]:
    return domain.build_statement(
        statement_id="S-C1-1",
        today=TODAY,
        due_days=30,
        collections_after_days=120,
        practice=PRACTICE,
        guarantor={"account": "G1", "name": "Pat Doe", "address": {}},
        claims=claims,
        unapplied=unapplied,
    )


CLAIM_POSTINGS = st.lists(
    st.tuples(st.sampled_from(sorted(domain.KINDS)), st.integers(-(10**6), 10**6)),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60)
@given(
    st.lists(CLAIM_POSTINGS, min_size=1, max_size=4),
    st.lists(st.integers(-50_000, 0), max_size=3),
    st.lists(st.integers(0, 200), min_size=4, max_size=4),
)
def test_statement_totals_equal_the_ledger(
    per_claim: list[list[tuple[str, int]]], credits: list[int], ages: list[int]
) -> None:
    claims = [
        _claim(f"C{n}", p, TODAY - dt.timedelta(days=ages[n])) for n, p in enumerate(per_claim)
    ]
    unapplied = [("patient_payment", c) for c in credits]
    doc = statement_doc(claims, unapplied)
    everything = [p for c in per_claim for p in c] + unapplied
    assert doc["balance_cents"] == sum(a for _, a in everything)
    assert doc["amount_due_cents"] == max(0, doc["balance_cents"])
    t = domain.totals(p for c in per_claim for p in c)
    assert doc["totals"]["charges_cents"] == t.charges_cents
    assert doc["totals"]["insurance_paid_cents"] == t.insurance_paid_cents
    assert doc["totals"]["adjustments_cents"] == t.adjustments_cents
    assert doc["totals"]["patient_paid_cents"] == t.patient_paid_cents
    assert doc["totals"]["credit_cents"] == -sum(credits)
    for c, postings in zip(doc["claims"], per_claim, strict=True):
        assert c["balance_cents"] == sum(a for _, a in postings)
    assert sum(doc["aging"].values()) == t.balance_cents
    assert doc["collections"] == (max(ages[: len(per_claim)]) > 120)


def _pdf_text(doc: dict[str, Any]) -> str:
    reader = PdfReader(io.BytesIO(render.to_pdf(doc)))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_the_pdf_shows_what_the_patient_owes_and_why() -> None:
    visit = _claim(
        "C1",
        [("charge", 22500), ("insurance_payment", -14000), ("contractual", -5000)],
    )
    second = _claim(
        "C2",
        [
            ("charge", 22500),
            ("insurance_payment", -15000),
            ("contractual", -4000),
            ("patient_payment", -1000),
        ],
    )
    doc = statement_doc([visit, second], [])
    text = _pdf_text(doc)
    assert re.search(r"Amount due\s+\$60\.00", text)  # 35.00 + 25.00
    assert re.search(r"You owe for this visit\s+\$35\.00", text)
    assert re.search(r"You owe for this visit\s+\$25\.00", text)
    assert re.search(r"Paid by your insurance\s+-\$140\.00", text)
    assert re.search(r"Total charges\s+\$225\.00", text)
    assert re.search(r"Your payments and credits\s+-\$10\.00", text)
    assert re.search(r"AMOUNT DUE\s+\$60\.00", text)
    assert "Vitamin B12 injection" in text
    assert re.search(
        r"99214-25\s+Office visit, established patient, moderate complexity\s+\$180", text
    )
    assert re.search(r"Due date\s+2025-05-01", text)
    for shown in ("Example Family Practice", "Pat Doe", "Sam Doe", "https://pay.example.test"):
        assert shown in text


def test_the_pdf_shows_a_credit_and_nothing_due() -> None:
    doc = statement_doc([], [("patient_payment", -2500)])
    text = _pdf_text(doc)
    assert re.search(r"Credit on your account\s+-\$25\.00", text)
    assert re.search(r"AMOUNT DUE\s+\$0\.00", text)


def test_the_html_statement_escapes_what_it_shows() -> None:
    claim = _claim("C1", [("charge", 5000)])
    claim.patient_name = "Lee <script>"
    page = render.to_html(statement_doc([claim], []))
    assert "<script>" not in page
    assert "Lee &lt;script&gt;" in page
    assert "$50.00" in page


@pytest.mark.parametrize(
    ("cents", "text"),
    [(0, "$0.00"), (5, "$0.05"), (123456, "$1,234.56"), (-1200, "-$12.00"), (None, "")],
)
def test_money_is_printed_to_the_cent(cents: int | None, text: str) -> None:
    assert domain.money(cents) == text


# --- a payer's decision planned from the claim's row, and the statement it leads -----

CFG = StatementSettings(
    secondary_wait_days=45, hold_for_secondary=False, due_days=30, collections_after_days=120
)


def _claim_row(payers: list[str], coverages: list[Any], ledger: list[tuple[str, int]]) -> Any:
    """A claim_charges row as posting reads it (``repository.claims.posting_rows``)."""
    return {
        "claim_id": "C1",
        "date_of_service": dt.date(2025, 3, 14),
        "coverages": orjson.dumps([c.model_dump(mode="json") for c in coverages]).decode(),
        "payers": payers,
        "insurance_final": False,
        "kinds": [k for k, _ in ledger],
        "amounts": [a for _, a in ledger],
        "unapplied": 0,
    }


def test_the_primary_payers_decision_leaves_the_patient_share_and_keeps_line_figures() -> None:
    adj = adjudication(20000, 12000, 5000, 3000).model_copy(
        update={
            "lines": [
                AdjudicatedLine(
                    line_number=1,
                    procedure_code="99213",
                    charge_cents=20000,
                    paid_cents=12000,
                    adjustments=[
                        Adjustment(group="CO", reason="45", amount_cents=5000),
                        Adjustment(group="PR", reason="2", amount_cents=3000),
                    ],
                )
            ]
        }
    )
    p = posting.plan(adj, _claim_row([], [coverage(payer_id="PPO01")], []), TODAY, cfg=CFG)
    assert sum(e.amount_cents for e in p.posted) == 3000
    assert p.fin.final
    assert p.before.balance_cents == 0
    assert orjson.loads(p.detail or "null") == {
        "1": {"code": "99213", "paid_cents": 12000, "adjusted_cents": 5000}
    }


def test_a_crossover_waits_for_the_next_payer_and_a_secondary_posts_cob() -> None:
    both = [coverage(payer_id="MCR01", priority=1), coverage(payer_id="MCD01", priority=2)]
    crossover = adjudication(20000, 12000, 5000, 3000, payer="MCR01", status_code="19")
    held = posting.plan(crossover, _claim_row([], both, []), TODAY, cfg=CFG)
    assert not held.fin.final
    assert held.fin.hold_until == TODAY + dt.timedelta(days=45)
    after_primary = [("charge", 20000), ("insurance_payment", -12000), ("contractual", -5000)]
    secondary = adjudication(20000, 2000, 0, 1000, payer="MCD01", status_code="2")
    p = posting.plan(secondary, _claim_row(["MCR01"], both, after_primary), TODAY, cfg=CFG)
    assert p.fin.final
    assert p.detail is None  # the primary's line figures stay
    assert p.before.balance_cents + sum(e.amount_cents for e in p.posted) == 1000


def test_a_later_payers_reversal_needs_a_person() -> None:
    both = [coverage(payer_id="MCR01", priority=1), coverage(payer_id="MCD01", priority=2)]
    reversal = adjudication(
        -20000, -2000, 0, -1000, payer="MCD01", status_code="22",
        status=AdjudicationStatus.reversed,
    )  # fmt: skip
    with pytest.raises(Reject) as err:
        posting.plan(reversal, _claim_row(["MCR01"], both, [("charge", 20000)]), TODAY, cfg=CFG)
    assert err.value.reason == "secondary-reversal"


def test_a_statement_leads_with_the_claim_that_made_it_billable() -> None:
    older = _claim("C-OLD", [("charge", 5000)], TODAY - dt.timedelta(days=40))
    newer = _claim("C-NEW", [("charge", 3000)])
    older.billing_provider = {"name": "LAKESIDE CLINIC", "address": LAKESIDE}
    snap = AccountSnapshot(
        open=[older, newer],
        balances={"C-OLD": 5000, "C-NEW": 3000},
        unapplied=[("patient_payment", -1000)],
        number=3,
        account={"first_name": "Pat", "last_name": "Doe", "address": {}},
    )
    next_on = TODAY + dt.timedelta(days=30)
    row, event = billing.statement_of(
        "T1", "G1", snap, TODAY, cfg=CFG, reason="adjudicated", lead="C-NEW", next_on=next_on
    )
    assert event.statement_id == row.statement_id == "S-C-NEW-3"
    assert event.claim_ids == row.claim_ids == ["C-NEW", "C-OLD"]
    assert event.balance_cents == row.balance_cents == 7000 == snap.owed_cents()
    assert event.aging_bucket == row.aging_bucket == "31-60"
    assert event.due_date == row.due_date == TODAY + dt.timedelta(days=30)
    assert (row.next_statement_on, row.collections, row.reason) == (next_on, False, "adjudicated")
    body = orjson.loads(row.body)
    assert body["guarantor"]["name"] == "Pat Doe"
    # the practice the visits were billed under, not a made-up default
    assert body["practice"]["name"] == "LAKESIDE CLINIC"
    assert body["practice"]["city_line"] == "BURLINGTON, VT 05401-1234"
    assert body["practice"]["phone"] is None
    assert not any("Online" in way for way in body["how_to_pay"])


LAKESIDE = {"line1": "12 LAKE ST", "city": "BURLINGTON", "state": "VT", "postal_code": "054011234"}
