"""People's commands on a patient account (``ledger.command``): write-offs, transfers
between payer and patient responsibility, refunds, credit applied by the patient's choice,
approvals, and agency payments on placed accounts (issue 29 parts 4, 6 and 7).

Each command is applied once (``ledger_requests``, by command id) under the account's
lock. A write-off, transfer or refund above the requester's role limit
(``approval_limits_cents``) waits as ``pending`` until someone else approves it; a
command that cannot be posted as given is kept as ``refused`` with the reason. The rules
are in ``ledger_rules``; no names, addresses or member ids are logged.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from runtime.service import Context
from schemas.events_ledger import LedgerAction, LedgerCommand
from services.statements import billing, ledger_rules
from services.statements.config import StatementSettings
from services.statements.ledger_rules import Refused
from services.statements.repository.accounts import account_paid_up, lock_account
from services.statements.repository.claims import (
    ClaimLedger,
    credit_used,
    open_claims,
    unapplied_cents,
)
from services.statements.repository.collections import placed_with
from services.statements.repository.requests import (
    RequestRow,
    claim_of_account,
    decide_request,
    insert_agency_payment,
    insert_request,
    pending_request,
    refunded,
    request_seen,
)
from services.statements.repository.statements import AccountSnapshot

#: Commands that wait for approval above the requester's limit.
APPROVABLE = frozenset({LedgerAction.write_off, LedgerAction.transfer, LedgerAction.refund})
#: How a claim a command brings to zero is closed (a transfer to the payer leaves it open:
#: the payer's side is worked in the claim's queues).
CLOSED_BY = {
    "write_off": "write_off",
    "apply_credit": "credit",
    "agency_payment": "patient_payment",
}


@dataclass(frozen=True, slots=True)
class Request:
    """What a command asks, as given or as kept while it waited for approval."""

    request_id: str
    action: str
    claim_id: str | None
    amount_cents: int
    reason: str
    direction: str | None = None
    agency: str | None = None
    fee_cents: int = 0

    @classmethod
    def of(cls, cmd: LedgerCommand) -> Request:
        return cls(
            cmd.command_id,
            cmd.action.value,
            cmd.claim_id,
            cmd.amount_cents,
            cmd.reason,
            cmd.direction.value if cmd.direction else None,
            cmd.agency,
            cmd.fee_cents,
        )


async def on_command(ctx: Context, cmd: LedgerCommand, *, cfg: StatementSettings) -> None:
    tenant, guarantor = ctx.meta.tenant, cmd.guarantor_id
    await lock_account(ctx.conn, tenant, guarantor)
    if await request_seen(ctx.conn, tenant, cmd.command_id):
        return  # delivered again: applied once
    detail: str | None = None
    if cmd.action in (LedgerAction.approve, LedgerAction.reject):
        status, detail = await _decide(ctx, cmd, cfg=cfg)
    elif cmd.action in APPROVABLE and ledger_rules.needs_approval(
        cmd.amount_cents, cmd.role, cfg.approval_limits_cents
    ):
        status = "pending"
    else:
        status, detail = await run(ctx, tenant, guarantor, Request.of(cmd), cmd.at, cfg=cfg)
    await insert_request(
        ctx.conn,
        RequestRow(
            tenant,
            cmd.command_id,
            guarantor,
            cmd.claim_id if cmd.action not in (LedgerAction.approve, LedgerAction.reject) else None,
            cmd.action.value,
            cmd.direction.value if cmd.direction else None,
            cmd.amount_cents,
            cmd.reason,
            cmd.requested_by,
            cmd.role,
            cmd.at,
            status,
            detail or (f"on {cmd.request_id}" if cmd.request_id else None),
            ctx.meta.id,
        ),
    )


async def _decide(
    ctx: Context, cmd: LedgerCommand, *, cfg: StatementSettings
) -> tuple[str, str | None]:
    """An approval or rejection of a pending request on the same account: what became of
    the decision itself (posted, or refused with the reason)."""
    tenant = ctx.meta.tenant
    row = await pending_request(ctx.conn, tenant, cmd.request_id or "")
    if row is None or row["guarantor_id"] != cmd.guarantor_id:
        return "refused", "no pending request with this id on this account"
    try:
        ledger_rules.approval(
            row["amount_cents"],
            row["requested_by"],
            cmd.requested_by,
            cmd.role,
            cfg.approval_limits_cents,
        )
    except Refused as exc:
        return "refused", str(exc)
    if cmd.action is LedgerAction.reject:
        await decide_request(
            ctx.conn, tenant, row["request_id"], "rejected", cmd.requested_by, cmd.at, cmd.note
        )
        return "posted", None
    req = Request(
        row["request_id"],
        row["action"],
        row["claim_id"],
        row["amount_cents"],
        row["reason"],
        row["direction"],
    )
    status, detail = await run(ctx, tenant, cmd.guarantor_id, req, cmd.at, cfg=cfg)
    await decide_request(ctx.conn, tenant, req.request_id, status, cmd.requested_by, cmd.at, detail)
    return "posted", None


async def run(
    ctx: Context,
    tenant: str,
    guarantor: str,
    req: Request,
    at: dt.datetime,
    *,
    cfg: StatementSettings,
) -> tuple[str, str | None]:
    """Posts the request now: ("posted", None), or ("refused", why) with nothing posted."""
    try:
        postings, before = await _postings(ctx, tenant, guarantor, req)
    except Refused as exc:
        return "refused", str(exc)
    if req.action == "agency_payment":
        await insert_agency_payment(
            ctx.conn,
            tenant,
            req.request_id,
            req.agency or "agency",
            guarantor,
            req.amount_cents,
            req.fee_cents,
            at,
        )
    by_claim: dict[str | None, list[Any]] = defaultdict(list)
    for claim_id, entry in postings:
        by_claim[claim_id].append(entry)
    payment_id = req.request_id if req.action == "agency_payment" else None
    for claim_id, entries in by_claim.items():
        await billing.insert_entries(
            ctx, tenant, guarantor, claim_id, entries, payment_id=payment_id
        )
    closed_by = CLOSED_BY.get(req.action)
    for claim_id, was in before.items():
        now = was + sum(e.amount_cents for e in by_claim.get(claim_id, []))
        if closed_by and was > 0 and now == 0:
            await billing.close(ctx, guarantor, claim_id, closed_by, at)
    await _after(ctx, tenant, guarantor, req, cfg=cfg)
    return "posted", None


async def _after(
    ctx: Context, tenant: str, guarantor: str, req: Request, *, cfg: StatementSettings
) -> None:
    """The account's flags and cycle after a posting."""
    if req.action == "refund":
        await refunded(ctx.conn, tenant, guarantor)
    elif req.action == "apply_credit":
        await credit_used(ctx.conn, tenant, guarantor)
    if req.direction == "to_patient":  # the patient owes more: billed now
        today = billing.utc_today()
        await billing.maybe_issue(ctx, tenant, guarantor, today, cfg=cfg, reason="adjustment")
    elif (await AccountSnapshot.read(ctx.conn, tenant, guarantor)).owed_cents() <= 0:
        await account_paid_up(ctx.conn, tenant, guarantor)


async def _postings(
    ctx: Context, tenant: str, guarantor: str, req: Request
) -> tuple[list[ledger_rules.Posting], dict[str, int]]:
    """The request's postings and the balance before them of each claim they touch."""
    conn = ctx.conn
    if req.action in ("write_off", "transfer"):
        if req.claim_id is None:
            raise Refused("a write-off or transfer names its claim")
        final = await claim_of_account(conn, tenant, guarantor, req.claim_id)
        if final is None:
            raise Refused("the claim is not on this account")
        if not final:
            raise Refused("insurance is not done with the claim yet")
        t = (await ClaimLedger.read(conn, req.claim_id)).totals()
        before = {req.claim_id: t.balance_cents}
        if req.action == "write_off":
            return ledger_rules.write_off(req.claim_id, t, req.amount_cents, req.reason), before
        return (
            ledger_rules.transfer(
                req.claim_id, t, req.amount_cents, req.direction or "", req.reason
            ),
            before,
        )
    credit = -await unapplied_cents(conn, tenant, guarantor)
    if req.action == "refund":
        return ledger_rules.refund(credit, req.amount_cents, req.reason), {}
    rows = await open_claims(conn, tenant, guarantor)
    if req.action == "agency_payment":  # the agency collects what it was placed with
        rows = [r for r in rows if r["placed_on"] is not None]
    balances = [(r["claim_id"], int(r["balance"])) for r in rows]
    before = dict(balances)
    if req.action == "apply_credit":
        return ledger_rules.apply_credit(credit, balances, req.amount_cents, req.claim_id), before
    if req.action == "agency_payment":
        if await placed_with(conn, tenant, guarantor) is None:
            raise Refused("the account is not placed with an agency")
        if req.fee_cents > req.amount_cents:
            raise Refused("the agency's fee is more than it collected")
        reason = f"agency:{req.agency or 'agency'}:{req.request_id}"
        return ledger_rules.agency_payment(balances, req.amount_cents, reason), before
    raise Refused(f"unknown action {req.action}")
