"""The statements service's SQL on people's commands (``ledger_requests``) and agency
payments (``agency_payments``)."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import asyncpg


class RequestRow(NamedTuple):
    """A row of ``ledger_requests``, as statement parameters in column order."""

    tenant: str
    request_id: str
    guarantor_id: str
    claim_id: str | None
    action: str
    direction: str | None
    amount_cents: int
    reason: str
    requested_by: str
    role: str
    requested_at: dt.datetime
    status: str
    detail: str | None
    event_id: str


async def request_seen(conn: asyncpg.Connection, tenant: str, request_id: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT 1 FROM ledger_requests WHERE tenant = $1 AND request_id = $2",
            tenant,
            request_id,
        )
    )


async def insert_request(conn: asyncpg.Connection, r: RequestRow) -> None:
    await conn.execute(
        "INSERT INTO ledger_requests(tenant, request_id, guarantor_id, claim_id, action,"
        " direction, amount_cents, reason, requested_by, role, requested_at, status, detail,"
        " event_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)",
        *r,
    )


async def pending_request(
    conn: asyncpg.Connection, tenant: str, request_id: str
) -> asyncpg.Record | None:
    """A request waiting for approval, locked."""
    return await conn.fetchrow(
        "SELECT * FROM ledger_requests WHERE tenant = $1 AND request_id = $2"
        " AND status = 'pending' FOR UPDATE",
        tenant,
        request_id,
    )


async def decide_request(
    conn: asyncpg.Connection,
    tenant: str,
    request_id: str,
    status: str,
    by: str,
    at: dt.datetime,
    detail: str | None,
) -> None:
    await conn.execute(
        "UPDATE ledger_requests SET status = $3, decided_by = $4, decided_at = $5, detail = $6"
        " WHERE tenant = $1 AND request_id = $2",
        tenant,
        request_id,
        status,
        by,
        at,
        detail,
    )


async def claim_of_account(
    conn: asyncpg.Connection, tenant: str, guarantor: str, claim_id: str
) -> bool | None:
    """Is insurance done with the claim (None: the claim is not this tenant's, or not on
    this guarantor's account)?"""
    final: bool | None = await conn.fetchval(
        "SELECT insurance_final FROM claim_charges WHERE claim_id = $1 AND tenant = $2"
        " AND guarantor_id = $3",
        claim_id,
        tenant,
        guarantor,
    )
    return final


async def refunded(conn: asyncpg.Connection, tenant: str, guarantor: str) -> None:
    """The account's open refund flags: its credit was paid back."""
    await conn.execute(
        "UPDATE refund_flags SET status = 'refunded' WHERE tenant = $1 AND guarantor_id = $2"
        " AND status = 'open'",
        tenant,
        guarantor,
    )


async def insert_agency_payment(
    conn: asyncpg.Connection,
    tenant: str,
    payment_ref: str,
    agency: str,
    guarantor: str,
    collected_cents: int,
    fee_cents: int,
    at: dt.datetime,
) -> None:
    await conn.execute(
        "INSERT INTO agency_payments(tenant, payment_ref, agency, guarantor_id, collected_cents,"
        " fee_cents, received_at) VALUES ($1,$2,$3,$4,$5,$6,$7)",
        tenant,
        payment_ref,
        agency,
        guarantor,
        collected_cents,
        fee_cents,
        at,
    )
