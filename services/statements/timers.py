"""The statements service's periodic work: the statement cycle."""

from __future__ import annotations

import datetime as dt

import orjson

from runtime.service import Service
from schemas.common import Coverage
from services.statements import billing, domain
from services.statements.billing import Bill
from services.statements.config import StatementSettings
from services.statements.repository.accounts import claim_accounts_due, try_lock_account
from services.statements.repository.claims import ClaimLedger, claim_expired_holds, release_hold

#: Claims and accounts one run takes at most.
CYCLE_BATCH = 100


async def run_cycle(svc: Service, today: dt.date | None = None, *, cfg: StatementSettings) -> int:
    """Releases claims whose wait for a later payer is over, and bills every account
    whose cycle date has come. Rows are claimed with FOR UPDATE SKIP LOCKED, and an
    account busy in a handler is skipped (it is picked up on the next round)."""
    assert svc.pool is not None
    today = today or billing.utc_today()
    did = 0
    async with svc.pool.acquire() as conn, conn.transaction():
        for h in await claim_expired_holds(conn, today, CYCLE_BATCH):
            if not await try_lock_account(conn, h["tenant"], h["guarantor_id"]):
                continue
            ctx = svc.context(
                conn, tenant=h["tenant"], correlation_id=h["claim_id"], cause="cycle:hold-expired"
            )
            ledger = await ClaimLedger.read(conn, h["claim_id"])
            before = ledger.totals()
            await release_hold(conn, h["claim_id"])
            coverages = [Coverage.model_validate(c) for c in orjson.loads(h["coverages"])]
            if domain.qmb(
                coverages, h["date_of_service"], cfg.filing_indicators()
            ):  # never billed, even unanswered
                side = before.insurance_side_cents
                write_off = domain.qmb_write_off(side)
                await billing.insert_entries(
                    ctx, h["tenant"], h["guarantor_id"], h["claim_id"], write_off, ledger=ledger
                )
            await billing.settle(
                ctx,
                h["tenant"],
                h["guarantor_id"],
                ledger,
                before.balance_cents,
                "insurance",
                today,
                cfg=cfg,
                became_final=True,
            )
            did += 1
        bills: list[Bill] = []
        for a in await claim_accounts_due(conn, today, CYCLE_BATCH):
            if not await try_lock_account(conn, a["tenant"], a["guarantor_id"]):
                continue
            ctx = svc.context(conn, tenant=a["tenant"], correlation_id="cycle", cause="cycle")
            bills.append((ctx, a["tenant"], a["guarantor_id"], None))
        await billing.maybe_issue_many(bills, today, cfg=cfg, reason="cycle")
        did += len(bills)
    return did
