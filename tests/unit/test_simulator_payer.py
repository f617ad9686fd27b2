"""The payers' rules for a cycle: the books a cycle adjudicates against, reversals with
corrected payments, PLB interest and recoupments, delivery faults, claim status."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from services.simulator import payer, x12_277
from services.simulator.adjudicate import reverse
from services.simulator.config import SimulatorSettings
from services.simulator.model import Accumulators, ClaimIn, ClaimLineIn
from services.simulator.payers import PAYERS

pytestmark = pytest.mark.unit

TODAY = dt.date(2025, 3, 11)
VISIT = dt.date(2025, 3, 3)
CFG = SimulatorSettings(delay_s=0, denial_rate=0)
NPI = "1234567893"


def claim(pcn: str, code: str = "99396", charge: int = 26000, member: str = "MBR001") -> ClaimIn:
    """A Medicare claim of one line; by default a preventive visit, paid in full."""
    return ClaimIn(
        patient_control_number=pcn, payer_id="MCR01", member_id=member, date_of_service=VISIT,
        lines=(ClaimLineIn(1, code, charge, diagnosis_codes=("I10",)),),
        total_charge_cents=charge, diagnoses=("I10",), billing_npi="1234567893",
    )  # fmt: skip


def empty_books() -> payer.Books:
    return payer.Books({}, {}, set())


def test_a_claim_waits_the_payers_days_at_the_configured_pace() -> None:
    cfg = SimulatorSettings(delay_s=0.5, seconds_per_payer_day=0.1)
    assert payer.payer_delay(cfg, "MCR01") == 0.5 + PAYERS["MCR01"].days_to_pay * 0.1
    assert payer.payer_delay(cfg, "ZZZ99") == 0.5


def test_the_roster_gives_a_claim_its_coverage_dates() -> None:
    books = payer.Books(
        {("MCR01", "MBR001"): (dt.date(2020, 1, 1), dt.date(2025, 2, 1))}, {}, set()
    )
    covered = books.with_roster(claim("C1"))
    assert (covered.coverage_effective, covered.coverage_termination) == (
        dt.date(2020, 1, 1),
        dt.date(2025, 2, 1),
    )
    stranger = claim("C2", member="MBR999")
    assert books.with_roster(stranger) is stranger
    assert payer.adjudicate_one(books, CFG, covered, TODAY, "t")[0].denial_reason == "27"


def test_one_members_claims_in_a_cycle_meet_the_deductible_once_and_are_written_back() -> None:
    books = empty_books()
    first, first_acc = payer.adjudicate_one(books, CFG, claim("D1", "99215", 25000), TODAY, "t")
    second, second_acc = payer.adjudicate_one(books, CFG, claim("D2", "99215", 25000), TODAY, "t")
    assert first_acc == Accumulators(2025)
    assert second_acc == first.accumulators
    deductible = PAYERS["MCR01"].benefits.deductible_cents
    assert second.accumulators is not None
    assert second.accumulators.deductible_met_cents == deductible
    accumulators, paid = books.changes()
    assert accumulators == [
        ("MCR01", "MBR001", 2025, deductible, second.accumulators.oop_met_cents)
    ]
    assert first.paid_cents == 0 < second.paid_cents  # the first went to the deductible
    assert paid == [("MCR01", "D2", second.payer_claim_number, second.paid_cents, "t", NPI)]
    assert books.changes() == ([], [])  # written back once


def test_a_claim_paid_before_is_denied_as_a_duplicate() -> None:
    books = payer.Books({}, {}, {("MCR01", "D1")})
    result, _ = payer.adjudicate_one(books, CFG, claim("D1"), TODAY, "t")
    assert result.denial_reason == "18"


def test_a_correction_reverses_the_payment_and_pays_the_new_fee_schedule() -> None:
    books = empty_books()
    original, before = payer.adjudicate_one(books, CFG, claim("R1"), TODAY, "t")
    fix = {
        "acc_year": before.year, "acc_deductible_cents": before.deductible_met_cents,
        "acc_oop_cents": before.oop_met_cents, "adjudicated_on": TODAY, "tenant": "t",
        "billing_npi": "1234567893",
    }  # fmt: skip
    later = TODAY + dt.timedelta(days=1)
    reversal, corrected = payer.correct(books, CFG, claim("R1"), fix, later)
    assert reversal == reverse(original, later)
    assert corrected.payer_claim_number != original.payer_claim_number
    assert corrected.paid_cents > original.paid_cents  # the fee schedule went up 5 %
    assert original.accumulators is not None
    assert corrected.accumulators is not None
    moved = books.accumulators_of(claim("R1"), 2025)
    assert moved == corrected.accumulators  # the difference applied to what was met


def test_reversals_follow_the_rate_and_only_take_back_payments() -> None:
    paid, _ = payer.adjudicate_one(empty_books(), CFG, claim("V1"), TODAY, "t")
    denied, _ = payer.adjudicate_one(
        payer.Books({}, {}, {("MCR01", "V2")}), CFG, claim("V2"), TODAY, "t"
    )
    always = SimulatorSettings(reversal_rate=1.0)
    assert payer.reversed_later(always, claim("V1"), paid)
    assert not payer.reversed_later(always, claim("V2"), denied)
    assert not payer.reversed_later(CFG, claim("V1"), paid)


def test_plb_kinds_follow_the_rate_and_repeat_for_a_seed() -> None:
    never, always = SimulatorSettings(), SimulatorSettings(plb_rate=1.0)
    assert {payer.plb_draw(never, f"T{n}")[1] for n in range(50)} == {None}
    kinds = [payer.plb_draw(always, f"T{n}")[1] for n in range(50)]
    assert set(kinds) == {"recoupment", "interest"}
    assert kinds == [payer.plb_draw(always, f"T{n}")[1] for n in range(50)]


def test_a_recoupment_takes_a_tenth_of_an_earlier_payment_outside_the_835() -> None:
    books = empty_books()
    now = [payer.adjudicate_one(books, CFG, claim("N1", "99396", 26000), TODAY, "t")[0]]
    earlier = [
        {"patient_control_number": "N1", "payer_claim_number": "X1", "paid_cents": 90000},
        {"patient_control_number": "E1", "payer_claim_number": "X2", "paid_cents": 5000},
    ]
    rng, _ = payer.plb_draw(SimulatorSettings(plb_rate=1.0), "T1")
    taken = payer.recoupment_from(rng, earlier, now)
    assert taken is not None
    pcn, adjustment = taken
    assert (pcn, adjustment.reason, adjustment.amount_cents, adjustment.reference) == (
        "E1",
        "WO",
        500,
        "X2",
    )
    assert payer.recoupment_from(rng, earlier[:1], now) is None  # only a claim of this 835


def test_interest_is_paid_on_a_paid_claim_never_on_a_reversal() -> None:
    cfg = SimulatorSettings(interest_rate=Decimal("0.02"))
    paid, _ = payer.adjudicate_one(empty_books(), cfg, claim("I1", "99396", 26000), TODAY, "t")
    rng, _ = payer.plb_draw(cfg, "T1")
    [plb] = payer.interest_on(rng, cfg, [paid, reverse(paid, TODAY)])
    assert (plb.reason, plb.amount_cents, plb.reference) == (
        "L6",
        -int(paid.paid_cents * Decimal("0.02")),
        paid.payer_claim_number,
    )
    assert payer.interest_on(rng, cfg, [reverse(paid, TODAY)]) == []


def test_delivery_faults_follow_their_rates() -> None:
    assert payer.delivery_faults(CFG, "T1") == (False, False)
    both = SimulatorSettings(duplicate_835_rate=1.0, out_of_order_rate=1.0)
    assert payer.delivery_faults(both, "T1") == (True, True)


def test_an_835_trace_number_names_the_payer_and_the_day() -> None:
    assert payer.trace_number("MCR01", TODAY, 42) == "MCR0125031100000042"


def test_a_finalized_claim_status_says_paid_denied_reversed_or_no_payment() -> None:
    paid, _ = payer.adjudicate_one(empty_books(), CFG, claim("F1"), TODAY, "t")
    denied, _ = payer.adjudicate_one(
        payer.Books({}, {}, {("MCR01", "F2")}), CFG, claim("F2"), TODAY, "t"
    )
    nothing, _ = payer.adjudicate_one(empty_books(), CFG, claim("F3", "99214", 10000), TODAY, "t")
    assert payer.final_status(paid) == x12_277.PAID
    assert payer.final_status(denied) == x12_277.DENIED
    assert payer.final_status(reverse(paid, TODAY)) == x12_277.REVERSED
    assert nothing.paid_cents == 0  # all of it to the deductible
    assert payer.final_status(nothing) == x12_277.NO_PAYMENT
