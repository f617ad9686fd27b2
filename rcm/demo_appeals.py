"""The demo's billing office appeals (issue 29 part 3): after the day settles, each claim
with an open appealable line denial from the payer that has it now is appealed (drafted
with its lines and attachments, then sent), as a biller would through
``POST /v1/claims/{id}/appeals``; the simulated payers answer with reprocessing 835s,
and the day settles again."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import asyncpg
from aiokafka import AIOKafkaProducer

from runtime.kafka import producer_config
from runtime.settings import Settings
from schemas.codec import encode, new_meta
from schemas.events_workqueue import AppealAction, AppealedLine, AppealRequested

#: Appeals the demo files at most (a day has a few appealable denials).
MOST = 20
ATTACHMENTS = ["office note of the visit", "prior authorization request"]


async def appealable(
    conn: asyncpg.Connection, claim_ids: list[str]
) -> dict[str, list[AppealedLine]]:
    """Each claim's open appealable line denials from the payer that has the claim now."""
    rows = await conn.fetch(
        "SELECT d.claim_id, d.line_number, d.procedure, d.cas_group, d.reason, d.amount_cents,"
        " d.category FROM remittance.line_denial_v1 d JOIN claims.claim_v1 c"
        " ON c.claim_id = d.claim_id AND c.payer_id = d.payer_id"
        " WHERE d.claim_id = ANY($1::text[]) AND d.open AND d.category = 'appealable'"
        " AND c.payer_claim_number IS NOT NULL ORDER BY d.claim_id, d.denial_id",
        claim_ids,
    )
    out: dict[str, list[AppealedLine]] = {}
    for r in rows:
        if r["claim_id"] in out or len(out) < MOST:
            out.setdefault(r["claim_id"], []).append(
                AppealedLine(
                    line_number=r["line_number"],
                    procedure_code=r["procedure"],
                    cas_group=r["cas_group"],
                    reason=r["reason"],
                    amount_cents=r["amount_cents"],
                    category=r["category"],
                )
            )
    return out


async def file_appeals(s: Settings, tenant: str, claim_ids: list[str], wait_s: float) -> int:
    """Drafts and sends an appeal of each appealable claim; waits up to ``wait_s`` for
    the payers to decide them. Returns how many were filed."""
    conn = await asyncpg.connect(s.database_url)
    try:
        todo = await appealable(conn, claim_ids)
        if not todo:
            return 0
        producer = AIOKafkaProducer(**producer_config(s))
        await producer.start()
        try:
            now = dt.datetime.now(dt.UTC)
            for claim_id, lines in todo.items():
                for action in (AppealAction.draft, AppealAction.send):
                    ev = AppealRequested(
                        claim_id=claim_id,
                        action=action,
                        requested_by="rcm/demo-biller",
                        requested_at=now,
                        lines=lines if action is AppealAction.draft else [],
                        attachments=ATTACHMENTS if action is AppealAction.draft else [],
                    )
                    meta = new_meta(
                        ev, source="rcm/demo-biller", tenant=tenant, correlation_id=claim_id
                    )
                    x = encode(ev, meta)
                    await producer.send_and_wait(x.topic, x.value, key=x.key, headers=x.headers)
        finally:
            await producer.stop()
        # every appeal decided (an appeal the claims service refused, or a payer does not
        # answer, waits out wait_s: the summary counts what was filed)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            decided = await conn.fetchval(
                "SELECT count(*) FROM claims.appeal_v1 WHERE claim_id = ANY($1::text[])"
                " AND state = 'decided'",
                list(todo),
            )
            if decided >= len(todo):
                break
            await asyncio.sleep(0.5)
        return len(todo)
    finally:
        await conn.close()
