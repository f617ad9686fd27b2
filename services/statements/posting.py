"""A payer's decision on the patient's ledger: what it posts to the claim (decided from
the claim's row before anything is written), the writes, then the claim settled once
insurance is final for it (``billing.settle``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from runtime.service import Context, Reject
from schemas.common import Coverage
from schemas.events import ClaimAdjudicated
from services.statements import billing, domain
from services.statements.billing import Bill
from services.statements.config import StatementSettings
from services.statements.domain import Entry
from services.statements.repository.accounts import known_account
from services.statements.repository.claims import (
    ClaimLedger,
    ClaimPosted,
    insert_ledger_rows,
    park_later_payer,
    posting_row,
    take_later_payers,
    update_posted_claims,
)


@dataclass(frozen=True, slots=True)
class Posting:
    """What a payer's decision does to a claim, decided from its row before anything is
    written."""

    ledger: ClaimLedger
    posted: list[Entry]
    fin: domain.Finality
    detail: str | None
    before: domain.Totals
    #: a later payer's decision before any earlier payer's was posted: it waits for it
    #: (posted now it would be taken for the primary's, its charge posted twice)
    waits_for: int = 0


def plan(
    adj: ClaimAdjudicated, row: Mapping[str, Any], today: dt.date, *, cfg: StatementSettings
) -> Posting:
    """The posting of ``adj`` to its claim's row (read by ``repository.claims.posting_rows``)."""
    ledger = ClaimLedger.of(adj.claim_id, row)
    coverages = [Coverage.model_validate(c) for c in orjson.loads(row["coverages"])]
    dos = row["date_of_service"]
    rank = domain.payer_rank(adj, coverages, dos)
    before = ledger.totals()
    earlier_posted = any(p != adj.payer_id for p in row["payers"])
    if rank > 1 and not earlier_posted:
        return Posting(ledger, [], domain.Finality(False), None, before, waits_for=rank)
    if rank > 1:
        if adj.status.value == "reversed":
            raise Reject(
                "secondary-reversal",
                f"claim {adj.claim_id}: a later payer's reversal needs a person to post",
            )
        entries = domain.cob_entries(adj, before.insurance_side_cents)
    else:
        entries = domain.entries_for(adj)
    fin = domain.finality(
        adj,
        rank,
        coverages,
        dos,
        today=today,
        hold_for_secondary=cfg.hold_for_secondary,
        wait_days=cfg.secondary_wait_days,
        later_answered=bool(domain.later_payers(coverages, dos, rank) & set(row["payers"])),
    )
    if fin.final and domain.qmb(
        coverages, dos, cfg.filing_indicators()
    ):  # Medicare cost sharing: never billed
        after = domain.totals([*ledger.rows, *((e.kind, e.amount_cents) for e in entries)])
        entries += domain.qmb_write_off(after.insurance_side_cents)
    detail = (
        {
            str(ln.line_number): {
                "code": ln.procedure_code,
                "paid_cents": ln.paid_cents,
                "adjusted_cents": sum(a.amount_cents for a in ln.adjustments if a.group != "PR"),
            }
            for ln in adj.lines
        }
        if rank == 1 and adj.lines and adj.status.value != "reversed"
        else None
    )
    return Posting(
        ledger=ledger,
        posted=[e for e in entries if e.amount_cents != 0],
        fin=fin,
        detail=orjson.dumps(detail).decode() if detail is not None else None,
        before=before,
    )


async def write(
    conn: asyncpg.Connection,
    postings: Sequence[tuple[Context, tuple[str, str], ClaimAdjudicated, Posting]],
) -> None:
    """The ledger rows and claim updates of one or more postings: two statements."""
    await insert_ledger_rows(
        conn,
        [
            (tenant, guarantor, adj.claim_id, e, ctx.meta.id, adj.payer_id, None)
            for ctx, (tenant, guarantor), adj, p in postings
            for e in p.posted
        ],
    )
    postings = [x for x in postings if not x[3].waits_for]
    if not postings:
        return
    await update_posted_claims(
        conn,
        (
            ClaimPosted(
                adj.claim_id,
                adj.payer_id,
                p.fin.final,
                p.fin.hold_until,
                p.fin.why or None,
                adj.patient_responsibility_cents,
                p.detail,
            )
            for _, _, adj, p in postings
        ),
    )


async def settle_posting(
    ctx: Context,
    head: tuple[str, str],
    row: Mapping[str, Any],
    p: Posting,
    today: dt.date,
    *,
    cfg: StatementSettings,
    bills: list[Bill] | None = None,
) -> None:
    """After a posting's rows are written: an overpayment goes to the account, and once
    insurance is final the claim is settled (credit, close or bill: into ``bills`` when
    given)."""
    tenant, guarantor = head
    if p.waits_for:
        return
    ledger = p.ledger
    ledger.rows += [(e.kind, e.amount_cents) for e in p.posted]
    unapplied = int(row["unapplied"])
    unapplied += await billing.move_overpayment_to_credit(ctx, tenant, guarantor, ledger)
    if p.fin.final:
        await billing.settle(
            ctx,
            tenant,
            guarantor,
            ledger,
            p.before.balance_cents,
            "insurance",
            today,
            cfg=cfg,
            became_final=not row["insurance_final"],
            unapplied=unapplied,
            bills=bills,
        )


async def post(
    ctx: Context,
    adj: ClaimAdjudicated,
    today: dt.date | None = None,
    *,
    cfg: StatementSettings,
    head: tuple[str, str] | None = None,
) -> None:
    """Posts a payer's decision to the claim and bills the patient once insurance is final.
    ``head``: the claim's (tenant, guarantor) when the caller read it and took the
    account's lock already (``repository.accounts.lock_account_of``)."""
    today = today or billing.utc_today()
    tenant, guarantor = head or await known_account(ctx.conn, adj.claim_id, lock=True)
    row = await posting_row(ctx.conn, adj.claim_id)
    p = plan(adj, row, today, cfg=cfg)
    await write(ctx.conn, [(ctx, (tenant, guarantor), adj, p)])
    await settle_posting(ctx, (tenant, guarantor), row, p, today, cfg=cfg)
    await park_or_release([(ctx, adj, p)], today, cfg=cfg)


async def park_or_release(
    done: Sequence[tuple[Context, ClaimAdjudicated, Posting]],
    today: dt.date,
    *,
    cfg: StatementSettings,
) -> None:
    """After a run's postings: a later payer's decision that must wait is parked; the
    ones that waited for a claim an earlier payer has now posted are posted, in payer
    order, under the context of the posting that released them (as an adjudication
    parked for its encounter is)."""
    released: dict[str, Context] = {}
    for ctx, adj, p in done:
        if p.waits_for:
            await park_later_payer(
                ctx.conn, adj.claim_id, p.waits_for, adj.model_dump_json(), ctx.meta.id
            )
        else:
            released[adj.claim_id] = ctx
    if not released:
        return
    conn = next(iter(released.values())).conn
    for _, event in await take_later_payers(conn, list(released)):
        adj = ClaimAdjudicated.model_validate_json(event)
        await post(released[adj.claim_id], adj, today, cfg=cfg)
