"""Statements handlers: keep guarantor accounts, post adjudications, issue statements."""

from __future__ import annotations

import datetime as dt

import orjson

from runtime.service import Context
from schemas.events import ClaimAdjudicated, EncounterCreated, StatementIssued
from schemas.ids import claim_id_for
from services.statements.domain import aging_bucket, due_date, entries_for


async def on_encounter(ctx: Context, enc: EncounterCreated) -> None:
    tenant = ctx.meta.tenant
    guarantor = enc.guarantor or enc.patient
    claim_id = claim_id_for(tenant, enc.encounter_id)
    await ctx.conn.execute(
        "INSERT INTO accounts(tenant, guarantor_id, first_name, last_name, address)"
        " VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (tenant, guarantor_id) DO UPDATE SET"
        " first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name,"
        " address = EXCLUDED.address",
        tenant,
        guarantor.id,
        guarantor.first_name,
        guarantor.last_name,
        guarantor.address.model_dump_json(),
    )
    lines = [
        {
            "code": ln.procedure_code,
            "modifiers": ln.modifiers,
            "units": ln.units,
            "charge_cents": ln.charge_cents,
        }
        for ln in enc.lines
    ]
    await ctx.conn.execute(
        "INSERT INTO claim_charges(claim_id, tenant, guarantor_id, patient_id, patient_name,"
        " date_of_service, lines, charge_cents) VALUES ($1,$2,$3,$4,$5,$6,$7::jsonb,$8)"
        " ON CONFLICT (claim_id) DO NOTHING",
        claim_id,
        tenant,
        guarantor.id,
        enc.patient.id,
        f"{enc.patient.first_name} {enc.patient.last_name}",
        enc.date_of_service,
        orjson.dumps(lines).decode(),
        sum(ln.charge_cents for ln in enc.lines),
    )
    pending = await ctx.conn.fetchrow(
        "DELETE FROM pending_adjudications WHERE claim_id = $1 RETURNING event", claim_id
    )
    if pending is not None:
        await post(ctx, ClaimAdjudicated.model_validate_json(pending["event"]))


async def on_adjudicated(ctx: Context, adj: ClaimAdjudicated) -> None:
    known = await ctx.conn.fetchval("SELECT 1 FROM claim_charges WHERE claim_id = $1", adj.claim_id)
    if not known:
        await ctx.conn.execute(
            "INSERT INTO pending_adjudications(claim_id, event, event_id) VALUES ($1, $2::jsonb, $3)"
            " ON CONFLICT (claim_id) DO UPDATE SET event = EXCLUDED.event",
            adj.claim_id,
            adj.model_dump_json(),
            ctx.meta.id,
        )
        return
    await post(ctx, adj)


async def post(ctx: Context, adj: ClaimAdjudicated) -> None:
    row = await ctx.conn.fetchrow(
        "SELECT tenant, guarantor_id, date_of_service FROM claim_charges WHERE claim_id = $1",
        adj.claim_id,
    )
    tenant, guarantor = row["tenant"], row["guarantor_id"]
    for e in entries_for(adj):
        await ctx.conn.execute(
            "INSERT INTO ledger(tenant, guarantor_id, claim_id, kind, reason, amount_cents,"
            " source_event) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            tenant,
            guarantor,
            adj.claim_id,
            e.kind,
            e.reason,
            e.amount_cents,
            ctx.meta.id,
        )
    claim_balance = await ctx.conn.fetchval(
        "SELECT coalesce(sum(amount_cents), 0)::bigint FROM ledger WHERE claim_id = $1",
        adj.claim_id,
    )
    if claim_balance > 0:
        await issue_statement(ctx, tenant, guarantor, [adj.claim_id], row["date_of_service"])


async def issue_statement(
    ctx: Context, tenant: str, guarantor: str, claim_ids: list[str], oldest_service: dt.date
) -> None:
    today = dt.datetime.now(dt.UTC).date()
    balance = await ctx.conn.fetchval(
        "SELECT coalesce(sum(amount_cents), 0)::bigint FROM ledger WHERE tenant = $1 AND guarantor_id = $2",
        tenant,
        guarantor,
    )
    number = await ctx.conn.fetchval(
        "SELECT count(*)::int + 1 FROM statements WHERE tenant = $1 AND guarantor_id = $2",
        tenant,
        guarantor,
    )
    statement_id = f"S-{claim_ids[0]}-{number}"
    bucket = aging_bucket(oldest_service, today)
    lines = await ctx.conn.fetch(
        "SELECT claim_id, kind, reason, amount_cents FROM ledger WHERE tenant = $1 AND"
        " guarantor_id = $2 ORDER BY id",
        tenant,
        guarantor,
    )
    body = {"lines": [dict(r) for r in lines], "balance_cents": balance}
    await ctx.conn.execute(
        "INSERT INTO statements(statement_id, tenant, guarantor_id, claim_ids, balance_cents,"
        " aging_bucket, statement_date, due_date, body) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9::jsonb)",
        statement_id,
        tenant,
        guarantor,
        claim_ids,
        balance,
        bucket,
        today,
        due_date(today),
        orjson.dumps(body).decode(),
    )
    await ctx.emit(
        StatementIssued(
            guarantor_id=guarantor,
            statement_id=statement_id,
            claim_ids=claim_ids,
            balance_cents=balance,
            aging_bucket=bucket,
            statement_date=today,
            due_date=due_date(today),
        ),
        correlation_id=claim_ids[0],
    )
