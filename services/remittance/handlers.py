"""Remittance handler: read the 835, check it balances, post each claim once, emit."""

from __future__ import annotations

import orjson

from runtime.service import Context
from runtime.x12 import X12Error
from schemas.events import RemitReceived
from services.remittance.domain import adjudicated
from services.remittance.x12_835 import RemitClaim, balance_problems, parse_835


async def on_remit(ctx: Context, ev: RemitReceived) -> None:
    conn = ctx.conn
    try:
        rem = parse_835(ev.x12)
    except X12Error as exc:
        await conn.execute(
            "INSERT INTO remits(tenant, payer_id, trace_number, source, status, problems, x12)"
            " VALUES ($1, $2, $3, $4, 'unreadable', $5::jsonb, $6)",
            ctx.meta.tenant,
            ev.payer_id,
            ev.trace_number,
            ev.source,
            orjson.dumps([str(exc)]).decode(),
            ev.x12,
        )
        return
    problems = balance_problems(rem)
    remit_id = await conn.fetchval(
        "INSERT INTO remits(tenant, payer_id, trace_number, source, status, problems, x12)"
        " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7) RETURNING id",
        ctx.meta.tenant,
        ev.payer_id,
        ev.trace_number,
        ev.source,
        "unbalanced" if problems else "posted",
        orjson.dumps(problems).decode(),
        ev.x12,
    )
    if problems:
        return  # waits in the remittance work queue with the exact discrepancy
    for plb in rem.provider_adjustments:
        await conn.execute(
            "INSERT INTO provider_adjustments(remit_id, provider_id, reason, reference, amount_cents)"
            " VALUES ($1, $2, $3, $4, $5)",
            remit_id,
            plb.provider_id,
            plb.reason,
            plb.reference,
            plb.amount.cents,
        )
    posted = 0
    for clp in rem.claims:
        if await post_claim(ctx, remit_id, ev.payer_id, clp):
            posted += 1
    if posted == 0 and rem.claims:
        await conn.execute("UPDATE remits SET status = 'duplicate' WHERE id = $1", remit_id)


async def post_claim(ctx: Context, remit_id: int, payer_id: str, clp: RemitClaim) -> bool:
    """Posts one CLP unless this exact payment was posted before. Returns True if new."""
    conn = ctx.conn
    posting_id = await conn.fetchval(
        "INSERT INTO claim_postings(remit_id, tenant, payer_id, trace_number, claim_id,"
        " payer_claim_number, status_code, charge_cents, paid_cents, patient_responsibility_cents)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING RETURNING id",
        remit_id,
        ctx.meta.tenant,
        payer_id,
        clp.trace_number,
        clp.patient_control_number,
        clp.payer_claim_number or "",
        clp.status_code,
        clp.charge.cents,
        clp.paid.cents,
        clp.patient_responsibility_cents,
    )
    if posting_id is None:
        return False
    rows: list[tuple[object, ...]] = []
    claim_id = clp.patient_control_number
    rows.append((posting_id, claim_id, 0, None, "charge", None, None, clp.charge.cents))
    rows.append((posting_id, claim_id, 0, None, "payment", None, None, -clp.paid.cents))
    for c in clp.adjustments:
        rows.append(
            (posting_id, claim_id, 0, None, "adjustment", c.group, c.reason, -c.amount.cents)
        )
    for n, line in enumerate(clp.lines, start=1):
        for c in line.adjustments:
            rows.append(
                (
                    posting_id,
                    claim_id,
                    n,
                    line.procedure,
                    "adjustment",
                    c.group,
                    c.reason,
                    -c.amount.cents,
                )
            )
    await conn.executemany(
        "INSERT INTO ledger_lines(posting_id, claim_id, line_number, procedure, kind, cas_group,"
        " reason, amount_cents) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        rows,
    )
    await ctx.emit(adjudicated(clp, payer_id), correlation_id=claim_id)
    return True
