"""Settling a claim once insurance is done with it, and billing the account.

When a statement goes out:
- a claim becomes billable when insurance is final for it (see ``domain.finality``) and
  the patient owes something on it; a self-pay claim is billable as soon as it is coded;
- the first time a claim becomes billable, the guarantor gets a statement right away
  (every open claim of the account on it); after that, the account is billed on its
  cycle (``cycle_days`` after the last statement) by the cycle timer, as long as it owes
  at least ``min_balance_cents``;
- each statement carries every open claim of the guarantor, aged from the date the
  claim was first billed.

Everything here runs under the account's lock (``repository.accounts.lock_accounts``). No names,
addresses or member ids are logged.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

import orjson

from runtime.service import Context
from schemas.events import StatementIssued
from schemas.events_payments import ClaimBalanceZero
from services.statements import domain
from services.statements.config import StatementSettings
from services.statements.domain import Entry
from services.statements.ledger_rules import SMALL_BALANCE
from services.statements.practice import practice_for
from services.statements.repository.claims import (
    ClaimLedger,
    close_claim,
    credit_used,
    insert_ledger_rows,
    unapplied_cents,
)
from services.statements.repository.statements import (
    AccountSnapshot,
    StatementRow,
    insert_statements,
    set_next_statement_dates,
)

log = logging.getLogger("rcm.statements")

#: An account to bill: the context to emit in, tenant, guarantor, the claim to lead with.
Bill = tuple[Context, str, str, str | None]


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


async def insert_entries(
    ctx: Context,
    tenant: str,
    guarantor: str,
    claim_id: str | None,
    entries: Sequence[Entry],
    *,
    payer_id: str | None = None,
    payment_id: str | None = None,
    ledger: ClaimLedger | None = None,
) -> None:
    """Posts entries to the claim (None: to the account). ``ledger``: the claim's rows
    as read under the account lock, kept up to date with what is posted here."""
    posted = [e for e in entries if e.amount_cents != 0]
    if ledger is not None and claim_id == ledger.claim_id:
        ledger.rows += [(e.kind, e.amount_cents) for e in posted]
    await insert_ledger_rows(
        ctx.conn,
        [(tenant, guarantor, claim_id, e, ctx.meta.id, payer_id, payment_id) for e in posted],
    )


async def move_overpayment_to_credit(
    ctx: Context, tenant: str, guarantor: str, ledger: ClaimLedger
) -> int:
    """A claim the patient has paid more on than it now owes (a later payer paid, or the
    payer reversed): the excess goes back to the account as a credit. Returns what this
    changed the account's unapplied money by."""
    claim_id = ledger.claim_id
    t = ledger.totals()
    excess = min(-t.balance_cents, t.patient_paid_cents)
    if excess <= 0:
        return 0
    await insert_entries(
        ctx,
        tenant,
        guarantor,
        claim_id,
        [Entry("credit_applied", excess, "to account credit")],
        ledger=ledger,
    )
    await insert_entries(
        ctx, tenant, guarantor, None, [Entry("credit_applied", -excess, f"from {claim_id}")]
    )
    return -excess


async def settle(
    ctx: Context,
    tenant: str,
    guarantor: str,
    ledger: ClaimLedger,
    balance_before: int,
    closed_by: str,
    today: dt.date,
    *,
    cfg: StatementSettings,
    became_final: bool,
    unapplied: int | None = None,
    bills: list[Bill] | None = None,
) -> None:
    """Insurance is final for the claim: use any credit on it, close it at zero, or bill.
    ``unapplied``: the account's money on no claim, when the caller knows it. ``bills``:
    where to leave the account to bill, for the caller to bill with others at once.

    A claim that has just become billable (first adjudication, a correction after a
    reversal, a hold released, a self-pay visit) is billed right away; a change to a
    claim already billed waits for the account's cycle."""
    claim_id = ledger.claim_id
    t = ledger.totals()
    if unapplied is None:
        unapplied = await unapplied_cents(ctx.conn, tenant, guarantor)
    credit = -unapplied
    if t.balance_cents > 0 and credit > 0:
        take = min(t.balance_cents, credit)
        unapplied += take
        await insert_entries(
            ctx,
            tenant,
            guarantor,
            claim_id,
            [Entry("credit_applied", -take, "account credit")],
            ledger=ledger,
        )
        await insert_entries(
            ctx, tenant, guarantor, None, [Entry("credit_applied", take, f"to {claim_id}")]
        )
        await credit_used(ctx.conn, tenant, guarantor)
        if take == t.balance_cents:
            await close(ctx, guarantor, claim_id, "credit", dt.datetime.now(dt.UTC))
            return
    elif t.balance_cents == 0 and balance_before > 0:
        await close(ctx, guarantor, claim_id, closed_by, dt.datetime.now(dt.UTC))
        return
    if t.balance_cents <= 0:
        return
    if not became_final:
        return
    if bills is not None:
        bills.append((ctx, tenant, guarantor, claim_id))
    else:
        await maybe_issue(
            ctx, tenant, guarantor, today, cfg=cfg, reason="adjudicated", lead=claim_id
        )


async def close(
    ctx: Context, guarantor: str, claim_id: str, closed_by: str, at: dt.datetime
) -> None:
    await close_claim(ctx.conn, claim_id, at)
    await ctx.emit(
        ClaimBalanceZero(claim_id=claim_id, guarantor_id=guarantor, closed_by=closed_by, at=at),
        correlation_id=claim_id,
    )


async def maybe_issue(
    ctx: Context,
    tenant: str,
    guarantor: str,
    today: dt.date,
    *,
    cfg: StatementSettings,
    reason: str,
    lead: str | None = None,
) -> str | None:
    """Issues the account's statement if it owes at least the minimum; sets the next
    cycle date either way. Returns the statement id, if one was issued."""
    [issued] = await maybe_issue_many(
        [(ctx, tenant, guarantor, lead)], today, cfg=cfg, reason=reason
    )
    return issued


async def maybe_issue_many(
    bills: Sequence[Bill], today: dt.date, *, cfg: StatementSettings, reason: str
) -> list[str | None]:
    """:func:`maybe_issue` for several accounts, each a different one whose lock the
    caller holds: their snapshots are read in one statement, their statements written in
    one and their cycle dates in one. Returns the statement id issued for each, or None."""
    if not bills:
        return []
    conn = bills[0][0].conn
    snaps = await AccountSnapshot.read_many(conn, [(t, g) for _, t, g, _ in bills])
    issued: list[str | None] = []
    dates: list[tuple[str, str, dt.date | None]] = []  # no statement now: the next cycle
    statements: list[tuple[Context, StatementRow, StatementIssued]] = []
    small: list[tuple[Context, str, str, AccountSnapshot]] = []  # written off, not billed
    for (ctx, tenant, guarantor, lead), snap in zip(bills, snaps, strict=True):
        owed = snap.owed_cents()
        next_on = today + dt.timedelta(days=cfg.cycle_days)
        if not snap.open or owed <= 0:
            dates.append((tenant, guarantor, None))
            issued.append(None)
        elif owed < cfg.small_balance_for(tenant) and snap.credit_cents() == 0:
            small.append((ctx, tenant, guarantor, snap))
            dates.append((tenant, guarantor, None))
            issued.append(None)
        elif owed < max(1, cfg.min_balance_cents):
            dates.append((tenant, guarantor, next_on))
            issued.append(None)
        else:
            row, event = statement_of(
                tenant, guarantor, snap, today, cfg=cfg, reason=reason, lead=lead, next_on=next_on
            )
            statements.append((ctx, row, event))
            issued.append(event.statement_id)
    await write_off_small(small)
    if dates:
        await set_next_statement_dates(conn, dates)
    if statements:
        await insert_statements(conn, [row for _, row, _ in statements])
    for ctx, _, event in statements:
        await ctx.emit(event, correlation_id=event.claim_ids[0])
        log.info(
            "statement issued",
            extra={
                "statement_id": event.statement_id,
                "claims": len(event.claim_ids),
                "reason": reason,
            },
        )
    return issued


async def write_off_small(accounts: Sequence[tuple[Context, str, str, AccountSnapshot]]) -> None:
    """Accounts owing less than their tenant's small-balance threshold: each open claim's
    balance written off (reason SMALL-BALANCE) and the claim closed, instead of a statement."""
    if not accounts:
        return
    rows = [
        (tenant, guarantor, claim_id, Entry("write_off", -cents, SMALL_BALANCE), ctx.meta.id)
        for ctx, tenant, guarantor, snap in accounts
        for claim_id, cents in snap.balances.items()
    ]
    await insert_ledger_rows(
        accounts[0][0].conn, [(t, g, c, e, src, None, None) for t, g, c, e, src in rows]
    )
    now = dt.datetime.now(dt.UTC)
    for ctx, _, guarantor, snap in accounts:
        for claim_id in snap.balances:
            await close(ctx, guarantor, claim_id, "write_off", now)


def statement_of(
    tenant: str,
    guarantor: str,
    snap: AccountSnapshot,
    today: dt.date,
    *,
    cfg: StatementSettings,
    reason: str,
    lead: str | None,
    next_on: dt.date | None,
) -> tuple[StatementRow, StatementIssued]:
    """The statement of the account's open claims (``snap``), ``lead`` first: its row
    and its statement.issued."""
    claim_ids = [c.claim_id for c in snap.open]
    if lead in claim_ids:
        claim_ids = [lead, *(c for c in claim_ids if c != lead)]
    statement_id = f"S-{claim_ids[0]}-{snap.number}"
    doc = statement_document(snap, tenant, guarantor, statement_id, today, cfg=cfg)
    due = domain.due_date(today, cfg.due_days)
    row = StatementRow(
        statement_id,
        tenant,
        guarantor,
        claim_ids,
        doc["balance_cents"],
        doc["aging_bucket"],
        today,
        due,
        orjson.dumps(doc).decode(),
        reason,
        next_on,
        bool(doc["collections"]),
    )
    event = StatementIssued(
        guarantor_id=guarantor,
        statement_id=statement_id,
        claim_ids=claim_ids,
        balance_cents=doc["balance_cents"],
        aging_bucket=doc["aging_bucket"],
        statement_date=today,
        due_date=due,
    )
    return row, event


def statement_document(
    snap: AccountSnapshot,
    tenant: str,
    guarantor: str,
    statement_id: str,
    today: dt.date,
    *,
    cfg: StatementSettings,
) -> dict[str, Any]:
    acct = snap.account
    guarantor_doc = {
        "account": guarantor,
        "name": f"{acct['first_name']} {acct['last_name']}" if acct else "",
        "address": acct["address"] if acct else {},
    }
    return domain.build_statement(
        statement_id=statement_id,
        today=today,
        due_days=cfg.due_days,
        collections_after_days=cfg.collections_after_days,
        practice=practice_for(
            cfg.practices.get(tenant),
            cfg.deployment_practice(),
            next((c.billing_provider for c in snap.open if c.billing_provider), None),
        ),
        guarantor=guarantor_doc,
        claims=snap.open,
        unapplied=snap.unapplied,
        cpt_file=cfg.cpt_descriptions_file,
    )
