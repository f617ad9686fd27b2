"""The claim saga as data: states, which event moves a claim from where to where.

Pure: no I/O. The handlers apply a Decision inside one transaction together with
the timeline row and any outgoing event.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from schemas.events import (
    AckKind,
    AdjudicationStatus,
    ClaimAcknowledged,
    ClaimAdjudicated,
    ClaimCoded,
    ClaimHeld,
    EligibilityChecked,
    EncounterCreated,
    Event,
    StatementIssued,
)


class State(StrEnum):
    RECEIVED = "RECEIVED"
    ELIGIBLE = "ELIGIBLE"
    HELD = "HELD"
    CODED = "CODED"
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    PAID = "PAID"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    DENIED = "DENIED"
    PATIENT_BILLED = "PATIENT_BILLED"
    CLOSED = "CLOSED"


# How far along the happy path a state is; an event that would move a claim
# backwards arrived late and is recorded without changing the state.
RANK = {
    State.RECEIVED: 0,
    State.ELIGIBLE: 1,
    State.HELD: 1,
    State.CODED: 2,
    State.SUBMITTED: 3,
    State.ACCEPTED: 4,
    State.REJECTED: 4,
    State.PAID: 5,
    State.PARTIALLY_PAID: 5,
    State.DENIED: 5,
    State.PATIENT_BILLED: 6,
    State.CLOSED: 7,
}

# States from which each kind of event may move a claim (None = no row yet).
ALLOWED: dict[str, set[State | None]] = {
    "encounter": {None},
    "eligible": {None, State.RECEIVED},
    "held": {None, State.RECEIVED, State.ELIGIBLE, State.CODED, State.HELD},
    "coded": {None, State.RECEIVED, State.ELIGIBLE, State.HELD},
    "ack": {State.SUBMITTED},
    "adjudicated": {State.SUBMITTED, State.ACCEPTED, State.REJECTED},
    "reversed": {
        State.PAID,
        State.PARTIALLY_PAID,
        State.DENIED,
        State.PATIENT_BILLED,
        State.CLOSED,
    },
    # A statement is only ever caused by an adjudication, but the two reach the saga on
    # different topics: the statement may arrive first.
    "billed": {
        State.PAID,
        State.PARTIALLY_PAID,
        State.DENIED,
        State.CODED,
        State.SUBMITTED,
        State.ACCEPTED,
    },
}


@dataclass(frozen=True, slots=True)
class Decision:
    kind: str  # transition | late | anomaly | note
    to: State | None
    note: str = ""


def target(event: Event) -> tuple[str, State | None]:
    """The kind of step an event is, and the state it leads to."""
    match event:
        case EncounterCreated():
            return "encounter", State.RECEIVED
        case EligibilityChecked():
            return "eligible", State.ELIGIBLE
        case ClaimHeld():
            return "held", State.HELD
        case ClaimCoded():
            return "coded", State.CODED
        case ClaimAcknowledged(kind=AckKind.ack_999, accepted=True):
            return "ack", None
        case ClaimAcknowledged(accepted=False):
            return "ack", State.REJECTED
        case ClaimAcknowledged():
            return "ack", State.ACCEPTED
        case ClaimAdjudicated(status=AdjudicationStatus.reversed):
            return "reversed", State.SUBMITTED
        case ClaimAdjudicated(status=AdjudicationStatus.paid):
            return "adjudicated", State.PAID
        case ClaimAdjudicated(status=AdjudicationStatus.partially_paid):
            return "adjudicated", State.PARTIALLY_PAID
        case ClaimAdjudicated():
            return "adjudicated", State.DENIED
        case StatementIssued():
            return "billed", State.PATIENT_BILLED
    raise ValueError(f"the saga does not handle {event.TYPE}")


def decide(current: State | None, event: Event) -> Decision:
    step, to = target(event)
    if to is None:
        if current is None:
            return Decision("anomaly", None, f"{step} for a claim never seen")
        return Decision("note", None, f"{step} recorded")
    if current in ALLOWED[step]:
        return Decision("transition", to)
    if current is not None and to is not None and RANK[to] < RANK[current]:
        return Decision("late", None, f"{step} arrived after the claim reached {current}")
    return Decision("anomaly", None, f"{step} is impossible from {current or 'no claim'}")


def automatic_step_left(state: State, patient_responsibility_cents: int, self_pay: bool) -> bool:
    """Does the pipeline still owe this claim a step without a person? (the demo's 'pending')."""
    if state in (State.HELD, State.REJECTED, State.PATIENT_BILLED, State.CLOSED):
        return False
    if state in (State.PAID, State.PARTIALLY_PAID, State.DENIED):
        return patient_responsibility_cents > 0
    return True
