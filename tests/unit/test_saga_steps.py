"""The saga's step table (services/claims/saga.STEPS) walked as a whole: every transition
once, and random sequences of events, commands and timers against a claim that keeps
its state and timers as the handlers' SQL would. No claim reaches a state the table
cannot lead to, a closed claim reopens only by a reversal, each applied step fires
its effects once (as one SQL statement each), and a redelivered message fires nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.common import HoldReason
from schemas.events import (
    AckKind,
    AdjudicationStatus,
    ClaimAcknowledged,
    ClaimAdjudicated,
    ClaimHeld,
    EligibilityChecked,
    Event,
    Stage,
    StatementIssued,
)
from schemas.events_payments import ClaimBalanceZero
from schemas.events_workqueue import ClaimFixed, Reentry
from services.claims import saga
from services.claims.config import ClaimsSettings
from services.claims.handlers import Change, timer_sql
from services.claims.saga import Do, Kind, Outcome, State, Step, Timer
from tests.builders import encounter
from tests.unit import factories as f

pytestmark = pytest.mark.unit

CFG = ClaimsSettings()


def ack(kind: AckKind, accepted: bool) -> ClaimAcknowledged:
    return ClaimAcknowledged(
        claim_id="C1", patient_control_number="C1", kind=kind, accepted=accepted, x12="ISA*"
    )


def adjudicated(status: AdjudicationStatus, pr: int = 0) -> ClaimAdjudicated:
    sign = -1 if status is AdjudicationStatus.reversed else 1
    return ClaimAdjudicated(
        claim_id="C1",
        patient_control_number="C1",
        payer_id="PPO01",
        payer_claim_number="PAY1",
        trace_number="T1",
        status=status,
        claim_status_code="22" if sign < 0 else "1",
        charge_cents=sign * 10000,
        paid_cents=sign * (8000 - pr),
        patient_responsibility_cents=sign * pr,
    )


def fixed(reenter: Reentry) -> ClaimFixed:
    return ClaimFixed(
        claim_id="C1",
        encounter_id="E-0001",
        reenter=reenter,
        fixed_by="user-1",
        fixed_at=dt.datetime(2025, 4, 1, tzinfo=dt.UTC),
        encounter=encounter(),
    )


#: One event of each kind a claim's steps are triggered by, and a variant of each.
EVENTS: list[Event] = [
    encounter(),
    EligibilityChecked(
        claim_id="C1", encounter_id="E-0001", active=True, payer_id="PPO01", encounter=encounter()
    ),
    ClaimHeld(
        claim_id="C1",
        encounter_id="E-0001",
        stage=Stage.eligibility,
        reasons=[HoldReason(code="COVERAGE-ENDED", message="m", fix="f")],
    ),
    f.claim(1, claim_id="C1"),
    ack(AckKind.ack_999, True),
    ack(AckKind.ack_999, False),
    ack(AckKind.ack_277ca, True),
    ack(AckKind.ack_277ca, False),
    adjudicated(AdjudicationStatus.paid),
    adjudicated(AdjudicationStatus.paid, pr=2000),
    adjudicated(AdjudicationStatus.partially_paid),
    adjudicated(AdjudicationStatus.partially_paid, pr=1500),
    adjudicated(AdjudicationStatus.denied),
    adjudicated(AdjudicationStatus.reversed),
    StatementIssued(
        guarantor_id="G",
        statement_id="S",
        claim_ids=["C1"],
        balance_cents=2000,
        aging_bucket="0-30",
        statement_date=dt.date(2025, 1, 1),
        due_date=dt.date(2025, 1, 31),
    ),
    fixed(Reentry.eligibility),
    fixed(Reentry.coding),
    ClaimBalanceZero(
        claim_id="C1",
        guarantor_id="G",
        closed_by="patient_payment",
        at=dt.datetime(2025, 5, 1, tzinfo=dt.UTC),
    ),
]
COMMANDS = [saga.SUBMIT, saga.UNBUILDABLE, saga.VOID]
TIMER_STEPS: dict[Timer, list[Step]] = {
    Timer.ACK: [saga.ACK_RESEND, saga.ACK_GAVE_UP],
    Timer.REMIT: [saga.STATUS_INQUIRY, saga.NO_REMIT_GAVE_UP],
    Timer.FILING: [saga.FILING_WARNING, saga.FILING_PASSED],
}


def reachable() -> set[State | None]:
    """Every state the table leads to from no claim, chained steps included."""
    seen: set[State | None] = {None}
    todo: list[State | None] = [None]
    while todo:
        at = todo.pop()
        for s in saga.STEPS:
            if s.to is not None and at in s.start and s.to not in seen:
                seen.add(s.to)
                todo.append(s.to)
    return seen


@dataclass
class Claim:
    """A claim as the table and the handlers' SQL leave it."""

    state: State | None = None
    timers: set[Timer] = field(default_factory=set)
    applied: set[int] = field(default_factory=set)  # message ids (the runtime's de-duplication)
    at_payer: bool = False  # the payer's claim number (CLP07) is on the claim

    def apply(self, msg: int, step: Step, event: Event | None = None) -> saga.Decision | None:
        if msg in self.applied:
            return None  # a redelivered message is dropped before any handler runs
        self.applied.add(msg)
        before = self.state
        guard = self.state if step is not saga.VOID or self.at_payer else None
        d = saga.decide_step(step, guard)
        effects = saga.effects_of(step, d)
        self._fire(step, d, effects)
        if d.kind is Outcome.TRANSITION:
            assert before in step.start, (step, before)
            assert d.to is step.to
            self.state = d.to
            nxt = saga.chained(step, event)
            if nxt is not None:
                then = saga.decide_step(nxt, self.state)
                assert then.kind is Outcome.TRANSITION
                self.state = then.to
        else:
            assert self.state is before, "only a transition moves a claim"
        if step.kind is Kind.ADJUDICATED and d.kind is not Outcome.ANOMALY:
            self.at_payer = True
        return d

    def _fire(self, step: Step, d: saga.Decision, effects: tuple[saga.Effect, ...]) -> None:
        change = Change(payer_id="PPO01", date_of_service=dt.date(2025, 1, 2), retry_in_s=1)
        sql = timer_sql(effects, CFG, "t1", change)
        # one statement per timer started or retried, one per clear, none twice
        per_timer = sum(len(e.timers) for e in effects if e.do in (Do.START, Do.RETRY))
        once = sum(1 for e in effects if e.do in (Do.CLEAR, Do.START_ONCE))
        assert len(sql) == per_timer + once
        assert len({a.sql for a in sql}) == len(sql), (step, sql)
        assert len(set(effects)) == len(effects), f"{step.kind}: an effect listed twice"
        for e in effects:
            if e.do is Do.CLEAR:
                self.timers -= set(e.timers)
            elif e.do in (Do.START, Do.START_ONCE):
                self.timers |= set(e.timers)
            elif e.do is Do.RETRY:
                assert set(e.timers) <= self.timers, "a timer retried that was not running"
        cleared = saga.timers_of(effects, Do.CLEAR)
        assert not (set(cleared) & self.timers), "a cleared timer still runs"


# an action: ("event", index), ("command", index), ("timer", timer kind index, pick)
actions = st.one_of(
    st.tuples(st.just("event"), st.integers(0, len(EVENTS) - 1)),
    st.tuples(st.just("command"), st.integers(0, len(COMMANDS) - 1)),
    st.tuples(st.just("timer"), st.integers(0, 2), st.integers(0, 1)),
    st.tuples(st.just("redeliver"), st.integers(0, 50)),
)


def _step(claim: Claim, action: tuple[str, ...]) -> tuple[Step, Event | None] | None:
    kind = action[0]
    if kind == "event":
        event = EVENTS[int(action[1])]
        return saga.step_for(event), event
    if kind == "command":
        return COMMANDS[int(action[1])], None
    timer = list(Timer)[int(action[1])]
    if timer not in claim.timers:
        return None  # a timer fires only while the claim has it
    step = TIMER_STEPS[timer][int(action[2])]
    if claim.state not in step.start:  # timers.py drops it without a step
        claim.timers.discard(timer)
        return None
    return step, None


@settings(max_examples=400, deadline=None)
@given(st.lists(actions, max_size=40))
def test_random_walks_stay_inside_the_table(walk: list[tuple[str, ...]]) -> None:
    can_reach = reachable()
    claim = Claim()
    history: list[tuple[int, Step, Event | None]] = []
    for n, action in enumerate(walk):
        if action[0] == "redeliver":
            if not history:
                continue
            msg, step, event = history[int(action[1]) % len(history)]
            state, timers = claim.state, set(claim.timers)
            assert claim.apply(msg, step, event) is None
            assert (claim.state, claim.timers) == (state, timers), "a redelivery changed it"
            continue
        picked = _step(claim, action)
        if picked is None:
            continue
        step, event = picked
        before = claim.state
        d = claim.apply(n, step, event)
        assert d is not None
        history.append((n, step, event))
        assert claim.state in can_reach
        if before is State.CLOSED and claim.state is not State.CLOSED:
            # only the payer's reversal, or a person's void or correction, reopens one
            reopens = {Kind.REVERSED, Kind.VOID, Kind.FIXED}
            assert step.kind in reopens, f"{step.kind} reopened a closed claim"
        if d.kind is not Outcome.ANOMALY and step.kind is Kind.ADJUDICATED:
            assert not claim.timers, "the payer answered: no timer is left"


def _sample(step: Step) -> Event | None:
    """An event that triggers ``step`` (None for commands, the batcher and timers)."""
    if step.trigger is not saga.Trigger.EVENT:
        return None
    return next(e for e in EVENTS if saga.step_for(e) is step)


@pytest.mark.parametrize(
    ("step", "start"),
    [
        pytest.param(s, a, id=f"{s.kind}:{a}->{s.to}")
        for s in saga.STEPS
        if s.to is not None
        for a in sorted(s.start, key=lambda x: str(x))
    ],
)
def test_every_transition_of_the_table_once(step: Step, start: State | None) -> None:
    event = _sample(step)
    if event is not None:
        assert saga.step_for(event) is step
        d = saga.decide(start, event)
    else:
        d = saga.decide_step(step, start)
    assert (d.kind, d.to) == (Outcome.TRANSITION, step.to)
    assert saga.effects_of(step, d) == step.effects


def test_every_step_names_states_the_rank_knows_and_every_state_is_reachable() -> None:
    assert reachable() == {None, *State}
    for s in saga.STEPS:
        assert s.to is None or s.to in saga.RANK
        assert s.then is None or any(x.kind is s.then for x in saga.STEPS)
        assert s.compensation is None or any(x.kind is s.compensation for x in saga.STEPS)


def test_timer_steps_never_move_a_claim_and_their_effects_fire_when_recorded() -> None:
    for steps in TIMER_STEPS.values():
        for s in steps:
            assert s.to is None
            assert s.trigger is saga.Trigger.TIMER
            d = saga.decide_step(s, next(x for x in s.start if x is not None), "note")
            assert d.kind is s.outcome
            assert saga.effects_of(s, d) == s.effects


def test_an_impossible_step_fires_no_effect() -> None:
    cases: list[tuple[Callable[[], saga.Decision], Step]] = [
        (lambda: saga.decide(None, ack(AckKind.ack_999, True)), saga.step_for(EVENTS[4])),
        (lambda: saga.decide_step(saga.VOID, State.SUBMITTED), saga.VOID),
        (lambda: saga.decide(State.CODED, EVENTS[-2]), saga.step_for(EVENTS[-2])),
    ]
    for decide, step in cases:
        d = decide()
        assert d.kind is Outcome.ANOMALY
        assert saga.effects_of(step, d) == ()
