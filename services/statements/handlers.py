"""Statements handlers: guarantor accounts, the patient ledger, payments, statements.

Each takes the decoded event, locks the accounts it touches, and posts through
``posting`` and ``billing`` (the rules are in ``domain``, the SQL in ``repository``).
``app.build`` gives each its ``StatementSettings`` (``cfg``). No names, addresses or
member ids are logged.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence

import orjson

from runtime.service import Context
from schemas.events import ClaimAdjudicated, ClaimCoded, EncounterCreated
from schemas.events_payments import PatientPaymentReceived
from schemas.ids import claim_id_for
from services.statements import billing, domain, posting
from services.statements.billing import Bill
from services.statements.config import StatementSettings
from services.statements.domain import Entry
from services.statements.repository.accounts import (
    Charge,
    PaymentRow,
    account_paid_up,
    accounts_of,
    claim_known,
    flag_refund,
    insert_charges,
    insert_payment,
    known_account,
    lines_json,
    lock_account,
    lock_accounts,
    park_adjudication,
    park_self_pay,
    payment_seen,
    take_parked,
    upsert_accounts,
    waiting_for_insurance,
)
from services.statements.repository.claims import (
    ClaimLedger,
    mark_self_pay,
    open_claims,
    park_later_payer,
    posting_rows,
)
from services.statements.repository.statements import AccountSnapshot

# --- encounters -------------------------------------------------------------------


async def on_encounters(
    items: Sequence[tuple[Context, EncounterCreated]], *, cfg: StatementSettings
) -> None:
    """Opens each visit's charges on its guarantor's account: a few statements for the
    whole run of encounters. An adjudication or self-pay coding that arrived before its
    encounter is posted now."""
    conn = items[0][0].conn
    accounts: dict[tuple[str, str], tuple[str, str, str, str | None, bool, dt.date]] = {}
    charges = []
    for ctx, enc in items:
        tenant = ctx.meta.tenant
        guarantor = enc.guarantor or enc.patient
        # the latest details of an account win, as one upsert per encounter would
        accounts[(tenant, guarantor.id)] = (
            guarantor.first_name,
            guarantor.last_name,
            guarantor.address.model_dump_json(),
            guarantor.email,
            guarantor.paperless,
            guarantor.birth_date,  # a collection agency's file carries it
        )
        charges.append(
            Charge(
                claim_id_for(tenant, enc.encounter_id),
                tenant,
                guarantor.id,
                enc.patient.id,
                f"{enc.patient.first_name} {enc.patient.last_name}",
                enc.date_of_service,
                lines_json(enc.lines),
                sum(ln.charge_cents for ln in enc.lines),
                orjson.dumps([c.model_dump(mode="json") for c in enc.coverages]).decode(),
                enc.billing_provider.model_dump_json(),
            )
        )
    await lock_accounts(conn, accounts)
    await upsert_accounts(conn, ((t, g, *rest) for (t, g), rest in accounts.items()))
    await insert_charges(conn, charges)
    claim_ids = [c.claim_id for c in charges]
    adjudicated, coded = await take_parked(conn, claim_ids)
    for (ctx, _), claim_id in zip(items, claim_ids, strict=True):
        if (adj := adjudicated.pop(claim_id, None)) is not None:
            await posting.post(ctx, ClaimAdjudicated.model_validate_json(adj), cfg=cfg)
        if (self_pay := coded.pop(claim_id, None)) is not None:
            await post_self_pay(ctx, ClaimCoded.model_validate_json(self_pay), cfg=cfg)


# --- insurance --------------------------------------------------------------------


async def on_adjudicated(
    items: Sequence[tuple[Context, ClaimAdjudicated]], *, cfg: StatementSettings
) -> None:
    """Posts a run of payer decisions. Claims that are alone in the run on their account
    are read and written for the whole run with a few statements, then settled one by
    one (what settling does depends on the account); a claim or account met twice in the
    run is posted decision by decision (``posting.post``), in order. A claim whose
    encounter has not arrived waits in ``pending_adjudications``."""
    conn = items[0][0].conn
    today = billing.utc_today()
    heads = await accounts_of(conn, [adj.claim_id for _, adj in items])
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
    rows = await posting_rows(conn, alone)
    planned = [
        (ctx, adj, row, posting.plan(adj, row, today, cfg=cfg))
        for ctx, adj in items
        if (row := rows.get(adj.claim_id)) is not None
    ]
    if planned:
        await posting.write(
            conn, [(ctx, heads[adj.claim_id], adj, plan) for ctx, adj, _, plan in planned]
        )
    bills: list[Bill] = []  # each on an account of its own: billed together
    for ctx, adj, row, plan in planned:
        await posting.settle_posting(
            ctx, heads[adj.claim_id], row, plan, today, cfg=cfg, bills=bills
        )
    await billing.maybe_issue_many(bills, today, cfg=cfg, reason="adjudicated")
    await posting.park_or_release(
        [(ctx, adj, plan) for ctx, adj, _, plan in planned], today, cfg=cfg
    )
    for ctx, adj in items:
        if adj.claim_id in rows:
            continue
        head = heads.get(adj.claim_id)
        if head is None and adj.claim_status_code in domain.LATER_PAYER_STATUS:
            # a later payer's: it waits for the earlier payer's, which waits for the
            # encounter (one parked adjudication a claim would lose one of the two)
            rank = domain.payer_rank(adj, (), today)  # from CLP02: no coverages known yet
            await park_later_payer(ctx.conn, adj.claim_id, rank, adj.model_dump_json(), ctx.meta.id)
            continue
        if head is None:
            await park_adjudication(ctx.conn, adj.claim_id, adj.model_dump_json(), ctx.meta.id)
            continue
        await posting.post(ctx, adj, today, cfg=cfg, head=head)


# --- self-pay ---------------------------------------------------------------------


async def on_coded(ctx: Context, claim: ClaimCoded, *, cfg: StatementSettings) -> None:
    """Only self-pay claims concern statements: they are billed to the patient at once."""
    if not claim.self_pay:
        return
    if not await claim_known(ctx.conn, claim.claim_id):
        await park_self_pay(ctx.conn, claim.claim_id, claim.model_dump_json(), ctx.meta.id)
        return
    await post_self_pay(ctx, claim, cfg=cfg)


async def post_self_pay(ctx: Context, claim: ClaimCoded, *, cfg: StatementSettings) -> None:
    today = billing.utc_today()
    tenant, guarantor = await known_account(ctx.conn, claim.claim_id)
    await lock_account(ctx.conn, tenant, guarantor)
    ledger = await ClaimLedger.read(ctx.conn, claim.claim_id)
    if any(kind == "charge" for kind, _ in ledger.rows):
        return  # coded again (a correction): the visit is already on the patient's account
    entries = domain.self_pay_entries(claim.total_charge_cents, cfg.self_pay_discount_percent)
    await billing.insert_entries(ctx, tenant, guarantor, claim.claim_id, entries, ledger=ledger)
    await mark_self_pay(
        ctx.conn,
        claim.claim_id,
        lines_json(claim.lines),
        claim.total_charge_cents,
        sum(e.amount_cents for e in entries),
    )
    await billing.settle(
        ctx, tenant, guarantor, ledger, 0, "insurance", today, cfg=cfg, became_final=True
    )


# --- patient payments -------------------------------------------------------------


async def on_payment(ctx: Context, pay: PatientPaymentReceived) -> None:
    """Posts a patient's payment once (by payment_id): to the named claim first, then
    to the oldest balances; what is left is a credit on the account, flagged for a
    refund when nothing else on the account is still waiting for insurance."""
    tenant, guarantor = ctx.meta.tenant, pay.guarantor_id
    await lock_account(ctx.conn, tenant, guarantor)
    if await payment_seen(ctx.conn, tenant, pay.payment_id):
        return
    open_rows = await open_claims(ctx.conn, tenant, guarantor)
    allocations, left = domain.allocate(
        pay.amount_cents, [(r["claim_id"], r["balance"]) for r in open_rows], pay.claim_id
    )
    balances = {r["claim_id"]: r["balance"] for r in open_rows}
    reason = f"{pay.method.value}:{pay.payment_id}"
    for claim_id, cents in allocations:
        await billing.insert_entries(
            ctx,
            tenant,
            guarantor,
            claim_id,
            [Entry("patient_payment", -cents, reason)],
            payment_id=pay.payment_id,
        )
    if left:
        await billing.insert_entries(
            ctx,
            tenant,
            guarantor,
            None,
            [Entry("patient_payment", -left, reason)],
            payment_id=pay.payment_id,
        )
        if not await waiting_for_insurance(ctx.conn, tenant, guarantor):
            await flag_refund(ctx.conn, tenant, guarantor, pay.payment_id, left)
    await insert_payment(
        ctx.conn,
        PaymentRow(
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
        ),
    )
    for claim_id, cents in allocations:
        if balances[claim_id] == cents:
            await billing.close(ctx, guarantor, claim_id, "patient_payment", pay.received_at)
    if (await AccountSnapshot.read(ctx.conn, tenant, guarantor)).owed_cents() <= 0:
        await account_paid_up(ctx.conn, tenant, guarantor)
