"""Claims handlers: each event applied to the saga once.

A handler decodes its event into a :class:`Change` (the columns, the timeline detail,
the money) and :func:`apply_event` finds its step in the table (services/claims/saga.py),
decides it, and :func:`apply` writes it with its effects turned into SQL: the state, the
timeline row, the timers and any outgoing event share the consumer's transaction, so a
claim can never be half-moved. batch.py and timers.py apply their steps the same way.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson

from runtime.service import Context
from schemas.codec import Message, Meta
from schemas.common import Coverage
from schemas.events import (
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
from schemas.events_workqueue import AppealRequested, ClaimFixed, ClaimVoidRequested
from schemas.ids import claim_id_for
from services.claims import appeal_handlers, cob, directory, saga
from services.claims import appeal_repository as appeal_store
from services.claims import metrics as saga_metrics
from services.claims import repository as repo
from services.claims.config import ClaimsSettings
from services.claims.payers import Payer
from services.claims.repository import Also, BatchLocks, Locked
from services.claims.saga import Decision, Do, Outcome, State, Step, Timer


@dataclass(slots=True)
class Change:
    """What a step writes besides the state, and what its effects need to know."""

    fields: dict[str, Any] = field(default_factory=dict)  # claim columns, on a transition
    detail: dict[str, Any] | None = None  # the timeline row's detail
    facts: dict[str, Any] | None = None  # the event's money: Do.RECORD sets it, Do.ADD adds it
    payer_id: str | None = None  # the remit wait and the filing deadline are per payer
    payer: Payer | None = None  # its directory entry (apply looks it up when a timer needs it)
    date_of_service: dt.date | None = None  # the filing deadline counts from it
    timer_detail: dict[str, Any] | None = None  # what a started timer keeps
    retry_in_s: float = 0.0  # when a retried timer is due again (ack, remit)
    retry_on: dt.date | None = None  # or on which day (filing)
    emit: Event | None = None  # the event Do.EMIT publishes


def timer_sql(
    effects: Sequence[saga.Effect], cfg: ClaimsSettings, tenant: str, c: Change
) -> list[Also]:
    """The timer effects as statements sent with the step's write."""
    out: list[Also] = []
    for e in effects:
        if e.do is Do.CLEAR:
            out.append(repo.clear_timers(e.timers))
        elif e.do is Do.START:
            for t in e.timers:
                wait = cfg.ack_timeout_s if t is Timer.ACK else cfg.remit_wait_s(_days_to_pay(c))
                out.append(repo.start_timer(t, tenant, wait, c.timer_detail))
        elif e.do is Do.START_ONCE and c.payer_id is not None and c.date_of_service:
            out.append(_filing_clock(cfg, tenant, c.date_of_service, c))
        elif e.do is Do.RETRY:
            for t in e.timers:
                retry = repo.retry_timer_on(t, c.retry_on) if c.retry_on else None
                out.append(retry or repo.retry_timer_in(t, c.retry_in_s))
    return out


def _days_to_pay(c: Change) -> int | None:
    return c.payer.days_to_pay if c.payer is not None else None


async def _with_payer(ctx: Context, effects: Sequence[saga.Effect], c: Change) -> Change:
    """The change with its payer's directory entry, when one of its timers is per payer."""
    if c.payer is not None or not c.payer_id:
        return c
    if any(
        e.do is Do.START_ONCE or (e.do is Do.START and Timer.REMIT in e.timers) for e in effects
    ):
        c.payer = await directory.one(ctx.conn, ctx.meta.tenant, c.payer_id)
    return c


def _filing_clock(cfg: ClaimsSettings, tenant: str, dos: dt.date, c: Change) -> Also:
    """The timely-filing timer starts with the date of service, due at the first warning."""
    payer_id = c.payer_id
    days = c.payer.timely_filing_days if c.payer is not None else None
    deadline = saga.filing_deadline(dos, cfg.filing_days(days))
    first_warning = deadline - dt.timedelta(days=max(cfg.warn_days(), default=0))
    detail = {"deadline": deadline.isoformat(), "payer_id": payer_id}
    return repo.start_filing_clock(tenant, first_warning, detail)


_NOTHING: frozenset[Do] = frozenset()


async def apply(
    ctx: Context,
    cfg: ClaimsSettings,
    step: Step,
    claim_id: str,
    current: State | None,
    change: Change,
    *,
    event: Event | None = None,
    note: str = "",
) -> Decision:
    """Decides ``step`` for a claim in ``current`` and writes it: the only way a claim's
    state changes. Every effect the table gives the decision fires here, once."""
    d = saga.decide_step(step, current, note)
    effects = saga.effects_of(step, d)
    if effects:
        change = await _with_payer(ctx, effects, change)
    also = timer_sql(effects, cfg, ctx.meta.tenant, change) if effects else []
    dos = {e.do for e in effects} if effects else _NOTHING
    if d.kind is Outcome.TRANSITION:
        fields = change.fields
        if change.facts and Do.RECORD in dos:
            fields = {**fields, **change.facts}
        add = change.facts if Do.ADD in dos else None
        nxt = saga.chained(step, event)
        then = (saga.decide_step(nxt, d.to), nxt.on) if nxt is not None else None
        await repo.write_step(
            ctx, claim_id, d, step.on, current, fields, change.detail, add=add, also=also, then=then
        )
        saga_metrics.moved(ctx, current, d.to, nxt.to if nxt is not None else None)
    else:
        await repo.record(ctx, claim_id, step.on, d, current, change.detail, also=also)
        if d.kind is Outcome.LATE and change.facts and Do.RECORD in dos and current is not None:
            await repo.record_facts(ctx, claim_id, current, change.facts)
    if Do.EMIT in dos:
        for e in effects:
            if e.do is Do.EMIT:
                if change.emit is None or e.event != change.emit.TYPE:
                    raise ValueError(f"{step.kind} emits {e.event}: the change has no such event")
                await ctx.emit(change.emit, correlation_id=claim_id)
    return d


async def apply_event(
    ctx: Context,
    cfg: ClaimsSettings,
    name: str,
    event: Event,
    change: Change,
    *,
    resolve: bool = False,
    locked: Locked | None = None,
) -> Decision:
    """Applies an event to the claim it names (``resolve``: maybe by a CLM01 it was sent
    under). ``locked`` is lock()'s answer when the caller took the lock already."""
    claim_id, row = locked if locked is not None else await repo.lock(ctx, name, resolve=resolve)
    current = State(row["state"]) if row is not None else None
    if row is not None and row["tenant"] != ctx.meta.tenant:
        d = Decision(Outcome.ANOMALY, None, "event from another tenant ignored")
        await repo.record(ctx, claim_id, event.TYPE, d, current, change.detail)
        return d
    return await apply(ctx, cfg, saga.step_for(event), claim_id, current, change, event=event)


def lock_names(ev: Event, meta: Meta) -> list[tuple[str, bool]]:
    """The (name, resolve) pairs the handler of ``ev`` locks."""
    match ev:
        case EncounterCreated():
            return [(claim_id_for(meta.tenant, ev.encounter_id), False)]
        case ClaimAcknowledged() | ClaimAdjudicated() | ClaimBalanceZero():
            return [(ev.claim_id, True)]
        case StatementIssued():
            return [(name, True) for name in ev.claim_ids]
        case EligibilityChecked() | ClaimHeld() | ClaimCoded() | ClaimFixed():
            return [(ev.claim_id, False)]
        case ClaimVoidRequested() | AppealRequested():
            return [(ev.claim_id, False)]
    return []


async def prelock(conn: asyncpg.Connection, topic: str, messages: Sequence[Message]) -> BatchLocks:
    """Takes every claim lock a batch's handlers will ask for, in one round trip and in
    claim id order, so batches of different topics never deadlock (the runtime's
    before_batch hook)."""
    pairs = sorted({p for m in messages for p in lock_names(m.event, m.meta)})
    return await repo.prelock(conn, pairs)


# --- the handlers ---------------------------------------------------------------


def _primary_payer(enc: EncounterCreated) -> str | None:
    covs = sorted(enc.coverages, key=lambda c: c.priority)
    return covs[0].payer_id if covs else None


async def on_encounter(ctx: Context, ev: EncounterCreated, *, cfg: ClaimsSettings) -> None:
    # the timely-filing clock starts with the date of service, when the encounter names
    # a payer (a claim held before its encounter arrived gets it too: Step.late)
    fields = {
        "encounter_id": ev.encounter_id,
        "date_of_service": ev.date_of_service,
        "rendering_npi": ev.rendering_provider.npi,
    }
    # recorded even when the encounter comes after the claim's eligibility.checked or
    # claim.coded (another topic, fetched first): without them no next payer is billed
    facts = {"coverages": orjson.dumps([c.model_dump(mode="json") for c in ev.coverages]).decode()}
    change = Change(
        fields, facts=facts, payer_id=_primary_payer(ev), date_of_service=ev.date_of_service
    )
    await apply_event(ctx, cfg, claim_id_for(ctx.meta.tenant, ev.encounter_id), ev, change)


async def on_eligibility(ctx: Context, ev: EligibilityChecked, *, cfg: ClaimsSettings) -> None:
    fields = {
        "encounter_id": ev.encounter_id,
        "self_pay": ev.self_pay,
        "payer_id": ev.payer_id,
        "date_of_service": ev.encounter.date_of_service,
    }
    detail = {"active": ev.active, "payer_id": ev.payer_id, "self_pay": ev.self_pay}
    await apply_event(ctx, cfg, ev.claim_id, ev, Change(fields, detail))


async def on_held(ctx: Context, ev: ClaimHeld, *, cfg: ClaimsSettings) -> None:
    fields = {"encounter_id": ev.encounter_id, "hold_stage": ev.stage.value}
    detail = {"stage": ev.stage.value, "reasons": [r.model_dump() for r in ev.reasons]}
    await apply_event(ctx, cfg, ev.claim_id, ev, Change(fields, detail))


async def on_coded(ctx: Context, ev: ClaimCoded, *, cfg: ClaimsSettings) -> None:
    """CODED, with what the claim goes out as; the batcher sends it within its window."""
    fields: dict[str, Any] = {
        "encounter_id": ev.encounter_id,
        "self_pay": ev.self_pay,
        "payer_id": ev.payer_id,
        "patient_control_number": ev.patient_control_number,
        "hold_stage": None,
        "date_of_service": ev.date_of_service,
        "total_charge_cents": ev.total_charge_cents,
        "rendering_npi": ev.rendering_provider.npi,
        "coded": ev.model_dump_json(),
        "outgoing_frequency": None if ev.self_pay else "1",
        "traceparent": ctx.meta.traceparent,
    }
    detail: dict[str, Any] = {"lines": len(ev.lines), "findings": [f.edit for f in ev.findings]}
    locked = await repo.lock(ctx, ev.claim_id)
    row = locked[1]
    if not ev.self_pay and row is not None and row["frequency_code"] is not None:
        # Sent before: a replacement, or a new original under a new CLM01.
        freq, pcn = saga.next_submission(
            coded_pcn=ev.patient_control_number,
            submitted_pcns=await repo.submitted_pcns(ctx.conn, ev.claim_id),
            payer_claim_number=row["payer_claim_number"],
            new_pcn=lambda attempt: claim_id_for(ctx.meta.tenant, ev.encounter_id, attempt),
        )
        fields["outgoing_frequency"] = freq
        fields["patient_control_number"] = pcn
        detail["goes_out_as"] = {"frequency_code": freq, "patient_control_number": pcn}
    await apply_event(ctx, cfg, ev.claim_id, ev, Change(fields, detail), locked=locked)


async def on_acknowledged(ctx: Context, ev: ClaimAcknowledged, *, cfg: ClaimsSettings) -> None:
    fields = {"hold_stage": "clearinghouse"} if not ev.accepted else {}
    detail = {
        "ack": ev.kind.value,
        "accepted": ev.accepted,
        "patient_control_number": ev.patient_control_number,
        "errors": [e.model_dump() for e in ev.errors],
    }
    claim_id, row = locked = await repo.lock(ctx, ev.claim_id, resolve=True)
    if row is not None and row["state"] == State.CODED and await _onward(ctx, claim_id):
        # coded again for the next payer: nothing of that payer's has gone out yet, so
        # this answers the earlier payer's claim, read after its 835
        await apply(ctx, cfg, saga.EARLIER_ACK, claim_id, State.CODED, Change(detail=detail))
        return
    # the payer's days to pay set the 835 wait that an acceptance restarts
    payer_id = row["payer_id"] if row is not None else None
    change = Change(fields, detail, payer_id=payer_id)
    await apply_event(ctx, cfg, ev.claim_id, ev, change, locked=locked)


async def _onward(ctx: Context, claim_id: str) -> bool:
    """Is the claim coded again for a later payer (COB), not coded for the first time?"""
    facts = await repo.cob_facts(ctx.conn, claim_id)
    return facts is not None and facts["cob_level"] > 1


async def _locked_after_payer(
    ctx: Context, cfg: ClaimsSettings, claim_id: str, payer_id: str | None
) -> Locked:
    """Locks a claim a payer answered (``payer_id``: that payer's, None: any). If claims
    has not applied its upload report yet (the payer read the 837 from the mailbox
    first), the answer proves the upload: the interchange is SUBMITTED first
    (``sent.submit_answered``) and the claim locked again as it is now."""
    from services.claims import sent  # sent builds on this module's apply

    locked = await repo.lock(ctx, claim_id, resolve=True)
    row = locked[1]
    waiting = (
        row is not None and row["state"] == State.CODED and payer_id in (None, row["payer_id"])
    )
    if waiting and await sent.submit_answered(ctx, cfg, [locked[0]], None):
        locked = await repo.lock(ctx, claim_id, resolve=True)
    return locked


async def on_adjudicated(ctx: Context, ev: ClaimAdjudicated, *, cfg: ClaimsSettings) -> None:
    """The payer's answer; a reversal (CLP02 22, negative amounts) sends the claim back to
    awaiting adjudication with its money what remains, and the wait for an 835 restarts."""
    detail = {
        "status": ev.status.value,
        "paid_cents": ev.paid_cents,
        "patient_responsibility_cents": ev.patient_responsibility_cents,
        "trace_number": ev.trace_number,
        "payer_claim_number": ev.payer_claim_number,
        "adjustments": [a.model_dump() for a in ev.adjustments],
        "denial_category": ev.denial_category,
    }
    money = {
        "paid_cents": ev.paid_cents,
        "adjusted_cents": ev.adjusted_cents,
        "patient_responsibility_cents": ev.patient_responsibility_cents,
    }
    if ev.status is not AdjudicationStatus.reversed:
        facts = {"payer_claim_number": ev.payer_claim_number, **money}
        # the payer answered what it was just sent: the answer proves the upload
        locked = await _locked_after_payer(ctx, cfg, ev.claim_id, ev.payer_id)
        if _early(ev, locked[1]):
            assert locked[1] is not None
            await repo.park_early_answer(ctx.conn, locked[0], ctx.meta.id, ev.model_dump_json())
            current = State(locked[1]["state"])
            await apply(ctx, cfg, saga.EARLY_ANSWER, locked[0], current, Change(detail=detail))
            return
        d = await apply_event(ctx, cfg, ev.claim_id, ev, Change(detail=detail, facts=facts),
                              locked=locked)  # fmt: skip
        if d.kind is Outcome.TRANSITION and d.to in (State.PAID, State.PARTIALLY_PAID):
            await next_payer(ctx, cfg, locked[0], d.to, ev)
        if ev.claim_status_code not in LATER_PAYER:
            await appeal_handlers.answered(ctx, locked[0], ev)
        if d.kind is Outcome.TRANSITION and d.to is State.DENIED:
            await auto_resubmit(ctx, cfg, locked[0], ev)
        return
    # the payer's number stays unless the reversal names one; the 835 wait is the payer's
    locked = await repo.lock(ctx, ev.claim_id, resolve=True)
    payer_id = locked[1]["payer_id"] if locked[1] is not None else None
    named = {} if ev.payer_claim_number is None else {"payer_claim_number": ev.payer_claim_number}
    change = Change(named, detail, facts=money, payer_id=payer_id)
    await apply_event(ctx, cfg, ev.claim_id, ev, change, locked=locked)


async def auto_resubmit(
    ctx: Context, cfg: ClaimsSettings, claim_id: str, ev: ClaimAdjudicated
) -> None:
    """A denial whose category the payer's directory row takes resubmitted: the claim goes
    out again as a replacement (frequency 7, REF*F8), once (a second denial stays)."""
    key = (ctx.meta.tenant, ev.payer_id)  # read fresh, as the batcher does: it sends a claim
    payer = (await directory.lookup(ctx.conn, [key])).get(key)
    if payer is None or not payer.resubmits(ev.denial_category):
        return
    await ctx.flush()
    if await appeal_store.auto_resubmitted(ctx.conn, claim_id, saga.AUTO_RESUBMIT.on):
        return
    detail = {"denial_category": ev.denial_category, "payer_claim_number": ev.payer_claim_number}
    change = Change({"outgoing_frequency": "7"}, detail)
    await apply(ctx, cfg, saga.AUTO_RESUBMIT, claim_id, State.DENIED, change)


#: CLP02: the payer processed the claim as secondary or tertiary (a crossover's 835).
LATER_PAYER = frozenset({"2", "3", "20", "21"})


def _early(ev: ClaimAdjudicated, row: Any) -> bool:
    """A later payer's 835 for a claim still waiting on another payer's: it must wait,
    or the earlier payer's 835, read after it, would be taken as the last word."""
    return (
        row is not None
        and ev.claim_status_code in LATER_PAYER
        and row["payer_id"] != ev.payer_id
        and row["state"] in (State.SUBMITTED, State.ACCEPTED)
    )


async def next_payer(
    ctx: Context, cfg: ClaimsSettings, claim_id: str, current: State, ev: ClaimAdjudicated
) -> None:
    """Coordination of benefits after a payer's payment (services/claims/cob.py): the
    claim goes on to the next payer with every earlier payer's answer (the batcher sends
    it), or waits for the next payer's 835 when this payer crossed it over."""
    row = await repo.cob_facts(ctx.conn, claim_id)
    if row is None or not row["coverages"] or row["date_of_service"] is None:
        return
    coverages = [Coverage.model_validate(c) for c in orjson.loads(row["coverages"])]
    nxt = cob.onward(ev, coverages, row["date_of_service"])
    if nxt is None:
        return
    if (row["cob_level"] or 1) >= nxt.level:
        # an earlier payer reprocessed the claim after the next one had it: that payer's
        # answer stands (statements recomputes the patient's share); not sent again
        return
    earlier = cob.Cob.model_validate_json(row["cob"]).prior if row["cob"] else []
    prior = [*earlier, cob.prior_payer(ev, nxt.current, nxt.level - 1)]
    later = cob.later_payers(coverages, row["date_of_service"], nxt.coverage.payer_id)
    carried = cob.Cob(level=nxt.level, coverage=nxt.coverage, prior=prior, later=later)
    fields: dict[str, Any] = {
        "payer_id": nxt.coverage.payer_id,
        "cob": carried.model_dump_json(),
        "cob_level": nxt.level,
    }
    detail = {"from_payer": ev.payer_id, "to_payer": nxt.coverage.payer_id, "level": nxt.level}
    if nxt.how is cob.Next.CROSSOVER:
        detail["crossover_payer"] = ev.crossover_payer
        change = Change(fields, detail, payer_id=nxt.coverage.payer_id)
        await apply(ctx, cfg, saga.CROSSOVER, claim_id, current, change)
        for event_id, early in await repo.take_early_answers(ctx.conn, claim_id):
            # applied now, recorded under its own id (not the crossover's cause)
            own = dataclasses.replace(ctx, meta=dataclasses.replace(ctx.meta, id=event_id))
            await on_adjudicated(own, ClaimAdjudicated.model_validate_json(early), cfg=cfg)
        return
    fields["outgoing_frequency"] = "1"
    await apply(ctx, cfg, saga.NEXT_PAYER, claim_id, current, Change(fields, detail))


async def on_statement(ctx: Context, ev: StatementIssued, *, cfg: ClaimsSettings) -> None:
    for named in ev.claim_ids:
        detail = {"statement_id": ev.statement_id, "balance_cents": ev.balance_cents}
        await apply_event(ctx, cfg, named, ev, Change(detail=detail), resolve=True)


async def on_fixed(ctx: Context, ev: ClaimFixed, *, cfg: ClaimsSettings) -> None:
    """A person fixed a held, rejected or denied claim, or corrected a paid or partly paid
    one: it flows again from eligibility (RECEIVED) or coding (ELIGIBLE). When it is coded
    again, on_coded decides whether it goes out as a replacement or a new original; a
    paid claim always has the payer's claim number, so it goes out as a replacement."""
    detail: dict[str, Any] = {
        "reenter": ev.reenter.value,
        "fixed_by": ev.fixed_by,
        "fixed_at": ev.fixed_at.isoformat(),
        "changed": ev.changed,
        "note": ev.note,
    }
    fields = {"hold_stage": None, "outgoing_frequency": None}
    locked = await repo.lock(ctx, ev.claim_id)
    claim_id, row = locked
    mine = row is not None and row["tenant"] == ctx.meta.tenant
    if mine and row is not None and State(row["state"]) in saga.ADJUDICATED_PAID:
        if not row["payer_claim_number"]:  # never at a payer (self-pay): nothing to replace
            d = Decision(Outcome.ANOMALY, None, "no payer claim number to correct")
            await repo.record(ctx, claim_id, ev.TYPE, d, State(row["state"]), detail)
            return
        detail["corrects"] = {
            "state": row["state"],
            "payer_claim_number": row["payer_claim_number"],
        }
    await apply_event(ctx, cfg, ev.claim_id, ev, Change(fields, detail), locked=locked)


async def on_balance_zero(ctx: Context, ev: ClaimBalanceZero, *, cfg: ClaimsSettings) -> None:
    detail = {"closed_by": ev.closed_by, "at": ev.at.isoformat()}
    locked = None
    if ev.closed_by == "insurance":  # a payer's payment closed it: it proves the upload
        locked = await _locked_after_payer(ctx, cfg, ev.claim_id, None)
    await apply_event(ctx, cfg, ev.claim_id, ev, Change(detail=detail), resolve=True, locked=locked)


async def request_void(ctx: Context, cfg: ClaimsSettings, claim_id: str, reason: str) -> bool:
    """Queues a void (frequency 8, REF*F8) of a claim the payer adjudicated.

    The claim goes back to CODED with outgoing frequency 8 and the batcher sends it; the
    payer answers with a reversal. Returns False (and records an anomaly) when there is
    nothing at the payer to void.
    """
    _, row = await repo.lock(ctx, claim_id)
    current = State(row["state"]) if row else None
    at_payer = row["payer_claim_number"] if row is not None else None
    d = saga.decide_step(saga.VOID, current if at_payer else None)
    if d.kind is not Outcome.TRANSITION:
        await repo.record(ctx, claim_id, saga.VOID.on, d, current, {"reason": reason})
        return False
    detail = {"reason": reason, "payer_claim_number": at_payer}
    await apply(ctx, cfg, saga.VOID, claim_id, current, Change({"outgoing_frequency": "8"}, detail))
    return True


async def on_void_requested(ctx: Context, ev: ClaimVoidRequested, *, cfg: ClaimsSettings) -> None:
    """A person asked for a void (from the gateway): queue it for the batcher."""
    await request_void(ctx, cfg, ev.claim_id, f"{ev.reason} (by {ev.requested_by})")
