"""Appeals of denied or reduced claims (issue 29 part 3): a person drafts one (the lines
it disputes, from the line denials work queue, and the attachments) and sends it; the
payer's next 835 for the claim decides it. The rules are appeals.py's, the SQL
appeal_repository.py's; each step is a row of the saga table (Kind.APPEAL) recorded on
the claim's timeline, and none moves the claim: the reprocessing 835 does, as any 835."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import asyncpg
import orjson

from runtime.service import Context, Service
from schemas.events import ClaimAdjudicated
from schemas.events_workqueue import AppealAction, AppealedLine, AppealRequested, AppealSent
from services.claims import appeal_repository as store
from services.claims import appeals, directory, saga
from services.claims import repository as repo
from services.claims.config import ClaimsSettings
from services.claims.payers import Payer
from services.claims.saga import Decision, Outcome, State, Step

log = logging.getLogger(__name__)


async def _note(
    ctx: Context, step: Step, claim_id: str, current: State | None, detail: dict[str, Any]
) -> None:
    await repo.record(ctx, claim_id, step.on, saga.decide_step(step, current), current, detail)


async def _refuse(
    ctx: Context, step: Step, claim_id: str, current: State | None, detail: dict[str, Any], why: str
) -> None:
    d = Decision(Outcome.ANOMALY, None, why)
    await repo.record(ctx, claim_id, step.on, d, current, detail)


async def _payer(conn: asyncpg.Connection, tenant: str, payer_id: str) -> Payer | None:
    """The directory's row, read fresh (a person's command is rare; no cached answer)."""
    return (await directory.lookup(conn, [(tenant, payer_id)])).get((tenant, payer_id))


async def on_appeal_requested(ctx: Context, ev: AppealRequested) -> None:
    claim_id, row = await repo.lock(ctx, ev.claim_id)
    mine = row if row is not None and row["tenant"] == ctx.meta.tenant else None
    current = State(row["state"]) if row is not None else None
    detail: dict[str, Any] = {"by": ev.requested_by, "action": ev.action.value}
    if ev.action is AppealAction.draft:
        await _draft(ctx, ev, claim_id, mine, current, detail)
    else:
        await _send(ctx, ev, claim_id, mine, current, detail)


async def _draft(
    ctx: Context,
    ev: AppealRequested,
    claim_id: str,
    row: asyncpg.Record | None,
    current: State | None,
    detail: dict[str, Any],
) -> None:
    step, conn = saga.APPEAL_DRAFTED, ctx.conn
    if row is None or current not in step.start or not row["payer_claim_number"]:
        return await _refuse(ctx, step, claim_id, current, detail, step.refused)
    if not ev.lines:
        return await _refuse(ctx, step, claim_id, current, detail, "no line to appeal named")
    if await store.open_appeal(conn, claim_id) is not None:
        return await _refuse(ctx, step, claim_id, current, detail, "the claim has an open appeal")
    payer = await _payer(conn, ctx.meta.tenant, row["payer_id"])
    if payer is None or payer.appeal_days is None:
        why = f"payer {row['payer_id']}'s directory entry gives no appeal period"
        return await _refuse(ctx, step, claim_id, current, detail, why)
    facts = await store.claim_facts(conn, claim_id)
    assert facts is not None
    determined = facts["determined_on"] or ev.requested_at.date()
    deadline = appeals.deadline(determined, payer.appeal_days)
    if ev.requested_at.date() > deadline:
        why = f"the appeal period ended {deadline.isoformat()}"
        return await _refuse(ctx, step, claim_id, current, detail, why)
    appeal_id = f"{claim_id}-A{await store.appeals_of(conn, claim_id) + 1}"
    lines = tuple(
        appeals.Line(x.line_number, x.procedure_code, x.cas_group, x.reason, x.amount_cents)
        for x in ev.lines
    )
    letter = appeals.Facts(
        appeal_id=appeal_id,
        claim_id=claim_id,
        patient_control_number=facts["patient_control_number"] or claim_id,
        payer_id=row["payer_id"],
        payer_name=payer.name,
        payer_claim_number=row["payer_claim_number"],
        date_of_service=facts["date_of_service"],
        determination_date=determined,
        deadline=deadline,
        charge_cents=facts["total_charge_cents"] or 0,
        paid_cents=facts["paid_cents"],
        category=appeals.category_of([x.category for x in ev.lines]),
        lines=lines,
        attachments=tuple(ev.attachments),
        note=ev.note,
    )
    await store.insert(
        conn,
        {
            "appeal_id": appeal_id,
            "tenant": ctx.meta.tenant,
            "claim_id": claim_id,
            "payer_id": row["payer_id"],
            "payer_claim_number": row["payer_claim_number"],
            "category": letter.category,
            "lines": [x.model_dump() for x in ev.lines],
            "attachments": list(ev.attachments),
            "determination_date": determined,
            "deadline": deadline,
            "paid_before_cents": letter.paid_cents,
            "letter": appeals.letter_pdf(letter),
            "drafted_by": ev.requested_by,
        },
    )
    detail |= {"appeal_id": appeal_id, "deadline": deadline.isoformat()}
    await _note(ctx, step, claim_id, current, detail)


async def _send(
    ctx: Context,
    ev: AppealRequested,
    claim_id: str,
    row: asyncpg.Record | None,
    current: State | None,
    detail: dict[str, Any],
) -> None:
    step, conn = saga.APPEAL_SENT, ctx.conn
    case = await store.open_appeal(conn, claim_id) if row is not None else None
    if row is None or case is None or case["state"] != appeals.DRAFTED:
        return await _refuse(ctx, step, claim_id, current, detail, step.refused)
    payer = await _payer(conn, ctx.meta.tenant, case["payer_id"])
    days = payer.appeal_answer_days if payer is not None else None
    due = appeals.answer_due(ev.requested_at.date(), days) if days else None
    await store.mark_sent(conn, case["appeal_id"], ev.requested_at, due)
    detail |= {"appeal_id": case["appeal_id"], "answer_due": due.isoformat() if due else None}
    await _note(ctx, step, claim_id, current, detail)
    sent = AppealSent(
        claim_id=claim_id,
        appeal_id=case["appeal_id"],
        payer_id=case["payer_id"],
        patient_control_number=case["patient_control_number"],
        payer_claim_number=case["payer_claim_number"],
        lines=[AppealedLine.model_validate(x) for x in orjson.loads(case["lines"])],
    )
    await ctx.emit(sent, correlation_id=claim_id)


async def answered(ctx: Context, claim_id: str, ev: ClaimAdjudicated) -> None:
    """The payer's answer (not a reversal, not a later payer's) to a claim with a sent
    appeal decides it: overturned when it no longer denies the appealed lines for the
    reasons appealed, else upheld (appeals.outcome)."""
    case = await store.open_appeal(ctx.conn, claim_id)
    if case is None or case["state"] != appeals.SENT or case["payer_id"] != ev.payer_id:
        return
    appealed = [
        (x["line_number"], x["cas_group"], x["reason"]) for x in orjson.loads(case["lines"])
    ]
    answer = [
        (ln.line_number, a.group, a.reason, a.amount_cents)
        for ln in ev.lines
        for a in ln.adjustments
    ]
    line_cas = {(a.group, a.reason, a.amount_cents) for ln in ev.lines for a in ln.adjustments}
    answer += [
        (0, a.group, a.reason, a.amount_cents)
        for a in ev.adjustments
        if (a.group, a.reason, a.amount_cents) not in line_cas
    ]
    outcome = appeals.outcome(appealed, answer)
    await store.mark_decided(ctx.conn, case["appeal_id"], outcome, ev.paid_cents)
    await ctx.flush()  # the 835's own step first: the note follows it on the timeline
    state = await store.claim_state(ctx.conn, claim_id)
    current = State(state) if state is not None else None
    detail = {
        "appeal_id": case["appeal_id"],
        "outcome": outcome,
        "paid_before_cents": case["paid_before_cents"],
        "paid_after_cents": ev.paid_cents,
    }
    await _note(ctx, saga.APPEAL_DECIDED, claim_id, current, detail)


async def appeal_timers(svc: Service, *, cfg: ClaimsSettings) -> int:
    """The appeals' timers: a drafted appeal within ``appeal_warn_days`` of the payer's
    deadline, and a sent appeal whose answer is overdue, are noted on the claim's
    timeline (and logged), once each."""
    assert svc.pool is not None
    today = dt.datetime.now(dt.UTC).date()
    async with svc.pool.acquire() as conn, conn.transaction():
        near, overdue = await store.appeal_alerts(conn, today, cfg.appeal_warn_days)
        for rows, step, what in ((near, saga.APPEAL_DEADLINE, "deadline"),
                                 (overdue, saga.APPEAL_OVERDUE, "answer_due")):  # fmt: skip
            for row in rows:
                claim_id, due = row["claim_id"], row[what]
                ctx = svc.context(
                    conn, tenant=row["tenant"], correlation_id=claim_id, cause="timer:appeal"
                )
                state = await store.claim_state(conn, claim_id)
                current = State(state) if state is not None else None
                left = (due - today).days
                note = (
                    f"appeal not sent; the payer's deadline is in {left} days"
                    if step is saga.APPEAL_DEADLINE
                    else f"the payer's answer to the appeal is {-left} days overdue"
                )
                detail = {"appeal_id": row["appeal_id"], what: due.isoformat()}
                d = saga.decide_step(step, current, note)
                await repo.record(ctx, claim_id, step.on, d, current, detail)
                log.warning("appeal alert: %s", step.on, extra={"claim": claim_id})
        return len(near) + len(overdue)
