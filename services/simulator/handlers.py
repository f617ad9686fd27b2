"""The simulator's wiring: acknowledge each 837P at once, adjudicate after the payer's delay.

claim.submitted -> 999 and 277CA (claim.acknowledged) -> later, per payer batch,
an 835 (remit.received). Member accumulators persist, so a second visit in a plan
year sees the deductible already met.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

import asyncpg

from runtime.service import Context, Reject, Service
from runtime.settings import settings
from runtime.x12 import Envelope, X12Error
from schemas.common import HoldReason
from schemas.events import AckKind, ClaimAcknowledged, ClaimSubmitted, RemitReceived
from services.simulator.adjudicate import Accumulators, Adjudication, ClaimIn, adjudicate
from services.simulator.payers import PAYERS, payer
from services.simulator.x12_in import read_837, triage_837
from services.simulator.x12_out import ClaimAck, front_end_edits, write_277ca, write_835, write_999

CLEARINGHOUSE_ID = "SIMCLEARHOUSE"
CLEARINGHOUSE_NAME = "SIM CLEARINGHOUSE"


async def _envelope(conn: asyncpg.Connection, sender: str, receiver: str) -> Envelope:
    icn = await conn.fetchval("SELECT nextval('interchange_control')")
    return Envelope(
        sender_qualifier="ZZ",
        sender_id=sender,
        receiver_qualifier="ZZ",
        receiver_id=receiver,
        functional_id="",
        version="",
        interchange_control_number=icn,
        group_control_number=icn,
        usage=settings().x12_usage,
    )


async def on_submitted(ctx: Context, ev: ClaimSubmitted) -> None:
    try:
        inter = triage_837(ev.x12)
    except X12Error as exc:
        raise Reject("bad-x12", f"837 envelope unreadable: {exc}") from exc
    conn = ctx.conn
    received_id = await conn.fetchval(
        "INSERT INTO received(tenant, claim_id, event_id, traceparent, x12) VALUES ($1,$2,$3,$4,$5)"
        " RETURNING id",
        ctx.meta.tenant,
        ev.claim_id,
        ctx.meta.id,
        ctx.meta.traceparent,
        ev.x12,
    )
    submitter = inter.sender_id.strip()
    ack_999 = write_999(inter, envelope=await _envelope(conn, CLEARINGHOUSE_ID, submitter))
    set_errors = [ts.error for g in inter.groups for ts in g.sets if ts.error is not None]
    claims = list(inter.claims())
    if set_errors:
        errors = [
            HoldReason(code="999-R", message=str(e), fix="correct the 837 and resubmit")
            for e in set_errors
        ]
        await ctx.emit(
            ClaimAcknowledged(
                claim_id=ev.claim_id,
                patient_control_number=ev.patient_control_number,
                kind=AckKind.ack_999,
                accepted=False,
                errors=errors,
                x12=ack_999,
            )
        )
        return
    await ctx.emit(
        ClaimAcknowledged(
            claim_id=ev.claim_id,
            patient_control_number=ev.patient_control_number,
            kind=AckKind.ack_999,
            accepted=True,
            x12=ack_999,
        )
    )
    today = dt.datetime.now(dt.UTC).date()
    acks = [ClaimAck(c, front_end_edits(c, PAYERS)) for c in claims]
    text = write_277ca(
        acks,
        envelope=await _envelope(conn, CLEARINGHOUSE_ID, submitter),
        source_name=CLEARINGHOUSE_NAME,
        source_id=CLEARINGHOUSE_ID,
        receiver_name=submitter,
        receiver_id=submitter,
        received=today,
        processed=today,
        batch_reference=ev.interchange_control_number,
        receipt_trace=f"R{received_id}",
    )
    due = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=settings().simulator_delay_s)
    for ack in acks:
        c = ack.claim
        errors = [
            HoldReason(
                code=f"{r.category}:{r.code}",
                message=r.message,
                fix="correct the claim and resubmit",
            )
            for r in ack.reasons
        ]
        await ctx.emit(
            ClaimAcknowledged(
                claim_id=c.patient_control_number,
                patient_control_number=c.patient_control_number,
                kind=AckKind.ack_277ca,
                accepted=ack.accepted,
                errors=errors,
                x12=text,
            ),
            correlation_id=c.patient_control_number,
        )
        if ack.accepted:
            await conn.execute(
                "INSERT INTO pending_adjudications(received_id, tenant, payer_id, billing_npi,"
                " patient_control_number, due_at) VALUES ($1, $2, $3, $4, $5, $6)",
                received_id,
                ctx.meta.tenant,
                c.payer_id,
                c.billing_npi,
                c.patient_control_number,
                due,
            )


async def adjudicate_due(svc: Service) -> int:
    """One payer cycle: every claim whose delay has passed, one 835 per tenant, payer, payee."""
    assert svc.pool is not None
    s = settings()
    async with svc.pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "SELECT p.id, p.tenant, p.payer_id, p.billing_npi, p.patient_control_number, r.x12,"
            " r.event_id, r.traceparent FROM pending_adjudications p JOIN received r"
            " ON r.id = p.received_id WHERE p.done_at IS NULL AND p.due_at <= now()"
            " ORDER BY p.id LIMIT 500 FOR UPDATE OF p SKIP LOCKED"
        )
        if not rows:
            return 0
        batches: dict[tuple[str, str, str], list[asyncpg.Record]] = defaultdict(list)
        for row in rows:
            batches[(row["tenant"], row["payer_id"], row["billing_npi"])].append(row)
        today = dt.datetime.now(dt.UTC).date()
        for (tenant, payer_id, _npi), items in batches.items():
            plan = payer(payer_id)
            results: list[Adjudication] = []
            for row in items:
                claim = _claim(row["x12"], row["patient_control_number"])
                results.append(
                    await _adjudicate_one(
                        conn, claim, today, s.simulator_seed, s.simulator_denial_rate
                    )
                )
            seq = await conn.fetchval("SELECT nextval('trace_numbers')")
            trace = f"{payer_id}{today:%y%m%d}{seq:08d}"
            text = write_835(
                results,
                plan=plan,
                envelope=await _envelope(conn, payer_id, s.x12_submitter_id),
                payment_date=today,
                trace_number=trace,
            )
            await conn.execute(
                "INSERT INTO remits(trace_number, tenant, payer_id, claims, x12)"
                " VALUES ($1, $2, $3, $4, $5)",
                trace,
                tenant,
                payer_id,
                len(results),
                text,
            )
            ctx = svc.context(
                conn,
                tenant=tenant,
                correlation_id=trace,
                cause=items[0]["event_id"],
                traceparent=items[0]["traceparent"],
            )
            await ctx.emit(
                RemitReceived(trace_number=trace, payer_id=payer_id, source="simulator", x12=text)
            )
        await conn.execute(
            "UPDATE pending_adjudications SET done_at = now() WHERE id = ANY($1)",
            [r["id"] for r in rows],
        )
        return len(rows)


def _claim(x12: str, pcn: str) -> ClaimIn:
    for claim in read_837(x12).claims():
        if claim.patient_control_number == pcn:
            return claim
    raise X12Error(f"claim {pcn} is not in its interchange")


async def _adjudicate_one(
    conn: asyncpg.Connection, claim: ClaimIn, today: dt.date, seed: int, denial_rate: float
) -> Adjudication:
    year = claim.date_of_service.year
    acc_row = await conn.fetchrow(
        "SELECT deductible_met_cents, oop_met_cents FROM accumulators"
        " WHERE payer_id = $1 AND member_id = $2 AND year = $3 FOR UPDATE",
        claim.payer_id,
        claim.member_id,
        year,
    )
    acc = Accumulators(year, acc_row[0], acc_row[1]) if acc_row else Accumulators(year)
    paid_before = await conn.fetch(
        "SELECT patient_control_number FROM paid_claims WHERE payer_id = $1 AND"
        " patient_control_number = $2",
        claim.payer_id,
        claim.patient_control_number,
    )
    rng = random.Random(f"{seed}:{claim.patient_control_number}")
    result = adjudicate(
        claim, acc, today, paid_claims={r[0] for r in paid_before}, rng=rng, denial_rate=denial_rate
    )
    if result.accumulators is not None:
        a = result.accumulators
        await conn.execute(
            "INSERT INTO accumulators(payer_id, member_id, year, deductible_met_cents, oop_met_cents)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (payer_id, member_id, year) DO UPDATE SET"
            " deductible_met_cents = EXCLUDED.deductible_met_cents,"
            " oop_met_cents = EXCLUDED.oop_met_cents",
            claim.payer_id,
            claim.member_id,
            a.year,
            a.deductible_met_cents,
            a.oop_met_cents,
        )
    if result.paid_cents > 0:
        await conn.execute(
            "INSERT INTO paid_claims(payer_id, patient_control_number, payer_claim_number, paid_cents)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            claim.payer_id,
            claim.patient_control_number,
            result.payer_claim_number,
            result.paid_cents,
        )
    return result
