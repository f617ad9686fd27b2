"""Eligibility handlers: record coverages, decide, emit. One transaction per message."""

from __future__ import annotations

import datetime as dt

import asyncpg
import orjson

from runtime.service import Context
from schemas.common import Coverage
from schemas.events import ClaimHeld, EncounterCreated, Stage
from schemas.ids import claim_id_for
from services.eligibility.domain import Held, decide


async def record_coverages(conn: asyncpg.Connection, tenant: str, enc: EncounterCreated) -> None:
    for c in enc.coverages:
        row = (
            tenant,
            enc.patient.id,
            c.payer_id,
            c.payer_name,
            c.member_id,
            c.group_number,
            c.plan,
            c.priority,
            c.relationship.value,
            c.subscriber.id if c.subscriber else None,
            c.effective_date,
            c.termination_date,
        )
        current = await conn.fetchrow(
            "SELECT id, payer_name, group_number, plan, priority, relationship, subscriber_id,"
            " effective_date, termination_date FROM coverages WHERE tenant=$1 AND patient_id=$2"
            " AND payer_id=$3 AND member_id=$4 AND valid_to IS NULL",
            tenant,
            enc.patient.id,
            c.payer_id,
            c.member_id,
        )
        if current is not None and tuple(current)[1:] == (row[3], *row[5:]):
            continue
        if current is not None:
            await conn.execute("UPDATE coverages SET valid_to=now() WHERE id=$1", current["id"])
        await conn.execute(
            "INSERT INTO coverages(tenant, patient_id, payer_id, payer_name, member_id, group_number,"
            " plan, priority, relationship, subscriber_id, effective_date, termination_date, source)"
            " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,'encounter')",
            *row,
        )


async def coverages_on_record(
    conn: asyncpg.Connection, tenant: str, patient_id: str, on: dt.date
) -> list[Coverage]:
    rows = await conn.fetch(
        "SELECT payer_id, payer_name, member_id, group_number, plan, priority, relationship,"
        " effective_date, termination_date FROM coverages"
        " WHERE tenant=$1 AND patient_id=$2 AND valid_to IS NULL ORDER BY priority",
        tenant,
        patient_id,
    )
    return [Coverage.model_validate(dict(r)) for r in rows]


async def on_encounter(ctx: Context, enc: EncounterCreated) -> None:
    tenant = ctx.meta.tenant
    claim_id = claim_id_for(tenant, enc.encounter_id)
    await record_coverages(ctx.conn, tenant, enc)
    on_file = await coverages_on_record(ctx.conn, tenant, enc.patient.id, enc.date_of_service)
    outcome = decide(claim_id, enc, on_file)
    if isinstance(outcome, Held):
        kind, payer = "held", None
        reasons: list[object] = [r.model_dump() for r in outcome.reasons]
        await ctx.emit(
            ClaimHeld(
                claim_id=claim_id,
                encounter_id=enc.encounter_id,
                stage=Stage.eligibility,
                reasons=outcome.reasons,
            ),
            correlation_id=claim_id,
        )
    else:
        kind = "self_pay" if outcome.self_pay else "eligible"
        payer, reasons = outcome.payer_id, list(outcome.reasons)
        await ctx.emit(outcome, correlation_id=claim_id)
    await ctx.conn.execute(
        "INSERT INTO eligibility_checks(claim_id, tenant, encounter_id, outcome, payer_id, reasons)"
        " VALUES ($1,$2,$3,$4,$5,$6::jsonb) ON CONFLICT (claim_id) DO UPDATE SET"
        " outcome=EXCLUDED.outcome, payer_id=EXCLUDED.payer_id, reasons=EXCLUDED.reasons,"
        " checked_at=now()",
        claim_id,
        tenant,
        enc.encounter_id,
        kind,
        payer,
        orjson.dumps(reasons).decode(),
    )
