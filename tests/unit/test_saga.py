"""The claim saga's rules: where each event moves a claim, and what it refuses."""

from __future__ import annotations

import datetime as dt

import pytest

from schemas.common import HoldReason
from schemas.events import (
    AckKind,
    AdjudicationStatus,
    ClaimAcknowledged,
    ClaimAdjudicated,
    ClaimHeld,
    Stage,
    StatementIssued,
)
from schemas.events_payments import ClaimBalanceZero
from schemas.events_workqueue import ClaimFixed, Reentry
from schemas.ids import claim_id_for
from services.claims.config import ClaimsSettings
from services.claims.saga import (
    State,
    automatic_step_left,
    decide,
    filing_deadline,
    next_filing_check,
    next_submission,
)
from tests.builders import encounter

pytestmark = pytest.mark.unit


def ack(kind: AckKind, accepted: bool) -> ClaimAcknowledged:
    return ClaimAcknowledged(
        claim_id="C1", patient_control_number="C1", kind=kind, accepted=accepted, x12="ISA*..."
    )


def adjudicated(status: AdjudicationStatus, pr: int = 0) -> ClaimAdjudicated:
    return ClaimAdjudicated(
        claim_id="C1",
        patient_control_number="C1",
        payer_id="PPO01",
        trace_number="T1",
        status=status,
        claim_status_code="1",
        charge_cents=10000,
        paid_cents=8000 - pr,
        patient_responsibility_cents=pr,
    )


def test_happy_path_moves_forward_one_state_per_event() -> None:
    assert decide(None, encounter()).to is State.RECEIVED
    assert decide(State.SUBMITTED, ack(AckKind.ack_277ca, True)).to is State.ACCEPTED
    assert decide(State.ACCEPTED, adjudicated(AdjudicationStatus.paid)).to is State.PAID
    assert decide(State.SUBMITTED, adjudicated(AdjudicationStatus.denied)).to is State.DENIED
    st = StatementIssued(
        guarantor_id="G",
        statement_id="S",
        claim_ids=["C1"],
        balance_cents=2000,
        aging_bucket="0-30",
        statement_date=dt.date(2025, 1, 1),
        due_date=dt.date(2025, 1, 31),
    )
    assert decide(State.PAID, st).to is State.PATIENT_BILLED


def test_a_999_acceptance_is_a_note_not_a_state() -> None:
    d = decide(State.SUBMITTED, ack(AckKind.ack_999, True))
    assert (d.kind, d.to) == ("note", None)


def test_rejection_by_the_clearinghouse() -> None:
    assert decide(State.SUBMITTED, ack(AckKind.ack_277ca, False)).to is State.REJECTED


def test_an_acknowledgement_after_payment_is_late_and_changes_nothing() -> None:
    d = decide(State.PAID, ack(AckKind.ack_277ca, True))
    assert (d.kind, d.to) == ("late", None)


def test_payment_for_a_claim_never_submitted_is_an_anomaly() -> None:
    d = decide(State.ELIGIBLE, adjudicated(AdjudicationStatus.paid))
    assert (d.kind, d.to) == ("anomaly", None)
    assert decide(None, adjudicated(AdjudicationStatus.paid)).kind == "anomaly"


def test_a_hold_can_arrive_before_the_encounter() -> None:
    held = ClaimHeld(
        claim_id="C1",
        encounter_id="E1",
        stage=Stage.eligibility,
        reasons=[HoldReason(code="COVERAGE-ENDED", message="m", fix="f")],
    )
    assert decide(None, held).to is State.HELD
    assert decide(State.HELD, encounter()).kind == "late"


@pytest.mark.parametrize(
    ("state", "pr", "left"),
    [
        (State.SUBMITTED, 0, True),
        (State.PAID, 0, False),
        (State.PAID, 2500, True),
        (State.PATIENT_BILLED, 2500, False),
        (State.HELD, 0, False),
        (State.DENIED, 0, False),
        (State.CLOSED, 0, False),
    ],
)
def test_what_still_has_an_automatic_step(state: State, pr: int, left: bool) -> None:
    assert automatic_step_left(state, pr, self_pay=False) is left


# --- corrections, closing, repeats ------------------------------------------------------


def fix(reenter: Reentry = Reentry.coding) -> ClaimFixed:
    return ClaimFixed(
        claim_id="C1",
        encounter_id="E-0001",
        reenter=reenter,
        fixed_by="user-1",
        fixed_at=dt.datetime(2025, 4, 1, tzinfo=dt.UTC),
        encounter=encounter(),
    )


def zero() -> ClaimBalanceZero:
    return ClaimBalanceZero(
        claim_id="C1",
        guarantor_id="G",
        closed_by="patient_payment",
        at=dt.datetime(2025, 5, 1, tzinfo=dt.UTC),
    )


@pytest.mark.parametrize("state", [State.HELD, State.REJECTED, State.DENIED])
def test_a_fixed_claim_flows_again_from_where_the_fix_says(state: State) -> None:
    assert decide(state, fix(Reentry.coding)).to is State.ELIGIBLE
    assert decide(state, fix(Reentry.eligibility)).to is State.RECEIVED


@pytest.mark.parametrize(
    "state", [State.PAID, State.PARTIALLY_PAID, State.PATIENT_BILLED, State.CLOSED]
)
def test_a_claim_the_payer_paid_in_part_or_in_full_can_be_corrected(state: State) -> None:
    # a denied or reduced line: the claim flows again and goes out as a replacement
    assert decide(state, fix(Reentry.coding)).to is State.ELIGIBLE
    assert decide(state, fix(Reentry.eligibility)).to is State.RECEIVED


@pytest.mark.parametrize("state", [None, State.SUBMITTED, State.ACCEPTED, State.CODED])
def test_a_fix_to_a_claim_not_waiting_for_one_is_an_anomaly(state: State | None) -> None:
    d = decide(state, fix())
    assert (d.kind, d.to) == ("anomaly", None)
    assert d.note == "only a held, rejected, denied or adjudicated claim can be fixed"


def test_the_patient_balance_reaching_zero_closes_a_billed_claim() -> None:
    assert decide(State.PATIENT_BILLED, zero()).to is State.CLOSED


def test_balance_zero_before_its_statement_closes_and_the_statement_is_then_late() -> None:
    assert decide(State.PAID, zero()).to is State.CLOSED
    st = StatementIssued(
        guarantor_id="G",
        statement_id="S",
        claim_ids=["C1"],
        balance_cents=0,
        aging_bucket="0-30",
        statement_date=dt.date(2025, 1, 1),
        due_date=dt.date(2025, 1, 31),
    )
    assert decide(State.CLOSED, st).kind == "late"


def test_balance_zero_while_waiting_for_the_next_payer_closes_and_its_835_is_late() -> None:
    """Statements posted the later payer's 835 (and the balance reached zero) before this
    service read it: the claim closes, and the 835 then arriving is recorded as late."""
    assert decide(State.ACCEPTED, zero()).to is State.CLOSED
    late = decide(State.CLOSED, adjudicated(AdjudicationStatus.paid))
    assert late.kind == "late"


def test_balance_zero_before_this_service_read_the_835_closes_the_claim() -> None:
    """Statements says zero only once insurance is final for the claim: an 835 came, on
    another topic (a secondary's 835 often before its 277CA under load)."""
    assert decide(State.SUBMITTED, zero()).to is State.CLOSED
    assert decide(State.CLOSED, adjudicated(AdjudicationStatus.paid, pr=4701)).kind == "late"


def test_balance_zero_for_a_claim_never_seen_or_not_yet_sent_is_an_anomaly() -> None:
    assert decide(None, zero()).kind == "anomaly"
    assert decide(State.CODED, zero()).kind == "anomaly"


def test_a_repeat_of_the_step_that_got_the_claim_here_is_late() -> None:
    assert decide(State.CLOSED, zero()).kind == "late"
    assert decide(State.REJECTED, ack(AckKind.ack_277ca, False)).kind == "late"


@pytest.mark.parametrize(
    "state", [State.PAID, State.PATIENT_BILLED, State.CLOSED, State.SUBMITTED, State.ACCEPTED]
)
def test_a_reversal_sends_the_claim_back_to_awaiting_adjudication(state: State) -> None:
    assert decide(state, adjudicated(AdjudicationStatus.reversed)).to is State.SUBMITTED


def test_a_claim_rejected_at_the_front_end_can_still_be_adjudicated() -> None:
    assert decide(State.REJECTED, adjudicated(AdjudicationStatus.paid)).to is State.PAID


# --- what a coded claim goes out as ------------------------------------------------------


def _attempt(n: int) -> str:
    return f"NEW{n}"


def test_a_claim_never_sent_goes_out_as_an_original_under_codings_clm01() -> None:
    got = next_submission(
        coded_pcn="C1", submitted_pcns=[], payer_claim_number=None, new_pcn=_attempt
    )
    assert got == ("1", "C1")


def test_an_adjudicated_claim_goes_out_as_a_replacement_under_the_clm01_the_payer_knows() -> None:
    got = next_submission(
        coded_pcn="C1", submitted_pcns=["C1"], payer_claim_number="PAY1", new_pcn=_attempt
    )
    assert got == ("7", "C1")
    got = next_submission(
        coded_pcn="C1", submitted_pcns=["C1", "NEW1"], payer_claim_number="PAY1", new_pcn=_attempt
    )
    assert got == ("7", "NEW1")


def test_a_claim_rejected_before_adjudication_gets_a_new_original_clm01() -> None:
    got = next_submission(
        coded_pcn="C1", submitted_pcns=["C1"], payer_claim_number=None, new_pcn=_attempt
    )
    assert got == ("1", "NEW1")
    got = next_submission(
        coded_pcn="C1", submitted_pcns=["C1", "NEW1"], payer_claim_number=None, new_pcn=_attempt
    )
    assert got == ("1", "NEW2")
    # coding already gave it a fresh CLM01: that one is used
    got = next_submission(
        coded_pcn="FRESH", submitted_pcns=["C1"], payer_claim_number=None, new_pcn=_attempt
    )
    assert got == ("1", "FRESH")


def test_claim_ids_never_change_between_releases() -> None:
    # Every service derives the claim id from the encounter on its own, and CLM01 goes
    # to the payer: a release that derived other ids would orphan every claim in flight.
    assert claim_id_for("t", "E-1") == "CCV2WGN4QPNJOFOG"
    assert claim_id_for("t", "E-1", 1) == "C3F2W3SZPCGXKWI2"
    assert claim_id_for("acme-health", "ENC-000123") == "CWNQJPXO5XSTDRAH"
    assert claim_id_for("acme-health", "ENC-000123", 2) == "CK2P7PCQM7U7SUQI"


def test_new_clm01s_really_differ_per_attempt() -> None:
    pcns = {claim_id_for("t", "E-1", n) for n in range(5)}
    assert len(pcns) == 5
    assert all(len(p) <= 20 for p in pcns)


# --- timely filing -----------------------------------------------------------------------


def test_filing_days_come_from_the_directory_and_else_the_default() -> None:
    cfg = ClaimsSettings()
    assert cfg.filing_days(365) == 365  # the directory's timely_filing_days for the payer
    assert filing_deadline(dt.date(2025, 3, 14), cfg.filing_days(365)) == dt.date(2026, 3, 14)
    assert cfg.filing_days(None) == 90  # a payer the directory lacks


@pytest.mark.parametrize(
    ("today", "next_day"),
    [
        (dt.date(2025, 1, 1), dt.date(2025, 5, 2)),  # the 30-day warning
        (dt.date(2025, 5, 2), dt.date(2025, 5, 25)),  # then the 7-day warning
        (dt.date(2025, 5, 25), dt.date(2025, 6, 2)),  # then the day after the deadline
        (dt.date(2025, 7, 1), dt.date(2025, 7, 2)),  # past it: look again tomorrow
    ],
)
def test_filing_checks_come_at_each_warning_then_after_the_deadline(
    today: dt.date, next_day: dt.date
) -> None:
    assert next_filing_check(dt.date(2025, 6, 1), today, [7, 30]) == next_day
