"""The claim saga as data: states, which event moves a claim from where to where.

Pure: no I/O. The handlers apply a Decision inside one transaction together with
the timeline row and any outgoing event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

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
from schemas.events_payments import ClaimBalanceZero
from schemas.events_workqueue import ClaimFixed, Reentry
from schemas.states import ClaimState

State = ClaimState


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
    # A reversal also answers a void or replacement already on its way (SUBMITTED, ACCEPTED).
    "reversed": {
        State.SUBMITTED,
        State.ACCEPTED,
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
    # A person fixed the claim in a work queue: it flows again from eligibility or coding.
    "fixed": {State.HELD, State.REJECTED, State.DENIED},
    # Statements: the patient's balance on the claim reached zero. Normally after the
    # statement, but the two travel on different topics and the statement may come second
    # (it is then late); a denial written off closes from DENIED.
    "balance_zero": {State.PATIENT_BILLED, State.PAID, State.PARTIALLY_PAID, State.DENIED},
}

# Steps that never arrive "late": when not allowed they are impossible, whatever the rank.
NEVER_LATE = {"fixed"}


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
        case ClaimFixed(reenter=Reentry.eligibility):
            return "fixed", State.RECEIVED
        case ClaimFixed():
            return "fixed", State.ELIGIBLE
        case ClaimBalanceZero():
            return "balance_zero", State.CLOSED
    raise ValueError(f"the saga does not handle {event.TYPE}")


def decide(current: State | None, event: Event) -> Decision:
    step, to = target(event)
    if to is None:
        if current is None:
            return Decision("anomaly", None, f"{step} for a claim never seen")
        return Decision("note", None, f"{step} recorded")
    if current in ALLOWED[step]:
        return Decision("transition", to)
    if step not in NEVER_LATE and current is not None and RANK[to] <= RANK[current]:
        # A repeat (same rank: a second rejection, a second balance-zero) or a step the
        # claim has already passed: recorded, the state stays.
        return Decision("late", None, f"{step} arrived after the claim reached {current}")
    return Decision("anomaly", None, f"{step} is impossible from {current or 'no claim'}")


def automatic_step_left(state: State, patient_responsibility_cents: int, self_pay: bool) -> bool:
    """Does the pipeline still owe this claim a step without a person? (the demo's 'pending')."""
    if state in (State.HELD, State.REJECTED, State.PATIENT_BILLED, State.CLOSED):
        return False
    if state in (State.PAID, State.PARTIALLY_PAID, State.DENIED):
        return patient_responsibility_cents > 0
    return True


def next_submission(
    *,
    coded_pcn: str,
    submitted_pcns: Sequence[str],
    payer_claim_number: str | None,
    new_pcn: Callable[[int], str],
) -> tuple[str, str]:
    """What a (re)coded claim goes out as: (frequency code, CLM01).

    - never sent: an original (1) under the CLM01 coding gave it;
    - adjudicated by the payer (it has the payer's claim number, CLP07): a replacement
      (7) under the CLM01 the payer knows, REF*F8 carrying the payer's number;
    - sent but never adjudicated (rejected at the front end by the clearinghouse or
      payer edits: the payer holds no claim to replace): a new original. The same
      CLM01 is never sent twice as an original, so it gets a new one: coding's, if
      coding gave a fresh one, else ``new_pcn(attempt)`` for the next unused attempt.
      Acknowledgements and remittances that quote the new CLM01 are mapped back to
      the claim through the submissions table.
    """
    if not submitted_pcns:
        return "1", coded_pcn
    if payer_claim_number:
        return "7", submitted_pcns[-1]
    used = set(submitted_pcns)
    if coded_pcn not in used:
        return "1", coded_pcn
    attempt = len(used)
    while (pcn := new_pcn(attempt)) in used:
        attempt += 1
    return "1", pcn


# States in which the payer has the claim (a 277CA accepted it or an 835 answered it):
# timely filing is met.
FILED = {
    State.ACCEPTED,
    State.PAID,
    State.PARTIALLY_PAID,
    State.DENIED,
    State.PATIENT_BILLED,
    State.CLOSED,
}


def filing_deadline(date_of_service: dt.date, filing_days: int) -> dt.date:
    """The last day a payer accepts the claim (Medicare: 365 days from the date of service)."""
    return date_of_service + dt.timedelta(days=filing_days)


def next_filing_check(deadline: dt.date, today: dt.date, warn_days: Sequence[int]) -> dt.date:
    """The next day the timely-filing timer should look: the next warning point still
    ahead of today, else the day after the deadline (to record that it passed)."""
    for w in sorted(warn_days, reverse=True):
        day = deadline - dt.timedelta(days=w)
        if day > today:
            return day
    return max(deadline + dt.timedelta(days=1), today + dt.timedelta(days=1))
