"""Claims handlers: apply each event to the saga once, build and submit 837Ps.

Every state change, its timeline row and any outgoing event share the consumer's
transaction, so a claim can never be half-moved.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from runtime.service import Context
from runtime.settings import settings
from schemas.events import (
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
from schemas.ids import claim_id_for
from services.claims.saga import Decision, State, decide
from services.claims.x12_837 import ControlNumbers, Outgoing, Party, Unbuildable, render_837p

COLUMNS = {
    "encounter_id",
    "hold_stage",
    "self_pay",
    "payer_id",
    "patient_control_number",
    "date_of_service",
    "total_charge_cents",
    "frequency_code",
    "payer_claim_number",
    "paid_cents",
    "adjusted_cents",
    "patient_responsibility_cents",
    "coded",
}


async def timeline(
    ctx: Context,
    claim_id: str,
    event_type: str,
    d: Decision,
    from_state: State | None,
    detail: dict[str, Any] | None = None,
) -> None:
    body = dict(detail or {})
    if d.note:
        body["note"] = d.note
    await ctx.conn.execute(
        "INSERT INTO claim_events(claim_id, event_id, event_type, kind, from_state, to_state, detail)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)",
        claim_id,
        ctx.meta.id,
        event_type,
        d.kind,
        from_state,
        d.to,
        orjson.dumps(body).decode(),
    )


async def move(
    ctx: Context,
    claim_id: str,
    to: State,
    event_type: str,
    from_state: State | None,
    fields: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
    note: str = "",
) -> None:
    """Applies one transition: the state, the fields, and the timeline row."""
    fields = fields or {}
    unknown = set(fields) - COLUMNS
    if unknown:
        raise ValueError(f"not claim columns: {unknown}")
    if from_state is None:
        cols = ["claim_id", "tenant", "state", *fields]
        params = [claim_id, ctx.meta.tenant, to.value, *fields.values()]
        marks = ", ".join(f"${i}" for i in range(1, len(params) + 1))
        await ctx.conn.execute(f"INSERT INTO claims({', '.join(cols)}) VALUES ({marks})", *params)
    else:
        sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(fields, start=3))
        extra = f", {sets}" if sets else ""
        await ctx.conn.execute(
            f"UPDATE claims SET state = $2, state_since = now(){extra} WHERE claim_id = $1",
            claim_id,
            to.value,
            *fields.values(),
        )
    await timeline(ctx, claim_id, event_type, Decision("transition", to, note), from_state, detail)


async def step(
    ctx: Context,
    claim_id: str,
    event: Event,
    fields: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
    facts: dict[str, Any] | None = None,
) -> tuple[Decision, State | None]:
    """Applies an event to the saga. ``facts`` are recorded even when the event is late
    (money from an adjudication that reached us after the patient's statement)."""
    # Events of one claim arrive on several topics, consumed concurrently: serialise
    # them per claim so two "first" events cannot both create the claim.
    await ctx.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", claim_id)
    row = await ctx.conn.fetchrow(
        "SELECT state, tenant FROM claims WHERE claim_id = $1 FOR UPDATE", claim_id
    )
    if row is not None and row["tenant"] != ctx.meta.tenant:
        d = Decision("anomaly", None, "event from another tenant ignored")
        await timeline(ctx, claim_id, event.TYPE, d, State(row["state"]), detail)
        return d, State(row["state"])
    current = State(row["state"]) if row else None
    d = decide(current, event)
    if d.kind == "transition" and d.to is not None:
        await move(
            ctx, claim_id, d.to, event.TYPE, current, {**(fields or {}), **(facts or {})}, detail
        )
        return d, current
    await timeline(ctx, claim_id, event.TYPE, d, current, detail)
    if d.kind == "late" and facts:
        if set(facts) - COLUMNS:
            raise ValueError(f"not claim columns: {set(facts) - COLUMNS}")
        sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(facts, start=2))
        await ctx.conn.execute(
            f"UPDATE claims SET {sets} WHERE claim_id = $1", claim_id, *facts.values()
        )
    return d, current


async def on_encounter(ctx: Context, ev: EncounterCreated) -> None:
    claim_id = claim_id_for(ctx.meta.tenant, ev.encounter_id)
    await step(
        ctx, claim_id, ev, {"encounter_id": ev.encounter_id, "date_of_service": ev.date_of_service}
    )


async def on_eligibility(ctx: Context, ev: EligibilityChecked) -> None:
    await step(
        ctx,
        ev.claim_id,
        ev,
        {
            "encounter_id": ev.encounter_id,
            "self_pay": ev.self_pay,
            "payer_id": ev.payer_id,
            "date_of_service": ev.encounter.date_of_service,
        },
        {"active": ev.active, "payer_id": ev.payer_id, "self_pay": ev.self_pay},
    )


async def on_held(ctx: Context, ev: ClaimHeld) -> None:
    await step(
        ctx,
        ev.claim_id,
        ev,
        {"encounter_id": ev.encounter_id, "hold_stage": ev.stage.value},
        {"stage": ev.stage.value, "reasons": [r.model_dump() for r in ev.reasons]},
    )


async def on_coded(ctx: Context, ev: ClaimCoded) -> None:
    fields = {
        "encounter_id": ev.encounter_id,
        "self_pay": ev.self_pay,
        "payer_id": ev.payer_id,
        "patient_control_number": ev.patient_control_number,
        "hold_stage": None,
        "date_of_service": ev.date_of_service,
        "total_charge_cents": ev.total_charge_cents,
        "coded": ev.model_dump_json(),
    }
    d, _ = await step(
        ctx,
        ev.claim_id,
        ev,
        fields,
        {"lines": len(ev.lines), "findings": [f.edit for f in ev.findings]},
    )
    if d.kind == "transition" and not ev.self_pay:
        await submit(ctx, ev, frequency_code="1", payer_claim_number=None)


async def submit(
    ctx: Context, claim: ClaimCoded, *, frequency_code: str, payer_claim_number: str | None
) -> None:
    """Renders the 837P, records the interchange and the submission, emits claim.submitted."""
    s = settings()
    icn = await ctx.conn.fetchval("SELECT nextval('interchange_control')")
    gcn = await ctx.conn.fetchval("SELECT nextval('group_control')")
    try:
        text = render_837p(
            [Outgoing(claim, frequency_code, payer_claim_number)],
            control=ControlNumbers(interchange=icn, group=gcn, transaction_start=1),
            submitter=Party(s.x12_submitter_name, s.x12_submitter_id),
            receiver=Party(s.x12_receiver_name, s.x12_receiver_id),
            contact_phone=s.x12_submitter_phone,
            at=dt.datetime.now(dt.UTC),
            usage=s.x12_usage,
        )
    except Unbuildable as exc:
        await move(
            ctx,
            claim.claim_id,
            State.HELD,
            "rcm.claims.unbuildable",
            State.CODED,
            {"hold_stage": "claims"},
            {
                "reasons": [
                    {
                        "code": "837-UNBUILDABLE",
                        "message": str(exc),
                        "fix": "complete the missing data and resubmit",
                    }
                ]
            },
        )
        return
    already = await ctx.conn.fetchval(
        "SELECT 1 FROM submissions WHERE patient_control_number = $1 AND frequency_code = '1'",
        claim.patient_control_number,
    )
    if already and frequency_code == "1":
        await timeline(
            ctx,
            claim.claim_id,
            "rcm.claims.submit",
            Decision("anomaly", None, "original already submitted; not sent again"),
            State.CODED,
        )
        return
    await ctx.conn.execute(
        "INSERT INTO interchanges(interchange_control_number, group_control_number, tenant,"
        " payer_id, claim_ids, x12) VALUES ($1, $2, $3, $4, $5, $6)",
        icn,
        gcn,
        ctx.meta.tenant,
        claim.payer_id,
        [claim.claim_id],
        text,
    )
    await ctx.conn.execute(
        "INSERT INTO submissions(claim_id, patient_control_number, frequency_code,"
        " interchange_control_number) VALUES ($1, $2, $3, $4)",
        claim.claim_id,
        claim.patient_control_number,
        frequency_code,
        icn,
    )
    await move(
        ctx,
        claim.claim_id,
        State.SUBMITTED,
        ClaimSubmitted.TYPE,
        State.CODED,
        {"frequency_code": frequency_code},
        {"interchange_control_number": f"{icn:09d}", "frequency_code": frequency_code},
    )
    await ctx.emit(
        ClaimSubmitted(
            claim_id=claim.claim_id,
            patient_control_number=claim.patient_control_number,
            payer_id=claim.payer_id or "",
            interchange_control_number=f"{icn:09d}",
            group_control_number=str(gcn),
            transaction_control_number="0001",
            frequency_code=frequency_code,
            total_charge_cents=claim.total_charge_cents,
            x12=text,
        ),
        correlation_id=claim.claim_id,
    )


async def on_acknowledged(ctx: Context, ev: ClaimAcknowledged) -> None:
    fields = {"hold_stage": "clearinghouse"} if not ev.accepted else None
    await step(
        ctx,
        ev.claim_id,
        ev,
        fields,
        {
            "ack": ev.kind.value,
            "accepted": ev.accepted,
            "errors": [e.model_dump() for e in ev.errors],
        },
    )


async def on_adjudicated(ctx: Context, ev: ClaimAdjudicated) -> None:
    fields = {
        "payer_claim_number": ev.payer_claim_number,
        "paid_cents": ev.paid_cents,
        "adjusted_cents": ev.adjusted_cents,
        "patient_responsibility_cents": ev.patient_responsibility_cents,
    }
    detail = {
        "status": ev.status.value,
        "paid_cents": ev.paid_cents,
        "patient_responsibility_cents": ev.patient_responsibility_cents,
        "trace_number": ev.trace_number,
        "adjustments": [a.model_dump() for a in ev.adjustments],
        "denial_category": ev.denial_category,
    }
    d, _ = await step(ctx, ev.claim_id, ev, None, detail, facts=fields)
    if (
        d.kind == "transition"
        and d.to in (State.PAID, State.PARTIALLY_PAID)
        and ev.patient_responsibility_cents == 0
    ):
        await move(
            ctx,
            ev.claim_id,
            State.CLOSED,
            "rcm.claims.balance-zero",
            d.to,
            note="insurance paid in full after contractual adjustments; balance zero",
        )


async def on_statement(ctx: Context, ev: StatementIssued) -> None:
    for claim_id in ev.claim_ids:
        await step(
            ctx,
            claim_id,
            ev,
            None,
            {"statement_id": ev.statement_id, "balance_cents": ev.balance_cents},
        )
