"""Statements handlers: guarantor accounts, the patient ledger, payments, statements.

When a statement goes out:
- a claim becomes billable when insurance is final for it (see ``domain.finality``) and
  the patient owes something on it; a self-pay claim is billable as soon as it is coded;
- the first time a claim becomes billable, the guarantor gets a statement right away
  (every open claim of the account on it); after that, the account is billed on its
  cycle (``cycle_days`` after the last statement) by the ``run_cycle`` timer, as long as
  it owes at least ``min_balance_cents``;
- each statement carries every open claim of the guarantor, aged from the date the
  claim was first billed.

Every handler that touches an account's money first takes a transaction-scoped lock on
the account, so payments, adjudications and the cycle for one guarantor never interleave.
No names, addresses or member ids are logged.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from runtime.db import columns
from runtime.service import Context, Reject, Service
from schemas.common import Coverage, ServiceLine
from schemas.events import (
    ClaimAdjudicated,
    ClaimCoded,
    ClaimLine,
    EncounterCreated,
    StatementIssued,
)
from schemas.events_payments import ClaimBalanceZero, PatientPaymentReceived
from schemas.ids import claim_id_for
from services.statements import domain
from services.statements.config import settings
from services.statements.domain import Entry

log = logging.getLogger("rcm.statements")

CYCLE_BATCH = 100


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


async def lock_account(conn: asyncpg.Connection, tenant: str, guarantor: str) -> None:
    await lock_accounts(conn, [(tenant, guarantor)])


async def try_lock_account(conn: asyncpg.Connection, tenant: str, guarantor: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))",
            f"statements:{tenant}:{guarantor}",
        )
    )


# --- encounters -------------------------------------------------------------------


def lines_json(lines: Iterable[ServiceLine | ClaimLine]) -> str:
    """A visit's lines as the account keeps them (code, modifiers, units, charge)."""
    return orjson.dumps(
        [
            {
                "code": ln.procedure_code,
                "modifiers": ln.modifiers,
                "units": ln.units,
                "charge_cents": ln.charge_cents,
            }
            for ln in lines
        ]
    ).decode()


async def lock_accounts(conn: asyncpg.Connection, accounts: Iterable[tuple[str, str]]) -> None:
    """Every account's lock in one statement, in one order (no two batches deadlock)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(k, 0))"
        " FROM (SELECT DISTINCT unnest($1::text[]) AS k ORDER BY 1) a",
        [f"statements:{tenant}:{guarantor}" for tenant, guarantor in accounts],
    )


async def on_encounters(items: Sequence[tuple[Context, EncounterCreated]]) -> None:
    """Opens each visit's charges on its guarantor's account: a few statements for the
    whole run of encounters. An adjudication or self-pay coding that arrived before its
    encounter is posted now."""
    conn = items[0][0].conn
    accounts: dict[tuple[str, str], tuple[str, str, str]] = {}
    charges = []
    for ctx, enc in items:
        tenant = ctx.meta.tenant
        guarantor = enc.guarantor or enc.patient
        # the latest details of an account win, as one upsert per encounter would
        accounts[(tenant, guarantor.id)] = (
            guarantor.first_name,
            guarantor.last_name,
            guarantor.address.model_dump_json(),
        )
        charges.append(
            (
                claim_id_for(tenant, enc.encounter_id),
                tenant,
                guarantor.id,
                enc.patient.id,
                f"{enc.patient.first_name} {enc.patient.last_name}",
                enc.date_of_service,
                lines_json(enc.lines),
                sum(ln.charge_cents for ln in enc.lines),
                orjson.dumps([c.model_dump(mode="json") for c in enc.coverages]).decode(),
            )
        )
    await lock_accounts(conn, accounts)
    await conn.execute(
        "INSERT INTO accounts(tenant, guarantor_id, first_name, last_name, address)"
        " SELECT t, g, f, l, a::jsonb FROM unnest($1::text[], $2::text[], $3::text[],"
        " $4::text[], $5::text[]) AS e(t, g, f, l, a) ON CONFLICT (tenant, guarantor_id)"
        " DO UPDATE SET first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name,"
        " address = EXCLUDED.address",
        *columns((t, g, *rest) for (t, g), rest in accounts.items()),
    )
    await conn.execute(
        "INSERT INTO claim_charges(claim_id, tenant, guarantor_id, patient_id, patient_name,"
        " date_of_service, lines, charge_cents, coverages)"
        " SELECT c, t, g, p, n, d, l::jsonb, a, v::jsonb FROM unnest($1::text[], $2::text[],"
        " $3::text[], $4::text[], $5::text[], $6::date[], $7::text[], $8::bigint[], $9::text[])"
        " WITH ORDINALITY AS e(c, t, g, p, n, d, l, a, v, i) ORDER BY i"
        " ON CONFLICT (claim_id) DO NOTHING",
        *columns(charges),
    )
    claim_ids = [c[0] for c in charges]
    adjudicated = dict(
        await conn.fetch(
            "DELETE FROM pending_adjudications WHERE claim_id = ANY($1::text[])"
            " RETURNING claim_id, event",
            claim_ids,
        )
    )
    coded = dict(
        await conn.fetch(
            "DELETE FROM pending_self_pay WHERE claim_id = ANY($1::text[])"
            " RETURNING claim_id, event",
            claim_ids,
        )
    )
    for (ctx, _), claim_id in zip(items, claim_ids, strict=True):
        if (adj := adjudicated.pop(claim_id, None)) is not None:
            await post(ctx, ClaimAdjudicated.model_validate_json(adj))
        if (self_pay := coded.pop(claim_id, None)) is not None:
            await post_self_pay(ctx, ClaimCoded.model_validate_json(self_pay))


# --- insurance --------------------------------------------------------------------


async def on_adjudicated(items: Sequence[tuple[Context, ClaimAdjudicated]]) -> None:
    """Posts a run of payer decisions. Claims that are alone in the run on their account
    are read and written for the whole run with a few statements, then settled one by
    one (what settling does depends on the account); a claim or account met twice in the
    run is posted decision by decision (:func:`post`), in order. A claim whose encounter
    has not arrived waits in ``pending_adjudications``."""
    conn = items[0][0].conn
    today = utc_today()
    heads = {
        r["claim_id"]: (r["tenant"], r["guarantor_id"])
        for r in await conn.fetch(
            "SELECT claim_id, tenant, guarantor_id FROM claim_charges"
            " WHERE claim_id = ANY($1::text[])",
            [adj.claim_id for _, adj in items],
        )
    }
    await lock_accounts(conn, set(heads.values()))
    claims_seen = Counter(adj.claim_id for _, adj in items)
    accounts_seen = Counter(heads[adj.claim_id] for _, adj in items if adj.claim_id in heads)
    alone = [
        adj.claim_id
        for _, adj in items
        if adj.claim_id in heads
        and claims_seen[adj.claim_id] == 1
        and accounts_seen[heads[adj.claim_id]] == 1
    ]
    rows = {r["claim_id"]: r for r in await conn.fetch(_posting_rows("= ANY($1::text[])"), alone)}
    planned = [
        (ctx, adj, row, _posting(adj, row, today))
        for ctx, adj in items
        if (row := rows.get(adj.claim_id)) is not None
    ]
    if planned:
        await _write_postings(
            conn, [(ctx, heads[adj.claim_id], adj, plan) for ctx, adj, _, plan in planned]
        )
    bills: list[Bill] = []  # each on an account of its own: billed together
    for ctx, adj, row, plan in planned:
        await _settle_posting(ctx, heads[adj.claim_id], row, plan, today, bills)
    await maybe_issue_many(bills, today, reason="adjudicated")
    for ctx, adj in items:
        if adj.claim_id in rows:
            continue
        head = heads.get(adj.claim_id)
        if head is None:
            # Several adjudications may wait (a reversal and its correction): keep the latest.
            await ctx.conn.execute(
                "INSERT INTO pending_adjudications(claim_id, event, event_id)"
                " VALUES ($1, $2::jsonb, $3)"
                " ON CONFLICT (claim_id) DO UPDATE SET event = EXCLUDED.event",
                adj.claim_id,
                adj.model_dump_json(),
                ctx.meta.id,
            )
            continue
        await post(ctx, adj, today, head=head)


async def lock_account_of(conn: asyncpg.Connection, claim_id: str) -> tuple[str, str] | None:
    """(tenant, guarantor) of a claim whose encounter is known here, with the account's
    lock taken in the same statement; None (and no lock) for a claim not known here."""
    row = await conn.fetchrow(
        "SELECT tenant, guarantor_id, pg_advisory_xact_lock(hashtextextended("
        "'statements:' || tenant || ':' || guarantor_id, 0)) FROM claim_charges"
        " WHERE claim_id = $1",
        claim_id,
    )
    return (row["tenant"], row["guarantor_id"]) if row is not None else None


async def account_of(conn: asyncpg.Connection, claim_id: str) -> tuple[str, str] | None:
    """(tenant, guarantor) of a claim whose encounter is known here, else None."""
    row = await conn.fetchrow(
        "SELECT tenant, guarantor_id FROM claim_charges WHERE claim_id = $1", claim_id
    )
    return (row["tenant"], row["guarantor_id"]) if row is not None else None


def _posting_rows(where: str) -> str:
    """Claim rows as posting reads them, locked, with their ledgers and their accounts'
    unapplied money; ``where``: ``= $1`` (one claim) or ``= ANY($1::text[])`` (a run)."""
    return (
        "SELECT claim_id, date_of_service, coverages, payers, insurance_final,"
        f" {_LEDGER_COLUMNS} FROM claim_charges c WHERE claim_id {where} FOR UPDATE"
    )


@dataclass(frozen=True, slots=True)
class _Posting:
    """What a payer's decision does to a claim, decided from its row before anything is
    written."""

    ledger: ClaimLedger
    posted: list[Entry]
    fin: domain.Finality
    detail: str | None
    before: domain.Totals


def _posting(adj: ClaimAdjudicated, row: Mapping[str, Any], today: dt.date) -> _Posting:
    cfg = settings()
    ledger = ClaimLedger.of(adj.claim_id, row)
    coverages = [Coverage.model_validate(c) for c in orjson.loads(row["coverages"])]
    dos = row["date_of_service"]
    rank = domain.payer_rank(adj, coverages, dos)
    before = ledger.totals()
    if rank > 1 and any(p != adj.payer_id for p in row["payers"]):
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
    )
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
    return _Posting(
        ledger=ledger,
        posted=[e for e in entries if e.amount_cents != 0],
        fin=fin,
        detail=orjson.dumps(detail).decode() if detail is not None else None,
        before=before,
    )


async def _settle_posting(
    ctx: Context,
    head: tuple[str, str],
    row: Mapping[str, Any],
    plan: _Posting,
    today: dt.date,
    bills: list[Bill] | None = None,
) -> None:
    """After a posting's rows are written: an overpayment goes to the account, and once
    insurance is final the claim is settled (credit, close or bill: into ``bills`` when
    given)."""
    tenant, guarantor = head
    ledger = plan.ledger
    ledger.rows += [(e.kind, e.amount_cents) for e in plan.posted]
    unapplied = int(row["unapplied"])
    unapplied += await move_overpayment_to_credit(ctx, tenant, guarantor, ledger)
    if plan.fin.final:
        await settle(
            ctx,
            tenant,
            guarantor,
            ledger,
            plan.before.balance_cents,
            "insurance",
            today,
            became_final=not row["insurance_final"],
            unapplied=unapplied,
            bills=bills,
        )


async def _write_postings(
    conn: asyncpg.Connection,
    postings: Sequence[tuple[Context, tuple[str, str], ClaimAdjudicated, _Posting]],
) -> None:
    """The ledger rows and claim updates of one or more postings: two statements."""
    await _insert_ledger_rows(
        conn,
        [
            (tenant, guarantor, adj.claim_id, e, ctx.meta.id, adj.payer_id, None)
            for ctx, (tenant, guarantor), adj, p in postings
            for e in p.posted
        ],
    )
    await conn.execute(
        "UPDATE claim_charges c SET payers = array_append(c.payers, u.p), insurance_final = u.f,"
        " hold_until = u.h, hold_reason = u.r, patient_responsibility_cents = u.pr,"
        " line_detail = coalesce(u.d::jsonb, c.line_detail) FROM unnest($1::text[], $2::text[],"
        " $3::boolean[], $4::date[], $5::text[], $6::bigint[], $7::text[])"
        " AS u(id, p, f, h, r, pr, d) WHERE c.claim_id = u.id",
        *columns(
            (
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


async def post(
    ctx: Context,
    adj: ClaimAdjudicated,
    today: dt.date | None = None,
    *,
    head: tuple[str, str] | None = None,
) -> None:
    """Posts a payer's decision to the claim and bills the patient once insurance is final.
    ``head``: the claim's (tenant, guarantor) when the caller read it and took the
    account's lock already (:func:`lock_account_of`)."""
    today = today or utc_today()
    tenant, guarantor = head or await _known_account(ctx.conn, adj.claim_id, lock=True)
    row = await ctx.conn.fetchrow(_posting_rows("= $1"), adj.claim_id)
    plan = _posting(adj, row, today)
    await _write_postings(ctx.conn, [(ctx, (tenant, guarantor), adj, plan)])
    await _settle_posting(ctx, (tenant, guarantor), row, plan, today)


# --- self-pay ---------------------------------------------------------------------


async def on_coded(ctx: Context, claim: ClaimCoded) -> None:
    """Only self-pay claims concern statements: they are billed to the patient at once."""
    if not claim.self_pay:
        return
    known = await ctx.conn.fetchval(
        "SELECT 1 FROM claim_charges WHERE claim_id = $1", claim.claim_id
    )
    if not known:
        await ctx.conn.execute(
            "INSERT INTO pending_self_pay(claim_id, event, event_id) VALUES ($1, $2::jsonb, $3)"
            " ON CONFLICT (claim_id) DO UPDATE SET event = EXCLUDED.event",
            claim.claim_id,
            claim.model_dump_json(),
            ctx.meta.id,
        )
        return
    await post_self_pay(ctx, claim)


async def post_self_pay(ctx: Context, claim: ClaimCoded, today: dt.date | None = None) -> None:
    cfg = settings()
    today = today or utc_today()
    tenant, guarantor = await _known_account(ctx.conn, claim.claim_id)
    await lock_account(ctx.conn, tenant, guarantor)
    ledger = await ClaimLedger.read(ctx.conn, claim.claim_id)
    if any(kind == "charge" for kind, _ in ledger.rows):
        return  # coded again (a correction): the visit is already on the patient's account
    entries = domain.self_pay_entries(claim.total_charge_cents, cfg.self_pay_discount_percent)
    await insert_entries(ctx, tenant, guarantor, claim.claim_id, entries, ledger=ledger)
    await ctx.conn.execute(
        "UPDATE claim_charges SET self_pay = true, insurance_final = true, lines = $2::jsonb,"
        " charge_cents = $3, patient_responsibility_cents = $4 WHERE claim_id = $1",
        claim.claim_id,
        lines_json(claim.lines),
        claim.total_charge_cents,
        sum(e.amount_cents for e in entries),
    )
    await settle(ctx, tenant, guarantor, ledger, 0, "insurance", today, became_final=True)


# --- patient payments -------------------------------------------------------------


async def on_payment(ctx: Context, pay: PatientPaymentReceived) -> None:
    """Posts a patient's payment once (by payment_id): to the named claim first, then
    to the oldest balances; what is left is a credit on the account, flagged for a
    refund when nothing else on the account is still waiting for insurance."""
    tenant, guarantor = ctx.meta.tenant, pay.guarantor_id
    await lock_account(ctx.conn, tenant, guarantor)
    seen = await ctx.conn.fetchval(
        "SELECT 1 FROM patient_payments WHERE tenant = $1 AND payment_id = $2",
        tenant,
        pay.payment_id,
    )
    if seen:
        return
    open_rows = await open_claims(ctx.conn, tenant, guarantor)
    allocations, left = domain.allocate(
        pay.amount_cents, [(r["claim_id"], r["balance"]) for r in open_rows], pay.claim_id
    )
    balances = {r["claim_id"]: r["balance"] for r in open_rows}
    reason = f"{pay.method.value}:{pay.payment_id}"
    for claim_id, cents in allocations:
        await insert_entries(
            ctx,
            tenant,
            guarantor,
            claim_id,
            [Entry("patient_payment", -cents, reason)],
            payment_id=pay.payment_id,
        )
    if left:
        await insert_entries(
            ctx,
            tenant,
            guarantor,
            None,
            [Entry("patient_payment", -left, reason)],
            payment_id=pay.payment_id,
        )
        waiting = await ctx.conn.fetchval(
            "SELECT 1 FROM claim_charges WHERE tenant = $1 AND guarantor_id = $2"
            " AND NOT insurance_final LIMIT 1",
            tenant,
            guarantor,
        )
        if not waiting:
            await ctx.conn.execute(
                "INSERT INTO refund_flags(tenant, guarantor_id, payment_id, amount_cents)"
                " VALUES ($1, $2, $3, $4)",
                tenant,
                guarantor,
                pay.payment_id,
                left,
            )
    await ctx.conn.execute(
        "INSERT INTO patient_payments(tenant, payment_id, guarantor_id, amount_cents, method,"
        " received_at, claim_id, applied_cents, unapplied_cents, event_id)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
        tenant,
        pay.payment_id,
        guarantor,
        pay.amount_cents,
        pay.method.value,
        pay.received_at,
        pay.claim_id,
        pay.amount_cents - left,
        left,
        ctx.meta.id,
    )
    for claim_id, cents in allocations:
        if balances[claim_id] == cents:
            await close(ctx, guarantor, claim_id, "patient_payment", pay.received_at)
    owed = await amount_owed(ctx.conn, tenant, guarantor)
    if owed <= 0:
        await ctx.conn.execute(
            "UPDATE accounts SET next_statement_on = NULL, collections_flagged_on = NULL"
            " WHERE tenant = $1 AND guarantor_id = $2",
            tenant,
            guarantor,
        )


# --- the statement cycle (timer) ----------------------------------------------------


async def run_cycle(svc: Service, today: dt.date | None = None) -> int:
    """Releases claims whose wait for a later payer is over, and bills every account
    whose cycle date has come. Rows are claimed with FOR UPDATE SKIP LOCKED, and an
    account busy in a handler is skipped (it is picked up on the next round)."""
    assert svc.pool is not None
    today = today or utc_today()
    did = 0
    async with svc.pool.acquire() as conn, conn.transaction():
        held = await conn.fetch(
            "SELECT claim_id, tenant, guarantor_id FROM claim_charges"
            " WHERE NOT insurance_final AND hold_until <= $1 ORDER BY hold_until LIMIT $2"
            " FOR UPDATE SKIP LOCKED",
            today,
            CYCLE_BATCH,
        )
        for h in held:
            if not await try_lock_account(conn, h["tenant"], h["guarantor_id"]):
                continue
            ctx = svc.context(
                conn, tenant=h["tenant"], correlation_id=h["claim_id"], cause="cycle:hold-expired"
            )
            ledger = await ClaimLedger.read(conn, h["claim_id"])
            before = ledger.totals()
            await conn.execute(
                "UPDATE claim_charges SET insurance_final = true, hold_until = NULL,"
                " hold_reason = 'no later payer within the wait' WHERE claim_id = $1",
                h["claim_id"],
            )
            await settle(
                ctx,
                h["tenant"],
                h["guarantor_id"],
                ledger,
                before.balance_cents,
                "insurance",
                today,
                became_final=True,
            )
            did += 1
        due = await conn.fetch(
            "SELECT tenant, guarantor_id FROM accounts WHERE next_statement_on <= $1"
            " ORDER BY next_statement_on LIMIT $2 FOR UPDATE SKIP LOCKED",
            today,
            CYCLE_BATCH,
        )
        bills: list[Bill] = []
        for a in due:
            if not await try_lock_account(conn, a["tenant"], a["guarantor_id"]):
                continue
            ctx = svc.context(conn, tenant=a["tenant"], correlation_id="cycle", cause="cycle")
            bills.append((ctx, a["tenant"], a["guarantor_id"], None))
        await maybe_issue_many(bills, today, reason="cycle")
        did += len(bills)
    return did


# --- the ledger and the statement ---------------------------------------------------


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
    await _insert_ledger_rows(
        ctx.conn,
        [(tenant, guarantor, claim_id, e, ctx.meta.id, payer_id, payment_id) for e in posted],
    )


#: One ledger row to write: tenant, guarantor, claim (None: the account), the entry, the
#: event that caused it, and the payer or the patient's payment it came from.
LedgerRow = tuple[str, str, str | None, Entry, str, str | None, str | None]


async def _insert_ledger_rows(conn: asyncpg.Connection, rows: Sequence[LedgerRow]) -> None:
    """Writes ledger rows, in order, in one statement (none: no statement)."""
    if not rows:
        return
    await conn.execute(
        "INSERT INTO ledger(tenant, guarantor_id, claim_id, kind, reason, amount_cents,"
        " source_event, payer_id, payment_id) SELECT t, g, c, k, r, a, s, p, y"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
        " $6::bigint[], $7::text[], $8::text[], $9::text[])"
        " WITH ORDINALITY AS e(t, g, c, k, r, a, s, p, y, n) ORDER BY n",
        *columns(
            (t, g, c, e.kind, e.reason, e.amount_cents, src, payer, payment)
            for t, g, c, e, src, payer, payment in rows
        ),
    )


#: Read with a claim_charges row ``c`` under the account's lock: the claim's ledger rows
#: (kinds, amounts, in order) and the account's money on no claim (unapplied).
_LEDGER_COLUMNS = (
    "ARRAY(SELECT kind FROM ledger l WHERE l.claim_id = c.claim_id ORDER BY id) AS kinds,"
    " ARRAY(SELECT amount_cents FROM ledger l WHERE l.claim_id = c.claim_id ORDER BY id)"
    " AS amounts, (SELECT coalesce(sum(amount_cents), 0)::bigint FROM ledger u"
    " WHERE u.tenant = c.tenant AND u.guarantor_id = c.guarantor_id AND u.claim_id IS NULL)"
    " AS unapplied"
)


class ClaimLedger:
    """One claim's ledger rows (kind, cents), read once by a handler that holds the
    account's lock. Only holders of that lock post to the claim, and they post through
    insert_entries(..., ledger=), which adds the rows here: the totals after a posting
    need no second read."""

    def __init__(self, claim_id: str, rows: list[tuple[str, int]]) -> None:
        self.claim_id = claim_id
        self.rows = rows

    @classmethod
    def of(cls, claim_id: str, row: Mapping[str, Any]) -> ClaimLedger:
        """From a claim_charges row read with :data:`_LEDGER_COLUMNS`."""
        return cls(claim_id, list(zip(row["kinds"], row["amounts"], strict=True)))

    @classmethod
    async def read(cls, conn: asyncpg.Connection, claim_id: str) -> ClaimLedger:
        rows = await conn.fetch(
            "SELECT kind, amount_cents FROM ledger WHERE claim_id = $1 ORDER BY id", claim_id
        )
        return cls(claim_id, [(r["kind"], r["amount_cents"]) for r in rows])

    def totals(self) -> domain.Totals:
        return domain.totals(self.rows)


async def _known_account(
    conn: asyncpg.Connection, claim_id: str, *, lock: bool = False
) -> tuple[str, str]:
    head = await (lock_account_of if lock else account_of)(conn, claim_id)
    if head is None:
        raise LookupError(f"claim {claim_id} has no charges here")
    return head


async def unapplied_cents(conn: asyncpg.Connection, tenant: str, guarantor: str) -> int:
    """The account's money on no claim: negative is a credit."""
    return int(
        await conn.fetchval(
            "SELECT coalesce(sum(amount_cents), 0)::bigint FROM ledger"
            " WHERE tenant = $1 AND guarantor_id = $2 AND claim_id IS NULL",
            tenant,
            guarantor,
        )
    )


async def open_claims(
    conn: asyncpg.Connection, tenant: str, guarantor: str
) -> list[asyncpg.Record]:
    """Claims insurance is done with and the patient still owes on, oldest first."""
    return list(
        await conn.fetch(
            "SELECT c.claim_id, c.date_of_service, c.first_billed_on, b.balance"
            " FROM claim_charges c JOIN (SELECT claim_id, sum(amount_cents)::bigint AS balance"
            "   FROM ledger WHERE tenant = $1 AND guarantor_id = $2 AND claim_id IS NOT NULL"
            "   GROUP BY claim_id) b USING (claim_id)"
            " WHERE c.tenant = $1 AND c.guarantor_id = $2 AND c.insurance_final AND b.balance > 0"
            " ORDER BY c.first_billed_on NULLS LAST, c.date_of_service, c.claim_id",
            tenant,
            guarantor,
        )
    )


async def amount_owed(conn: asyncpg.Connection, tenant: str, guarantor: str) -> int:
    return (await AccountSnapshot.read(conn, tenant, guarantor)).owed_cents()


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
        await ctx.conn.execute(
            "UPDATE refund_flags SET status = 'applied' WHERE tenant = $1 AND guarantor_id = $2"
            " AND status = 'open'",
            tenant,
            guarantor,
        )
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
        await maybe_issue(ctx, tenant, guarantor, today, reason="adjudicated", lead=claim_id)


async def close(
    ctx: Context, guarantor: str, claim_id: str, closed_by: str, at: dt.datetime
) -> None:
    await ctx.conn.execute(
        "UPDATE claim_charges SET closed_at = $2 WHERE claim_id = $1", claim_id, at
    )
    await ctx.emit(
        ClaimBalanceZero(claim_id=claim_id, guarantor_id=guarantor, closed_by=closed_by, at=at),
        correlation_id=claim_id,
    )


def practice() -> domain.Practice:
    cfg = settings()
    return domain.Practice(
        name=cfg.practice_name,
        street=cfg.practice_street,
        city_line=cfg.practice_city_line,
        phone=cfg.practice_phone,
        hours=cfg.billing_hours,
        pay_url=cfg.pay_url,
    )


async def maybe_issue(
    ctx: Context,
    tenant: str,
    guarantor: str,
    today: dt.date,
    *,
    reason: str,
    lead: str | None = None,
) -> str | None:
    """Issues the account's statement if it owes at least the minimum; sets the next
    cycle date either way. Returns the statement id, if one was issued."""
    [issued] = await maybe_issue_many([(ctx, tenant, guarantor, lead)], today, reason=reason)
    return issued


#: An account to bill: the context to emit in, tenant, guarantor, the claim to lead with.
Bill = tuple[Context, str, str, str | None]


async def maybe_issue_many(
    bills: Sequence[Bill], today: dt.date, *, reason: str
) -> list[str | None]:
    """:func:`maybe_issue` for several accounts, each a different one whose lock the
    caller holds: their snapshots are read in one statement, their statements written in
    one and their cycle dates in one. Returns the statement id issued for each, or None."""
    if not bills:
        return []
    cfg = settings()
    conn = bills[0][0].conn
    snaps = await AccountSnapshot.read_many(conn, [(t, g) for _, t, g, _ in bills])
    issued: list[str | None] = []
    dates: list[tuple[str, str, dt.date | None]] = []  # no statement now: the next cycle
    statements: list[tuple[Context, _Statement]] = []
    for (ctx, tenant, guarantor, lead), snap in zip(bills, snaps, strict=True):
        owed = snap.owed_cents()
        next_on = today + dt.timedelta(days=cfg.cycle_days)
        if not snap.open or owed <= 0:
            dates.append((tenant, guarantor, None))
            issued.append(None)
        elif owed < max(1, cfg.min_balance_cents):
            dates.append((tenant, guarantor, next_on))
            issued.append(None)
        else:
            st = _Statement.of(tenant, guarantor, snap, today, reason, lead, next_on)
            statements.append((ctx, st))
            issued.append(st.event.statement_id)
    if dates:
        await conn.executemany(
            "UPDATE accounts SET next_statement_on = $3 WHERE tenant = $1 AND guarantor_id = $2",
            dates,
        )
    if statements:
        await conn.executemany(_ISSUE_SQL, [st.args for _, st in statements])
    for ctx, st in statements:
        await ctx.emit(st.event, correlation_id=st.event.claim_ids[0])
        log.info(
            "statement issued",
            extra={
                "statement_id": st.event.statement_id,
                "claims": len(st.event.claim_ids),
                "reason": reason,
            },
        )
    return issued


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """What billing an account needs, read in one statement under the account's lock:
    its open claims (insurance done, a balance left; oldest first) with their visit and
    ledger rows, its money on no claim, the next statement number and the guarantor."""

    open: list[domain.ClaimOnStatement]
    balances: dict[str, int]
    unapplied: list[tuple[str, int]]
    number: int
    account: Mapping[str, Any] | None

    def owed_cents(self) -> int:
        return sum(self.balances.values()) + sum(cents for _, cents in self.unapplied)

    @classmethod
    async def read(cls, conn: asyncpg.Connection, tenant: str, guarantor: str) -> AccountSnapshot:
        [snap] = await cls.read_many(conn, [(tenant, guarantor)])
        return snap

    @classmethod
    async def read_many(
        cls, conn: asyncpg.Connection, accounts: Sequence[tuple[str, str]]
    ) -> list[AccountSnapshot]:
        """The snapshots of these (tenant, guarantor) accounts, in order, in one statement."""
        rows = await conn.fetch(_SNAPSHOTS_SQL, [t for t, _ in accounts], [g for _, g in accounts])
        return [cls._of(row) for row in rows]

    @classmethod
    def _of(cls, row: Mapping[str, Any]) -> AccountSnapshot:
        postings: dict[str, list[tuple[str, int]]] = {}
        for claim_id, kind, cents in orjson.loads(row["postings"]):
            postings.setdefault(claim_id, []).append((kind, int(cents)))
        open_claims = orjson.loads(row["open"])
        return cls(
            open=[
                domain.ClaimOnStatement(
                    claim_id=c["claim_id"],
                    patient_name=c["patient_name"],
                    date_of_service=dt.date.fromisoformat(c["date_of_service"]),
                    lines=c["lines"],
                    postings=postings.get(c["claim_id"], []),
                    first_billed_on=(
                        dt.date.fromisoformat(c["first_billed_on"])
                        if c["first_billed_on"]
                        else None
                    ),
                    self_pay=c["self_pay"],
                    line_detail=_line_detail(c["lines"], c["line_detail"]),
                )
                for c in open_claims
            ],
            balances={c["claim_id"]: int(c["balance"]) for c in open_claims},
            unapplied=[(kind, int(cents)) for kind, cents in orjson.loads(row["unapplied"])],
            number=int(row["number"]),
            account=orjson.loads(row["account"]) if row["account"] else None,
        )


_SNAPSHOTS_SQL = (
    "SELECT s.* FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS q(t, g, n)"
    " CROSS JOIN LATERAL ("
    "WITH b AS (SELECT claim_id, sum(amount_cents)::bigint AS balance FROM ledger"
    "   WHERE tenant = q.t AND guarantor_id = q.g AND claim_id IS NOT NULL GROUP BY claim_id),"
    " oc AS (SELECT c.claim_id, c.date_of_service, c.first_billed_on, b.balance,"
    "   c.patient_name, c.lines, c.self_pay, c.line_detail"
    "   FROM claim_charges c JOIN b USING (claim_id)"
    "   WHERE c.tenant = q.t AND c.guarantor_id = q.g AND c.insurance_final AND b.balance > 0)"
    " SELECT (SELECT coalesce(json_agg(oc ORDER BY oc.first_billed_on NULLS LAST,"
    "   oc.date_of_service, oc.claim_id), '[]') FROM oc) AS open,"
    " (SELECT coalesce(json_agg(json_build_array(l.claim_id, l.kind, l.amount_cents)"
    "   ORDER BY l.id), '[]') FROM ledger l WHERE l.claim_id IN (SELECT claim_id FROM oc))"
    "   AS postings,"
    " (SELECT coalesce(json_agg(json_build_array(l.kind, l.amount_cents) ORDER BY l.id), '[]')"
    "   FROM ledger l WHERE l.tenant = q.t AND l.guarantor_id = q.g AND l.claim_id IS NULL)"
    "   AS unapplied,"
    " (SELECT count(*)::int + 1 FROM statements WHERE tenant = q.t AND guarantor_id = q.g)"
    "   AS number,"
    " (SELECT row_to_json(a) FROM (SELECT first_name, last_name, address FROM accounts"
    "   WHERE tenant = q.t AND guarantor_id = q.g) a) AS account"
    ") s ORDER BY q.n"
)


def _line_detail(lines: list[dict[str, Any]], raw: dict[str, Any]) -> dict[int, dict[str, int]]:
    """The payer's per-line figures, for the lines the visit still has as posted."""
    return {
        int(n): d
        for n, d in raw.items()
        if int(n) <= len(lines) and lines[int(n) - 1]["code"] == d.get("code")
    }


_ISSUE_SQL = (
    "WITH b AS (UPDATE claim_charges SET first_billed_on = $7 WHERE claim_id = ANY($4)"
    "   AND first_billed_on IS NULL),"
    " a AS (UPDATE accounts SET next_statement_on = coalesce($11, next_statement_on),"
    "   collections_flagged_on = CASE WHEN $12 THEN coalesce(collections_flagged_on, $7)"
    "   ELSE collections_flagged_on END WHERE tenant = $2 AND guarantor_id = $3"
    "   AND ($11::date IS NOT NULL OR $12))"
    " INSERT INTO statements(statement_id, tenant, guarantor_id, claim_ids, balance_cents,"
    " aging_bucket, statement_date, due_date, body, reason)"
    " VALUES ($1,$2,$3,$4::text[],$5,$6,$7::date,$8,$9::json,$10)"
)


@dataclass(frozen=True, slots=True)
class _Statement:
    """One statement to issue: the write (``_ISSUE_SQL``: the statement, its claims
    marked billed, the account's next cycle date) and its statement.issued."""

    args: tuple[Any, ...]
    event: StatementIssued

    @classmethod
    def of(
        cls,
        tenant: str,
        guarantor: str,
        snap: AccountSnapshot,
        today: dt.date,
        reason: str,
        lead: str | None,
        next_on: dt.date | None,
    ) -> _Statement:
        """The statement of the account's open claims (``snap``), ``lead`` first."""
        cfg = settings()
        claim_ids = [c.claim_id for c in snap.open]
        if lead in claim_ids:
            claim_ids = [lead, *(c for c in claim_ids if c != lead)]
        statement_id = f"S-{claim_ids[0]}-{snap.number}"
        doc = statement_document(snap, guarantor, statement_id, today)
        due = domain.due_date(today, cfg.due_days)
        args = (
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
        return cls(args, event)


def statement_document(
    snap: AccountSnapshot, guarantor: str, statement_id: str, today: dt.date
) -> dict[str, Any]:
    cfg = settings()
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
        practice=practice(),
        guarantor=guarantor_doc,
        claims=snap.open,
        unapplied=snap.unapplied,
        cpt_file=cfg.cpt_descriptions_file,
    )
