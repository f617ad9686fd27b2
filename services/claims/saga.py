"""The claim saga as one table: every step that may touch a claim, what triggers it, the
states it may start from, the state it leads to, and what it sets off.

Read a row as: ``Step(kind, trigger, on, start states, to, effects=..., late=...)``: a
step ``on`` an event (or a command, the batcher, a timer) moves a claim in one of its
start states to ``to`` and fires ``effects``; from a state further along (RANK) it is
late (recorded, ``late`` fires); otherwise it is an anomaly (recorded, nothing fires).

Pure: no I/O. handlers.py, batch.py and timers.py find their step here, ask
:func:`decide_step`, and apply the decision with :func:`effects_of` turned into SQL in
one transaction (handlers.apply; repository.write_step is the one writer of the state).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from schemas.events import (
    AckKind,
    AdjudicationStatus,
    ClaimAcknowledged,
    ClaimAdjudicated,
    ClaimCoded,
    ClaimHeld,
    ClaimSubmitted,
    EligibilityChecked,
    EncounterCreated,
    Event,
    StatementIssued,
)
from schemas.events_payments import ClaimBalanceZero
from schemas.events_transport import X12FileSendFailed
from schemas.events_workqueue import ClaimFixed, Reentry
from schemas.states import ClaimState

State = ClaimState


class Outcome(StrEnum):
    """What deciding a step gave (claim_events.kind)."""

    TRANSITION = "transition"  # the claim moves to the step's state
    LATE = "late"  # the claim is already past the step: recorded, the state stays
    ANOMALY = "anomaly"  # impossible from where the claim is: recorded, nothing else
    NOTE = "note"  # a step that never moves the claim: recorded, its effects fire


class Trigger(StrEnum):
    EVENT = "event"  # a consumed event
    COMMAND = "command"  # a person asked (through the gateway)
    BATCHER = "batcher"  # services/claims/batch.py
    TIMER = "timer"  # services/claims/timers.py
    CHAINED = "chained"  # made at once after another step (its ``then``)


class Kind(StrEnum):
    """The family a step belongs to (named in the timeline's notes)."""

    ENCOUNTER = "encounter"
    ELIGIBLE = "eligible"
    HELD = "held"
    CODED = "coded"
    SUBMIT = "submit"
    UNBUILDABLE = "unbuildable"
    ACK = "ack"
    ADJUDICATED = "adjudicated"
    PAID_IN_FULL = "paid_in_full"
    REVERSED = "reversed"
    VOID = "void"
    BILLED = "billed"
    FIXED = "fixed"
    BALANCE_ZERO = "balance_zero"
    ACK_TIMEOUT = "ack_timeout"
    NO_REMIT = "no_remit"
    STATUS_277 = "status_277"
    TIMELY_FILING = "timely_filing"
    NEXT_PAYER = "next_payer"
    CROSSOVER = "crossover"
    EARLY_ANSWER = "early_answer"
    EARLIER_ACK = "earlier_ack"
    APPEAL = "appeal"
    AUTO_RESUBMIT = "auto_resubmit"
    UPLOAD_FAILED = "upload_failed"


class Timer(StrEnum):
    """The claim's timers (claims.claim_timers.kind)."""

    ACK = "ack"  # no 999/277CA in time: resend the interchange
    REMIT = "remit"  # no 835 by the payer's usual day: ask with a 276
    FILING = "filing"  # warnings before the timely-filing deadline


class Do(StrEnum):
    START = "start"  # (re)start the timers, attempts back to 0
    START_ONCE = "start_once"  # start the timer unless the claim has it (the filing clock)
    RETRY = "retry"  # one more attempt of the timer, due again later
    CLEAR = "clear"  # drop the timers
    EMIT = "emit"  # publish the step's event (Effect.event)
    RECORD = "record"  # set the event's money on the claim, even when the step is late
    ADD = "add"  # add the event's (negative) money to the claim's


@dataclass(frozen=True, slots=True)
class Effect:
    do: Do
    timers: tuple[Timer, ...] = ()
    event: str = ""


def start(*timers: Timer) -> Effect:
    return Effect(Do.START, timers)


def clear(*timers: Timer) -> Effect:
    return Effect(Do.CLEAR, timers)


def retry(timer: Timer) -> Effect:
    return Effect(Do.RETRY, (timer,))


ALL_TIMERS = tuple(Timer)
RECORD = Effect(Do.RECORD)
ADD = Effect(Do.ADD)
FILING_CLOCK = Effect(Do.START_ONCE, (Timer.FILING,))
EMIT_SUBMITTED = Effect(Do.EMIT, event=ClaimSubmitted.TYPE)
# the payer answered (in time or late): its money is kept and no timer waits any more
PAYER_ANSWERED = (RECORD, clear(*ALL_TIMERS))

# States in which the payer has the claim (a 277CA accepted it or an 835 answered it):
# timely filing is met.
FILED = frozenset(
    {State.ACCEPTED, State.PAID, State.PARTIALLY_PAID, State.DENIED}
    | {State.PATIENT_BILLED, State.CLOSED}
)
ANY: frozenset[State | None] = frozenset({None, *State})


@dataclass(frozen=True, slots=True)
class Step:
    kind: Kind
    trigger: Trigger
    on: str  # the event type, or the timeline's name of the command or timer
    start: frozenset[State | None]  # the states it may start from (None: no claim yet)
    to: State | None  # None: recorded, never moves the claim
    effects: tuple[Effect, ...] = ()  # when it moves the claim, or is noted
    late: tuple[Effect, ...] = ()  # when it arrives after the claim passed it
    when: Callable[[Any], bool] | None = None  # which events of its type it takes
    then: Kind | None = None  # a step the claim makes at once after this one
    compensation: Kind | None = None  # what undoes it at the payer
    never_late: bool = False  # when not allowed: impossible, whatever the rank
    outcome: Outcome = Outcome.NOTE  # what a step with to=None records
    says: str = ""  # its note on the timeline when it moves the claim
    refused: str = ""  # its note when it is impossible


def _s(*states: State | None) -> frozenset[State | None]:
    return frozenset(states)


E, CMD, BATCH, TIMER, THEN = (Trigger.EVENT, Trigger.COMMAND, Trigger.BATCHER, Trigger.TIMER,
                              Trigger.CHAINED)  # fmt: skip
R, EL, HE, CO, SU = State.RECEIVED, State.ELIGIBLE, State.HELD, State.CODED, State.SUBMITTED
AC, RJ, PA, PP, DE = State.ACCEPTED, State.REJECTED, State.PAID, State.PARTIALLY_PAID, State.DENIED
PB, CL = State.PATIENT_BILLED, State.CLOSED
CLAIM_ADJUDICATED = ClaimAdjudicated.TYPE
ACK_TIMEOUT, NO_REMIT, FILING = "rcm.claims.ack-timeout", "rcm.claims.no-remit", "rcm.claims.timely-filing"  # fmt: skip

#: Where a person's fix may start: held, rejected, denied, or adjudicated with money
#: (a correction of a paid or partly paid claim, also once the patient was billed or the
#: claim closed).
ADJUDICATED_PAID = _s(PA, PP, PB, CL)
FIXABLE = _s(HE, RJ, DE) | ADJUDICATED_PAID
NOT_FIXABLE = "only a held, rejected, denied or adjudicated claim can be fixed"
#: Where an appeal may be drafted or sent: the payer has answered.
APPEALABLE = ADJUDICATED_PAID | _s(DE)

# fmt: off
STEPS: tuple[Step, ...] = (
    # the claim takes shape: encounter, eligibility (271), coding; a hold stops it
    # a claim that got here first still gets the filing clock and the payers to bill after
    # the first (its coverages: the encounter is their only source)
    Step(Kind.ENCOUNTER, E, EncounterCreated.TYPE, _s(None), R,
         effects=(FILING_CLOCK, RECORD), late=(FILING_CLOCK, RECORD)),
    Step(Kind.ELIGIBLE, E, EligibilityChecked.TYPE, _s(None, R), EL),
    Step(Kind.HELD, E, ClaimHeld.TYPE, _s(None, R, EL, CO, HE), HE),
    Step(Kind.CODED, E, ClaimCoded.TYPE, _s(None, R, EL, HE), CO),
    # the batcher sends it in an 837P interchange, or holds it when no 837P can be built
    Step(Kind.SUBMIT, BATCH, ClaimSubmitted.TYPE, _s(CO), SU,
         effects=(start(Timer.ACK, Timer.REMIT), EMIT_SUBMITTED)),
    Step(Kind.UNBUILDABLE, BATCH, "rcm.claims.unbuildable", _s(CO), HE),
    # its interchange could not be put in the mailbox (the connector's reason): it waits
    # in CODED and the connector tries again (sent.on_file_send_failed)
    Step(Kind.UPLOAD_FAILED, E, X12FileSendFailed.TYPE, _s(CO), None),
    # the clearinghouse answers: 999 (a note), 277CA accepted or rejected
    # the 835 wait counts from the latest acknowledgement: the payer's days to pay run
    # from its receipt (the 277CA), not from when our batcher sent the file
    Step(Kind.ACK, E, ClaimAcknowledged.TYPE, _s(SU), None,
         effects=(clear(Timer.ACK), start(Timer.REMIT)),
         when=lambda e: e.kind is AckKind.ack_999 and e.accepted),
    Step(Kind.ACK, E, ClaimAcknowledged.TYPE, _s(SU), RJ, effects=(clear(Timer.ACK, Timer.REMIT),),
         when=lambda e: not e.accepted),
    Step(Kind.ACK, E, ClaimAcknowledged.TYPE, _s(SU), AC,  # the payer has it: filing is met
         effects=(clear(Timer.ACK, Timer.FILING), start(Timer.REMIT))),
    # the payer's 835; paid with nothing left to collect closes at once
    Step(Kind.REVERSED, E, CLAIM_ADJUDICATED, _s(SU, AC, PA, PP, DE, PB, CL), SU,
         effects=(ADD, start(Timer.REMIT)),  # from SU/AC it answers a void on its way
         when=lambda e: e.status is AdjudicationStatus.reversed),
    Step(Kind.ADJUDICATED, E, CLAIM_ADJUDICATED, _s(SU, AC, RJ), PA,
         effects=PAYER_ANSWERED, late=PAYER_ANSWERED,
         then=Kind.PAID_IN_FULL, compensation=Kind.VOID,
         when=lambda e: e.status is AdjudicationStatus.paid),
    Step(Kind.ADJUDICATED, E, CLAIM_ADJUDICATED, _s(SU, AC, RJ), PP,
         effects=PAYER_ANSWERED, late=PAYER_ANSWERED,
         then=Kind.PAID_IN_FULL, compensation=Kind.VOID,
         when=lambda e: e.status is AdjudicationStatus.partially_paid),
    Step(Kind.ADJUDICATED, E, CLAIM_ADJUDICATED, _s(SU, AC, RJ), DE,
         effects=PAYER_ANSWERED, late=PAYER_ANSWERED,
         compensation=Kind.VOID),
    Step(Kind.PAID_IN_FULL, THEN, "rcm.claims.balance-zero", _s(PA, PP), CL,
         when=lambda e: e.patient_responsibility_cents == 0,
         says="insurance paid in full after contractual adjustments; balance zero"),
    # coordination of benefits (cob.py): a payment that leaves the patient a share, with a
    # next payer, sends the claim on (the batcher bills that payer), or, when the payer
    # crossed it over itself, waits for the next payer's 835 (no claim is sent)
    Step(Kind.NEXT_PAYER, THEN, "rcm.claims.next-payer", _s(PA, PP), CO,
         says="sent on to the next payer (coordination of benefits)"),
    Step(Kind.CROSSOVER, THEN, "rcm.claims.crossover", _s(PA, PP), AC, effects=(start(Timer.REMIT),),
         says="crossed over by the payer to the next payer: waiting for its 835"),
    # the crossover payer's 835 before the earlier payer's: it waits (handlers.py) and is
    # applied once the claim has crossed over to it
    Step(Kind.EARLY_ANSWER, THEN, "rcm.claims.early-answer", _s(SU, AC), None,
         says="a later payer's 835 came before the earlier payer's: it waits for it"),
    # the earlier payer's 999/277CA read after its 835 sent the claim on: late, not news
    Step(Kind.EARLIER_ACK, THEN, "rcm.claims.earlier-payer-ack", _s(CO), None,
         outcome=Outcome.LATE, says="the earlier payer's acknowledgement, read after its 835"),
    # a denial the payer takes sent again automatically (its directory's auto_resubmit
    # names the category): once, as a replacement (frequency 7, REF*F8)
    Step(Kind.AUTO_RESUBMIT, THEN, "rcm.claims.auto-resubmit", _s(DE), CO,
         says="sent again automatically: the payer takes this denial's category resubmitted"),
    # a person voids an adjudicated claim: it goes out again with frequency 8 and the
    # payer answers with a reversal
    Step(Kind.VOID, CMD, "rcm.claims.void", FILED, CO, never_late=True,
         refused="nothing adjudicated at the payer to void"),
    # the patient's side: a statement (may come before the 835, on another topic), then
    # the balance reaching zero (may come before the statement; a write-off from DE; from
    # SU or AC when statements posted an 835 this service has not read yet, as a later
    # payer's often is: statements says zero only once insurance is final for it, so an
    # 835 came; it then arrives late and its money is recorded)
    Step(Kind.BILLED, E, StatementIssued.TYPE, _s(PA, PP, DE, CO, SU, AC), PB),
    Step(Kind.BALANCE_ZERO, E, ClaimBalanceZero.TYPE, _s(PB, PA, PP, DE, SU, AC), CL),
    # a person fixed a held, rejected or denied claim, or corrected one the payer paid
    # in part or in full (a denied or reduced line: handlers.on_fixed refuses one without
    # the payer's claim number): it flows again, and what the payer adjudicated goes out
    # as a replacement (frequency 7, REF*F8: next_submission)
    Step(Kind.FIXED, E, ClaimFixed.TYPE, FIXABLE, R, effects=(clear(Timer.ACK, Timer.REMIT),),
         never_late=True, when=lambda e: e.reenter is Reentry.eligibility, refused=NOT_FIXABLE),
    Step(Kind.FIXED, E, ClaimFixed.TYPE, FIXABLE, EL, effects=(clear(Timer.ACK, Timer.REMIT),),
         never_late=True, refused=NOT_FIXABLE),
    # appeals (appeal_handlers.py): a case per appeal of a denied or reduced claim, drafted
    # and sent by a person, decided by the payer's next 835 (which moves the claim as any
    # 835 does); they never move the claim themselves
    Step(Kind.APPEAL, CMD, "rcm.claims.appeal-drafted", APPEALABLE, None,
         refused="only a claim the payer adjudicated, with its claim number, is appealed"),
    Step(Kind.APPEAL, CMD, "rcm.claims.appeal-sent", APPEALABLE, None,
         refused="no drafted appeal to send"),
    Step(Kind.APPEAL, THEN, "rcm.claims.appeal-decided", ANY - {None}, None),
    # the appeal's timers (appeal_handlers.appeal_timers): a drafted appeal near the
    # payer's deadline, a sent one whose answer is overdue; alerts, once each
    Step(Kind.APPEAL, TIMER, "rcm.claims.appeal-deadline", ANY - {None}, None),
    Step(Kind.APPEAL, TIMER, "rcm.claims.appeal-overdue", ANY - {None}, None),
    # timers: they never move a claim; a timer whose claim left its states is dropped
    Step(Kind.ACK_TIMEOUT, TIMER, ACK_TIMEOUT, _s(SU), None,
         effects=(retry(Timer.ACK),)),  # the same ISA13 uploaded again, once (timers.py)
    Step(Kind.ACK_TIMEOUT, TIMER, ACK_TIMEOUT, _s(SU), None, effects=(clear(Timer.ACK),),
         outcome=Outcome.ANOMALY),  # gave up: a person must follow up
    Step(Kind.NO_REMIT, TIMER, NO_REMIT, _s(SU, AC), None,
         effects=(retry(Timer.REMIT),)),  # a 276 sent after commit
    Step(Kind.NO_REMIT, TIMER, NO_REMIT, _s(SU, AC), None, effects=(clear(Timer.REMIT),),
         outcome=Outcome.ANOMALY),  # gave up, or no 276 can be built
    Step(Kind.STATUS_277, TIMER, "rcm.claims.status-277", ANY, None),
    Step(Kind.TIMELY_FILING, TIMER, FILING, ANY - FILED - {None}, None,
         effects=(retry(Timer.FILING),)),  # a warning
    Step(Kind.TIMELY_FILING, TIMER, FILING, ANY - FILED - {None}, None,
         effects=(clear(Timer.FILING),), outcome=Outcome.ANOMALY),  # the deadline passed
)
# fmt: on

# Named steps for the code that applies them (not events: an event finds its step by type).
(SUBMIT, UNBUILDABLE, VOID, PAID_IN_FULL, NEXT_PAYER, CROSSOVER, EARLY_ANSWER, EARLIER_ACK) = (
    next(s for s in STEPS if s.kind is k)
    for k in (
        Kind.SUBMIT, Kind.UNBUILDABLE, Kind.VOID, Kind.PAID_IN_FULL, Kind.NEXT_PAYER,
        Kind.CROSSOVER, Kind.EARLY_ANSWER, Kind.EARLIER_ACK,
    )
)  # fmt: skip
ACK_RESEND, ACK_GAVE_UP = (s for s in STEPS if s.kind is Kind.ACK_TIMEOUT)
STATUS_INQUIRY, NO_REMIT_GAVE_UP = (s for s in STEPS if s.kind is Kind.NO_REMIT)
(STATUS_ANSWER,) = (s for s in STEPS if s.kind is Kind.STATUS_277)
FILING_WARNING, FILING_PASSED = (s for s in STEPS if s.kind is Kind.TIMELY_FILING)
APPEAL_DRAFTED, APPEAL_SENT, APPEAL_DECIDED, APPEAL_DEADLINE, APPEAL_OVERDUE = (
    s for s in STEPS if s.kind is Kind.APPEAL
)
(AUTO_RESUBMIT,) = (s for s in STEPS if s.kind is Kind.AUTO_RESUBMIT)
(UPLOAD_FAILED,) = (s for s in STEPS if s.kind is Kind.UPLOAD_FAILED)


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

_BY_EVENT: dict[str, tuple[Step, ...]] = {}
for _step in STEPS:
    if _step.trigger is Trigger.EVENT:
        _BY_EVENT[_step.on] = (*_BY_EVENT.get(_step.on, ()), _step)
_CHAINED = {s.kind: s for s in STEPS if s.trigger is Trigger.CHAINED}


@dataclass(frozen=True, slots=True)
class Decision:
    kind: Outcome
    to: State | None
    note: str = ""


def step_for(event: Event) -> Step:
    """The step an event triggers: the first of its type's steps that takes it."""
    for s in _BY_EVENT.get(event.TYPE, ()):
        if s.when is None or s.when(event):
            return s
    raise ValueError(f"the saga does not handle {event.TYPE}")


def decide_step(step: Step, current: State | None, note: str = "") -> Decision:
    """What applying ``step`` to a claim in ``current`` does (None: no claim yet)."""
    if step.to is None:
        if current is None and step.trigger is Trigger.EVENT:
            return Decision(Outcome.ANOMALY, None, f"{step.kind} for a claim never seen")
        return Decision(step.outcome, None, note or f"{step.kind} recorded")
    if current in step.start:
        return Decision(Outcome.TRANSITION, step.to, note or step.says)
    if not step.never_late and current is not None and RANK[step.to] <= RANK[current]:
        # A repeat (same rank: a second rejection, a second balance-zero) or a step the
        # claim has already passed: recorded, the state stays.
        return Decision(
            Outcome.LATE, None, f"{step.kind} arrived after the claim reached {current}"
        )
    return Decision(
        Outcome.ANOMALY,
        None,
        step.refused or f"{step.kind} is impossible from {current or 'no claim'}",
    )


def decide(current: State | None, event: Event) -> Decision:
    return decide_step(step_for(event), current)


def effects_of(step: Step, d: Decision) -> tuple[Effect, ...]:
    """The effects a decision of ``step`` fires: a transition's, a step with no state of
    its own when it is recorded as it says (a timer giving up fires its effects too), a
    late step's ``late``; an impossible step fires none."""
    if d.kind is Outcome.TRANSITION or (step.to is None and d.kind is step.outcome):
        return step.effects
    if d.kind is Outcome.LATE:
        return step.late
    return ()


def chained(step: Step, event: Event | None) -> Step | None:
    """The step the claim makes at once after ``step`` moved it on ``event``, if any."""
    if step.then is None or event is None:
        return None
    nxt = _CHAINED[step.then]
    return nxt if nxt.when is None or nxt.when(event) else None


def timers_of(effects: Iterable[Effect], do: Do) -> tuple[Timer, ...]:
    return tuple(t for e in effects if e.do is do for t in e.timers)


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
