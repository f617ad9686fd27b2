"""Appeals through the gateway (issue 29 part 3): draft one from the claim's open line
denials (remittance's ``line_denial_v1``), send it, list a claim's cases and fetch a
letter (claims' ``appeal_v1``). Drafting and sending are commands to the claims service
(rcm.claim.appeal_requested.v1), which owns the case and checks the payer's deadline."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from schemas.events_workqueue import AppealAction, AppealedLine, AppealRequested
from services.gateway.core import AuditEntry, Gateway, event_id
from services.gateway.intake import Actor, Conflict, Extra, nothing
from services.gateway.outgoing import send_audited

APPEALABLE = {"PAID", "PARTIALLY_PAID", "DENIED", "PATIENT_BILLED", "CLOSED"}
CASE_COLUMNS = (
    "appeal_id, claim_id, payer_id, payer_claim_number, category, lines, attachments,"
    " state, outcome, determination_date, deadline, answer_due, paid_before_cents,"
    " paid_after_cents, drafted_by, drafted_at, sent_at, decided_at"
)


async def _claim(gw: Gateway, actor: Actor, claim_id: str) -> Any:
    """The claim's state and payer number, and how many appeals it has had (part of the
    command's id: a second appeal of the claim is a new command)."""
    c = gw.g.claims_schema
    assert gw.pool is not None
    async with gw.pool.acquire() as conn:
        return await conn.fetchrow(
            "SELECT state, payer_claim_number, (SELECT count(*) FROM"
            f" {c}.appeal_v1 a WHERE a.claim_id = cl.claim_id) AS appeals"
            f" FROM {c}.claim_v1 cl WHERE claim_id = $1 AND tenant = $2",
            claim_id,
            actor.tenant,
        )


async def _denied_lines(
    gw: Gateway, actor: Actor, claim_id: str, denial_ids: list[int]
) -> list[AppealedLine]:
    assert gw.pool is not None
    async with gw.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT denial_id, line_number, procedure, cas_group, reason, amount_cents, category"
            f" FROM {gw.g.remittance_schema}.line_denial_v1 WHERE tenant = $1 AND claim_id = $2"
            " AND denial_id = ANY($3::bigint[]) AND open ORDER BY denial_id",
            actor.tenant,
            claim_id,
            denial_ids,
        )
    missing = sorted(set(denial_ids) - {r["denial_id"] for r in rows})
    if missing:
        raise Conflict(
            f"denial(s) {', '.join(map(str, missing))} are not open line denials of claim"
            f" {claim_id} (GET /v1/workqueues/line_denials)"
        )
    return [
        AppealedLine(
            line_number=r["line_number"],
            procedure_code=r["procedure"],
            cas_group=r["cas_group"],
            reason=r["reason"],
            amount_cents=r["amount_cents"],
            category=r["category"],
        )
        for r in rows
    ]


async def request(
    gw: Gateway,
    actor: Actor,
    claim_id: str,
    action: AppealAction,
    body: dict[str, Any],
    extra: Extra = nothing,
) -> dict[str, Any] | None:
    """Sends the draft or send command; None when the claim is not the tenant's."""
    claim = await _claim(gw, actor, claim_id)
    if claim is None:
        return None
    if claim["state"] not in APPEALABLE or not claim["payer_claim_number"]:
        raise Conflict(
            f"claim {claim_id} is {claim['state']}; only a claim the payer adjudicated, with its"
            " claim number, is appealed"
        )
    lines = []
    if action is AppealAction.draft:
        lines = await _denied_lines(gw, actor, claim_id, list(body["denial_ids"]))
    ev = AppealRequested(
        claim_id=claim_id,
        action=action,
        requested_by=actor.who,
        requested_at=dt.datetime.now(dt.UTC),
        lines=lines,
        attachments=list(body.get("attachments") or []),
        note=str(body.get("note") or ""),
    )
    raw = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    answer = {"claim_id": claim_id, "action": action.value, "status": "accepted"}
    entry = AuditEntry(
        actor.tenant, actor.who, f"claim.appeal.{action.value}", claim_id, claim_ids=(claim_id,)
    )
    await send_audited(
        gw,
        ev,
        entry,
        correlation_id=claim_id,
        ce_id=event_id(
            actor.tenant, f"appeal-{action.value}", f"{claim_id}|{claim['appeals']}", raw
        ),
        extra=extra(answer),
    )
    return answer


async def cases(gw: Gateway, tenant: str, claim_id: str) -> list[dict[str, Any]]:
    assert gw.pool is not None
    async with gw.pool.acquire() as conn:
        if not await conn.fetchval(
            "SELECT to_regclass($1) IS NOT NULL", f"{gw.g.claims_schema}.appeal_v1"
        ):
            return []
        rows = await conn.fetch(
            f"SELECT {CASE_COLUMNS} FROM {gw.g.claims_schema}.appeal_v1"
            " WHERE tenant = $1 AND claim_id = $2 ORDER BY drafted_at",
            tenant,
            claim_id,
        )
    out = []
    for r in rows:
        item = dict(r)
        item["lines"] = orjson.loads(item["lines"]) if isinstance(item["lines"], str) else []
        for k, v in item.items():
            if isinstance(v, dt.date | dt.datetime):
                item[k] = v.isoformat()
        out.append(item)
    return out


async def letter(gw: Gateway, tenant: str, claim_id: str, appeal_id: str) -> bytes | None:
    assert gw.pool is not None
    async with gw.pool.acquire() as conn:
        got = await conn.fetchval(
            f"SELECT letter FROM {gw.g.claims_schema}.appeal_v1"
            " WHERE tenant = $1 AND claim_id = $2 AND appeal_id = $3",
            tenant,
            claim_id,
            appeal_id,
        )
    return bytes(got) if got is not None else None
