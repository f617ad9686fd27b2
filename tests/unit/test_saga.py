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
from services.claims.saga import State, automatic_step_left, decide
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
